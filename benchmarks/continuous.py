"""Continuous-outcome fairness on 1,000,000 discounts x 20 intersectional groups: ethics.continuous against fairlearn.

    .venv/bin/python benchmarks/continuous.py [--quick]      # --quick: 100,000 rows

One process, one seeded data set: 2 sensitive attributes (sex with 5 values, age band
with 4), so 5 x 4 = 20 intersectional groups, as in ``benchmarks/fairness.py``.  The
outcome is a realistic discount: 0-30 % in steps of 0.5 (61 possible values, so at most
20 x 61 cells per grouping), with a realised discount beside it for the error metrics.

(a) ours, everything: ``continuous.assess_continuous`` (3 groupings: sex, age band,
    sex x age band; every metric and disparity; 1,000 bootstrap resamples), with a
    breakdown of where its time goes;
(b) ours without the bootstrap (``resamples=0``): rows -> cells -> every metric of the
    3 groupings, a superset of what (c) computes;
(c) fairlearn ``MetricFrame`` with ``mean_prediction`` and ``mean_absolute_error`` on the
    same 20 groups, run last so the peak memory printed before it is ours alone; its
    values are compared with ours;
(d) the same ``MetricFrame`` with its own bootstrap (``n_boot``, ``ci_quantiles``,
    ``random_state``): each of its resamples redraws all the rows and recomputes every
    group, so 1,000 of them at 1M rows would take hours; it is run with ``n_boot`` =
    ``METRICFRAME_RESAMPLES`` and its time for 1,000 resamples is extrapolated linearly:
    the time of (c) plus 1,000 times the cost of one resample, (d - c) / n_boot.

Figures are printed, never asserted; a goal missed prints FAIL.
"""

from __future__ import annotations

import os
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
from _common import AGE_BANDS, ATTRIBUTES, SEX_SHARES, SEXES  # noqa: E402

ROWS = {"full": 1_000_000, "quick": 100_000}
STEP = 0.5
RESAMPLES = 1_000
SEED = 2026
REPEATS = 5
UNIT = "% discount"
GOAL_SECONDS = 0.3
GOAL_SPEEDUP = 100
#: MetricFrame's own bootstrap is run with this many resamples and extrapolated to RESAMPLES (see (d)).
METRICFRAME_RESAMPLES = 3
OPTIONS = {"outcome": "discount", "attributes": ATTRIBUTES, "label": "realised", "unit": UNIT, "resolution": STEP}


def make_data(rows: int) -> pd.DataFrame:
    """Discounts around 12 %, a little lower for older customers, on the 0.5 % grid; realised values beside them."""
    rng = np.random.default_rng(SEED)
    age = rng.integers(0, len(AGE_BANDS), rows)
    discount = np.clip(np.rint((12.0 - 0.6 * age + rng.normal(0, 5, rows)) / STEP) * STEP, 0, 30)
    return pd.DataFrame({
        "sex": rng.choice(SEXES, rows, p=SEX_SHARES),
        "age_band": np.asarray(AGE_BANDS, dtype=object)[age],
        "discount": discount,
        "realised": discount + rng.normal(0.3, 1.5, rows),
    })


# -- (a) and (b) ours -------------------------------------------------------------------------


def measure_ours(frame: pd.DataFrame) -> dict[str, Any]:
    from ethics import continuous, fairness

    common.heading(f"(a) ours: assess_continuous, 3 groupings, every metric, {RESAMPLES:,} resamples")
    times: dict[str, list[float]] = {}
    times["full"] = common.repeat(lambda: continuous.assess_continuous(frame, resamples=RESAMPLES, **OPTIONS),
                                  REPEATS)
    times["no bootstrap"] = common.repeat(lambda: continuous.assess_continuous(frame, resamples=0, **OPTIONS),
                                          REPEATS)
    result = continuous.assess_continuous(frame, resamples=RESAMPLES, **OPTIONS)
    common.report(f"assess_continuous(resamples={RESAMPLES:,})", common.spread_ms(times["full"]))
    common.report("(b) assess_continuous(resamples=0)", common.spread_ms(times["no bootstrap"]))
    common.report("peak RSS after (a), (b)", f"{common.peak_rss_mb():,.0f} MB")

    common.heading("(a) where the time goes (its parts, timed one by one)")
    table = continuous.cells_table(frame, outcome="discount", attributes=ATTRIBUTES, label="realised",
                                   resolution=STEP)
    cells_options = {"attributes": ATTRIBUTES, "unit": UNIT, "resolution": STEP}
    times["cells"] = common.repeat(lambda: continuous.cells_table(
        frame, outcome="discount", attributes=ATTRIBUTES, label="realised", resolution=STEP), REPEATS)
    times["codes"] = common.repeat(lambda: fairness.groupings(frame, attributes=ATTRIBUTES, intersections=False),
                                   REPEATS)
    times["cells, no bootstrap"] = common.repeat(
        lambda: continuous.assess_continuous_cells(table, resamples=0, **cells_options), REPEATS)
    times["cells, bootstrap"] = common.repeat(
        lambda: continuous.assess_continuous_cells(table, resamples=RESAMPLES, **cells_options), REPEATS)
    grouped = continuous._grouping_cells(table, attributes=ATTRIBUTES, control=None, resolution=STEP)
    times["bootstrap"] = common.repeat(lambda: [
        continuous._bootstrap(cells, resamples=RESAMPLES, quantile=0.5, rng=np.random.default_rng(0))
        for _, cells in grouped], REPEATS)
    blocks = sum(int(np.prod(cells.counts.shape[:2])) for _, cells in grouped)
    distinct = len(grouped[0][1].values)
    common.report("values", f"{distinct} distinct (0-30 % in steps of {STEP}), {len(table):,} cells of the rows")
    common.report("cells_table (rows -> cells)", common.spread_ms(times["cells"]))
    common.report("  of which coding sex and age_band (groupings)", common.spread_ms(times["codes"]))
    common.report("assess_continuous_cells(resamples=0)", common.spread_ms(times["cells, no bootstrap"]))
    common.report(f"assess_continuous_cells(resamples={RESAMPLES:,})", common.spread_ms(times["cells, bootstrap"]))
    common.report(f"  of which _bootstrap x 3 ({blocks} groups x {distinct} values x {RESAMPLES:,})",
                  common.spread_ms(times["bootstrap"]))
    sex_age = result[-1]
    entry = sex_age["disparities"]["mean_difference"]
    low, high = entry["interval"]
    common.report("sex × age_band mean difference, 95% interval",
                  f"{entry['judged_value']:.3f} [{low:.3f}, {high:.3f}] {UNIT}")
    common.report("  worst / reference group", f"{entry['worst_group']} / {entry['best_group']}")
    return {"times": times, "result": result}


# -- (c) fairlearn -----------------------------------------------------------------------------


def measure_metricframe(frame: pd.DataFrame, ours: dict[str, Any]) -> dict[str, Any]:
    from fairlearn.metrics import MetricFrame, mean_prediction
    from sklearn.metrics import mean_absolute_error

    from ethics import fairness

    common.heading("(c) fairlearn MetricFrame, mean_prediction and mean_absolute_error, the same 20 groups")
    options = {"metrics": {"mean": mean_prediction, "mae": mean_absolute_error}, "y_true": frame["realised"],
               "y_pred": frame["discount"], "sensitive_features": frame[ATTRIBUTES]}
    with common.timer() as elapsed:
        by_group = MetricFrame(**options).by_group
    groups = ours["result"][-1]["groups"]
    differences = []
    for row in groups:
        theirs = by_group.loc[tuple(row["group"].split(fairness.JOIN))]
        differences += [abs(float(theirs[name]) - row[name]) for name in ("mean", "mae")]
    common.report("MetricFrame (one run)", f"{elapsed.seconds:,.2f} s")
    common.report("groups compared", f"{len(groups)} of {len(by_group.dropna())}")
    common.report("max abs difference, mean and MAE x 20 groups", f"{max(differences):.2e}")
    common.report("peak RSS after (c)", f"{common.peak_rss_mb():,.0f} MB")
    common.report("load average after (c)", " ".join(f"{x:.2f}" for x in os.getloadavg()))

    common.heading(f"(d) the same MetricFrame with its bootstrap, n_boot={METRICFRAME_RESAMPLES} "
                   f"(extrapolated to {RESAMPLES:,})")
    with common.timer() as booted:
        MetricFrame(**options, n_boot=METRICFRAME_RESAMPLES, ci_quantiles=[0.025, 0.975], random_state=0)
    per_resample = max(booted.seconds - elapsed.seconds, 0.0) / METRICFRAME_RESAMPLES
    extrapolated = elapsed.seconds + RESAMPLES * per_resample
    common.report(f"MetricFrame(n_boot={METRICFRAME_RESAMPLES}) (one run)", f"{booted.seconds:,.2f} s")
    common.report("so one of its resamples", f"{per_resample:,.2f} s")
    common.report(f"extrapolated to n_boot={RESAMPLES:,}", f"{extrapolated:,.0f} s ({extrapolated / 3600:.1f} h)")
    common.report("load average after (d)", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return {"seconds": elapsed.seconds, "max difference": max(differences), "booted": booted.seconds,
            "per resample": per_resample, "extrapolated": extrapolated}


# -- main --------------------------------------------------------------------------------------


def summary(rows: int, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    full = statistics.median(ours["times"]["full"])
    bare = statistics.median(ours["times"]["no bootstrap"])
    metricframe = theirs["seconds"]
    common.heading(f"summary, {rows:,} rows x 20 groups, discounts 0-30 % in steps of {STEP}")
    common.report(f"(a) ours, everything, {RESAMPLES:,} resamples (median)", common.ms(full))
    common.report("(b) ours, every metric, no bootstrap (median)", common.ms(bare))
    common.report("(c) fairlearn MetricFrame, mean and MAE", f"{metricframe:,.2f} s")
    common.report("MetricFrame / ours (b), the same metrics from the rows", f"{metricframe / bare:,.0f}x")
    common.report(f"(d) MetricFrame with n_boot={RESAMPLES:,}, extrapolated", f"{theirs['extrapolated']:,.0f} s")
    common.report(f"MetricFrame / ours (a), both with {RESAMPLES:,} resamples",
                  f"{theirs['extrapolated'] / full:,.0f}x")
    common.report("MetricFrame without / ours with the bootstrap (unlike)", f"{metricframe / full:,.0f}x")
    common.report("values equal to MetricFrame (max abs difference)", f"{theirs['max difference']:.2e}")
    common.report("peak RSS", f"{common.peak_rss_mb():,.0f} MB")

    common.heading("goals" + ("" if rows == ROWS["full"] else f"; they are set for {ROWS['full']:,} rows"))
    common.goal_line(f"everything with {RESAMPLES:,} resamples, < 0.3 s", full < GOAL_SECONDS, common.ms(full))
    common.goal_line(">= 100x MetricFrame (the same metrics, rows included)", metricframe / bare >= GOAL_SPEEDUP,
              f"{metricframe / bare:,.0f}x")
    common.goal_line(f">= 100x MetricFrame, both with {RESAMPLES:,} resamples",
                     theirs["extrapolated"] / full >= GOAL_SPEEDUP,
                     f"{theirs['extrapolated'] / full:,.0f}x, MetricFrame's extrapolated from "
                     f"n_boot={METRICFRAME_RESAMPLES}")


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    rows = ROWS["quick" if args.quick else "full"]
    common.print_machine()
    with common.timer() as elapsed:
        import fairlearn.metrics  # noqa: F401 - imported once, outside the timings
        import sklearn.metrics  # noqa: F401

        from ethics import continuous  # noqa: F401
    common.report("import fairlearn, sklearn.metrics, ethics.continuous", elapsed.seconds, "s")

    common.heading(f"data: {rows:,} rows, sex (5) x age_band (4), discounts 0-30 % in steps of {STEP}, seed {SEED}")
    with common.timer() as elapsed:
        frame = make_data(rows)
    common.report("generate", elapsed.seconds, "s")
    common.report("distinct discounts", f"{frame['discount'].nunique()} (so the cells are few)")
    common.report("peak RSS after the data", f"{common.peak_rss_mb():,.0f} MB")

    ours = measure_ours(frame)
    theirs = measure_metricframe(frame, ours)
    summary(rows, ours, theirs)


if __name__ == "__main__":
    main()
