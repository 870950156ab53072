"""ethics.ranking against a plain-Python ranking loop and fairlearn's MetricFrame on the top k.

The oracle ranks each list with Python's ``sorted`` (stable: tied scores keep the input
order), sums ``1 / log2(1 + rank)`` per group in a loop, and hands "in the top k" to
fairlearn as the prediction.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import partial

import duckdb
import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from ethics import comparison, fairness, ranking, warehouse
from ethics.errors import ValidationError
from tests import group_oracles
from tests.group_oracles import attribute_columns, group_label, row_groups, sensitive
from tests.input_convertors import containers, plainly

TOLERANCE = 1e-12
assert_same = partial(group_oracles.assert_same, tolerance=TOLERANCE)
TEAMS = ["north", "south", "west"]
BATCHES = ["2026-11-24", "2026-11-25"]
ORACLE_METRICS = {"count": count, "selection_rate": selection_rate, "true_positive_rate": true_positive_rate,
                  "false_positive_rate": false_positive_rate}
ORACLE_DISPARITIES = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
    "equal_opportunity_difference": equal_opportunity_difference,
}


# -- data and the oracles ------------------------------------------------------------------


def make_frame(rows: int, attributes: dict[str, int], *, seed: int, missing: float = 0.0, ties: bool = False,
               labelled: bool = True, teams=TEAMS, batches=BATCHES) -> pd.DataFrame:
    """Leads in lists of team × batch; the first group of the first attribute scores lower."""
    rng = np.random.default_rng(seed)
    data, _ = attribute_columns(rows, attributes, rng, missing=missing)
    first = next(iter(data.values()))
    score = rng.random(rows) * np.where(first == f"{next(iter(attributes))}-00", 0.8, 1.0)
    data |= {"team": rng.choice(teams, rows), "batch": rng.choice(batches, rows),
             "score": score.round(1) if ties else score}
    if labelled:
        data["label"] = (rng.random(rows) < 0.2 + 0.6 * score).astype(int)
    return pd.DataFrame(data)


def oracle_ranks(frame: pd.DataFrame) -> list[int]:
    """Plain Python: each list's rows sorted by score, highest first; sorted() keeps tied rows in input order."""
    lists: dict[tuple, list[int]] = {}
    for position, key in enumerate(zip(frame["team"], frame["batch"], strict=True)):
        lists.setdefault(key, []).append(position)
    scores = frame["score"].tolist()
    ranks = [0] * len(frame)
    for members in lists.values():
        for rank, position in enumerate(sorted(members, key=lambda p: -scores[p]), start=1):
            ranks[position] = rank
    return ranks


def oracle_top_k(frame: pd.DataFrame, capacity) -> np.ndarray:
    ranks = oracle_ranks(frame)
    names = [f"{team} {batch}" for team, batch in zip(frame["team"], frame["batch"], strict=True)]
    k = [capacity[name] if isinstance(capacity, dict) else capacity for name in names]
    return np.array([int(rank <= limit) for rank, limit in zip(ranks, k, strict=True)])


def oracle_exposure(frame: pd.DataFrame, attributes) -> dict[str, float]:
    """Plain Python: the mean of 1 / log2(1 + rank) over each group's leads."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for group, rank in zip(row_groups(frame, attributes), oracle_ranks(frame), strict=True):
        sums[group] = sums.get(group, 0.0) + 1 / math.log2(1 + rank)
        counts[group] = counts.get(group, 0) + 1
    return {group: sums[group] / counts[group] for group in sums}


def oracle_by_group(frame: pd.DataFrame, attributes, capacity) -> dict[str, pd.Series]:
    y_pred = oracle_top_k(frame, capacity)
    labelled = "label" in frame.columns
    y_true = frame["label"].to_numpy() if labelled else y_pred
    metrics = ORACLE_METRICS if labelled else {m: ORACLE_METRICS[m] for m in ("count", "selection_rate")}
    by_group = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred,
                           sensitive_features=sensitive(frame, attributes)).by_group.dropna(subset=["count"])
    return {group_label(index): row for index, row in by_group.iterrows()}


def oracle_disparities(frame: pd.DataFrame, attributes, capacity) -> dict[str, float]:
    y_pred = oracle_top_k(frame, capacity)
    features = sensitive(frame, attributes)
    return {name: float(function(frame["label"].to_numpy(), y_pred, sensitive_features=features))
            for name, function in ORACLE_DISPARITIES.items()}


def assess(frame: pd.DataFrame, attributes, capacity=40, **options) -> list[dict]:
    options = {"min_group_size": 0, "resamples": 0, **options}
    return ranking.assess_ranking(frame, attributes=list(attributes), capacity=capacity, **options)


# -- edge cases ----------------------------------------------------------------------------

PER_LIST = {f"{team} {batch}": k for (team, batch), k in
            zip([(t, b) for t in TEAMS for b in BATCHES], [5, 40, 0, 1000, 17, 60], strict=True)}

CASES: dict[str, tuple[Callable[[], pd.DataFrame], list[str], int | dict]] = {
    "1 attribute, 2 groups": (lambda: make_frame(600, {"sex": 2}, seed=1), ["sex"], 40),
    "1 attribute, 5 groups": (lambda: make_frame(1_200, {"sex": 5}, seed=2), ["sex"], 40),
    "2 attributes, 3 x 2 groups": (lambda: make_frame(1_500, {"sex": 3, "age": 2}, seed=3), ["sex", "age"], 60),
    "missing sensitive values": (lambda: make_frame(800, {"sex": 2, "age": 2}, seed=4, missing=0.1),
                                 ["sex", "age"], 40),
    "tied scores": (lambda: make_frame(900, {"sex": 3}, seed=5, ties=True), ["sex"], 40),
    "a capacity per list": (lambda: make_frame(1_200, {"sex": 3}, seed=6), ["sex"], PER_LIST),
    "capacity beyond every list": (lambda: make_frame(300, {"sex": 2}, seed=7), ["sex"], 10_000),
    "capacity 0": (lambda: make_frame(300, {"sex": 2}, seed=8), ["sex"], 0),
    "long lists, ranks beyond the exact ones": (
        lambda: make_frame(3_000, {"sex": 3}, seed=9, teams=["north"], batches=["2026-11-25"]), ["sex"], 100),
    "groups of one row": (lambda: make_frame(15, {"sex": 10}, seed=10), ["sex"], 2),
}


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def case(request):
    make, attributes, capacity = CASES[request.param]
    frame = make()
    return frame, attributes, capacity, assess(frame, attributes, capacity)


def test_the_oracles_cover_every_metric_and_disparity():
    assert set(ranking.METRICS) == {*ORACLE_METRICS, "exposure"}
    assert set(ranking.DISPARITIES) == {*ORACLE_DISPARITIES, "exposure_ratio"}
    for name, spec in fairness.DISPARITIES.items():  # fairness's disparities, on the top k
        assert (ranking.DISPARITIES[name].kind, ranking.DISPARITIES[name].metrics) == (spec.kind, spec.metrics)


def test_ranks_match_plain_python(case):
    frame = case[0]
    codes, _ = ranking.list_codes(frame)
    assert ranking.list_ranks(codes, frame["score"]).tolist() == oracle_ranks(frame)


def test_top_k_metrics_per_group_match_fairlearn(case):
    frame, attributes, capacity, assessment = case
    for grouping in assessment:
        expected = oracle_by_group(frame, grouping["attributes"], capacity)
        assert {g["group"] for g in grouping["groups"]} == set(expected)
        for row in grouping["groups"]:
            for name in ORACLE_METRICS:
                assert_same(row[name], expected[row["group"]][name], f"{grouping['grouping']} {row['group']} {name}")


def test_top_k_disparities_match_fairlearn(case):
    frame, attributes, capacity, assessment = case
    for grouping in assessment:
        expected = oracle_disparities(frame, grouping["attributes"], capacity)
        for name in ORACLE_DISPARITIES:
            assert_same(grouping["disparities"][name]["value"], expected[name], f"{grouping['grouping']} {name}")
            if len(grouping["groups"]) >= 2:
                assert_same(grouping["disparities"][name]["judged_value"], expected[name], f"{name} judged")


def test_exposure_matches_plain_python(case):
    frame, _, _, assessment = case
    for grouping in assessment:
        expected = oracle_exposure(frame, grouping["attributes"])
        for row in grouping["groups"]:
            assert_same(row["exposure"], expected[row["group"]], f"{grouping['grouping']} {row['group']}")
        low, high = min(expected.values()), max(expected.values())
        entry = grouping["disparities"]["exposure_ratio"]
        assert_same(entry["value"], low / high, "exposure ratio")
        if len(grouping["groups"]) >= 2:
            worst = min(expected, key=expected.get)
            assert (entry["worst_group"], entry["metric"]) == (worst, "exposure")
            assert_same(entry["worst_value"], low, "worst exposure")


def test_a_rank_column_is_taken_as_the_ranking(case):
    frame, attributes, capacity, assessment = case
    ranked = frame.drop(columns="score").assign(rank=oracle_ranks(frame))
    assert assess(ranked, attributes, capacity) == assessment


def test_without_labels_only_label_free_metrics():
    frame = make_frame(500, {"sex": 3}, seed=11, labelled=False)
    (grouping,) = assess(frame, ["sex"])
    assert set(grouping["disparities"]) == {"demographic_parity_difference", "demographic_parity_ratio",
                                            "exposure_ratio"}
    expected = oracle_by_group(frame, ["sex"], 40)
    for row in grouping["groups"]:
        assert set(row) == {"group", "judged", "count", "selection_rate", "exposure"}
        assert_same(row["selection_rate"], expected[row["group"]]["selection_rate"], row["group"])


def test_capacity_from_the_rows_capacity_column():
    frame = make_frame(1_200, {"sex": 3}, seed=12)
    with_column = frame.assign(capacity=[PER_LIST[f"{t} {b}"] for t, b in zip(frame["team"], frame["batch"],
                                                                               strict=True)])
    assert assess(with_column, ["sex"], capacity=None) == assess(frame, ["sex"], capacity=PER_LIST)


# -- rows and cells ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_lists():
    frame = make_frame(6_000, {"sex": 3, "age_band": 2}, seed=13, missing=0.05, batches=["2026-11-25"])
    return frame.assign(row_number=np.arange(len(frame)))


def test_cells_give_the_same_results_as_rows(long_lists):
    frame = long_lists
    options = {"attributes": ["sex", "age_band"], "min_group_size": 30, "resamples": 200, "seed": 4}
    cells = ranking.ranking_cells(frame, attributes=["sex", "age_band"], capacity=40)
    assert list(cells.columns) == ["sex", "age_band", "rank_band", "selected", "label", "leads", "discount_sum"]
    assert cells["leads"].sum() == len(frame)
    assert cells["rank_band"].max() > ranking.EXACT_RANKS  # lists of 2,000 leads: banded ranks too
    from_rows = ranking.assess_ranking(frame, capacity=40, **options)
    assert ranking.assess_ranking_cells(cells, **options) == from_rows
    shuffled = pd.concat([cells, cells.head(3).assign(leads=0, discount_sum=0.0)]).sample(frac=1, random_state=2)
    assert ranking.assess_ranking_cells(shuffled.reset_index(drop=True), **options) == from_rows


def close(ours, theirs, path: str = "") -> None:
    """Equal structures, numbers equal to TOLERANCE (a warehouse sums discounts in another order)."""
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs), path
        for key in theirs:
            close(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), path
        for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            close(a, b, f"{path}[{index}]")
    elif isinstance(theirs, float):
        assert ours == pytest.approx(theirs, abs=TOLERANCE), path
    else:
        assert ours == theirs, path


@pytest.mark.parametrize("capacity", [40, None])
def test_the_ranking_sql_gives_the_same_cells_and_results(long_lists, capacity):
    frame = long_lists if capacity else long_lists.assign(capacity=40)
    connection = duckdb.connect()
    connection.register("scored_leads", frame)
    sql = warehouse.render_ranking_sql(attributes=["sex", "age_band"], capacity=capacity, order="row_number")
    cells = connection.sql(sql).df()
    ours = ranking.ranking_cells(frame, attributes=["sex", "age_band"], capacity=40)
    key = ["sex", "age_band", "rank_band", "selected", "label"]
    theirs = cells.sort_values(key).reset_index(drop=True)
    ours = ours.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(theirs[key + ["leads"]], ours[key + ["leads"]], check_dtype=False)
    np.testing.assert_allclose(theirs["discount_sum"], ours["discount_sum"], rtol=1e-12)
    options = {"attributes": ["sex", "age_band"], "min_group_size": 30, "resamples": 100}
    close(ranking.assess_ranking_cells(cells, **options), ranking.assess_ranking(frame, capacity=40, **options))


def test_rank_bands_are_exact_then_doubling():
    ranks = np.arange(1, 1_100)
    bands = ranking.rank_bands(ranks)
    expected = [r if r <= 64 else next(64 * 2**j + 1 for j in range(20) if r <= 64 * 2 ** (j + 1)) for r in ranks]
    assert bands.tolist() == expected
    assert sorted(set(bands[bands > 64].tolist())) == [65, 129, 257, 513, 1025]


# -- input containers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(14)
    rows = 300
    lists = rng.integers(0, 6, rows)
    scores = rng.random(rows).round(1)  # many ties
    frame = pd.DataFrame({"team": lists, "batch": "b", "score": scores})
    return {"lists": lists, "scores": scores, "ranks": np.array(oracle_ranks(frame))}


@pytest.mark.parametrize("to_scores", containers())
@pytest.mark.parametrize("to_lists", containers())
def test_list_ranks_whatever_the_container(small, to_lists, to_scores):
    result = plainly(ranking.list_ranks, to_lists(small["lists"]), to_scores(small["scores"]))
    np.testing.assert_array_equal(result, small["ranks"])


@pytest.mark.parametrize("to_ranks", containers())
def test_discount_and_bands_whatever_the_container(small, to_ranks):
    expected = [1 / math.log2(1 + r) for r in small["ranks"]]
    np.testing.assert_allclose(plainly(ranking.discount, to_ranks(small["ranks"])), expected, rtol=TOLERANCE)
    np.testing.assert_array_equal(plainly(ranking.rank_bands, to_ranks(small["ranks"]), exact=8),
                                  ranking.rank_bands(small["ranks"], exact=8))


def test_list_names_are_lists_that_list_names_take():
    frame = pd.DataFrame({"team": ["south", "north", None, "north"],
                          "batch": pd.to_datetime(["2026-11-25", "2026-11-25", "2026-11-24", "2026-11-25"])})
    codes, names = ranking.list_codes(frame)
    assert [names[c] for c in codes] == ["south 2026-11-25", "north 2026-11-25", "(missing) 2026-11-24",
                                         "north 2026-11-25"]


# -- bootstrap intervals and judged groups -------------------------------------------------


@pytest.fixture(scope="module")
def bootstrapped():
    # One long list: ranks up to 20,000, most of them in doubling bands.
    frame = make_frame(20_000, {"sex": 2}, seed=15, teams=["north"], batches=["2026-11-25"])
    return frame, assess(frame, ["sex"], capacity=5_000, resamples=2000, seed=3)[0]


def test_intervals_contain_the_point_values(bootstrapped):
    _, grouping = bootstrapped
    for row in grouping["groups"]:
        for name in ranking.METRICS:
            if name != "count":
                low, high = row[f"{name}_interval"]
                assert low <= row[name] <= high, (row["group"], name)
    for name, entry in grouping["disparities"].items():
        assert entry["interval"][0] <= entry["judged_value"] <= entry["interval"][1], name


def test_exposure_intervals_agree_with_the_normal_approximation_despite_the_bands(bootstrapped):
    """A resampled lead beyond the exact ranks has its band's mean discount; the spread is still a mean's."""
    frame, grouping = bootstrapped
    ranks = np.array(oracle_ranks(frame))
    for row in grouping["groups"]:
        discounts = 1 / np.log2(1 + ranks[frame["sex"].to_numpy() == row["group"]])
        low, high = row["exposure_interval"]
        assert high - low == pytest.approx(2 * 1.959964 * discounts.std() / math.sqrt(len(discounts)), rel=0.1)
        p = row["selection_rate"]
        low, high = row["selection_rate_interval"]
        assert high - low == pytest.approx(2 * 1.959964 * math.sqrt(p * (1 - p) / len(discounts)), rel=0.1)


def test_intervals_are_deterministic_for_a_seed():
    frame = make_frame(3_000, {"sex": 3}, seed=16)
    first = assess(frame, ["sex"], capacity=200, resamples=300, seed=42)
    assert assess(frame, ["sex"], capacity=200, resamples=300, seed=42) == first
    other = assess(frame, ["sex"], capacity=200, resamples=300, seed=43)
    for name in ("demographic_parity_ratio", "exposure_ratio", "equalized_odds_difference"):
        assert other[0]["disparities"][name]["interval"] != first[0]["disparities"][name]["interval"], name
        assert other[0]["disparities"][name]["value"] == first[0]["disparities"][name]["value"], name


def test_no_intervals_without_resamples():
    (grouping,) = assess(make_frame(300, {"sex": 2}, seed=17), ["sex"], resamples=0)
    assert all(not any(key.endswith("_interval") for key in row) for row in grouping["groups"])
    assert all("interval" not in entry for entry in grouping["disparities"].values())


@pytest.fixture(scope="module")
def with_small_group():
    """Groups a and b of about 300 leads, c of 10 leads who all score lowest."""
    frame = make_frame(600, {"sex": 1}, seed=18).assign(sex=lambda f: np.where(np.arange(len(f)) % 2, "a", "b"))
    small = make_frame(10, {"sex": 1}, seed=19).assign(sex="c", score=-1.0)
    return pd.concat([frame, small], ignore_index=True)


def test_groups_under_the_minimum_size_are_shown_but_not_judged(with_small_group):
    frame = with_small_group
    (grouping,) = assess(frame, ["sex"], min_group_size=30, resamples=200)
    assert [(g["group"], g["judged"]) for g in grouping["groups"]] == [("a", True), ("b", True), ("c", False)]
    exposure = oracle_exposure(frame, ["sex"])
    entry = grouping["disparities"]["exposure_ratio"]
    assert_same(entry["value"], exposure["c"] / max(exposure.values()), "over all groups")
    assert_same(entry["judged_value"], min(exposure["a"], exposure["b"]) / max(exposure["a"], exposure["b"]),
                "over the judged groups")
    assert grouping["disparities"]["demographic_parity_ratio"]["value"] == 0.0  # c is never called
    for entry in grouping["disparities"].values():
        assert entry["judged_groups"] == 2
        assert {entry["worst_group"], entry["best_group"]} == {"a", "b"}


def test_fewer_than_two_judged_groups_leave_no_judged_value(with_small_group):
    (grouping,) = assess(with_small_group, ["sex"], min_group_size=400, resamples=100)
    for entry in grouping["disparities"].values():
        assert entry["judged_groups"] == 0
        assert "judged_value" not in entry and "interval" not in entry


# -- the spec ------------------------------------------------------------------------------


def test_every_spec_entry_carries_its_presentation():
    for name, spec in {**ranking.METRICS, **ranking.DISPARITIES}.items():
        presentation = spec.presentation
        assert presentation.label and presentation.unit and presentation.worse in ("lower", "higher", None), name
        assert presentation.text(None) == "—"
    assert {name: spec.presentation.text(0.25) for name, spec in ranking.METRICS.items()} == {
        "count": "0", "selection_rate": "25.0%", "true_positive_rate": "25.0%", "false_positive_rate": "25.0%",
        "exposure": "0.250"}
    assert ranking.METRICS["exposure"].presentation.unit == comparison.EXPOSURE
    for name, spec in ranking.DISPARITIES.items():
        assert spec.presentation.worse == ("lower" if spec.kind == "ratio" else "higher"), name
        assert spec.presentation.unit == (comparison.RATIO if spec.kind == "ratio" else comparison.SHARE), name


# -- bad input -----------------------------------------------------------------------------


def message(error) -> str:
    return str(error.value)


def test_a_list_without_capacity_is_named():
    frame = make_frame(200, {"sex": 2}, seed=20)
    capacity = {name: 10 for name in PER_LIST if name != "north 2026-11-25"}
    with pytest.raises(ValidationError) as raised:
        assess(frame, ["sex"], capacity=capacity)
    assert message(raised) == ("list 'north 2026-11-25' has no capacity: give k per list (manifest [ranking] "
                               "capacity or the import's capacity column).")
    assert message(raised) == ranking.NO_CAPACITY.format(list="north 2026-11-25")


def test_capacity_in_the_rows():
    frame = make_frame(200, {"sex": 2}, seed=21)
    first = f"{frame['team'][0]} {frame['batch'][0]}"
    with pytest.raises(ValidationError) as raised:
        assess(frame, ["sex"], capacity=None)
    assert message(raised) == ranking.NO_CAPACITY.format(list=first)
    with pytest.raises(ValidationError) as raised:
        assess(frame.assign(capacity=np.where(frame.index == 5, np.nan, 10)), ["sex"], capacity=None)
    assert message(raised) == ranking.NO_CAPACITY.format(list=f"{frame['team'][5]} {frame['batch'][5]}")
    with pytest.raises(ValidationError) as raised:
        assess(frame.assign(capacity=np.where(frame.index == 0, 12, 10)), ["sex"], capacity=None)
    assert message(raised) == f"list {first!r} has capacities 10, 12 in column 'capacity': give one k per list."


@pytest.mark.parametrize("k", [-1, 2.5, "ten", True], ids=["negative", "fraction", "text", "bool"])
def test_a_capacity_must_be_a_whole_number(k):
    frame = make_frame(50, {"sex": 2}, seed=22, teams=["north"], batches=["2026-11-25"])
    with pytest.raises(ValidationError) as raised:
        assess(frame, ["sex"], capacity={"north 2026-11-25": k})
    assert message(raised) == f"list 'north 2026-11-25' has capacity {k!r}: k must be a whole number of at least 0."


def test_bad_rows_are_refused():
    frame = make_frame(20, {"sex": 2}, seed=23)
    with pytest.raises(ValidationError) as raised:
        assess(frame.drop(columns="score"), ["sex"])
    assert message(raised) == "A call list needs a 'score' or a 'rank' column to order its leads; the data has neither."
    with pytest.raises(ValidationError) as raised:
        assess(frame.drop(columns="score").assign(rank=[1, 2, 0] + list(range(3, 20))), ["sex"])
    assert message(raised) == "column 'rank', row 3: 0 is not a whole number of at least 1."
    with pytest.raises(ValidationError) as raised:
        assess(frame.assign(score=frame["score"].astype(object).where(frame.index != 6, "high")), ["sex"])
    assert message(raised) == "column 'score', row 7: 'high' is not a number."
    with pytest.raises(ValidationError) as raised:
        assess(frame.drop(columns="batch"), ["sex"])
    assert message(raised) == "A call list is keyed by columns team, batch; the data has no column 'batch'."
    with pytest.raises(ValidationError) as raised:
        assess(frame.assign(label=np.where(frame.index == 3, 2, frame["label"])), ["sex"])
    assert message(raised) == "Column 'label' must hold only 0 and 1; found 2."
    with pytest.raises(ValidationError) as raised:
        assess(frame.head(0), ["sex"])
    assert message(raised) == fairness.NO_ROWS.format(data="data")
    with pytest.raises(ValidationError) as raised:
        assess(frame.assign(rank_band=1), ["rank_band"])
    assert message(raised) == ("Sensitive attribute 'rank_band' has the name of a column of the rows or cells "
                               "(rank_band, selected, label, leads, discount_sum, team, batch, score, rank, "
                               "capacity); rename it.")


def test_bad_cells_are_refused():
    cells = ranking.ranking_cells(make_frame(300, {"sex": 2}, seed=24), attributes=["sex"], capacity=40)
    with pytest.raises(ValidationError) as raised:
        ranking.assess_ranking_cells(cells.assign(selected=np.where(cells.index == 1, 2, cells["selected"])),
                                     attributes=["sex"])
    assert message(raised) == "column 'selected', row 2: 2 is not 0 or 1."
    with pytest.raises(ValidationError) as raised:
        ranking.assess_ranking_cells(cells.assign(leads=np.where(cells.index == 0, -3, cells["leads"])),
                                     attributes=["sex"])
    assert message(raised) == "column 'leads', row 1: -3 is not a whole number of leads of at least 0."
    with pytest.raises(ValidationError) as raised:
        ranking.assess_ranking_cells(cells.assign(label=cells["label"].where(cells.index != 4)), attributes=["sex"])
    assert message(raised) == ("column 'label', row 5: value is missing but other cells have a label; cells carry a "
                               "label everywhere or nowhere.")
    with pytest.raises(ValidationError) as raised:
        ranking.assess_ranking_cells(cells.drop(columns="discount_sum"), attributes=["sex"])
    assert message(raised) == "The cells need column 'discount_sum' (columns: sex, rank_band, selected, label, leads)."


@pytest.fixture(autouse=True)
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield
