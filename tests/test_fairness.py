"""ethics.fairness and ethics.policy, with fairlearn and scikit-learn computed independently as the oracle.

Every metric in ``fairness.METRICS`` and every disparity in ``fairness.DISPARITIES`` is
compared with fairlearn's ``MetricFrame`` / ``demographic_parity_*`` / ``equalized_odds_*`` /
``equal_opportunity_difference`` on seeded random data and on edge cases.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import partial

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
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score, precision_score, roc_auc_score

from ethics import fairness, policy
from ethics.errors import ValidationError
from tests import group_oracles
from tests.group_oracles import attribute_columns, group_label, sensitive
from tests.input_convertors import containers, ensure_ndarray, plainly

THRESHOLD = 0.5
TOLERANCE = 1e-9  # ethics rounds to 12 decimals
assert_same = partial(group_oracles.assert_same, tolerance=TOLERANCE, oracle="fairlearn")


def base_rate(y_true, y_pred):
    """Share of positive labels: fairlearn's selection rate of the labels themselves."""
    return selection_rate(y_true, y_true)


# The oracle for each fairness.METRICS key.  precision_score keeps scikit-learn's default
# zero_division ("warn"): 0.0 plus an UndefinedMetricWarning where nothing is selected.
ORACLE_METRICS: dict[str, Callable] = {
    "count": count,
    "selection_rate": selection_rate,
    "base_rate": base_rate,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
    "false_negative_rate": false_negative_rate,
    "precision": precision_score,
    "accuracy": accuracy_score,
}
LABEL_FREE = ("count", "selection_rate")

ORACLE_DISPARITIES: dict[str, Callable] = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
    "equal_opportunity_difference": equal_opportunity_difference,
}


# -- data and the fairlearn oracle ---------------------------------------------------------


def make_frame(rows: int, attributes: dict[str, int], *, seed: int, missing: float = 0.0,
               ties: bool = False) -> pd.DataFrame:
    """Random scores, labels that follow the scores, and string-valued sensitive attributes."""
    rng = np.random.default_rng(seed)
    data, _ = attribute_columns(rows, attributes, rng, missing=missing)
    score = rng.random(rows)
    if ties:
        score = score.round(1)
    label = (rng.random(rows) < 0.2 + 0.6 * score).astype(int)
    return pd.DataFrame({**data, "score": score, "label": label})


def y_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return frame["label"].to_numpy(), (frame["score"].to_numpy() >= THRESHOLD).astype(int)


def row_labels(frame: pd.DataFrame, attributes) -> np.ndarray:
    """The group of every row, spelled as ethics labels it."""
    features = sensitive(frame, attributes).astype(str)
    return features.agg(fairness.JOIN.join, axis=1).to_numpy()


def oracle_by_group(frame: pd.DataFrame, attributes, *, labelled: bool = True) -> dict[str, pd.Series]:
    if labelled:
        y_true, y_pred = y_arrays(frame)
    else:  # a scoring batch: fairlearn needs some y_true; the label-free metrics ignore it
        y_pred = (frame["score"].to_numpy() >= THRESHOLD).astype(int)
        y_true = y_pred
    metrics = ORACLE_METRICS if labelled else {m: ORACLE_METRICS[m] for m in LABEL_FREE}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        by_group = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred,
                               sensitive_features=sensitive(frame, attributes)).by_group
    # With several sensitive columns fairlearn lists every combination; those that do
    # not occur are NaN rows.  ethics lists only the groups that occur.
    by_group = by_group.dropna(subset=["count"])
    return {group_label(index): row for index, row in by_group.iterrows()}


def oracle_disparities(frame: pd.DataFrame, attributes) -> dict[str, float]:
    y_true, y_pred = y_arrays(frame)
    features = sensitive(frame, attributes)
    return {name: float(function(y_true, y_pred, sensitive_features=features))
            for name, function in ORACLE_DISPARITIES.items()}


def assess(frame: pd.DataFrame, attributes, **options) -> list[dict]:
    options = {"threshold": THRESHOLD, "min_group_size": 0, "resamples": 0, **options}
    return fairness.assess(frame, attributes=list(attributes), **options)


# -- edge cases ----------------------------------------------------------------------------


def _set(frame: pd.DataFrame, mask, **columns) -> pd.DataFrame:
    frame = frame.copy()
    for column, value in columns.items():
        frame.loc[mask, column] = value
    return frame


def _first_group(frame: pd.DataFrame) -> pd.Series:
    return frame["sex"] == "sex-00"


def _base(seed: int = 7) -> pd.DataFrame:
    return make_frame(300, {"sex": 3}, seed=seed)


CASES: dict[str, tuple[Callable[[], pd.DataFrame], list[str]]] = {
    "1 attribute, 2 groups": (lambda: make_frame(400, {"sex": 2}, seed=1), ["sex"]),
    "1 attribute, 5 groups": (lambda: make_frame(1_000, {"sex": 5}, seed=2), ["sex"]),
    "1 attribute, 12 groups": (lambda: make_frame(1_500, {"sex": 12}, seed=3), ["sex"]),
    "2 attributes, 3 x 4 groups": (lambda: make_frame(1_200, {"sex": 3, "age": 4}, seed=4), ["sex", "age"]),
    "3 attributes, 2 x 3 x 2 groups": (lambda: make_frame(900, {"sex": 2, "age": 3, "region": 2}, seed=5),
                                       ["sex", "age", "region"]),
    "tied scores": (lambda: make_frame(500, {"sex": 3}, seed=6, ties=True), ["sex"]),
    "missing sensitive values": (lambda: make_frame(600, {"sex": 2, "age": 2}, seed=8, missing=0.1),
                                 ["sex", "age"]),
    "a group with no positives": (lambda: _set(_base(), _first_group(_base()), label=0), ["sex"]),
    "a group with no negatives": (lambda: _set(_base(), _first_group(_base()), label=1), ["sex"]),
    "a group with nobody selected": (lambda: _set(_base(), _first_group(_base()), score=0.1), ["sex"]),
    "a group with everybody selected": (lambda: _set(_base(), _first_group(_base()), score=0.9), ["sex"]),
    "a single group": (lambda: make_frame(300, {"sex": 1}, seed=9), ["sex"]),
    "all scores above the threshold": (lambda: _set(_base(), slice(None), score=0.75), ["sex"]),
    "all scores below the threshold": (lambda: _set(_base(), slice(None), score=0.25), ["sex"]),
    "groups of one row": (lambda: make_frame(12, {"sex": 10}, seed=10), ["sex"]),
}


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def case(request):
    make, attributes = CASES[request.param]
    frame = make()
    return frame, attributes, assess(frame, attributes)


def compared(case) -> list[dict]:
    """The groupings checked against fairlearn: all of them, but only the full intersection of 3 attributes
    (its pairs and single attributes are what the 2-attribute case checks; fairlearn is slow)."""
    _, attributes, assessment = case
    if len(attributes) < 3:
        return assessment
    return [grouping for grouping in assessment if len(grouping["attributes"]) == len(attributes)]


def test_the_oracle_covers_every_metric_and_disparity():
    assert set(ORACLE_METRICS) == set(fairness.METRICS)
    assert set(ORACLE_DISPARITIES) == set(fairness.DISPARITIES)


def test_every_metric_per_group_matches_fairlearn(case):
    frame, attributes, assessment = case
    assert len(assessment) == 2 ** len(attributes) - 1  # every non-empty combination
    for grouping in compared(case):
        expected = oracle_by_group(frame, grouping["attributes"])
        assert {g["group"] for g in grouping["groups"]} == set(expected)
        for row in grouping["groups"]:
            for name in fairness.METRICS:
                assert_same(row[name], expected[row["group"]][name], f"{grouping['grouping']} {row['group']} {name}")


def test_every_disparity_matches_fairlearn(case):
    frame = case[0]
    for grouping in compared(case):
        expected = oracle_disparities(frame, grouping["attributes"])
        assert set(grouping["disparities"]) == set(fairness.DISPARITIES)
        for name, entry in grouping["disparities"].items():
            assert_same(entry["value"], expected[name], f"{grouping['grouping']} {name}")
            if len(grouping["groups"]) >= 2:  # min_group_size=0: every group is judged
                assert_same(entry["judged_value"], expected[name], f"{grouping['grouping']} {name} judged")


def test_group_auc_matches_sklearn_per_group(case):
    frame = case[0]
    for grouping in compared(case):
        groups = row_labels(frame, grouping["attributes"])
        for row in grouping["groups"]:
            mask = groups == row["group"]
            y_true = frame["label"].to_numpy()[mask]
            if len(np.unique(y_true)) < 2:
                assert row["auc"] is None, row["group"]
            else:
                expected = roc_auc_score(y_true, frame["score"].to_numpy()[mask])
                assert row["auc"] == pytest.approx(expected, abs=TOLERANCE), row["group"]


def test_a_single_group_has_no_disparity_as_in_fairlearn():
    frame = make_frame(300, {"sex": 1}, seed=9)
    (grouping,) = assess(frame, ["sex"])
    expected = oracle_disparities(frame, ["sex"])
    for name, spec in fairness.DISPARITIES.items():
        assert grouping["disparities"][name]["value"] == (0.0 if spec.kind == "difference" else 1.0)
        assert expected[name] == (0.0 if spec.kind == "difference" else 1.0)
        # one group is never judged against another
        assert "judged_value" not in grouping["disparities"][name]


def test_zero_denominators_are_zero_as_in_fairlearn_and_sklearn():
    # group a: no positive labels, nothing selected; group b: no negative labels, all selected
    frame = pd.DataFrame({"sex": ["a"] * 4 + ["b"] * 4, "label": [0] * 4 + [1] * 4,
                          "score": [0.1] * 4 + [0.9] * 4})
    (grouping,) = assess(frame, ["sex"])
    a, b = grouping["groups"]
    assert (a["true_positive_rate"], a["false_negative_rate"], a["precision"]) == (0.0, 0.0, 0.0)
    assert b["false_positive_rate"] == 0.0
    assert true_positive_rate([0, 0], [0, 0]) == 0.0
    assert false_negative_rate([0, 0], [0, 0]) == 0.0
    assert false_positive_rate([1, 1], [1, 1]) == 0.0
    with pytest.warns(UndefinedMetricWarning):
        assert precision_score([0, 0], [0, 0]) == 0.0  # sklearn's default zero_division: 0.0 and a warning
    assert precision_score([0, 0], [0, 0], zero_division=0) == 0.0


def test_missing_values_are_their_own_group_sorted_last():
    frame = pd.DataFrame({"sex": ["m", None, "f", np.nan, "f"], "score": [0.9, 0.9, 0.1, 0.2, 0.8],
                          "label": [1, 0, 0, 1, 1]})
    (grouping,) = assess(frame, ["sex"])
    assert [(g["group"], g["count"]) for g in grouping["groups"]] == [("f", 2.0), ("m", 1.0), ("(missing)", 2.0)]
    expected = oracle_by_group(frame, ["sex"])
    assert expected["(missing)"]["selection_rate"] == grouping["groups"][2]["selection_rate"] == 0.5


def test_scores_without_labels_give_only_label_free_metrics():
    frame = make_frame(700, {"sex": 4}, seed=11).drop(columns="label")
    (grouping,) = assess(frame, ["sex"])
    expected = oracle_by_group(frame, ["sex"], labelled=False)
    assert set(grouping["disparities"]) == {"demographic_parity_difference", "demographic_parity_ratio"}
    for row in grouping["groups"]:
        assert set(row) == {"group", "judged", *LABEL_FREE}
        for name in LABEL_FREE:
            assert_same(row[name], expected[row["group"]][name], f"{row['group']} {name}")
    y_pred = (frame["score"].to_numpy() >= THRESHOLD).astype(int)
    assert_same(grouping["disparities"]["demographic_parity_ratio"]["value"],
                demographic_parity_ratio(y_pred, y_pred, sensitive_features=frame["sex"]), "ratio")


def test_equalized_odds_ratio_when_no_group_has_a_false_positive():
    frame = pd.DataFrame({"sex": ["a"] * 4 + ["b"] * 4, "label": [1, 1, 0, 0] * 2,
                          "score": [0.9, 0.9, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1]})
    y_true, y_pred = y_arrays(frame)
    expected = equalized_odds_ratio(y_true, y_pred, sensitive_features=frame["sex"])
    assert expected == 0.5
    (grouping,) = assess(frame, ["sex"])
    assert grouping["disparities"]["equalized_odds_ratio"]["value"] == expected


# -- input containers ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(12)
    rows = 200
    return {"codes": rng.integers(0, 5, rows), "y_true": rng.integers(0, 2, rows),
            "y_pred": rng.integers(0, 2, rows), "scores": rng.random(rows).round(2)}


@pytest.mark.parametrize("to_true", containers())
@pytest.mark.parametrize("to_pred", containers())
def test_confusion_counts_whatever_the_container(small, to_true, to_pred):
    codes, y_true, y_pred = small["codes"], small["y_true"], small["y_pred"]
    expected = np.array([[np.sum((codes == g) & (y_true == t) & (y_pred == p)) for t in (0, 1) for p in (0, 1)]
                         for g in range(5)])
    result = plainly(fairness.confusion_counts, codes, to_pred(y_pred), to_true(y_true), groups=5)
    np.testing.assert_array_equal(np.asarray(result), expected)


@pytest.mark.parametrize("to_true", containers())
@pytest.mark.parametrize("to_scores", containers())
def test_group_auc_whatever_the_container(small, to_true, to_scores):
    codes, y_true, scores = small["codes"], small["y_true"], small["scores"]
    expected = [roc_auc_score(y_true[codes == g], scores[codes == g]) for g in range(5)]
    result = plainly(fairness.group_auc, codes, to_scores(scores), to_true(y_true), groups=5)
    np.testing.assert_allclose(np.asarray(result, dtype=float), expected, atol=TOLERANCE)


def test_group_auc_is_the_same_when_its_key_is_too_wide_to_pack(small, monkeypatch):
    # Ranks and codes too wide for one int64 key are sorted by a lexsort instead: the same AUC, ties included.
    codes, y_true, scores = small["codes"], small["y_true"], small["scores"]
    packed = fairness.group_auc(codes, scores, y_true, groups=5)
    monkeypatch.setattr(fairness, "_KEY_BITS", 4)
    np.testing.assert_array_equal(fairness.group_auc(codes, scores, y_true, groups=5), packed)
    expected = [roc_auc_score(y_true[codes == g], scores[codes == g]) for g in range(5)]
    np.testing.assert_allclose(packed, expected, atol=TOLERANCE)


def test_score_ranks_are_dense_and_share_ties():
    ranks = fairness.score_ranks(np.array([0.5, 0.1, 0.5, 0.9, 0.1]))
    np.testing.assert_array_equal(ranks, [1, 0, 1, 2, 0])


def test_series_are_read_by_position_not_by_index(small):
    codes, y_true, y_pred = small["codes"], small["y_true"], small["y_pred"]
    shuffled = np.random.default_rng(0).permutation(len(codes))
    expected = fairness.confusion_counts(codes, ensure_ndarray(y_pred), ensure_ndarray(y_true), groups=5)
    result = fairness.confusion_counts(codes, pd.Series(y_pred, index=shuffled), pd.Series(y_true, index=shuffled),
                                       groups=5)
    np.testing.assert_array_equal(np.asarray(result), expected)


def test_confusion_counts_without_labels_count_selected_rows_as_true_positives():
    codes = np.array([0, 0, 1, 1, 1])
    y_pred = np.array([1, 0, 1, 1, 0])
    np.testing.assert_array_equal(fairness.confusion_counts(codes, y_pred, None, groups=2),
                                  [[1, 0, 0, 1], [1, 0, 0, 2]])


# -- bootstrap intervals and judged groups -------------------------------------------------


def two_groups(rows: int, *, seed: int) -> pd.DataFrame:
    """Groups a and b of about rows/2 each; b is selected less often (0.375 against 0.5)."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(rows) < 0.5, "a", "b")
    score = rng.random(rows) * np.where(group == "a", 1.0, 0.8)
    label = (rng.random(rows) < 0.2 + 0.6 * rng.random(rows)).astype(int)
    return pd.DataFrame({"sex": group, "score": score, "label": label})


@pytest.fixture(scope="module")
def bootstrapped():
    return {rows: assess(two_groups(rows, seed=rows), ["sex"], resamples=2000, seed=3)[0]
            for rows in (2_000, 200_000)}


def _expected_width(grouping: dict) -> float:
    """Normal-approximation width of the 95% interval of a difference of two proportions."""
    a, b = grouping["groups"]
    variance = sum(g["selection_rate"] * (1 - g["selection_rate"]) / g["count"] for g in (a, b))
    return 2 * 1.959964 * math.sqrt(variance)


def test_intervals_contain_the_point_value(bootstrapped):
    for grouping in bootstrapped.values():
        for name, entry in grouping["disparities"].items():
            low, high = entry["interval"]
            assert low <= entry["judged_value"] <= high, name
        for row in grouping["groups"]:
            for name in fairness.METRICS:
                if name != "count":
                    low, high = row[f"{name}_interval"]
                    assert low <= row[name] <= high, (row["group"], name)


def test_intervals_narrow_as_the_sample_grows(bootstrapped):
    widths = {rows: grouping["disparities"]["demographic_parity_difference"]["interval"][1]
              - grouping["disparities"]["demographic_parity_difference"]["interval"][0]
              for rows, grouping in bootstrapped.items()}
    # 100 times the rows: a tenth of the width (normal approximation within 10%)
    assert widths[2_000] == pytest.approx(_expected_width(bootstrapped[2_000]), rel=0.10)
    assert widths[200_000] == pytest.approx(_expected_width(bootstrapped[200_000]), rel=0.10)
    assert 0.07 < widths[2_000] < 0.10
    assert 0.007 < widths[200_000] < 0.010
    assert widths[2_000] / widths[200_000] == pytest.approx(10, rel=0.15)
    for name in fairness.DISPARITIES:
        small, large = (bootstrapped[rows]["disparities"][name]["interval"] for rows in (2_000, 200_000))
        assert large[1] - large[0] < (small[1] - small[0]) / 5, name


def test_intervals_are_deterministic_for_a_seed():
    frame = two_groups(5_000, seed=1)
    first = assess(frame, ["sex"], resamples=300, seed=42)
    assert assess(frame, ["sex"], resamples=300, seed=42) == first
    other = assess(frame, ["sex"], resamples=300, seed=43)
    assert other[0]["disparities"]["demographic_parity_ratio"]["interval"] != \
        first[0]["disparities"]["demographic_parity_ratio"]["interval"]
    assert other[0]["disparities"]["demographic_parity_ratio"]["value"] == \
        first[0]["disparities"]["demographic_parity_ratio"]["value"]


def test_no_intervals_without_resamples():
    (grouping,) = assess(two_groups(500, seed=2), ["sex"], resamples=0)
    assert all("interval" not in entry for entry in grouping["disparities"].values())
    assert all(not any(key.endswith("_interval") for key in row) for row in grouping["groups"])


@pytest.fixture(scope="module")
def with_small_group():
    """Groups a and b of 100 rows, c of 10 rows that nobody selects."""
    rng = np.random.default_rng(5)
    sizes = {"a": 100, "b": 100, "c": 10}
    group = np.repeat(list(sizes), list(sizes.values()))
    score = np.where(group == "c", 0.0, rng.random(len(group)))
    label = rng.integers(0, 2, len(group))
    return pd.DataFrame({"sex": group, "score": score, "label": label})


def test_groups_under_the_minimum_size_are_shown_but_not_judged(with_small_group):
    frame = with_small_group
    (grouping,) = assess(frame, ["sex"], min_group_size=30, resamples=200)
    assert [(g["group"], g["judged"]) for g in grouping["groups"]] == [("a", True), ("b", True), ("c", False)]
    everyone = oracle_disparities(frame, ["sex"])
    judged_rows = frame[frame["sex"] != "c"]
    judged_only = oracle_disparities(judged_rows, ["sex"])
    for name, entry in grouping["disparities"].items():
        assert entry["judged_groups"] == 2
        assert_same(entry["value"], everyone[name], f"{name} over all groups")
        assert_same(entry["judged_value"], judged_only[name], f"{name} over judged groups")
        assert {entry["worst_group"], entry["best_group"]} <= {"a", "b"}
    assert grouping["disparities"]["demographic_parity_ratio"]["value"] == 0.0  # c is selected never
    assert grouping["disparities"]["demographic_parity_ratio"]["judged_value"] > 0.8


def test_fewer_than_two_judged_groups_leave_no_judged_value(with_small_group):
    (grouping,) = assess(with_small_group, ["sex"], min_group_size=150)
    for entry in grouping["disparities"].values():
        assert entry["judged_groups"] == 0
        assert "judged_value" not in entry and "interval" not in entry
    (verdict,) = policy.fairness_verdicts(
        {"eval": [grouping]}, policy={"min_group_size": 150, "fairness": {"demographic_parity_ratio": {
            "fail_below": 0.8}}}, labels={"sex": "Sex"})
    assert verdict["status"] == "too_few"
    assert verdict["too_few_groups"] == ["a", "b", "c"]
    assert verdict["sentence"] == ("Too few to judge: sex has fewer than two groups with at least 150 rows in the "
                                   "evaluation set.")


# -- groups and bands ----------------------------------------------------------------------


def test_band_labels_whole_number_ages():
    ages = pd.Series([18, 24.5, 25, 34, 35, 44, 45, 54, 55, 90, np.nan, None], index=range(100, 112),
                     dtype="float64")
    banded = fairness.band(ages, [25, 35, 45, 55])
    assert banded.index.equals(ages.index)
    assert banded.tolist()[:10] == ["<25", "<25", "25-34", "25-34", "35-44", "35-44", "45-54", "45-54", "55+", "55+"]
    assert banded.iloc[10:].isna().all()
    assert fairness.band(ages, [55, 25, 45, 35]).equals(banded)  # edges in any order


def test_groupings_code_single_attributes_and_their_intersection():
    frame = pd.DataFrame({"sex": ["f", "m", "f", None, "m"], "age": [20, 30, 60, 30, np.nan], "score": 0.5})
    found = fairness.groupings(frame, attributes=["sex", "age"], bands={"age": [25, 35, 45, 55]})
    assert [(g.name, g.attributes) for g in found] == [("sex", ("sex",)), ("age", ("age",)),
                                                       ("sex × age", ("sex", "age"))]
    assert found[0].labels == ["f", "m", "(missing)"]
    assert found[1].labels == ["<25", "25-34", "55+", "(missing)"]  # by their edges (issue 19), missing last
    rows = [[g.labels[c] for c in g.codes] for g in found]
    assert rows[2] == ["f × <25", "m × 25-34", "f × 55+", "(missing) × 25-34", "m × (missing)"]
    assert len(found[2].labels) == 5  # only combinations that occur
    assert [g.name for g in fairness.groupings(frame, attributes=["sex", "age"], intersections=False)] == ["sex",
                                                                                                           "age"]


def test_a_literal_missing_label_is_one_group():
    frame = pd.DataFrame({"sex": ["(missing)", None, "a"], "score": [0.9, 0.1, 0.9], "label": [1, 0, 1]})
    (grouping,) = assess(frame, ["sex"])
    assert len(grouping["groups"]) == len(oracle_by_group(frame, ["sex"])) == 2


# -- bad input -----------------------------------------------------------------------------


def test_missing_attribute_is_named():
    frame = make_frame(50, {"sex": 2}, seed=1)
    with pytest.raises(ValidationError) as raised:
        assess(frame, ["sex", "region"])
    assert str(raised.value) == fairness.NO_ATTRIBUTE.format(attribute="region", columns="sex, score, label")
    assert "'region'" in str(raised.value)


@pytest.mark.parametrize("labels", [[0, 1, 2], [0, 1, np.nan], ["0", "1", "1"], [0, 1, -1]],
                         ids=["two", "nan", "strings", "minus one"])
def test_labels_must_be_0_or_1(labels):
    frame = pd.DataFrame({"sex": ["a", "b", "a"], "score": [0.1, 0.6, 0.9], "label": labels})
    with pytest.raises(ValidationError, match=r"^Column 'label' must hold only 0 and 1; found "):
        assess(frame, ["sex"])


def test_bad_label_message_shows_the_plain_value():
    frame = pd.DataFrame({"sex": ["a", "b"], "score": [0.1, 0.6], "label": [0, 2]})
    with pytest.raises(ValidationError) as raised:
        assess(frame, ["sex"])
    assert str(raised.value) == "Column 'label' must hold only 0 and 1; found 2."


def test_empty_data_is_refused():
    with pytest.raises(ValidationError) as raised:
        assess(pd.DataFrame({"sex": [], "score": [], "label": []}), ["sex"])
    assert str(raised.value) == fairness.NO_ROWS.format(data="data")


def test_missing_score_column_is_a_validation_error():
    with pytest.raises(ValidationError):
        assess(pd.DataFrame({"sex": ["a"], "label": [1]}), ["sex"])


# -- policy --------------------------------------------------------------------------------

RATIO_RULE = {"fail_below": 0.8, "warn_below": 0.9}
DIFFERENCE_RULE = {"warn_above": 0.1, "fail_above": 0.2}


@pytest.mark.parametrize(("value", "threshold", "status"), [
    (0.79, RATIO_RULE, "fail"), (0.8, RATIO_RULE, "warn"), (0.85, RATIO_RULE, "warn"), (0.9, RATIO_RULE, "pass"),
    (1.0, RATIO_RULE, "pass"), (None, RATIO_RULE, "too_few"), (0.0, DIFFERENCE_RULE, "pass"),
    (0.1, DIFFERENCE_RULE, "pass"), (0.15, DIFFERENCE_RULE, "warn"), (0.2, DIFFERENCE_RULE, "warn"),
    (0.21, DIFFERENCE_RULE, "fail"), (0.5, {}, "pass"),
])
def test_judge(value, threshold, status):
    assert policy.judge(value, threshold) == status


def test_describe_threshold():
    assert policy.describe_threshold({"warn_below": 0.9, "fail_below": 0.8}) == "fail below 0.8, warn below 0.9"
    assert policy.describe_threshold({"fail_above": 0.2, "warn_above": 0.1}) == "warn above 0.1, fail above 0.2"
    assert policy.describe_threshold({}) == ""


@pytest.mark.parametrize(("interval", "crosses"), [
    ([0.75, 0.85], True), ([0.81, 0.89], False), ([0.85, 0.95], True), ([0.8, 0.85], True), ([0.6, 0.7], False),
    ([0.95, 1.0], False), (None, False), ([None, None], False), ([], False),
])
def test_interval_crosses(interval, crosses):
    assert policy.interval_crosses(interval, RATIO_RULE) is crosses


def test_group_phrase():
    labels = {"sex": "Sex", "age": "Age band"}
    assert policy.group_phrase("55+", ["age"], labels) == "Age band 55+"
    assert policy.group_phrase("female × 55+", ["sex", "age"], labels) == "Sex female and Age band 55+"
    assert policy.group_phrase("x", ["region"], labels) == "region x"
    assert policy.group_phrase("(missing) × 55+", ["sex", "age"], labels) == "Sex not recorded and Age band 55+"


def _verdict(status: str, value: float | None = 0.5) -> dict:
    return {"status": status, "label": "Selection-rate ratio", "value": value, "grouping": "age"}


def test_fairness_light():
    assert policy.fairness_light([]) == {"status": "not_evaluated", "reason": "no fairness verdicts in the snapshot"}
    assert policy.fairness_light([_verdict("pass"), _verdict("pass")]) == {"status": "pass",
                                                                           "reason": "2 verdicts pass"}
    assert policy.fairness_light([_verdict("pass"), _verdict("fail"), _verdict("warn", 0.85)]) == {
        "status": "fail", "reason": "1 fail: selection-rate ratio 0.50 on age"}
    assert policy.fairness_light([_verdict("warn", 0.85), _verdict("warn", 0.88)])["reason"] == \
        "2 warn: selection-rate ratio 0.85 on age"
    assert policy.fairness_light([_verdict("too_few", None)]) == {"status": "warn",
                                                                  "reason": "too few rows to judge any group"}
    assert policy.worst_status(["pass", "too_few", "warn"]) == "warn"
    assert policy.worst_status([]) is None


def test_sampling_bias_compares_group_shares():
    evaluation = pd.DataFrame({"sex": ["a"] * 50 + ["b"] * 50, "age": 1, "score": 0.5, "label": 1})
    scoring = pd.DataFrame({"sex": ["a"] * 70 + ["b"] * 27 + ["c"] * 3, "age": 1, "score": 0.5})
    rows = policy.sampling_bias(assess(evaluation, ["sex", "age"]), assess(scoring, ["sex", "age"]),
                                max_difference=0.05)
    assert rows == [
        {"attribute": "sex", "group": "a", "eval_share": 0.5, "scores_share": 0.7, "difference": -0.2,
         "flagged": True},
        {"attribute": "sex", "group": "b", "eval_share": 0.5, "scores_share": 0.27, "difference": 0.23,
         "flagged": True},
        {"attribute": "sex", "group": "c", "eval_share": 0.0, "scores_share": 0.03, "difference": -0.03,
         "flagged": False},
        {"attribute": "age", "group": "1", "eval_share": 1.0, "scores_share": 1.0, "difference": 0.0,
         "flagged": False},
    ]
    assert policy.sampling_bias(None, assess(scoring, ["sex"]), max_difference=0.05) == []


# -- verdicts ------------------------------------------------------------------------------

AGE_BANDS = {"age": [25, 35, 45, 55]}
FOUR_FIFTHS = {"min_group_size": 5, "fairness": {"demographic_parity_ratio": RATIO_RULE}}


def aged_leads(extra_missing: int = 0) -> pd.DataFrame:
    """Ten leads per age band; selected: <25 6, 25-34 8, 35-44 7, 45-54 6, 55+ 4 (ratio 0.4 / 0.8)."""
    ages, scores = [], []
    for age, selected in ((20, 6), (30, 8), (40, 7), (50, 6), (60, 4)):
        ages += [age] * 10
        scores += [0.9] * selected + [0.1] * (10 - selected)
    ages += [np.nan] * extra_missing
    scores += [0.9] * extra_missing
    return pd.DataFrame({"age": ages, "score": scores, "label": [1, 0] * (len(ages) // 2) + [1] * (len(ages) % 2)})


def verdicts_for(frame: pd.DataFrame, **options) -> list[dict]:
    assessment = assess(frame, ["age"], bands=AGE_BANDS, min_group_size=5, **options)
    return policy.fairness_verdicts({"eval": assessment}, policy=FOUR_FIFTHS, labels={"age": "Age band"})


def test_four_fifths_rule_fails_with_the_right_groups_and_sentence():
    (verdict,) = verdicts_for(aged_leads())
    assert verdict == {
        "data": "eval", "grouping": "age", "metric": "demographic_parity_ratio", "label": "Selection-rate ratio",
        "threshold": RATIO_RULE, "value": 0.5, "interval": None, "status": "fail", "interval_crosses": False,
        "worst_group": "55+", "best_group": "25-34", "too_few_groups": [],
        "sentence": "Leads with Age band 55+ are selected 0.50 times as often as leads with Age band 25-34.",
    }


def test_verdict_sentence_gives_the_interval_and_the_groups_left_out():
    (verdict,) = verdicts_for(aged_leads(extra_missing=2), resamples=500)
    low, high = verdict["interval"]
    assert low < 0.5 < high
    assert verdict["status"] == "fail" and verdict["too_few_groups"] == ["(missing)"]
    ending = "it crosses the threshold, so the verdict is uncertain." if verdict["interval_crosses"] else ""
    assert verdict["sentence"] == (
        "Leads with Age band 55+ are selected 0.50 times as often as leads with Age band 25-34. "
        f"95% interval {low:.2f}–{high:.2f}{'; ' + ending if ending else '.'} "
        "Too few to judge and left out: (missing)."
    )
    assert verdict["interval_crosses"] is policy.interval_crosses(verdict["interval"], RATIO_RULE)


def test_difference_verdicts_read_as_a_gap():
    frame = make_frame(2_000, {"sex": 2}, seed=21)
    frame = _set(frame, frame["sex"] == "sex-00", score=frame["score"] * 0.7)  # sex-00 is selected less
    assessment = assess(frame, ["sex"], min_group_size=30)
    (verdict,) = policy.fairness_verdicts(
        {"eval": assessment}, policy={"fairness": {"equalized_odds_difference": DIFFERENCE_RULE}},
        labels={"sex": "Sex"})
    entry = assessment[0]["disparities"]["equalized_odds_difference"]
    assert verdict["status"] == "fail" and verdict["worst_group"] == "sex-00" and verdict["best_group"] == "sex-01"
    metric = fairness.METRICS[entry["metric"]].label.lower()
    assert verdict["sentence"] == (
        f"The {metric} of leads with Sex sex-00 ({entry['worst_value']:.1%}) is {entry['judged_value']:.2f} below "
        f"that of leads with Sex sex-01 ({entry['best_value']:.1%})."
    )


def test_a_week_where_nobody_is_selected_gets_a_verdict():
    frame = aged_leads().assign(score=0.1)
    (verdict,) = verdicts_for(frame)
    assert verdict["value"] is None
    assert verdict["status"] != "pass"


@pytest.mark.parametrize("name", list(fairness.METRICS))
def test_every_metric_says_how_it_is_shown(name):
    spec = fairness.METRICS[name]
    assert spec.shown.worse in ("higher", "lower")
    assert spec.shown.text(None) == "—"
    if spec.shown.unit == "share":
        assert spec.shown.text(0.256) == "25.6%" and spec.shown.interval([0.2, 0.3]) == "20.0%–30.0%"
    assert (spec.shown.worse == "higher") == (name in ("false_positive_rate", "false_negative_rate"))


@pytest.mark.parametrize("name", list(fairness.DISPARITIES))
def test_every_disparity_says_how_it_is_shown(name):
    shown = fairness.DISPARITIES[name].shown
    assert shown.worse == ("lower" if fairness.DISPARITIES[name].kind == "ratio" else "higher")
    assert shown.text(0.8123) == "0.81" and shown.interval([0.7, None]) == "—"


def test_a_group_table_reads_its_columns_from_the_spec():
    from ethics import report_rows

    grouping = {"groups": [{"group": "a", "count": 40, "judged": True, "selection_rate": 0.25,
                            "selection_rate_interval": [0.2, 0.3], "accuracy": 0.5}]}
    (row,) = report_rows.group_rows(grouping)
    assert row == {"Group": "a", "n": 40, "Judged": "yes", "Selection rate": "25.0% (20.0%–30.0%)",
                   "Accuracy": "50.0% (—)"}
