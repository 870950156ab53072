"""Group fairness on 1,000,000 rows x 20 intersectional groups: ethics.fairness against fairlearn and a bare bincount.

    .venv/bin/python benchmarks/fairness.py [--quick]      # --quick: 100,000 rows

One process, one seeded data set: 2 sensitive attributes (sex with 5 values, age band
with 4), so 5 x 4 = 20 intersectional groups, random scores, labels that follow them.

(b) ours: ``fairness.groupings`` (timed alone) then ``confusion_counts`` and every
    formula of ``fairness.METRICS`` on the 20 groups;
(c) a bare ``np.bincount`` of the same cells, the one-pass limit;
(d) a 1,000-resample bootstrap of the 20 groups (``fairness._resample``, every
    disparity and its percentile interval);
(e) the full ``fairness.assess`` (3 groupings, AUC, 1,000 resamples), with a
    breakdown of where its time goes;
(a) fairlearn ``MetricFrame`` with 4 metrics on the same 20 groups, run last so the
    peak memory printed before it is ours alone; its values are compared with ours;
(f) peak RSS after each stage.

Figures are printed, never asserted; a goal missed prints FAIL.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
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
REPEATS = {"fast": 7, "assess": 3}
METRICFRAME_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy")
GOAL_METRICS_S = 0.1
GOAL_SPEEDUP = 100
GOAL_BINCOUNT_FACTOR = 2
GOAL_BOOTSTRAP_S = 2.0


def make_data(rows: int) -> pd.DataFrame:
    return common.scored_rows(rows, seed=SEED)


def median(seconds: list[float]) -> float:
    return statistics.median(seconds)


# -- (b) ours and (c) the bincount limit ---------------------------------------------------


def all_metrics(codes: np.ndarray, groups: int, y_pred: np.ndarray, y_true: np.ndarray) -> dict[str, np.ndarray]:
    """Every METRICS formula per group, from one confusion_counts pass."""
    from ethics import fairness

    counts = fairness.Counts(fairness.confusion_counts(codes, y_pred, y_true, groups=groups))
    return {name: spec.formula(counts) for name, spec in fairness.METRICS.items()}


def arithmetic_codes(frame: pd.DataFrame) -> tuple[np.ndarray, int]:
    """The issue's recipe for intersectional codes, for comparison: ``pd.factorize`` per column, combined
    arithmetically, then made dense with a bincount over all combinations (no sort)."""
    combined = np.zeros(len(frame), dtype=np.int64)
    size = 1
    for attribute in ATTRIBUTES:
        codes, uniques = pd.factorize(frame[attribute], sort=True)  # no missing values in this data
        combined = combined * len(uniques) + codes
        size *= len(uniques)
    present = np.bincount(combined, minlength=size) > 0
    return (np.cumsum(present) - 1)[combined], int(present.sum())


def measure_ours(frame: pd.DataFrame, y_pred: np.ndarray, y_true: np.ndarray) -> dict[str, Any]:
    from ethics import fairness

    common.heading("(b) ours: fairness.groupings + confusion_counts + every METRICS formula, 20 groups")
    times: dict[str, Any] = {}
    times["groupings"] = common.repeat(lambda: fairness.groupings(frame, attributes=ATTRIBUTES), REPEATS["assess"])
    found = fairness.groupings(frame, attributes=ATTRIBUTES)
    intersection = found[-1]
    groups = len(intersection.labels)
    times["singles"] = common.repeat(
        lambda: fairness.groupings(frame, attributes=ATTRIBUTES, intersections=False), REPEATS["assess"])
    times["column codes"] = {
        attribute: common.repeat(lambda a=attribute: fairness._column_codes(frame[a], None), REPEATS["assess"])
        for attribute in ATTRIBUTES
    }
    times["arithmetic codes"] = common.repeat(lambda: arithmetic_codes(frame), REPEATS["assess"])
    recipe_codes, recipe_groups = arithmetic_codes(frame)
    times["metrics"] = common.repeat(lambda: all_metrics(intersection.codes, groups, y_pred, y_true), REPEATS["fast"])
    common.report("intersection", f"{intersection.name}: {groups} groups")
    common.report("codes: groupings() (sex, age_band, sex × age_band)", spread(times["groupings"]))
    common.report("  of which the two single attributes", spread(times["singles"]))
    for attribute, seconds in times["column codes"].items():
        common.report(f"  _column_codes({attribute}) (factorize)", spread(seconds))
    common.report("  so sex × age_band alone (combine, np.unique) ~",
                  common.ms(median(times["groupings"]) - median(times["singles"])))
    common.report("codes, issue's recipe (arithmetic, no sort)", spread(times["arithmetic codes"]))
    common.report("  recipe's codes identical to groupings()",
                  recipe_groups == groups and bool(np.array_equal(recipe_codes, intersection.codes)))
    common.report("confusion_counts + all 8 METRICS formulas", spread(times["metrics"]))
    common.report("peak RSS after (b)", f"{common.peak_rss_mb():,.0f} MB")
    return {"times": times, "intersection": intersection, "found": found}


def spread(seconds: list[float]) -> str:
    return common.spread(seconds) if min(seconds) >= 0.01 else common.spread_ms(seconds)


def measure_bincount(codes: np.ndarray, y_pred: np.ndarray, y_true: np.ndarray, groups: int) -> dict[str, Any]:
    from ethics import fairness

    common.heading("(c) bare np.bincount on the intersection's codes (the one-pass limit)")
    cells = codes * 4 + y_true * 2 + y_pred
    one_pass = common.repeat(lambda: np.bincount(codes * 4 + y_true * 2 + y_pred, minlength=groups * 4),
                             REPEATS["fast"])
    bare = common.repeat(lambda: np.bincount(cells, minlength=groups * 4), REPEATS["fast"])
    counted = np.bincount(cells, minlength=groups * 4).reshape(groups, 4)
    same = bool(np.array_equal(counted, fairness.confusion_counts(codes, y_pred, y_true, groups=groups)))
    common.report("bincount(codes * 4 + y_true * 2 + y_pred)", spread(one_pass))
    common.report("bincount of cell codes combined beforehand", spread(bare))
    common.report("same cells as fairness.confusion_counts", same)
    return {"one pass": one_pass, "bare": bare}


# -- (d) bootstrap and (e) assess ----------------------------------------------------------


def bootstrap(cells: np.ndarray) -> dict[str, Any]:
    """What assess does with resamples: resample the counts, every disparity and metric, percentiles."""
    from ethics import fairness

    boot = fairness._resample(cells, RESAMPLES, np.random.default_rng(0))
    counts = fairness.Counts(boot)
    intervals = {}
    for name in fairness.DISPARITIES:
        values = fairness.disparity_values(counts, name)
        intervals[name] = np.percentile(values[np.isfinite(values)], [2.5, 97.5])
    for name, spec in fairness.METRICS.items():
        if name != "count":
            intervals[name] = np.percentile(spec.formula(counts), [2.5, 97.5], axis=0)
    return intervals


def measure_bootstrap(codes: np.ndarray, y_pred: np.ndarray, y_true: np.ndarray, groups: int) -> dict[str, Any]:
    from ethics import fairness

    common.heading(f"(d) {RESAMPLES:,}-resample stratified bootstrap of the 20 groups' counts")
    cells = fairness.confusion_counts(codes, y_pred, y_true, groups=groups)
    resample = common.repeat(lambda: fairness._resample(cells, RESAMPLES, np.random.default_rng(0)), REPEATS["fast"])
    whole = common.repeat(lambda: bootstrap(cells), REPEATS["fast"])
    intervals = bootstrap(cells)
    point = fairness.disparity_values(fairness.Counts(cells), "demographic_parity_ratio")
    common.report("fairness._resample (multinomial on the counts)", spread(resample))
    common.report("+ 5 disparities, 7 metrics, percentiles", spread(whole))
    low, high = intervals["demographic_parity_ratio"]
    common.report("selection-rate ratio, 95% interval", f"{float(point):.4f} [{low:.4f}, {high:.4f}]")
    return {"resample": resample, "whole": whole}


def measure_assess(frame: pd.DataFrame, found: list[Any], y_pred: np.ndarray, y_true: np.ndarray) -> dict[str, Any]:
    from ethics import fairness

    common.heading(f"(e) fairness.assess: {len(found)} groupings, AUC, {RESAMPLES:,} resamples")
    options = {"attributes": ATTRIBUTES, "threshold": THRESHOLD, "min_group_size": 30}
    with_boot = common.repeat(lambda: fairness.assess(frame, resamples=RESAMPLES, **options), REPEATS["assess"])
    without = common.repeat(lambda: fairness.assess(frame, resamples=0, **options), REPEATS["assess"])
    common.report(f"assess(resamples={RESAMPLES})", spread(with_boot))
    common.report("assess(resamples=0)", spread(without))
    common.report("difference of the fastest runs (noisy under load)", common.ms(min(with_boot) - min(without)))
    common.report("peak RSS after (e)", f"{common.peak_rss_mb():,.0f} MB")

    common.heading("(e) where assess's time goes (its parts, timed one by one)")
    scores = frame["score"].to_numpy()
    parts: dict[str, float] = {}
    parts["groupings (3 groupings)"] = median(common.repeat(
        lambda: fairness.groupings(frame, attributes=ATTRIBUTES), REPEATS["assess"]))
    parts["threshold the scores"] = median(common.repeat(
        lambda: (frame["score"].to_numpy() >= THRESHOLD).astype(np.int64), REPEATS["fast"]))
    rng = np.random.default_rng(0)
    cells = {g.name: fairness.confusion_counts(g.codes, y_pred, y_true, groups=len(g.labels)) for g in found}
    boots = {name: fairness._resample(c, RESAMPLES, rng) for name, c in cells.items()}
    aucs: dict[str, np.ndarray] = {}
    parts["confusion_counts x 3"] = sum(median(common.repeat(
        lambda g=g: fairness.confusion_counts(g.codes, y_pred, y_true, groups=len(g.labels)), REPEATS["fast"]))
        for g in found)
    parts["_resample x 3"] = sum(median(common.repeat(
        lambda c=c: fairness._resample(c, RESAMPLES, np.random.default_rng(0)), REPEATS["fast"]))
        for c in cells.values())
    parts["score_ranks (one argsort, shared)"] = median(common.repeat(
        lambda: fairness.score_ranks(scores), REPEATS["assess"]))
    ranks = fairness.score_ranks(scores)
    auc_seconds = 0.0
    for g in found:
        aucs[g.name] = fairness.group_auc(g.codes, scores, y_true, groups=len(g.labels), ranks=ranks)
        auc_seconds += median(common.repeat(
            lambda g=g: fairness.group_auc(g.codes, scores, y_true, groups=len(g.labels), ranks=ranks),
            REPEATS["assess"]))
    parts["group_auc x 3"] = auc_seconds
    parts["_assess_grouping x 3 (intervals, disparities)"] = sum(median(common.repeat(
        lambda g=g: fairness._assess_grouping(g, cells[g.name], boots[g.name], labelled=True, min_group_size=30,
                                              confidence=0.95, auc=aucs[g.name]), REPEATS["assess"]))
        for g in found)
    no_intervals = sum(median(common.repeat(
        lambda g=g: fairness._assess_grouping(g, cells[g.name], None, labelled=True, min_group_size=30,
                                              confidence=0.95, auc=aucs[g.name]), REPEATS["assess"]))
        for g in found)
    for label, seconds in parts.items():
        common.report(label, common.ms(seconds))
    common.report("sum of the parts", common.ms(sum(parts.values())))
    common.report("  _assess_grouping x 3 without resamples", common.ms(no_intervals))
    share = parts["_resample x 3"] + parts["_assess_grouping x 3 (intervals, disparities)"] - no_intervals
    common.report("  so the bootstrap's share of assess (parts)", common.ms(share))

    return {"with": with_boot, "without": without, "parts": parts, "bootstrap share": share}


# -- (a) fairlearn -------------------------------------------------------------------------


def measure_metricframe(frame: pd.DataFrame, y_pred: np.ndarray, y_true: np.ndarray, ours: Any) -> dict[str, Any]:
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score

    from ethics import fairness

    common.heading("(a) fairlearn MetricFrame, 4 metrics, the same 20 groups")
    functions = {"selection_rate": selection_rate, "true_positive_rate": true_positive_rate,
                 "false_positive_rate": false_positive_rate, "accuracy": accuracy_score}
    with common.timer() as elapsed:
        by_group = MetricFrame(metrics=functions, y_true=y_true, y_pred=y_pred,
                               sensitive_features=frame[ATTRIBUTES]).by_group
    intersection = ours["intersection"]
    values = all_metrics(intersection.codes, len(intersection.labels), y_pred, y_true)
    differences = []
    for index, label in enumerate(intersection.labels):
        row = by_group.loc[tuple(label.split(fairness.JOIN))]
        differences += [abs(float(row[name]) - float(values[name][index])) for name in METRICFRAME_METRICS]
    common.report("MetricFrame (one run)", f"{elapsed.seconds:,.2f} s")
    common.report("groups compared", f"{len(intersection.labels)} of {len(by_group.dropna())}")
    common.report("max abs difference, 4 metrics x 20 groups", f"{max(differences):.2e}")
    common.report("peak RSS after (a)", f"{common.peak_rss_mb():,.0f} MB")
    return {"seconds": elapsed.seconds, "max difference": max(differences)}


# -- main ----------------------------------------------------------------------------------


def summary(rows: int, ours: dict, limit: dict, boot: dict, assessed: dict, frame_result: dict) -> None:
    metrics = median(ours["times"]["metrics"])
    codes = median(ours["times"]["groupings"])
    one_pass = median(limit["one pass"])
    metricframe = frame_result["seconds"]
    common.heading(f"summary, {rows:,} rows x 20 groups")
    common.report("(a) fairlearn MetricFrame, 4 metrics", f"{metricframe:,.2f} s")
    common.report("(b) ours, all 8 metrics from the codes (median)", common.ms(metrics))
    common.report("(b) ours, codes: groupings() for the 3 groupings", common.ms(codes))
    common.report("(b) ours, codes + metrics", common.ms(codes + metrics))
    common.report("(c) bare bincount, one pass (median)", common.ms(one_pass))
    common.report("MetricFrame / ours (metrics)", f"{metricframe / metrics:,.0f}x")
    common.report("MetricFrame / ours (codes + metrics)", f"{metricframe / (codes + metrics):,.0f}x")
    common.report("ours (metrics) / bincount", f"{metrics / one_pass:.2f}x")
    common.report("values equal to MetricFrame (max abs difference)", f"{frame_result['max difference']:.2e}")
    common.report(f"(d) {RESAMPLES:,}-resample bootstrap of 20 groups (median)", common.ms(median(boot["whole"])))
    common.report(f"(e) assess, 3 groupings, AUC, {RESAMPLES:,} resamples", common.ms(median(assessed["with"])))
    common.report("(e) of which the bootstrap (_resample, intervals)", common.ms(assessed["bootstrap share"]))
    common.report("(e) of which group_auc x 3", common.ms(assessed["parts"]["group_auc x 3"]))
    common.report("(f) peak RSS", f"{common.peak_rss_mb():,.0f} MB")

    common.heading("goals (issue 5)" + ("" if rows == ROWS["full"] else f"; they are set for {ROWS['full']:,} rows"))
    common.goal_line("all metrics, 20 groups, < 0.1 s (from the codes)", metrics < GOAL_METRICS_S, common.ms(metrics))
    common.goal_line("all metrics, 20 groups, < 0.1 s (codes included)", codes + metrics < GOAL_METRICS_S,
              common.ms(codes + metrics))
    common.goal_line(">= 100x MetricFrame (codes included)", metricframe / (codes + metrics) >= GOAL_SPEEDUP,
              f"{metricframe / (codes + metrics):,.0f}x")
    common.goal_line("within 2x of a bare bincount", metrics / one_pass <= GOAL_BINCOUNT_FACTOR,
              f"{metrics / one_pass:.2f}x")
    common.goal_line("1,000-resample CIs, bootstrap alone, < 2 s", median(boot["whole"]) < GOAL_BOOTSTRAP_S,
              common.ms(median(boot["whole"])))
    common.goal_line("1,000-resample CIs, full assess, < 2 s", median(assessed["with"]) < GOAL_BOOTSTRAP_S,
              common.ms(median(assessed["with"])))


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    rows = ROWS["quick" if args.quick else "full"]
    common.print_machine()
    with common.timer() as elapsed:
        import fairlearn.metrics  # noqa: F401 - imported once, outside the timings
        import sklearn.metrics  # noqa: F401

        from ethics import fairness  # noqa: F401
    common.report("import fairlearn, sklearn.metrics, ethics.fairness", elapsed.seconds, "s")
    common.report("RSS after the imports", f"{common.current_rss_mb():,.0f} MB")

    common.heading(f"data: {rows:,} rows, sex (5) x age_band (4), seed {SEED}")
    with common.timer() as elapsed:
        frame = make_data(rows)
    y_true = frame["label"].to_numpy()
    y_pred = (frame["score"].to_numpy() >= THRESHOLD).astype(np.int64)
    common.report("generate", elapsed.seconds, "s")
    common.report("peak RSS after the data", f"{common.peak_rss_mb():,.0f} MB")

    ours = measure_ours(frame, y_pred, y_true)
    codes, groups = ours["intersection"].codes, len(ours["intersection"].labels)
    limit = measure_bincount(codes, y_pred, y_true, groups)
    boot = measure_bootstrap(codes, y_pred, y_true, groups)
    assessed = measure_assess(frame, ours["found"], y_pred, y_true)
    frame_result = measure_metricframe(frame, y_pred, y_true, ours)
    summary(rows, ours, limit, boot, assessed, frame_result)


if __name__ == "__main__":
    main()
