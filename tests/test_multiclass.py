"""ethics.multiclass against fairlearn, scikit-learn, scipy and plain Python computed independently.

Offer rates are fairlearn's ``selection_rate`` of ``y_pred == offer`` per offer (one-vs-rest),
recall is scikit-learn's ``recall_score(average=None)`` within each group, the expected offer
value is the mean of the offered values, and the test of independence is
``scipy.stats.chi2_contingency`` on the group × offer table.
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
    selection_rate,
)
from scipy.stats import chi2_contingency
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import recall_score

from ethics import comparison, fairness, multiclass
from ethics.errors import ValidationError
from tests import group_oracles
from tests.group_oracles import attribute_columns, group_label, row_groups, sensitive
from tests.input_convertors import containers, plainly

TOLERANCE = 1e-12
assert_same = partial(group_oracles.assert_same, tolerance=TOLERANCE)
OFFERS = [
    {"name": "basic", "label": "Basic", "value": 120.0},
    {"name": "plus", "label": "Plus", "value": 300.0},
    {"name": "premium", "label": "Premium", "value": 900.0},
    {"name": "none", "label": "No offer", "value": 0.0},
]
NAMES = [o["name"] for o in OFFERS]
VALUES = {o["name"]: o["value"] for o in OFFERS}


# -- data and the oracles ------------------------------------------------------------------


def make_frame(rows: int, attributes: dict[str, int], *, seed: int, missing: float = 0.0, labelled: bool = True,
               offers: list[str] = NAMES, shares: list[float] | None = None) -> pd.DataFrame:
    """Random offers that depend a little on the first attribute; true offers that often agree."""
    rng = np.random.default_rng(seed)
    data, _ = attribute_columns(rows, attributes, rng, missing=missing)
    shares = np.asarray(shares or [1 / len(offers)] * len(offers))
    first = next(iter(data.values()))
    tilt = np.where(first == f"{next(iter(attributes))}-00", 0.5, 0.0)  # the first group leans to the first offer
    pick = np.where(rng.random(rows) < tilt, 0, rng.choice(len(offers), rows, p=shares))
    data["offer"] = np.asarray(offers, dtype=object)[pick]
    if labelled:
        agree = rng.random(rows) < 0.6
        data["label"] = np.where(agree, data["offer"], np.asarray(offers, dtype=object)[rng.integers(0, len(offers),
                                                                                                   rows)])
    return pd.DataFrame(data)


def oracle_offer_rates(frame: pd.DataFrame, attributes) -> dict[str, dict[str, float]]:
    """fairlearn's selection rate of ``offer == name``, one MetricFrame per offer (one-vs-rest)."""
    rates: dict[str, dict[str, float]] = {}
    for name in NAMES:
        chosen = (frame["offer"] == name).to_numpy().astype(int)
        by_group = MetricFrame(metrics={"count": count, "rate": selection_rate}, y_true=chosen, y_pred=chosen,
                               sensitive_features=sensitive(frame, attributes)).by_group.dropna(subset=["count"])
        for index, row in by_group.iterrows():
            rates.setdefault(group_label(index), {})[name] = float(row["rate"])
    return rates


def oracle_disparities(frame: pd.DataFrame, attributes) -> dict[str, dict[str, float]]:
    """fairlearn's demographic_parity_* of each offer chosen or not."""
    out: dict[str, dict[str, float]] = {"demographic_parity_difference": {}, "demographic_parity_ratio": {}}
    for name in NAMES:
        chosen = (frame["offer"] == name).to_numpy().astype(int)
        features = sensitive(frame, attributes)
        out["demographic_parity_difference"][name] = demographic_parity_difference(
            chosen, chosen, sensitive_features=features)
        out["demographic_parity_ratio"][name] = demographic_parity_ratio(chosen, chosen, sensitive_features=features)
    return out


def oracle_recall(frame: pd.DataFrame, attributes) -> dict[str, dict[str, float]]:
    groups = row_groups(frame, attributes)
    out = {}
    for group in np.unique(groups):
        mask = groups == group
        recall = recall_score(frame["label"].to_numpy()[mask], frame["offer"].to_numpy()[mask], labels=NAMES,
                              average=None, zero_division=0)
        out[group] = dict(zip(NAMES, map(float, recall), strict=True))
    return out


def oracle_expected_value(frame: pd.DataFrame, attributes) -> dict[str, float]:
    """Plain Python: the mean value of the offers each group's leads were made."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for group, offer in zip(row_groups(frame, attributes), frame["offer"], strict=True):
        sums[group] = sums.get(group, 0.0) + VALUES[offer]
        counts[group] = counts.get(group, 0) + 1
    return {group: sums[group] / counts[group] for group in sums}


def between(values: dict[str, float], kind: str) -> float:
    low, high = min(values.values()), max(values.values())
    if kind == "difference":
        return high - low
    return low / high if high > 0 else math.nan


def assess(frame: pd.DataFrame, attributes, classes=OFFERS, **options) -> list[dict]:
    options = {"min_group_size": 0, "resamples": 0, **options}
    return multiclass.assess_multiclass(frame, attributes=list(attributes), classes=classes, **options)


# -- edge cases ----------------------------------------------------------------------------


def _only(frame: pd.DataFrame, mask, **columns) -> pd.DataFrame:
    frame = frame.copy()
    for column, value in columns.items():
        frame.loc[mask, column] = value
    return frame


def _base() -> pd.DataFrame:
    return make_frame(600, {"sex": 3}, seed=7)


CASES: dict[str, tuple[Callable[[], pd.DataFrame], list[str]]] = {
    "1 attribute, 2 groups": (lambda: make_frame(500, {"sex": 2}, seed=1), ["sex"]),
    "1 attribute, 6 groups": (lambda: make_frame(1_500, {"sex": 6}, seed=2), ["sex"]),
    "2 attributes, 3 x 4 groups": (lambda: make_frame(1_500, {"sex": 3, "age": 4}, seed=3), ["sex", "age"]),
    "missing sensitive values": (lambda: make_frame(800, {"sex": 2, "age": 2}, seed=4, missing=0.1), ["sex", "age"]),
    "an offer nobody is made": (lambda: make_frame(600, {"sex": 3}, seed=5, shares=[0.5, 0.3, 0.2, 0.0]), ["sex"]),
    "an offer made to one group only": (
        lambda: _only(make_frame(600, {"sex": 3}, seed=6, shares=[0.5, 0.5, 0, 0]), _base()["sex"] == "sex-01",
                      offer="premium"), ["sex"]),
    "a group made one offer only": (lambda: _only(_base(), _base()["sex"] == "sex-00", offer="plus"), ["sex"]),
    "a true offer a group never has": (lambda: _only(_base(), _base()["sex"] == "sex-02", label="basic"), ["sex"]),
    "a single group": (lambda: make_frame(300, {"sex": 1}, seed=9), ["sex"]),
    "groups of one row": (lambda: make_frame(12, {"sex": 10}, seed=10), ["sex"]),
}


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def case(request):
    make, attributes = CASES[request.param]
    frame = make()
    return frame, attributes, assess(frame, attributes)


def test_the_oracles_cover_every_metric_and_disparity():
    assert set(multiclass.METRICS) == {"count", "selection_rate", "true_positive_rate", "expected_value"}
    assert set(multiclass.DISPARITIES) == {"demographic_parity_difference", "demographic_parity_ratio",
                                           "equal_opportunity_difference", "expected_value_difference",
                                           "expected_value_ratio"}


def test_offer_rates_per_group_match_fairlearn_one_vs_rest(case):
    frame, _, assessment = case
    for grouping in assessment:
        expected = oracle_offer_rates(frame, grouping["attributes"])
        assert {g["group"] for g in grouping["groups"]} == set(expected)
        for row in grouping["groups"]:
            assert list(row["selection_rate"]) == NAMES
            for name in NAMES:
                assert_same(row["selection_rate"][name], expected[row["group"]][name], f"{row['group']} {name}")


def test_counts_and_the_frequency_table_match_a_crosstab(case):
    frame, _, assessment = case
    for grouping in assessment:
        table = pd.crosstab(row_groups(frame, grouping["attributes"]), frame["offer"])
        for row in grouping["groups"]:
            expected = {name: int(table.loc[row["group"]].get(name, 0)) for name in NAMES}
            assert row["offers"] == expected
            assert row["count"] == sum(expected.values())


def test_offer_rate_disparities_match_fairlearn_per_offer_and_for_the_worst_offer(case):
    frame, _, assessment = case
    for grouping in assessment:
        expected = oracle_disparities(frame, grouping["attributes"])
        for name, per_offer in expected.items():
            entry = grouping["disparities"][name]
            for offer in NAMES:
                assert_same(entry["by_class"][offer]["value"], per_offer[offer], f"{name} {offer}")
            kind = multiclass.DISPARITIES[name].kind
            finite = [v for v in per_offer.values() if not math.isnan(v)]
            worst = (max(finite) if kind == "difference" else min(finite)) if finite else math.nan
            assert_same(entry["value"], worst, f"{name} worst offer")
            if len(grouping["groups"]) >= 2:
                assert_same(entry["judged_value"], worst, f"{name} judged")
                assert entry["by_class"][entry["class"]]["judged_value"] == entry["judged_value"]


def test_recall_per_group_matches_sklearn(case):
    frame, _, assessment = case
    for grouping in assessment:
        expected = oracle_recall(frame, grouping["attributes"])
        for row in grouping["groups"]:
            for name in NAMES:
                assert_same(row["true_positive_rate"][name], expected[row["group"]][name], f"{row['group']} {name}")
        entry = grouping["disparities"]["equal_opportunity_difference"]
        for name in NAMES:
            per_group = {group: values[name] for group, values in expected.items()}
            assert_same(entry["by_class"][name]["value"], between(per_group, "difference"), f"recall {name}")


def test_expected_value_matches_plain_python(case):
    frame, _, assessment = case
    for grouping in assessment:
        expected = oracle_expected_value(frame, grouping["attributes"])
        for row in grouping["groups"]:
            assert_same(row["expected_value"], expected[row["group"]], row["group"])
        for kind in ("difference", "ratio"):
            entry = grouping["disparities"][f"expected_value_{kind}"]
            assert_same(entry["value"], between(expected, kind), f"expected value {kind}")
            assert "by_class" not in entry and "class" not in entry


def test_the_independence_test_matches_scipy(case):
    frame, _, assessment = case
    for grouping in assessment:
        # crosstab lists only the offers somebody was made: scipy refuses all-zero columns
        table = pd.crosstab(row_groups(frame, grouping["attributes"]), frame["offer"])
        test = grouping["independence"]
        if len(table) < 2:
            assert test == {"judged": False, "judged_groups": len(table)}
            continue
        expected = chi2_contingency(table.to_numpy())
        assert test["judged"] is True
        assert test["offers"] == [name for name in NAMES if name in table.columns]
        assert_same(test["statistic"], expected.statistic, "statistic")
        assert_same(test["p_value"], expected.pvalue, "p-value")
        assert test["dof"] == expected.dof
        assert_same(test["min_expected"], expected.expected_freq.min(), "smallest expected count")


def test_offers_nobody_is_made_are_left_out_of_the_test_where_scipy_refuses_them():
    table = np.array([[30, 10, 0], [20, 25, 0], [5, 40, 0]])
    with pytest.raises(ValueError, match="expected frequencies has a zero element"):
        chi2_contingency(table)
    ours = multiclass.independence(table)
    expected = chi2_contingency(table[:, :2])
    assert ours["columns"] == [0, 1] and ours["dof"] == expected.dof == 2
    assert ours["statistic"] == pytest.approx(expected.statistic, abs=TOLERANCE)
    assert ours["p_value"] == pytest.approx(expected.pvalue, abs=TOLERANCE)


@pytest.mark.parametrize("correction", [True, False])
def test_a_two_by_two_table_takes_yates_correction_as_scipy_does(correction):
    table = np.array([[12, 30, 0], [25, 18, 0]])
    expected = chi2_contingency(table[:, :2], correction=correction)
    ours = multiclass.independence(table, correction=correction)
    assert ours["dof"] == 1
    assert ours["statistic"] == pytest.approx(expected.statistic, abs=TOLERANCE)
    assert ours["p_value"] == pytest.approx(expected.pvalue, abs=TOLERANCE)


def test_one_offer_made_is_a_degenerate_table_as_in_scipy():
    expected = chi2_contingency(np.array([[3], [5]]))
    assert multiclass.independence(np.array([[3, 0], [5, 0]])) == {
        "statistic": expected.statistic, "p_value": expected.pvalue, "dof": expected.dof, "min_expected": 3.0,
        "columns": [0]}


def test_without_labels_or_values_only_what_applies_is_reported():
    frame = make_frame(400, {"sex": 3}, seed=11, labelled=False)
    plain = [{"name": o["name"], "label": o["label"]} for o in OFFERS]
    (grouping,) = assess(frame, ["sex"], classes=plain)
    assert set(grouping["disparities"]) == {"demographic_parity_difference", "demographic_parity_ratio"}
    for row in grouping["groups"]:
        assert set(row) == {"group", "judged", "offers", "count", "selection_rate"}


# -- rows and cells ------------------------------------------------------------------------


def documented_sql(module) -> str:
    """The SQL block of a module's docstring (the text after its ``::``), so the documentation is what is tested."""
    lines = module.__doc__.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip().endswith("::")) + 1
    block = []
    for line in lines[start:]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line)
    return "\n".join(block).strip()


@pytest.fixture(scope="module")
def banded():
    frame = make_frame(3_000, {"sex": 3}, seed=12, missing=0.05)
    frame["age"] = np.random.default_rng(12).integers(18, 80, len(frame)).astype(float)
    frame.loc[frame.index[::50], "age"] = np.nan
    return frame


def test_cells_give_the_same_results_as_rows(banded):
    options = {"attributes": ["sex", "age"], "classes": OFFERS, "min_group_size": 30, "resamples": 200, "seed": 5}
    cells = multiclass.multiclass_cells(banded, attributes=["sex", "age"], classes=OFFERS, bands={"age": [35, 55]})
    assert list(cells.columns) == ["sex", "age", "offer", "label", "leads"]
    assert cells["leads"].sum() == len(banded)
    from_rows = multiclass.assess_multiclass(banded, bands={"age": [35, 55]}, **options)
    assert multiclass.assess_multiclass_cells(cells, **options) == from_rows
    # cells in any order, with empty cells, give the same results
    shuffled = pd.concat([cells, cells.head(3).assign(leads=0)]).sample(frac=1, random_state=1)
    assert multiclass.assess_multiclass_cells(shuffled.reset_index(drop=True), **options) == from_rows


def test_the_documented_sql_gives_the_same_cells_and_results():
    frame = make_frame(2_000, {"sex": 3, "age_band": 2}, seed=13, missing=0.05)
    cells = duckdb.connect().register("scored_leads", frame).sql(documented_sql(multiclass)).df()
    options = {"attributes": ["sex", "age_band"], "classes": OFFERS, "min_group_size": 30, "resamples": 100}
    ours = multiclass.multiclass_cells(frame, attributes=["sex", "age_band"], classes=OFFERS)
    key = ["sex", "age_band", "offer", "label"]
    pd.testing.assert_frame_equal(cells.sort_values(key).reset_index(drop=True).astype({"leads": "int64"}),
                                  ours.sort_values(key).reset_index(drop=True), check_dtype=False)
    assert multiclass.assess_multiclass_cells(cells, **options) == multiclass.assess_multiclass(frame, **options)


def test_unlabelled_cells_have_no_label():
    frame = make_frame(200, {"sex": 2}, seed=14, labelled=False)
    cells = multiclass.multiclass_cells(frame, attributes=["sex"], classes=OFFERS)
    assert cells["label"].isna().all()
    options = {"attributes": ["sex"], "classes": OFFERS, "resamples": 50}
    assert multiclass.assess_multiclass_cells(cells.drop(columns="label"), **options) == \
        multiclass.assess_multiclass(frame, **options)


# -- input containers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(15)
    rows = 300
    return {"codes": rng.integers(0, 4, rows), "offered": rng.integers(0, 4, rows), "truth": rng.integers(0, 4, rows)}


@pytest.mark.parametrize("to_truth", containers())
@pytest.mark.parametrize("to_offered", containers())
def test_offer_counts_whatever_the_container(small, to_truth, to_offered):
    codes, offered, truth = small["codes"], small["offered"], small["truth"]
    expected = np.array([[[np.sum((codes == g) & (offered == o) & (truth == t)) for t in range(4)]
                          for o in range(4)] for g in range(4)])
    result = plainly(multiclass.offer_counts, codes, to_offered(offered), to_truth(truth), groups=4, classes=4)
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(multiclass.offer_counts(codes, to_offered(offered), groups=4, classes=4),
                                  expected.sum(axis=2))
    twice = multiclass.offer_counts(codes, to_offered(offered), to_truth(truth), groups=4, classes=4,
                                    weights=to_offered(np.full(len(codes), 2)))
    np.testing.assert_array_equal(twice, 2 * expected)  # cells: each entry weighted by its leads


@pytest.mark.parametrize("to_values", containers())
def test_offer_codes_whatever_the_container(small, to_values):
    names = np.asarray(NAMES, dtype=object)[small["offered"]]
    result = plainly(multiclass.offer_codes, to_values(names), offers=NAMES, column="offer")
    np.testing.assert_array_equal(result, small["offered"])


def test_offer_codes_compare_names_as_text():
    np.testing.assert_array_equal(multiclass.offer_codes([3, 1, 3], offers=["1", "3"], column="offer"), [1, 0, 1])


# -- bootstrap intervals and judged groups -------------------------------------------------


@pytest.fixture(scope="module")
def bootstrapped():
    frame = make_frame(20_000, {"sex": 2}, seed=16)
    return frame, assess(frame, ["sex"], resamples=2000, seed=3)[0]


def test_intervals_contain_the_point_values(bootstrapped):
    _, grouping = bootstrapped
    for row in grouping["groups"]:
        for name in ("selection_rate", "true_positive_rate"):
            for offer in NAMES:
                low, high = row[f"{name}_interval"][offer]
                assert low <= row[name][offer] <= high, (row["group"], name, offer)
        low, high = row["expected_value_interval"]
        assert low <= row["expected_value"] <= high
    for name, entry in grouping["disparities"].items():
        assert entry["interval"][0] <= entry["judged_value"] <= entry["interval"][1], name
        for offer, per_offer in entry.get("by_class", {}).items():
            assert per_offer["interval"][0] <= per_offer["judged_value"] <= per_offer["interval"][1], (name, offer)


def test_interval_widths_agree_with_the_normal_approximation(bootstrapped):
    """Each margin's bootstrap has the spread of a binomial proportion (offer rate, recall) or a mean (value)."""
    frame, grouping = bootstrapped
    z = 1.959964
    for row in grouping["groups"]:
        mask = frame["sex"].to_numpy() == row["group"]
        n = row["count"]
        for offer in NAMES:
            p = row["selection_rate"][offer]
            low, high = row["selection_rate_interval"][offer]
            assert high - low == pytest.approx(2 * z * math.sqrt(p * (1 - p) / n), rel=0.1), offer
            truths = int((frame["label"].to_numpy()[mask] == offer).sum())
            p = row["true_positive_rate"][offer]
            low, high = row["true_positive_rate_interval"][offer]
            assert high - low == pytest.approx(2 * z * math.sqrt(p * (1 - p) / truths), rel=0.1), offer
        values = frame["offer"].map(VALUES).to_numpy()[mask]
        low, high = row["expected_value_interval"]
        assert high - low == pytest.approx(2 * z * values.std() / math.sqrt(n), rel=0.1)


def test_intervals_are_deterministic_for_a_seed():
    frame = make_frame(3_000, {"sex": 3}, seed=17)
    first = assess(frame, ["sex"], resamples=300, seed=42)
    assert assess(frame, ["sex"], resamples=300, seed=42) == first
    other = assess(frame, ["sex"], resamples=300, seed=43)
    for name in ("demographic_parity_ratio", "equal_opportunity_difference", "expected_value_ratio"):
        assert other[0]["disparities"][name]["interval"] != first[0]["disparities"][name]["interval"], name
        assert other[0]["disparities"][name]["value"] == first[0]["disparities"][name]["value"], name


def test_no_intervals_without_resamples():
    (grouping,) = assess(make_frame(300, {"sex": 2}, seed=18), ["sex"], resamples=0)
    assert all(not any(key.endswith("_interval") for key in row) for row in grouping["groups"])
    assert all("interval" not in entry for entry in grouping["disparities"].values())


@pytest.fixture(scope="module")
def with_small_group():
    """Groups a and b of 200 leads, c of 10 leads who are all offered premium."""
    frame = make_frame(400, {"sex": 1}, seed=19).assign(sex=["a", "b"] * 200)
    small = make_frame(10, {"sex": 1}, seed=20).assign(sex="c", offer="premium")
    return pd.concat([frame, small], ignore_index=True)


def test_groups_under_the_minimum_size_are_shown_but_not_judged(with_small_group):
    frame = with_small_group
    (grouping,) = assess(frame, ["sex"], min_group_size=30, resamples=200)
    assert [(g["group"], g["judged"]) for g in grouping["groups"]] == [("a", True), ("b", True), ("c", False)]
    judged_only = frame[frame["sex"] != "c"]
    everyone = oracle_disparities(frame, ["sex"])
    judged = oracle_disparities(judged_only, ["sex"])
    entry = grouping["disparities"]["demographic_parity_ratio"]
    for offer in NAMES:
        assert_same(entry["by_class"][offer]["value"], everyone["demographic_parity_ratio"][offer], offer)
        assert_same(entry["by_class"][offer]["judged_value"], judged["demographic_parity_ratio"][offer], offer)
        assert {entry["by_class"][offer]["worst_group"], entry["by_class"][offer]["best_group"]} <= {"a", "b"}
    assert entry["value"] == 0.0  # c is never offered basic
    assert entry["judged_value"] > 0.5
    table = pd.crosstab(judged_only["sex"], judged_only["offer"]).to_numpy()
    assert grouping["independence"]["judged_groups"] == 2
    assert grouping["independence"]["statistic"] == pytest.approx(chi2_contingency(table).statistic, abs=TOLERANCE)


def test_fewer_than_two_judged_groups_leave_nothing_judged(with_small_group):
    (grouping,) = assess(with_small_group, ["sex"], min_group_size=300, resamples=100)
    assert not any(g["judged"] for g in grouping["groups"])
    for entry in grouping["disparities"].values():
        assert entry["judged_groups"] == 0
        assert "judged_value" not in entry and "interval" not in entry and "worst_group" not in entry
        for per_offer in entry.get("by_class", {}).values():
            assert "judged_value" not in per_offer
    assert grouping["independence"] == {"judged": False, "judged_groups": 0}


def test_an_offer_nobody_judged_is_made_has_no_ratio():
    frame = make_frame(400, {"sex": 2}, seed=21, shares=[0.5, 0.5, 0.0, 0.0])
    (grouping,) = assess(frame, ["sex"], resamples=100)
    entry = grouping["disparities"]["demographic_parity_ratio"]
    assert entry["by_class"]["premium"]["judged_value"] is None
    assert entry["by_class"]["premium"]["interval"] == [None, None]
    assert entry["class"] in ("basic", "plus")  # the worst offer is one that can be compared
    assert grouping["independence"]["offers"] == ["basic", "plus"]


# -- the spec ------------------------------------------------------------------------------


def test_every_spec_entry_carries_its_presentation():
    entries = [*(m.presentation for m in multiclass.METRICS.values()),
               *(d.presentation for d in multiclass.DISPARITIES.values()), *multiclass.INDEPENDENCE.values()]
    for presentation in entries:
        assert presentation.label and presentation.unit and presentation.worse in ("lower", "higher", None)
        assert presentation.text(None) == "—"
    shown = {name: spec.presentation.text(0.25) for name, spec in multiclass.METRICS.items() if name != "count"}
    assert shown == {"selection_rate": "25.0%", "true_positive_rate": "25.0%", "expected_value": "0.25"}
    assert multiclass.METRICS["count"].presentation.text(1234.0) == "1,234"
    assert multiclass.INDEPENDENCE["dof"].text(6) == "6"
    for name, spec in multiclass.DISPARITIES.items():
        assert spec.metric in multiclass.METRICS
        assert spec.presentation.worse == ("lower" if spec.kind == "ratio" else "higher"), name
        assert spec.presentation.unit == (comparison.RATIO if spec.kind == "ratio" else
                                          multiclass.METRICS[spec.metric].presentation.unit), name


def test_the_value_unit_is_the_models():
    presentation = multiclass.METRICS["expected_value"].presentation.in_unit("EUR")
    assert (presentation.unit, presentation.text(1234.5)) == ("EUR", "1,234.50")
    assert multiclass.METRICS["selection_rate"].presentation.in_unit("EUR").unit == comparison.SHARE
    assert multiclass.DISPARITIES["expected_value_difference"].presentation.in_unit("EUR").unit == "EUR"


def test_disparity_names_are_the_policys():
    """The per-offer rate disparities reuse fairness's names, so the policy thresholds apply unchanged."""
    for name in ("demographic_parity_difference", "demographic_parity_ratio", "equal_opportunity_difference"):
        assert fairness.DISPARITIES[name].kind == multiclass.DISPARITIES[name].kind
        assert (multiclass.DISPARITIES[name].metric,) == fairness.DISPARITIES[name].metrics


# -- bad input -----------------------------------------------------------------------------


def seven_rows(**changes) -> pd.DataFrame:
    frame = make_frame(10, {"sex": 2}, seed=22)
    for column, value in changes.items():
        frame[column] = frame[column].astype(object)
        frame.loc[6, column] = value
    return frame


def message(error) -> str:
    return str(error.value)


def test_an_offer_not_of_the_model_names_column_and_row():
    with pytest.raises(ValidationError) as raised:
        assess(seven_rows(offer="gold"), ["sex"])
    assert message(raised) == ("column 'offer', row 7: 'gold' is not one of the model's offers "
                               "(basic, plus, premium, none).")
    assert message(raised) == multiclass.NOT_AN_OFFER.format(column="offer", row=7, value="gold",
                                                             offers="basic, plus, premium, none")


def test_a_true_offer_not_of_the_model_names_the_label_column():
    with pytest.raises(ValidationError) as raised:
        assess(seven_rows(label=3), ["sex"])
    assert message(raised) == "column 'label', row 7: 3 is not one of the model's offers (basic, plus, premium, none)."


def test_a_missing_offer_names_column_and_row():
    with pytest.raises(ValidationError) as raised:
        assess(seven_rows(offer=None), ["sex"])
    assert message(raised) == ("column 'offer', row 7: value is missing; it must be one of the model's offers "
                               "(basic, plus, premium, none).")


@pytest.mark.parametrize(("classes", "expected"), [
    ([], "The model has no offers: give its classes as a list of {name, label, value} tables."),
    ([{"label": "Basic"}], "Offer 1 of the model's classes is {'label': 'Basic'}; give a table with a non-empty "
                           "text 'name'."),
    ([{"name": "a"}, {"name": "a"}], "Offer 'a' appears more than once in the model's classes."),
    ([{"name": "a", "value": "ten"}], "Offer 'a' has value 'ten', which is not a number."),
    ([{"name": "a", "value": 1}, {"name": "b"}, {"name": "c"}],
     "Offers b, c have no value but a do: give every offer a value, or none."),
], ids=["none", "no name", "twice", "not a number", "some values"])
def test_bad_classes_are_refused(classes, expected):
    with pytest.raises(ValidationError) as raised:
        multiclass.read_offers(classes)
    assert message(raised) == expected


def test_no_offer_column_and_no_rows():
    with pytest.raises(ValidationError) as raised:
        assess(make_frame(10, {"sex": 2}, seed=23).drop(columns="offer"), ["sex"])
    assert message(raised) == ("Next-best-offer fairness needs a column 'offer' (the offer made to each lead); "
                               "the data has none.")
    with pytest.raises(ValidationError) as raised:
        assess(make_frame(10, {"sex": 2}, seed=23).head(0), ["sex"])
    assert message(raised) == fairness.NO_ROWS.format(data="data")


def test_an_attribute_named_like_a_cell_column_is_refused():
    with pytest.raises(ValidationError) as raised:
        assess(make_frame(10, {"leads": 2}, seed=24), ["leads"])
    assert message(raised) == ("Sensitive attribute 'leads' has the name of a column of the cells (offer, label, "
                               "leads); rename it.")


def test_bad_cells_are_refused():
    cells = multiclass.multiclass_cells(make_frame(200, {"sex": 2}, seed=25), attributes=["sex"], classes=OFFERS)
    options = {"attributes": ["sex"], "classes": OFFERS}
    with pytest.raises(ValidationError) as raised:
        multiclass.assess_multiclass_cells(cells.assign(leads=cells["leads"].where(cells.index != 2, 1.5)), **options)
    assert message(raised) == "column 'leads', row 3: 1.5 is not a whole number of leads of at least 0."
    with pytest.raises(ValidationError) as raised:
        multiclass.assess_multiclass_cells(cells.assign(label=cells["label"].where(cells.index != 4)), **options)
    assert message(raised) == ("column 'label', row 5: value is missing but other cells have a label; cells carry a "
                               "true offer everywhere or nowhere.")
    with pytest.raises(ValidationError) as raised:
        multiclass.assess_multiclass_cells(cells.drop(columns="leads"), **options)
    assert message(raised) == "The cells need column 'leads' (columns: sex, offer, label)."
    with pytest.raises(ValidationError) as raised:
        multiclass.assess_multiclass_cells(cells.assign(leads=0), **options)
    assert message(raised) == fairness.NO_ROWS.format(data="cells")


@pytest.fixture(autouse=True)
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        yield
