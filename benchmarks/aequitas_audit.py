"""Binary group fairness on 1,000,000 rows: ethics.fairness.assess against Aequitas 1.1 ``Audit().audit()``.

    .venv/bin/python benchmarks/aequitas_audit.py [--quick]      # --quick: 100,000 rows, ours only
    make bench-reference                                          # once: .venv-reference with Aequitas 1.1.0

Aequitas 1.1.0 needs pandas < 3, so it cannot share the project's virtualenv (pandas 3.1): it runs in
``.venv-reference`` (``make bench-reference``), in a child process that reads the same rows from a Parquet
file before its clock starts and times ``Audit(df, threshold=fixed 0.5).audit()`` itself (the import of
aequitas and the read are not counted).  Ours runs in this process on the same rows in memory.

The rows are those of ``benchmarks/fairness.py`` (seed 2026): sex (5 values) and age band (4), uniform scores,
labels that follow them.  The groupings are the same on both sides: sex, age band and sex × age band; Aequitas
has no intersections of its own, so it is handed a ready-made ``sex × age_band`` column (the combining is not
timed for it, while ours combines the codes inside ``assess``).  One fixed threshold, 0.5, on both sides.

What each side computes: Aequitas, per group, the confusion counts and 12 rates from them (ppr, pprev,
precision, fdr, for, fpr, fnr, tpr, tnr, npv, prev, accuracy), then disparities against the largest group; no
AUC and no intervals (its significance tests are off by default and were left off).  Ours, per group, 8 metrics,
every disparity and, from the rows, the exact ROC AUC of each group; by default also 1,000 bootstrap resamples
for the intervals.  So ours is printed four ways: with and without the exact AUC, with and without the
bootstrap.  "Without the exact AUC" is ``assess_statistics(from_rows(...))``, what ``assess`` does before the
AUC (it still computes the binned AUC bounds of the statistics, a bincount of the cells).

In ``--quick`` mode, or when ``.venv-reference`` is missing, only ours is measured (on 100,000 rows in quick
mode) and the script says how to set Aequitas up.  Figures are printed, never asserted; a goal missed prints FAIL.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

# This checkout's ethics, not whichever one the virtualenv's editable install points at.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
from _common import ATTRIBUTES  # noqa: E402

ROWS = {"full": 1_000_000, "quick": 100_000}
THRESHOLD = 0.5
RESAMPLES = 1_000
SEED = 2026
REPEATS = {"ours": 5, "aequitas": 5}
REFERENCE = common.REPO / ".venv-reference" / "bin" / "python"
CHILD = Path(__file__).with_name("_aequitas_child.py")
INTERSECTION = " × ".join(ATTRIBUTES)  # fairness.JOIN: the name of ours' intersection grouping
#: Aequitas's per-group values and ours with the same meaning.
SAME_VALUES = {"group_size": "count", "pprev": "selection_rate", "tpr": "true_positive_rate",
               "fpr": "false_positive_rate", "precision": "precision", "accuracy": "accuracy"}
SETUP = "make bench-reference   # creates .venv-reference with aequitas==1.1.0 and pandas<3"


def make_data(rows: int) -> pd.DataFrame:
    """The rows of benchmarks/fairness.py: the same seed, the same recipe."""
    return common.scored_rows(rows, seed=SEED)


def aequitas_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The same rows as Aequitas expects them: ``label_value``, and the intersection as a column of its own."""
    from ethics import fairness

    return pd.DataFrame({
        "score": frame["score"], "label_value": frame["label"],
        **{attribute: frame[attribute].astype(str) for attribute in ATTRIBUTES},
        INTERSECTION: (frame[ATTRIBUTES[0]].astype(str) + fairness.JOIN + frame[ATTRIBUTES[1]].astype(str)),
    })


# -- ours -----------------------------------------------------------------------------------


def measure_ours(frame: pd.DataFrame) -> dict[str, Any]:
    from ethics import aggregates, fairness

    options = {"attributes": ATTRIBUTES, "threshold": THRESHOLD, "min_group_size": 30}

    def without_auc(resamples: int) -> list[dict[str, Any]]:
        found = aggregates.from_rows(frame, attributes=ATTRIBUTES, threshold=THRESHOLD)
        return fairness.assess_statistics(found, attributes=ATTRIBUTES, min_group_size=30, resamples=resamples)

    variants = {
        f"assess, exact AUC, {RESAMPLES:,} resamples (the default)":
            lambda: fairness.assess(frame, resamples=RESAMPLES, **options),
        "assess, exact AUC, no resamples": lambda: fairness.assess(frame, resamples=0, **options),
        f"no exact AUC, {RESAMPLES:,} resamples": lambda: without_auc(RESAMPLES),
        "no exact AUC, no resamples (like Aequitas)": lambda: without_auc(0),
    }
    common.heading("ours: fairness.assess on the rows in memory, 3 groupings (sex, age_band, sex × age_band)")
    times = {}
    for label, function in variants.items():
        times[label] = common.repeat(function, REPEATS["ours"])
        common.report(label, common.spread(times[label]))
    common.report("load average after ours", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return {"times": times, "result": fairness.assess(frame, resamples=0, **options)}


# -- Aequitas -------------------------------------------------------------------------------


def measure_aequitas(frame: pd.DataFrame) -> dict[str, Any]:
    common.heading(f"Aequitas Audit().audit() in {REFERENCE.parent.parent.name} (a child process, timed inside it)")
    with tempfile.TemporaryDirectory(prefix="ethics-bench-aequitas-") as folder:
        path = Path(folder) / "rows.parquet"
        with common.timer() as elapsed:
            aequitas_rows(frame).to_parquet(path, index=False)
        common.report("write the rows to Parquet (not timed for either)", f"{elapsed.seconds:.2f} s, "
                      f"{path.stat().st_size / 1e6:.1f} MB")
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        measured = common.run_measured([str(REFERENCE), str(CHILD), str(path), str(REPEATS["aequitas"]),
                                        *ATTRIBUTES, INTERSECTION], env=env)
    if measured.returncode:
        raise SystemExit(f"the Aequitas child failed (exit {measured.returncode})")
    result = measured.json_tail()
    common.report("versions", f"aequitas {result['aequitas']}, pandas {result['pandas']}, "
                  f"Python {result['python']}")
    common.report("import aequitas (not counted)", f"{result['import_seconds']:.2f} s")
    common.report(f"Audit().audit(), {len(result['seconds'])} runs", common.spread(result["seconds"]))
    common.report("groups", f"{len(result['groups'])} rows of metrics_df, disparity_df "
                  f"{result['disparity_rows']} × {result['disparity_columns']}")
    common.report("AUC among its columns", any("auc" in c.lower() for c in result["metric_columns"]))
    common.report("child: wall time with start-up and read, peak RSS",
                  f"{measured.seconds:.1f} s, {measured.peak_rss_mb:,.0f} MB")
    common.report("load average after Aequitas", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return result


def compare_values(ours: list[dict[str, Any]], theirs: dict[str, Any]) -> float:
    """Largest absolute difference between Aequitas's per-group values and ours with the same meaning."""
    by_group = {(grouping["grouping"], row["group"]): row for grouping in ours for row in grouping["groups"]}
    differences = []
    for row in theirs["groups"]:
        mine = by_group[(row["attribute"], row["group"])]
        differences += [abs(row[name] - float(mine[our_name])) for name, our_name in SAME_VALUES.items()]
    common.report("groups compared", f"{len(theirs['groups'])} of {len(by_group)}")
    common.report(f"max abs difference ({', '.join(SAME_VALUES)})", f"{max(differences):.2e}")
    return max(differences)


# -- main -----------------------------------------------------------------------------------


def summary(rows: int, ours: dict[str, Any], theirs: dict[str, Any] | None) -> None:
    medians = {label: statistics.median(seconds) for label, seconds in ours["times"].items()}
    common.heading(f"summary, {rows:,} rows, 3 groupings (29 groups)")
    for label, seconds in medians.items():
        common.report(f"ours: {label}", common.ms(seconds))
    if theirs is None:
        common.report("Aequitas", "skipped" + (" (--quick)" if rows == ROWS["quick"] else
                                               f" ({REFERENCE.parent.parent.name} is missing)"))
        common.report("to compare with Aequitas 1.1", SETUP)
        return
    aequitas = statistics.median(theirs["seconds"])
    common.report("Aequitas Audit().audit() (median)", common.ms(aequitas))
    for label, seconds in medians.items():
        common.report(f"Aequitas / ours: {label}", f"{aequitas / seconds:.2f}x")
    common.report("values equal to Aequitas (max abs difference)", f"{theirs['difference']:.2e}")
    labels = list(medians)
    common.heading("goals (ours no slower than Aequitas 1.1 Audit().audit(); ratio = Aequitas / ours)")
    for label in labels[:2]:
        common.goal_line(f"{label} <= Aequitas", medians[label] <= aequitas,
                         f"{common.ms(medians[label])} vs {common.ms(aequitas)}, {aequitas / medians[label]:.2f}x")
    like = labels[3]
    common.goal_line("like for like: no AUC, no resamples <= Aequitas", medians[like] <= aequitas,
                     f"{common.ms(medians[like])} vs {common.ms(aequitas)}, {aequitas / medians[like]:.2f}x")


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    rows = ROWS["quick" if args.quick else "full"]
    common.print_machine()
    with common.timer() as elapsed:
        from ethics import aggregates, fairness  # noqa: F401 - imported once, outside the timings
    common.report("import ethics.fairness, ethics.aggregates", elapsed.seconds, "s")

    common.heading(f"data: {rows:,} rows, sex (5) x age_band (4), seed {SEED}, threshold {THRESHOLD}")
    frame = make_data(rows)
    ours = measure_ours(frame)
    theirs = None
    if args.quick:
        common.heading("Aequitas: skipped in --quick mode")
    elif not REFERENCE.exists():
        common.heading(f"Aequitas: skipped, {REFERENCE} is missing; to set it up: {SETUP}")
    else:
        theirs = measure_aequitas(frame)
        theirs["difference"] = compare_values(ours["result"], theirs)
    summary(rows, ours, theirs)


if __name__ == "__main__":
    main()
