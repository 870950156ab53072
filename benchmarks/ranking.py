"""Call-list fairness on 1,000,000 leads in lists of 200 worked to k = 40: ethics.ranking against plain pandas.

    .venv/bin/python benchmarks/ranking.py [--quick]      # --quick: 100,000 leads

One process, one seeded data set: 5,000 lists of 200 leads (10 teams x 500 days; 500 lists
of 10 teams x 50 days with --quick), rows in random order, sex (5 values) x age band (4) =
20 intersectional groups, scores that lean by group, labels that follow the scores.

(a) ours, ranks: ``list_codes`` (team and batch to lists) and ``list_ranks``;
(b) ours, rows to cells: ``ranking_cells`` (ranks, capacity, rank bands, discount sums);
(c) the full ``assess_ranking``: 3 groupings, selection at capacity, TPR, FPR, exposure,
    every disparity, 1,000 resamples (and without);
(d) the reference: plain pandas, ``groupby(team, batch).rank(method="first")`` and group
    means of the discount and of "in the top k" per intersectional group; its values are
    compared with ours.

Figures are printed, never asserted; a goal missed prints FAIL.
"""

from __future__ import annotations

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
LIST_SIZE = 200
TEAMS = 10
CAPACITY = 40
RESAMPLES = 1_000
SEED = 2026
REPEATS = 5
GOAL_ASSESS_S = 0.5


def make_data(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    lists = np.repeat(np.arange(rows // LIST_SIZE), LIST_SIZE)
    rng.shuffle(lists)
    sex = rng.choice(SEXES, rows, p=SEX_SHARES)
    score = rng.random(rows) * np.where(sex == "non-binary", 0.9, 1.0)
    days = pd.Timestamp("2026-01-01") + pd.to_timedelta(lists // TEAMS, unit="D")
    return pd.DataFrame({
        "team": np.array([f"team-{i:02d}" for i in range(TEAMS)])[lists % TEAMS],
        "batch": days.strftime("%Y-%m-%d"),
        "sex": sex,
        "age_band": rng.choice(AGE_BANDS, rows),
        "score": score,
        "label": (rng.random(rows) < 0.1 + 0.5 * score).astype(np.int64),
    })


def pandas_reference(frame: pd.DataFrame) -> pd.DataFrame:
    """(d): ranks by a pandas groupby, then exposure and selection at capacity per intersectional group."""
    rank = frame.groupby(["team", "batch"], sort=False)["score"].rank(method="first", ascending=False)
    derived = pd.DataFrame({"sex": frame["sex"], "age_band": frame["age_band"],
                            "exposure": 1 / np.log2(1 + rank), "selection_rate": (rank <= CAPACITY).astype(float)})
    return derived.groupby(ATTRIBUTES)[["exposure", "selection_rate"]].mean()


def measure_ours(frame: pd.DataFrame) -> dict[str, Any]:
    from ethics import ranking

    common.heading("(a) ours: list_codes + list_ranks")
    codes_times = common.repeat(lambda: ranking.list_codes(frame), REPEATS)
    codes, names = ranking.list_codes(frame)
    scores = frame["score"].to_numpy()
    ranks_times = common.repeat(lambda: ranking.list_ranks(codes, scores), REPEATS)
    common.report(f"list_codes (team, batch -> {len(names):,} lists)", common.spread_ms(codes_times))
    common.report("list_ranks (score order, ties in input order)", common.spread_ms(ranks_times))

    common.heading(f"(b) ours: ranking_cells, k = {CAPACITY}")
    cells_times = common.repeat(lambda: ranking.ranking_cells(frame, attributes=ATTRIBUTES, capacity=CAPACITY),
                                REPEATS)
    cells = ranking.ranking_cells(frame, attributes=ATTRIBUTES, capacity=CAPACITY)
    common.report("ranking_cells", common.spread_ms(cells_times))
    common.report("cells", f"{len(cells):,} ({cells['rank_band'].nunique()} rank bands)")

    common.heading(f"(c) ours: assess_ranking, 3 groupings, {RESAMPLES:,} resamples")
    options = {"attributes": ATTRIBUTES, "min_group_size": 30}
    with_boot = common.repeat(
        lambda: ranking.assess_ranking(frame, capacity=CAPACITY, resamples=RESAMPLES, **options), REPEATS)
    without = common.repeat(lambda: ranking.assess_ranking(frame, capacity=CAPACITY, resamples=0, **options), REPEATS)
    from_cells = common.repeat(lambda: ranking.assess_ranking_cells(cells, resamples=RESAMPLES, **options), REPEATS)
    result = ranking.assess_ranking(frame, capacity=CAPACITY, resamples=RESAMPLES, **options)
    common.report(f"assess_ranking(resamples={RESAMPLES})", common.spread_ms(with_boot))
    common.report("assess_ranking(resamples=0)", common.spread_ms(without))
    common.report("  of which assess_ranking_cells", common.spread_ms(from_cells))
    for name in ("exposure_ratio", "demographic_parity_ratio"):
        entry = result[-1]["disparities"][name]
        common.report(f"{name}, sex x age_band",
                      f"{entry['judged_value']:.3f} [{entry['interval'][0]:.3f}, {entry['interval'][1]:.3f}] "
                      f"({entry['worst_group']} / {entry['best_group']})")
    common.report("peak RSS after (a)-(c)", f"{common.peak_rss_mb():,.0f} MB")
    return {"codes": codes_times, "ranks": ranks_times, "cells": cells_times, "with": with_boot,
            "without": without, "from cells": from_cells, "result": result}


def measure_reference(frame: pd.DataFrame, result: list[dict[str, Any]]) -> dict[str, Any]:
    from ethics import fairness

    common.heading("(d) reference: pandas groupby rank and group means, the same 20 groups")
    times = common.repeat(lambda: pandas_reference(frame), 3)
    reference = pandas_reference(frame)
    differences = []
    for row in result[-1]["groups"]:
        expected = reference.loc[tuple(row["group"].split(fairness.JOIN))]
        differences += [abs(float(expected[name]) - row[name]) for name in ("exposure", "selection_rate")]
    common.report("groupby rank + means", common.spread_ms(times))
    common.report("max abs difference, 2 metrics x 20 groups", f"{max(differences):.2e}")
    return {"seconds": statistics.median(times), "max difference": max(differences)}


def summary(rows: int, ours: dict[str, Any], reference: dict[str, Any]) -> None:
    assess = statistics.median(ours["with"])
    without = statistics.median(ours["without"])
    common.heading(f"summary, {rows:,} leads in lists of {LIST_SIZE}, k = {CAPACITY}, 20 groups")
    common.report("(a) list_codes + list_ranks (medians)",
                  common.ms(statistics.median(ours["codes"]) + statistics.median(ours["ranks"])))
    common.report("(b) ranking_cells (median)", common.ms(statistics.median(ours["cells"])))
    common.report(f"(c) assess_ranking, {RESAMPLES:,} resamples (median)", common.ms(assess))
    common.report("(c) assess_ranking, no resamples (median)", common.ms(without))
    common.report("(d) pandas groupby rank + means (median)", common.ms(reference["seconds"]))
    common.report("pandas / ours (no resamples: pandas has none)", f"{reference['seconds'] / without:.1f}x")
    common.report("values equal to pandas (max abs difference)", f"{reference['max difference']:.2e}")
    common.heading("goals" + ("" if rows == ROWS["full"] else f"; they are set for {ROWS['full']:,} leads"))
    common.goal_line(f"assess_ranking, {RESAMPLES:,} resamples, < 0.5 s", assess < GOAL_ASSESS_S, common.ms(assess))


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    rows = ROWS["quick" if args.quick else "full"]
    common.print_machine()
    with common.timer() as elapsed:
        from ethics import ranking  # noqa: F401 - imported once, outside the timings
    common.report("import ethics.ranking", elapsed.seconds, "s")
    common.heading(f"data: {rows:,} leads, {rows // LIST_SIZE:,} lists of {LIST_SIZE}, sex (5) x age_band (4), "
                   f"seed {SEED}")
    with common.timer() as elapsed:
        frame = make_data(rows)
    common.report("generate", elapsed.seconds, "s")
    ours = measure_ours(frame)
    reference = measure_reference(frame, ours["result"])
    summary(rows, ours, reference)


if __name__ == "__main__":
    main()
