"""Take the weekly snapshot of one evaluation set of 10k, 100k and 1M rows; where its time goes.

For each size: import the rows (linear model), time ``snapshots.take_snapshot``, then
its parts: reading the Parquet back, ``performance`` and ``group_selection_rates``.
For comparison (up to 100k rows) the same numbers are computed with fairlearn's
``MetricFrame``, the tests' oracle, and checked to be identical.

    .venv/bin/python benchmarks/snapshot.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

SIZES = {"full": (10_000, 100_000, 1_000_000), "quick": (10_000,)}
ATTRIBUTES = ["sex", "age_band"]
THRESHOLD = 0.5
ORACLE_MAX_ROWS = 100_000  # fairlearn takes about 28 s for 1M rows here


def fairlearn_selection_rates(frames: dict[str, pd.DataFrame], *, attributes: list[str]) -> list[dict[str, Any]]:
    """``snapshots.group_selection_rates`` computed with fairlearn ``MetricFrame`` (the oracle)."""
    from fairlearn.metrics import MetricFrame, count, selection_rate

    from ethics.snapshots import MISSING_GROUP, _clean

    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, frame in frames.items():
        selected = (frame["score"].to_numpy() >= THRESHOLD).astype(int)
        for attribute in attributes:
            groups = frame[attribute].astype("string").fillna(MISSING_GROUP).to_numpy(dtype=object)
            by_group = MetricFrame(
                metrics={"count": count, "selection_rate": selection_rate}, y_true=selected, y_pred=selected,
                sensitive_features=pd.Series(groups, name=attribute),
            ).by_group
            for group, values in by_group.iterrows():
                entry = rows.setdefault((attribute, str(group)), {"attribute": attribute, "group": str(group)})
                entry[f"{kind}_count"] = int(values["count"])
                entry[f"{kind}_selection_rate"] = _clean(values["selection_rate"])
    return [rows[key] for key in sorted(rows)]


def import_rows(db: Any, home: Path, rows: int) -> tuple[str, float]:
    """Register a linear model and import ``rows`` labelled rows for it; returns its id and seconds."""
    from ethics import datasets

    model_id = f"bench-snap-{rows}"
    manifest = common.write_linear_model(home.parent / model_id, model_id=model_id, seed=rows)
    common.register(db, home, manifest)
    frame = common.eval_frame(np.random.default_rng(rows), rows)
    with common.timer() as elapsed:
        datasets.import_frame(db, frame, name="eval.csv", kind="eval", model_id=model_id, version="1.0.0",
                              week=common.WEEK, home=home, actor=common.ACTOR, now=common.NOW)
    return model_id, elapsed.seconds


def time_snapshot(db: Any, home: Path, model_id: str) -> float:
    from ethics import snapshots

    with common.timer() as elapsed:
        snapshots.take_snapshot(db, model_id=model_id, week=common.WEEK, home=home, policy={},
                                actor=common.ACTOR, now=common.NOW)
    return elapsed.seconds


def time_parts(db: Any, home: Path, model_id: str) -> tuple[dict[str, float], bool | None]:
    """The snapshot's parts, timed one by one, and the groupby alternative."""
    from ethics import datasets, snapshots

    found = datasets.list_datasets(db, model_id)[0]
    parts: dict[str, float] = {}
    with common.timer() as elapsed:
        frames = {"eval": datasets.read_rows(found, home=home)}
    parts["read_rows (sha256 + Parquet)"] = elapsed.seconds
    with common.timer() as elapsed:
        snapshots.performance(frames["eval"], threshold=THRESHOLD)
    parts["performance (accuracy, AUC)"] = elapsed.seconds
    with common.timer() as elapsed:
        rates = snapshots.group_selection_rates(frames, attributes=ATTRIBUTES, threshold=THRESHOLD)
    parts["group_selection_rates"] = elapsed.seconds
    if len(frames["eval"]) > ORACLE_MAX_ROWS:
        return parts, None
    with common.timer() as elapsed:
        oracle = fairlearn_selection_rates(frames, attributes=ATTRIBUTES)
    parts["fairlearn MetricFrame, same numbers (oracle)"] = elapsed.seconds
    return parts, rates == oracle


def measure(db: Any, home: Path, rows: int) -> None:
    model_id, import_seconds = import_rows(db, home, rows)
    snapshot_seconds = time_snapshot(db, home, model_id)
    common.heading(f"{rows:,} rows (one evaluation set, attributes {', '.join(ATTRIBUTES)})")
    common.report("import_frame", import_seconds, "s")
    common.report("take_snapshot", snapshot_seconds, "s")
    parts, identical = time_parts(db, home, model_id)
    for name, seconds in parts.items():
        common.report(f"  {name}", seconds, "s")
    if identical is not None:
        common.report("group_selection_rates identical to fairlearn's", identical)


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    common.print_machine()
    with common.timer() as elapsed:
        import fairlearn.metrics  # noqa: F401 - imported once, outside the timings
        import sklearn.metrics  # noqa: F401
    common.report("import fairlearn.metrics + sklearn.metrics", elapsed.seconds, "s")
    with common.temp_home("snapshot") as home:
        db = common.open_db(home)
        for rows in SIZES["quick" if args.quick else "full"]:
            measure(db, home, rows)
        db.close()


if __name__ == "__main__":
    main()
