"""Next-best-offer fairness on 1,000,000 rows x 10 offers x 20 groups: ethics.multiclass against fairlearn.

    .venv/bin/python benchmarks/multiclass.py [--quick]      # --quick: 100,000 rows

One process, one seeded data set: sex (5 values) x age band (4) = 20 intersectional
groups, 10 offers with values, offers that lean by group, true best offers that agree
with the offer made 60% of the time.

(a) ours, the offer rates alone on the 20 groups: ``fairness.groupings``, ``offer_codes``,
    ``offer_counts`` and the rate formula, what MetricFrame computes in (d);
(b) ours, rows to cells: ``multiclass_cells`` (labels included);
(c) the full ``assess_multiclass``: 3 groupings, offer rates, recall, expected value,
    per-offer and worst-offer disparities, chi-square, 1,000 resamples (and without);
(d) fairlearn ``MetricFrame`` with one ``selection_rate`` per offer (``pos_label=offer``,
    one-vs-rest) on the same 20 groups, run last; its values are compared with ours.

Figures are printed, never asserted; a goal missed prints FAIL.
"""

from __future__ import annotations

import functools
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
from _common import AGE_BANDS, ATTRIBUTES, SEX_SHARES, SEXES  # noqa: E402

ROWS = {"full": 1_000_000, "quick": 100_000}
OFFERS = [{"name": f"offer_{i}", "label": f"Offer {i}", "value": float(50 * i)} for i in range(10)]
NAMES = [o["name"] for o in OFFERS]
RESAMPLES = 1_000
SEED = 2026
REPEATS = 5
GOAL_ASSESS_S = 0.5


def make_data(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    sex = rng.choice(SEXES, rows, p=SEX_SHARES)
    lean = np.where(sex == "female", 0, np.where(sex == "male", 9, 4))  # each sex leans to one offer
    pick = np.where(rng.random(rows) < 0.1, lean, rng.integers(0, len(NAMES), rows))
    truth = np.where(rng.random(rows) < 0.6, pick, rng.integers(0, len(NAMES), rows))
    names = np.asarray(NAMES, dtype=object)
    return pd.DataFrame({"sex": sex, "age_band": rng.choice(AGE_BANDS, rows), "offer": names[pick],
                         "label": names[truth]})


def offer_rates(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """(a): the offer rates of the 20 intersectional groups, from the rows."""
    from ethics import fairness, multiclass

    intersection = fairness.groupings(frame, attributes=ATTRIBUTES)[-1]
    offered = multiclass.offer_codes(frame["offer"], offers=NAMES, column="offer")
    counts = multiclass.offer_counts(intersection.codes, offered, groups=len(intersection.labels), classes=len(NAMES))
    stats = {"n": counts.sum(axis=1), "offered": counts.T}
    rates = np.stack([multiclass.METRICS["selection_rate"].formula(stats, c) for c in range(len(NAMES))])
    return rates, intersection.labels


def measure_ours(frame: pd.DataFrame) -> dict[str, Any]:
    from ethics import multiclass

    common.heading("(a) ours: offer rates of 20 groups x 10 offers from the rows")
    rates_times = common.repeat(lambda: offer_rates(frame), REPEATS)
    common.report("groupings + offer_codes + offer_counts + rates", common.spread_ms(rates_times))

    common.heading("(b) ours: multiclass_cells (rows to cells, labels included)")
    cells_times = common.repeat(lambda: multiclass.multiclass_cells(frame, attributes=ATTRIBUTES, classes=OFFERS),
                                REPEATS)
    cells = multiclass.multiclass_cells(frame, attributes=ATTRIBUTES, classes=OFFERS)
    common.report("multiclass_cells", common.spread_ms(cells_times))
    common.report("cells", f"{len(cells):,} (of 20 x 10 x 10 = 2,000 possible)")

    common.heading(f"(c) ours: assess_multiclass, 3 groupings, {RESAMPLES:,} resamples")
    options = {"attributes": ATTRIBUTES, "classes": OFFERS, "min_group_size": 30}
    with_boot = common.repeat(lambda: multiclass.assess_multiclass(frame, resamples=RESAMPLES, **options), REPEATS)
    without = common.repeat(lambda: multiclass.assess_multiclass(frame, resamples=0, **options), REPEATS)
    from_cells = common.repeat(
        lambda: multiclass.assess_multiclass_cells(cells, resamples=RESAMPLES, **options), REPEATS)
    result = multiclass.assess_multiclass(frame, resamples=RESAMPLES, **options)
    common.report(f"assess_multiclass(resamples={RESAMPLES})", common.spread_ms(with_boot))
    common.report("assess_multiclass(resamples=0)", common.spread_ms(without))
    common.report("  of which assess_multiclass_cells", common.spread_ms(from_cells))
    intersection = result[-1]
    ratio = intersection["disparities"]["demographic_parity_ratio"]
    common.report("worst offer-rate ratio, sex x age_band",
                  f"{ratio['judged_value']:.3f} [{ratio['interval'][0]:.3f}, {ratio['interval'][1]:.3f}] "
                  f"({ratio['class']}: {ratio['worst_group']} / {ratio['best_group']})")
    test = result[0]["independence"]
    common.report("chi-square of offer against sex", f"{test['statistic']:,.1f}, dof {test['dof']}, "
                                                      f"p {test['p_value']:.3g}")
    common.report("peak RSS after (a)-(c)", f"{common.peak_rss_mb():,.0f} MB")
    return {"rates": rates_times, "cells": cells_times, "with": with_boot, "without": without,
            "from cells": from_cells}


def measure_metricframe(frame: pd.DataFrame) -> dict[str, Any]:
    from fairlearn.metrics import MetricFrame, selection_rate

    from ethics import fairness

    common.heading("(d) fairlearn MetricFrame, one selection_rate per offer (pos_label), the same 20 groups")
    y_pred = frame["offer"].to_numpy()
    metrics = {name: functools.partial(selection_rate, pos_label=name) for name in NAMES}
    with common.timer() as elapsed:
        by_group = MetricFrame(metrics=metrics, y_true=y_pred, y_pred=y_pred,
                               sensitive_features=frame[ATTRIBUTES]).by_group
    rates, labels = offer_rates(frame)
    differences = []
    for index, label in enumerate(labels):
        row = by_group.loc[tuple(label.split(fairness.JOIN))]
        differences += [abs(float(row[name]) - float(rates[c, index])) for c, name in enumerate(NAMES)]
    common.report("MetricFrame (one run)", f"{elapsed.seconds:,.2f} s")
    common.report("max abs difference, 10 offers x 20 groups", f"{max(differences):.2e}")
    common.report("peak RSS after (d)", f"{common.peak_rss_mb():,.0f} MB")
    return {"seconds": elapsed.seconds, "max difference": max(differences)}


def summary(rows: int, ours: dict[str, Any], frame_result: dict[str, Any]) -> None:
    rates = statistics.median(ours["rates"])
    assess = statistics.median(ours["with"])
    metricframe = frame_result["seconds"]
    common.heading(f"summary, {rows:,} rows x 10 offers x 20 groups")
    common.report("(a) ours, offer rates from the rows (median)", common.ms(rates))
    common.report("(b) ours, multiclass_cells (median)", common.ms(statistics.median(ours["cells"])))
    common.report(f"(c) assess_multiclass, {RESAMPLES:,} resamples (median)", common.ms(assess))
    common.report("(c) assess_multiclass, no resamples (median)", common.ms(statistics.median(ours["without"])))
    common.report("(d) fairlearn MetricFrame, 10 offer rates", f"{metricframe:,.2f} s")
    common.report("MetricFrame / ours (offer rates)", f"{metricframe / rates:,.0f}x")
    common.report("MetricFrame / ours (full assessment)", f"{metricframe / assess:,.0f}x")
    common.report("values equal to MetricFrame (max abs difference)", f"{frame_result['max difference']:.2e}")
    common.heading("goals" + ("" if rows == ROWS["full"] else f"; they are set for {ROWS['full']:,} rows"))
    common.goal_line(f"assess_multiclass, {RESAMPLES:,} resamples, < 0.5 s", assess < GOAL_ASSESS_S, common.ms(assess))


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    rows = ROWS["quick" if args.quick else "full"]
    common.print_machine()
    with common.timer() as elapsed:
        import fairlearn.metrics  # noqa: F401 - imported once, outside the timings

        from ethics import multiclass  # noqa: F401
    common.report("import fairlearn.metrics, ethics.multiclass", elapsed.seconds, "s")
    common.heading(f"data: {rows:,} rows, sex (5) x age_band (4), 10 offers, seed {SEED}")
    with common.timer() as elapsed:
        frame = make_data(rows)
    common.report("generate", elapsed.seconds, "s")
    ours = measure_ours(frame)
    frame_result = measure_metricframe(frame)
    summary(rows, ours, frame_result)


if __name__ == "__main__":
    main()
