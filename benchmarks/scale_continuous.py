"""Continuous cells at scale: the cells SQL (ethics/sql/continuous.sql) through DuckDB over Parquet.

Discounts of 0–30 % rounded to a 0.5 step (resolution), a realised discount beside them
(the error sums), sex with a missing value × an age banded into 4 (with missing ages) ×
a deal-size control.  The Parquet is written by DuckDB in chunks of 10M rows (a folder
of files, read back as one glob), so any size fits on disk and in memory.  The cells
run in a subprocess (``run_measured``), so its wall time and peak RSS are its own; then
the cells are assessed (1,000 resamples).  With ``--quick`` the DuckDB cells are also
checked against :func:`ethics.continuous.cells_table` on the same rows.  Goal: 100M rows
in < 60 s with < 2 GiB peak memory on 2 cores.  Figures are printed, never asserted.

    .venv/bin/python benchmarks/scale_continuous.py [--quick] [--sizes 10000000 100000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

# This checkout's ethics, not the editable install's (the child runs with benchmarks/ as sys.path[0]).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import MB, PYTHON, heading, make_parser, print_machine, report, run_measured, timer, verdict  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
CHUNK = 10_000_000
OPTIONS = {"attributes": ["sex", "age"], "outcome": "discount", "label": "realised", "control": "deal_size",
           "bands": {"age": [35, 45, 55]}, "resolution": 0.5}
GOAL_SECONDS = 60.0
GOAL_MB = 2048.0


def generate(folder: Path, rows: int) -> float:
    """Write ``rows`` decided discounts as Parquet files of at most CHUNK rows; returns seconds."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    with timer() as elapsed, duckdb.connect(config={"memory_limit": "1GB", "threads": 2}) as connection:
        for part, start in enumerate(range(0, rows, CHUNK)):
            size = min(CHUNK, rows - start)
            connection.execute(f"SELECT setseed({0.1 + part / 1000})")
            connection.execute(f"""
                COPY (
                    SELECT
                        CASE WHEN r < 0.47 THEN 'female' WHEN r < 0.94 THEN 'male' WHEN r < 0.98 THEN 'non-binary'
                             ELSE NULL END AS sex,
                        CASE WHEN a < 0.03 THEN NULL ELSE 18 + CAST(floor(a * 60) AS INT) END AS age,
                        d AS discount,
                        d + 3 * (random() - 0.45) AS realised,
                        ['small', 'medium', 'large'][1 + CAST(floor(random() * 3) AS INT)] AS deal_size
                    FROM (SELECT random() AS r, random() AS a,
                                 least(30.0, greatest(0.0, 12 + 8 * (random() + random() - 1))) AS d
                          FROM range({size}))
                ) TO '{folder / f"part-{part:03d}.parquet"}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)
            """)
    return elapsed.seconds


def child(source: str, check: bool) -> None:
    """The cells of ``source`` (a glob) with DuckDB, then their assessment; prints a JSON line."""
    from ethics import continuous, warehouse

    start = time.perf_counter()
    cells = warehouse.duckdb_cells("continuous", source, memory_limit="1GB", threads=2, **OPTIONS)
    seconds = time.perf_counter() - start
    with timer() as assess:
        continuous.assess_continuous_cells(cells, attributes=OPTIONS["attributes"], control="deal_size",
                                           unit="% discount", resamples=1000)
    extra = {}
    if check:
        import numpy as np
        import pandas as pd

        rows = pd.read_parquet(Path(source).parent)
        ours = continuous.cells_table(rows, **OPTIONS)
        keys = [*OPTIONS["attributes"], "deal_size", "value"]
        left = ours.sort_values(keys).reset_index(drop=True)
        right = cells[list(ours.columns)].sort_values(keys).reset_index(drop=True)
        same_keys = left[keys + ["leads"]].astype(str).equals(right[keys + ["leads"]].astype(str))
        sums = ["label_sum", "abs_error_sum", "squared_error_sum"]
        extra["equal_to_pandas"] = bool(same_keys and np.allclose(left[sums], right[sums], rtol=1e-9))
    print(json.dumps({"seconds": seconds, "cells": len(cells), "leads": int(cells["leads"].sum()),
                      "assess_seconds": assess.seconds, **extra}))


def measure(folder: Path, rows: int, *, check: bool) -> None:
    measured = run_measured([PYTHON, __file__, "--child", str(folder / "*.parquet"), *(["--check"] if check else [])])
    if measured.returncode:
        report("duckdb: failed", measured.returncode)
        return
    result = measured.json_tail()
    report(f"duckdb: continuous cells of {rows:,} rows ({result['cells']:,} cells)", result["seconds"], "s")
    report("rows counted in the cells", f"{result['leads']:,}", "" if result["leads"] == rows else "(MISMATCH)")
    report("duckdb: wall time with interpreter start-up", measured.seconds, "s")
    report("duckdb: peak RSS", measured.peak_rss_mb, "MB")
    report("assess_continuous_cells (1000 resamples, 3 groupings)", result["assess_seconds"], "s")
    if "equal_to_pandas" in result:
        report("cells equal to continuous.cells_table's", "yes" if result["equal_to_pandas"] else "NO")
    report("goal: < 60 s", verdict(result["seconds"], GOAL_SECONDS))
    report("goal: < 2 GiB peak", verdict(measured.peak_rss_mb, GOAL_MB))


def main() -> None:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--child", metavar="GLOB", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000_000, 100_000_000])
    args = parser.parse_args()
    if args.child:
        child(args.child, args.check)
        return
    sizes = [1_000_000] if args.quick else args.sizes
    print_machine()
    try:
        for rows in sizes:
            heading(f"{rows:,} rows, 4 sexes × 5 age bands × 3 deal sizes, 0.5-step discounts")
            folder = OUT / f"scale-continuous-{rows}"
            report(f"generate Parquet with DuckDB ({-(-rows // CHUNK)} files)", generate(folder, rows), "s")
            report("files size", sum(p.stat().st_size for p in folder.glob("*.parquet")) / MB, "MB")
            report("free disk after writing", shutil.disk_usage(OUT).free / 1024**3, "GiB")
            measure(folder, rows, check=args.quick)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        for folder in OUT.glob("scale-continuous-*"):
            shutil.rmtree(folder, ignore_errors=True)
    heading("load average after the run")
    report("load average (1, 5, 15 min)", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
