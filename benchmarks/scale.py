"""Sufficient statistics at scale: DuckDB vs pandas (vs Spark) on generated Parquet.

10M and 100M scored leads, 20 intersectional groups (sex with a missing value × 5 age
bands), labelled.  Each engine runs in its own subprocess, so its wall time and peak RSS
are its own (``run_measured``).  Files go to benchmarks/out/ (git-ignored) and are
deleted at the end.  Goal: 100M rows in < 60 s with < 2 GiB peak memory on 2 cores.

    .venv/bin/python benchmarks/scale.py [--quick] [--sizes 10000000 100000000] [--spark-rows 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from _common import MB, PYTHON, heading, make_parser, print_machine, report, run_measured, timer, verdict

OUT = Path(__file__).resolve().parent / "out"
MANIFEST = {
    "id": "scale", "version": "1.0.0", "threshold": 0.5,
    "sensitive_attributes": [{"name": "sex", "label": "Sex"}, {"name": "age_band", "label": "Age band"}],
}
GOAL_SECONDS = 60.0
GOAL_MB = 2048.0
PANDAS_MAX_ROWS = 20_000_000  # beyond this the rows do not fit comfortably in memory next to the other engineers


def generate(path: Path, rows: int) -> float:
    """Write ``rows`` scored, labelled leads with DuckDB (streamed, so any size fits); returns seconds."""
    import duckdb

    with timer() as elapsed, duckdb.connect(config={"memory_limit": "1GB", "threads": 2}) as connection:
        connection.execute("SELECT setseed(0.42)")
        connection.execute(f"""
            COPY (
                SELECT
                    CASE WHEN r < 0.47 THEN 'female' WHEN r < 0.94 THEN 'male' WHEN r < 0.98 THEN 'non-binary'
                         ELSE NULL END AS sex,
                    ['18-24', '25-34', '35-44', '45-54', '55+'][1 + CAST(floor(random() * 5) AS INT)] AS age_band,
                    s AS score,
                    CASE WHEN random() < s THEN 1 ELSE 0 END AS label
                FROM (SELECT random() AS r, random() AS s FROM range({rows}))
            ) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)
        """)
    return elapsed.seconds


def child(engine: str, path: str) -> None:
    """Compute the statistics of ``path`` with one engine and print a JSON line (run in a subprocess)."""
    import pandas as pd

    from ethics import aggregates, fairness, warehouse

    start = time.perf_counter()
    extra = {}
    if engine == "spark":
        from pyspark.sql import SparkSession

        spark = (SparkSession.builder.master("local[2]").appName("ethics-bench")
                 .config("spark.ui.enabled", "false").config("spark.driver.bindAddress", "127.0.0.1")
                 .config("spark.driver.memory", "2g").config("spark.sql.shuffle.partitions", "2").getOrCreate())
        started = time.perf_counter()
        spark.read.parquet(path).createOrReplaceTempView("scored_leads")
        cells = spark.sql(warehouse.render_sql(MANIFEST, dataset="eval")).collect()
        statistics = aggregates.normalize(pd.DataFrame([row.asDict() for row in cells]),
                                          attributes=["sex", "age_band"])
        extra["query_seconds"] = time.perf_counter() - started
        extra["jvm_peak_mb"] = _jvm_peak_mb(spark)
        spark.stop()
    else:
        options = {"memory_limit": "1GB", "threads": 2} if engine == "duckdb" else {}
        statistics = warehouse.compute_statistics({"eval": Path(path)}, manifest=MANIFEST, engine=engine, **options)
    seconds = time.perf_counter() - start
    with timer() as assess:
        fairness.assess_statistics(statistics, attributes=["sex", "age_band"], resamples=1000)
    print(json.dumps({"seconds": seconds, "cells": len(statistics), "leads": int(statistics["leads"].sum()),
                      "assess_seconds": assess.seconds, **extra}))


def _jvm_peak_mb(spark) -> float:
    """The Spark JVM's peak RSS (VmHWM), read before it stops; it is not a waited-for child of the wrapper."""
    pid = spark.sparkContext._gateway.proc.pid
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(engine: str, path: Path, rows: int) -> None:
    measured = run_measured([PYTHON, __file__, "--child", engine, str(path)])
    if measured.returncode:
        report(f"{engine}: failed", measured.returncode)
        return
    result = measured.json_tail()
    assert result["leads"] == rows, result
    report(f"{engine}: statistics of {rows:,} rows ({result['cells']:,} cells)", result["seconds"], "s")
    report(f"{engine}: wall time with interpreter start-up", measured.seconds, "s")
    peak = measured.peak_rss_mb
    if "jvm_peak_mb" in result:
        report(f"{engine}: query only (after the session started)", result["query_seconds"], "s")
        report(f"{engine}: peak RSS python / JVM", f"{peak:,.0f} / {result['jvm_peak_mb']:,.0f}", "MB")
    else:
        report(f"{engine}: peak RSS", peak, "MB")
    report(f"{engine}: assess_statistics (1000 resamples, 3 groupings)", result["assess_seconds"], "s")
    if engine == "duckdb" and rows >= 100_000_000:
        report("goal: < 60 s", verdict(result["seconds"], GOAL_SECONDS))
        report("goal: < 2 GiB peak", verdict(peak, GOAL_MB))


def main() -> None:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000_000, 100_000_000])
    parser.add_argument("--spark-rows", type=int, default=10_000_000, help="size on which Spark runs (0: skip)")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sizes = [1_000_000] if args.quick else args.sizes
    spark_rows = 1_000_000 if args.quick else args.spark_rows
    print_machine()
    OUT.mkdir(exist_ok=True)
    try:
        for rows in sizes:
            heading(f"{rows:,} rows, 20 intersectional groups")
            path = OUT / f"scale-{rows}.parquet"
            report("generate Parquet with DuckDB", generate(path, rows), "s")
            report("file size", path.stat().st_size / MB, "MB")
            report("free disk after writing", shutil.disk_usage(OUT).free / 1024**3, "GiB")
            measure("duckdb", path, rows)
            if rows <= PANDAS_MAX_ROWS:
                measure("pandas", path, rows)
            else:
                report("pandas", f"skipped: {rows:,} rows as pandas columns do not fit next to the others")
            if rows == spark_rows:
                measure("spark", path, rows)
            path.unlink()
    finally:
        shutil.rmtree(OUT, ignore_errors=True)
    heading("load average after the run")
    report("load average (1, 5, 15 min)", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
