"""Import a 1,000,000-row evaluation CSV for a registered LightGBM lead model.

Prints rows, file size, wall time and peak memory of ``datasets.import_dataset``
(run in a fresh subprocess, so generating the CSV does not count), then the time of
each step (read, hash, validate, score, write Parquet) measured separately.

    .venv/bin/python benchmarks/import_csv.py [--quick]
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

MODEL_ID = "bench-lead-lgbm"
FEATURES = (
    "pricing_page_visits", "emails_opened", "webinar_minutes", "company_employees",
    "days_since_contact", "deal_size_eur", "region_code", "industry_code",
)
ROWS = {"full": 1_000_000, "quick": 50_000}
TRAIN_ROWS = 20_000
TREES = {"full": 200, "quick": 50}
GOAL_S = 20.0


def draw_features(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    """Eight numeric lead features (integers and decimals)."""
    return {
        "pricing_page_visits": rng.poisson(2.0, rows),
        "emails_opened": rng.poisson(4.0, rows),
        "webinar_minutes": np.round(rng.gamma(2.0, 15.0, rows), 1),
        "company_employees": rng.integers(1, 5000, rows),
        "days_since_contact": rng.integers(0, 365, rows),
        "deal_size_eur": np.round(rng.lognormal(9.5, 0.8, rows), 2),
        "region_code": rng.integers(1, 10, rows),
        "industry_code": rng.integers(1, 25, rows),
    }


def draw_labels(rng: np.random.Generator, features: dict[str, np.ndarray]) -> np.ndarray:
    logit = (
        -1.0 + 0.35 * features["pricing_page_visits"] + 0.1 * features["emails_opened"]
        + 0.02 * features["webinar_minutes"] - 0.005 * features["days_since_contact"]
        - 0.1 * features["region_code"]
    )
    return (rng.random(len(logit)) < 1 / (1 + np.exp(-logit))).astype(np.int8)


def train_model(folder: Path, *, trees: int) -> Path:
    """Train a small LightGBM lead model, save its text form and write its manifest."""
    import lightgbm

    rng = np.random.default_rng(1)
    features = draw_features(rng, TRAIN_ROWS)
    x = np.column_stack([features[name] for name in FEATURES]).astype(np.float64)
    params = {"objective": "binary", "num_leaves": 31, "learning_rate": 0.05, "n_jobs": 2,
              "seed": 1, "deterministic": True, "force_row_wise": True, "verbose": -1}
    train = lightgbm.Dataset(x, label=draw_labels(rng, features), feature_name=list(FEATURES))
    booster = lightgbm.train(params, train, num_boost_round=trees)
    (folder / "model.txt").write_text(booster.model_to_string(), encoding="utf-8")
    return common.write_manifest(folder, model_id=MODEL_ID, kind="lightgbm", artifact_file="model.txt",
                                 features=FEATURES)


def write_csv(path: Path, rows: int) -> None:
    """An evaluation CSV: ids, the eight features, sex, age band and a 0/1 label."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(2)
    features = draw_features(rng, rows)
    people = common.people_columns(rng, rows)
    columns = {
        **{name: people[name] for name in ("lead_id", "customer_id", "team")},
        **features,
        **{name: people[name] for name in ("sex", "age_band")},
        "label": draw_labels(rng, features),
    }
    pacsv.write_csv(pa.table(columns), path)


# -- the import itself, in a fresh process -------------------------------------------------


def child_import(home: Path, csv: Path) -> dict[str, Any]:
    """Run ``import_dataset`` once; seconds and memory."""
    from ethics import datasets

    db = common.open_db(home)
    baseline = common.current_rss_mb()
    with common.timer() as elapsed:
        row = datasets.import_dataset(db, csv, kind="eval", model_id=MODEL_ID, version="1.0.0",
                                      week=common.WEEK, home=home, actor=common.ACTOR, now=common.NOW)
    return {"seconds": elapsed.seconds, "rows": row["rows"], "rss_before_mb": baseline,
            "peak_rss_mb": common.peak_rss_mb()}


def child_steps(home: Path, csv: Path) -> dict[str, Any]:
    """The import's steps one by one through the functions ``import_dataset`` calls.

    Each step records its seconds, the RSS after it and the peak RSS so far, so the
    step that raises the peak shows.
    """
    from ethics import artifacts, datasets, registry

    version = registry.get_version(common.open_db(home), MODEL_ID, "1.0.0")
    steps: dict[str, Any] = {"baseline": {"seconds": 0.0, "rss_mb": common.current_rss_mb(),
                                          "peak_mb": common.peak_rss_mb()}}

    def step(name: str, function: Any) -> Any:
        with common.timer() as elapsed:
            value = function()
        steps[name] = {"seconds": elapsed.seconds, "rss_mb": common.current_rss_mb(),
                       "peak_mb": common.peak_rss_mb()}
        return value

    step("import lightgbm (lazy in ethics.artifacts)", lambda: importlib.import_module("lightgbm"))
    raw = step("read_table (bytes + UTF-8 check + read_csv)", lambda: datasets.read_table(csv))
    step("sha256 of the source file", lambda: artifacts.sha256_file(csv))
    scorer = step("load_scorer (hash check + parse)", lambda: registry.load_scorer(version, home=home))
    frame = step("validate_rows", lambda: datasets.validate_rows(
        raw, manifest=version["manifest"], kind="eval", file=csv.name, scored=False))
    frame["score"] = step("score (LightGBM predict, 2 threads)", lambda: scorer.score(frame))
    payload = step("write Parquet (zstd) to memory", lambda: parquet_bytes(frame))
    step("sha256 of the Parquet bytes", lambda: artifacts.sha256_bytes(payload))
    return steps


CHILDREN = {"import": child_import, "steps": child_steps}


def run_child(mode: str, home: Path, csv: Path) -> dict[str, Any]:
    """Run a child mode in a fresh interpreter; its JSON result, wall time and peak RSS."""
    argv = [common.PYTHON, __file__, "--child", mode, str(home), str(csv)]
    measured = common.run_measured(argv, env=common.env_with_home(home))
    if measured.returncode:
        raise SystemExit(f"the {mode} child failed (exit {measured.returncode})")
    return {**measured.json_tail(), "process_seconds": measured.seconds, "process_peak_mb": measured.peak_rss_mb}


def parquet_bytes(frame: Any) -> bytes:
    """What ``datasets`` does to store a frame (same options)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, compression="zstd")
    return buffer.getvalue().to_pybytes()


def time_read_parts(csv: Path) -> dict[str, float]:
    """``read_table`` split into its parts: read bytes, UTF-8 check, ``pd.read_csv``."""
    import pandas as pd

    from ethics.datasets import ID_COLUMNS

    parts: dict[str, float] = {}
    with common.timer() as elapsed:
        data = csv.read_bytes()
    parts["read bytes"] = elapsed.seconds
    with common.timer() as elapsed:
        data.decode("utf-8")
    parts["decode to str (UTF-8 check)"] = elapsed.seconds
    with common.timer() as elapsed:
        pd.read_csv(io.BytesIO(data), engine="pyarrow", dtype={c: "string" for c in ID_COLUMNS})
    parts["pd.read_csv(engine=pyarrow)"] = elapsed.seconds
    return parts


def time_validate_parts(raw: Any) -> dict[str, float]:
    """``validate_rows`` per column kind, through the same helpers it uses."""
    from ethics import datasets

    parts: dict[str, float] = {}
    for column in (*datasets.ID_COLUMNS, "sex", "age_band"):
        with common.timer() as elapsed:
            datasets._text_column(raw[column], file="x", column=column, required=column != "sex")
        parts[f"text column {column}"] = elapsed.seconds
    with common.timer() as elapsed:
        datasets._refuse_duplicates(raw["lead_id"], file="x")
    parts["duplicate lead_id check"] = elapsed.seconds
    with common.timer() as elapsed:
        for column in FEATURES:
            datasets._number_column(raw[column], file="x", column=column)
    parts["8 number columns"] = elapsed.seconds
    with common.timer() as elapsed:
        datasets._label_column(raw["label"], file="x")
    parts["label column"] = elapsed.seconds
    return parts


# -- report --------------------------------------------------------------------------------


def print_result(rows: int, csv: Path, result: dict[str, Any]) -> None:
    common.heading("import_dataset (fresh subprocess)")
    common.report("rows", rows)
    common.report("CSV size", csv.stat().st_size / common.MB, "MB")
    common.report("import_dataset wall time", result["seconds"], "s")
    common.report("subprocess wall time (with Python start-up)", result["process_seconds"], "s")
    common.report("RSS before the import (interpreter + libraries)", result["rss_before_mb"], "MB")
    common.report("peak RSS, ru_maxrss of the child (self)", result["peak_rss_mb"], "MB")
    common.report("peak RSS, RUSAGE_CHILDREN of a small launcher", result["process_peak_mb"], "MB")
    common.report("peak RSS added by the import", result["peak_rss_mb"] - result["rss_before_mb"], "MB")
    common.report(f"goal < {GOAL_S:.0f} s", common.verdict(result["seconds"], GOAL_S))


def print_steps(steps: dict[str, Any]) -> None:
    common.heading("import steps timed one by one (fresh subprocess)")
    print(f"  {'step':<52} {'seconds':>8} {'RSS after':>10} {'peak so far':>12}")
    for name, figures in steps.items():
        if isinstance(figures, dict):
            print(f"  {name:<52} {figures['seconds']:>8.3f} {figures['rss_mb']:>7.0f} MB {figures['peak_mb']:>9.0f} MB")
    common.report("sum of the steps", sum(f["seconds"] for f in steps.values() if isinstance(f, dict)), "s")


def print_parts(title: str, parts: dict[str, float]) -> None:
    common.heading(title)
    for name, seconds in parts.items():
        common.report(name, seconds, "s")
    common.report("sum", sum(parts.values()), "s")


def main() -> None:
    parser = common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("MODE", "HOME", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, home, csv = args.child
        print(json.dumps(CHILDREN[mode](Path(home), Path(csv))))
        return
    size = "quick" if args.quick else "full"
    common.print_machine()
    with common.temp_home("import") as home:
        folder = home.parent / "model"
        folder.mkdir()
        with common.timer() as setup:
            common.register(common.open_db(home), home, train_model(folder, trees=TREES[size]))
            csv = home.parent / "eval.csv"
            write_csv(csv, ROWS[size])
        common.heading("setup")
        label = f"train LightGBM ({TRAIN_ROWS:,} rows, {TREES[size]} trees) + write CSV"
        common.report(label, setup.seconds, "s")
        print_result(ROWS[size], csv, run_child("import", home, csv))
        print_steps(run_child("steps", home, csv))
        print_parts("read_table split (in this process)", time_read_parts(csv))
        from ethics import datasets

        print_parts("validate_rows split (in this process)", time_validate_parts(datasets.read_table(csv)))


if __name__ == "__main__":
    main()
