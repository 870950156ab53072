"""Run by ``aequitas_audit.py`` in the reference virtualenv (``make bench-reference``), never in the project's.

    .venv-reference/bin/python benchmarks/_aequitas_child.py ROWS.parquet REPEATS ATTRIBUTE...

Reads the rows (score, label_value and the attribute columns) before the clock starts, then times
``Audit(df, threshold=fixed 0.5, ...).audit()`` REPEATS times, the import of aequitas apart.  Prints one
JSON line: versions, the import time, each run's seconds, and the confusion-based values of the last run
per (attribute, group), for the caller to compare with its own.  Standard library, pandas and aequitas
only: this process has pandas < 3 and no ``ethics``.
"""

import json
import sys
import time

import pandas as pd

THRESHOLD = 0.5
VALUES = ("group_size", "tp", "fp", "fn", "tn", "pprev", "tpr", "fpr", "precision", "accuracy")


def main() -> None:
    path, repeats, attributes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    start = time.perf_counter()
    import aequitas
    from aequitas import Audit

    imported = time.perf_counter() - start
    frame = pd.read_parquet(path)
    for attribute in attributes:  # Aequitas takes object columns only
        frame[attribute] = frame[attribute].astype(object)
    seconds = []
    audit = None
    for _ in range(repeats):
        start = time.perf_counter()
        audit = Audit(frame, threshold={"threshold_type": "fixed", "threshold_value": THRESHOLD},
                      score_column="score", label_column="label_value", sensitive_attribute_column=attributes)
        audit.audit()
        seconds.append(time.perf_counter() - start)
    metrics = audit.metrics_df
    groups = [{"attribute": row["attribute_name"], "group": row["attribute_value"],
               **{name: float(row[name]) for name in VALUES}} for _, row in metrics.iterrows()]
    print(json.dumps({
        "aequitas": aequitas.__version__,
        "pandas": pd.__version__, "python": sys.version.split()[0], "import_seconds": imported,
        "seconds": seconds, "rows": len(frame), "groups": groups,
        "disparity_columns": len(audit.disparity_df.columns), "disparity_rows": len(audit.disparity_df),
        "metric_columns": list(metrics.columns),
    }))


if __name__ == "__main__":
    main()
