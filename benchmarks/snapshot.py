"""Take the weekly snapshot of one evaluation set of 10k, 100k and 1M rows; where its time goes.

For each size: import the rows (linear model), time ``snapshots.take_snapshot`` with the
shipped policy (1,000 bootstrap resamples), then its parts: reading the Parquet back,
``performance`` and ``fairness_results`` (group metrics, intervals, verdicts).  The
fairness numbers are compared with fairlearn in ``benchmarks/fairness.py``.

    .venv/bin/python benchmarks/snapshot.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

SIZES = {"full": (10_000, 100_000, 1_000_000), "quick": (10_000,)}
ATTRIBUTES = ["sex", "age_band"]
THRESHOLD = 0.5


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
        snapshots.take_snapshot(db, model_id=model_id, week=common.WEEK, home=home, policy=_policy(),
                                actor=common.ACTOR, now=common.NOW)
    return elapsed.seconds


def _policy() -> dict[str, Any]:
    from ethics.config import load_settings

    return load_settings({"ETHICS_HOME": "/nonexistent-benchmark-home"}).policy


def time_parts(db: Any, home: Path, model_id: str) -> dict[str, float]:
    """The snapshot's parts, timed one by one."""
    from ethics import aggregates, datasets, registry, snapshots

    found = datasets.list_datasets(db, model_id)[0]
    parts: dict[str, float] = {}
    with common.timer() as elapsed:
        frames = {"eval": datasets.read_rows(found, home=home)}
    parts["read_rows (sha256 + Parquet)"] = elapsed.seconds
    manifest = registry.get_version(db, model_id)["manifest"]
    with common.timer() as elapsed:
        cells = snapshots.week_cells(frames, manifest=manifest)
    parts["week_cells (rows to sufficient statistics)"] = elapsed.seconds
    with common.timer() as elapsed:
        aggregates.performance(cells["eval"])
        snapshots.exact_auc(frames["eval"])
    parts["performance from cells, and the exact AUC from rows"] = elapsed.seconds
    with common.timer() as elapsed:
        snapshots.fairness_results(frames, manifest=manifest, policy=_policy())
    parts["fairness_results (3 groupings, 1,000 resamples, verdicts)"] = elapsed.seconds
    return parts


def measure(db: Any, home: Path, rows: int) -> None:
    model_id, import_seconds = import_rows(db, home, rows)
    snapshot_seconds = time_snapshot(db, home, model_id)
    common.heading(f"{rows:,} rows (one evaluation set, attributes {', '.join(ATTRIBUTES)})")
    common.report("import_frame", import_seconds, "s")
    common.report("take_snapshot", snapshot_seconds, "s")
    for name, seconds in time_parts(db, home, model_id).items():
        common.report(f"  {name}", seconds, "s")


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
