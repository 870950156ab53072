"""ethics.continuous against independent oracles computed here.

scipy.stats (``ks_2samp``, ``wasserstein_distance``), fairlearn's ``MetricFrame`` with
``mean_prediction`` and scikit-learn's ``mean_absolute_error`` (with and without
``control_features``), numpy (``quantile``, ``median``) and plain-Python loops for the
shares and residuals.  Every metric is compared to 1e-12, over input containers as in
``tests/test_fairness.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, mean_prediction
from scipy.stats import ks_2samp, wasserstein_distance
from sklearn.metrics import mean_absolute_error, mean_squared_error

from ethics import continuous, fairness, policy
from ethics.errors import ValidationError
from ethics.presentation import VALUE
from tests.group_oracles import attribute_columns, row_groups
from tests.input_convertors import containers

TOLERANCE = 1e-12
UNIT = "% discount"


# -- data and the oracle ---------------------------------------------------------------------


def make_frame(rows: int, attributes: dict[str, int], *, seed: int, missing: float = 0.0, step: float | None = 0.5,
               control: bool = False) -> pd.DataFrame:
    """Discounts in 0–30 % whose mean depends on the groups (on a ``step`` grid), and realised discounts."""
    rng = np.random.default_rng(seed)
    data, codes = attribute_columns(rows, attributes, rng, missing=missing)
    effect = np.zeros(rows)
    for group_codes in codes.values():
        effect += group_codes * 0.7
    discount = np.clip(12 + effect + rng.normal(0, 4, rows), 0, 30)
    if step is not None:
        discount = np.rint(discount / step) * step
    frame = pd.DataFrame({**data, "discount": discount, "realised": discount + rng.normal(0.2, 1.5, rows)})
    if control:
        frame["deal_size"] = rng.choice(["large", "medium", "small"], rows)
    return frame


def share_above(values, threshold) -> float:
    return sum(1 for value in values if value > threshold) / len(values)


def mean_residual(predictions, labels) -> float:
    return sum(p - y for p, y in zip(predictions, labels, strict=True)) / len(predictions)


def ks_against_rest(values, rest):
    return ks_2samp(values, rest).statistic if len(rest) else None


def wasserstein_against_rest(values, rest):
    return wasserstein_distance(values, rest) if len(rest) else None


# The oracle of each continuous.METRICS key: (group values, the rest's values, group labels, overall quantile).
ORACLE_METRICS: dict[str, Callable] = {
    "count": lambda v, rest, y, q: len(v),
    "mean": lambda v, rest, y, q: float(np.mean(v)),  # MetricFrame's mean_prediction is checked separately
    "median": lambda v, rest, y, q: float(np.median(v)),
    "above_quantile": lambda v, rest, y, q: share_above(v, q),
    "ks": lambda v, rest, y, q: ks_against_rest(v, rest),
    "wasserstein": lambda v, rest, y, q: wasserstein_against_rest(v, rest),
    "mae": lambda v, rest, y, q: mean_absolute_error(y, v),
    "mean_residual": lambda v, rest, y, q: mean_residual(v, y),
    "rmse": lambda v, rest, y, q: math.sqrt(mean_squared_error(y, v)),
}
LABEL_METRICS = ("mae", "mean_residual", "rmse")


def oracle_groups(values, labels, groups, *, quantile: float = 0.5, rest_within=None) -> dict[str, dict]:
    """Every metric of every group, one group at a time (``rest_within``: the rows the rest is drawn from)."""
    values, groups = np.asarray(values, dtype=float), np.asarray(groups)
    q = float(np.quantile(values, quantile))
    within = np.ones(len(values), dtype=bool) if rest_within is None else rest_within
    result = {}
    for group in np.unique(groups[within]):
        mask = within & (groups == group)
        rest = values[within & ~mask]
        y = None if labels is None else np.asarray(labels, dtype=float)[mask]
        result[str(group)] = {name: function(values[mask], rest, y, q) for name, function in ORACLE_METRICS.items()
                              if labels is not None or name not in LABEL_METRICS}
    return result


def metric_frame(values, labels, groups, control=None) -> MetricFrame:
    return MetricFrame(metrics={"mean": mean_prediction, "mae": mean_absolute_error}, y_true=labels, y_pred=values,
                       sensitive_features=groups, control_features=control)


def oracle_disparities(expected: dict[str, dict]) -> dict[str, float | None]:
    """Every disparity with the default reference (the highest mean), by plain comparison of the groups' metrics."""
    def column(name):
        return [row[name] for row in expected.values() if row.get(name) is not None]

    def ratio(name):
        values = column(name)
        return min(values) / max(values) if max(values) > 0 else None

    result = {
        "mean_difference": max(column("mean")) - min(column("mean")),
        "mean_ratio": ratio("mean"),
        "ks": max(column("ks"), default=None),
        "wasserstein": max(column("wasserstein"), default=None),
        "above_quantile_ratio": ratio("above_quantile"),
    }
    if "mae" in next(iter(expected.values())):
        result["mae_difference"] = max(column("mae")) - min(column("mae"))
        result["mean_residual_difference"] = max(column("mean_residual")) - min(column("mean_residual"))
    return result


def assert_same(ours, theirs, what: str) -> None:
    """An oracle's NaN (or None) is ethics's None; everything else equal to 1e-12."""
    if theirs is None or (isinstance(theirs, float) and math.isnan(theirs)):
        assert ours is None, f"{what}: ours {ours!r}, oracle {theirs!r}"
    else:
        assert ours is not None, f"{what}: ours None, oracle {theirs!r}"
        assert ours == pytest.approx(float(theirs), abs=TOLERANCE, rel=0), f"{what}: ours {ours!r}, oracle {theirs!r}"


def assert_groups(rows: list[dict], expected: dict[str, dict], what: str) -> None:
    assert [row["group"] for row in rows if row["count"]] == sorted(expected, key=[r["group"] for r in rows].index)
    for row in rows:
        if not row["count"]:
            continue
        for name, value in expected[row["group"]].items():
            assert_same(row[name], value, f"{what} {row['group']} {name}")


def assess(frame: pd.DataFrame, attributes, **options) -> list[dict]:
    options = {"outcome": "discount", "unit": UNIT, "min_group_size": 0, "resamples": 0, **options}
    return continuous.assess_continuous(frame, attributes=list(attributes), **options)


def test_the_oracle_covers_every_metric_and_disparity():
    assert set(ORACLE_METRICS) == set(continuous.METRICS)
    frame = make_frame(200, {"sex": 3}, seed=1)
    expected = oracle_groups(frame["discount"], frame["realised"], frame["sex"])
    assert set(oracle_disparities(expected)) == set(continuous.DISPARITIES)


# -- input containers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    frame = make_frame(300, {"sex": 4}, seed=12)
    values, labels, groups = frame["discount"].to_numpy(), frame["realised"].to_numpy(), frame["sex"].to_numpy()
    return {"values": values, "labels": labels, "groups": groups, "expected": oracle_groups(values, labels, groups),
            "frame": metric_frame(values, labels, groups).by_group}


@pytest.mark.parametrize("to_values", containers())
@pytest.mark.parametrize("to_labels", containers())
@pytest.mark.parametrize("to_groups", containers())
def test_every_metric_whatever_the_container(small, to_values, to_labels, to_groups):
    cells = continuous.continuous_cells(to_values(small["values"]), groups=to_groups(small["groups"]),
                                        labels=to_labels(small["labels"]))
    result = continuous.assess_cells(cells, unit=UNIT, min_group_size=0, resamples=0)
    assert_groups(result["groups"], small["expected"], "container")
    for row in result["groups"]:  # fairlearn's MetricFrame as well, for mean and MAE
        assert_same(row["mean"], small["frame"].loc[row["group"], "mean"], f"{row['group']} MetricFrame mean")
        assert_same(row["mae"], small["frame"].loc[row["group"], "mae"], f"{row['group']} MetricFrame mae")


def test_series_are_read_by_position_not_by_index(small):
    shuffled = np.random.default_rng(0).permutation(len(small["values"]))
    as_series = continuous.continuous_cells(pd.Series(small["values"], index=shuffled),
                                            groups=pd.Series(small["groups"], index=shuffled[::-1]),
                                            labels=pd.Series(small["labels"], index=shuffled))
    plain = continuous.continuous_cells(small["values"], groups=small["groups"], labels=small["labels"])
    for field in ("counts", "label_sum", "abs_error_sum", "squared_error_sum"):
        np.testing.assert_array_equal(getattr(as_series, field), getattr(plain, field))


def test_containers_of_different_lengths_are_refused(small):
    with pytest.raises(ValidationError, match="one entry per row; got lengths groups 299, values 300"):
        continuous.continuous_cells(small["values"], groups=small["groups"][:-1])


# -- every metric and disparity, case by case ------------------------------------------------


def _set(frame: pd.DataFrame, mask, **columns) -> pd.DataFrame:
    frame = frame.copy()
    for column, value in columns.items():
        frame.loc[mask, column] = value
    return frame


def _prices(seed: int) -> pd.DataFrame:
    frame = make_frame(500, {"sex": 3}, seed=seed, step=None)
    frame["discount"] = 900 + 40 * frame["discount"]  # a price in EUR, cents and below
    frame["realised"] = frame["discount"] + np.random.default_rng(seed).normal(0, 30, len(frame))
    return frame


def _base() -> pd.DataFrame:
    return make_frame(300, {"sex": 3}, seed=7)


CASES: dict[str, tuple[Callable[[], pd.DataFrame], list[str], dict]] = {
    "1 attribute, 2 groups": (lambda: make_frame(400, {"sex": 2}, seed=1), ["sex"], {}),
    "1 attribute, 5 groups": (lambda: make_frame(1_000, {"sex": 5}, seed=2), ["sex"], {}),
    "2 attributes, 3 x 4 groups": (lambda: make_frame(1_200, {"sex": 3, "age": 4}, seed=4), ["sex", "age"], {}),
    "missing sensitive values": (lambda: make_frame(600, {"sex": 2, "age": 2}, seed=8, missing=0.1),
                                 ["sex", "age"], {}),
    "exact values, no resolution": (lambda: make_frame(500, {"sex": 3}, seed=5, step=None), ["sex"], {}),
    "prices in EUR to the cent": (lambda: _prices(6), ["sex"], {"resolution": 0.01}),
    "the 90% quantile": (lambda: make_frame(500, {"sex": 3}, seed=9), ["sex"], {"quantile": 0.9}),
    "the 0% quantile": (lambda: make_frame(300, {"sex": 3}, seed=10), ["sex"], {"quantile": 0.0}),
    "every value the same": (lambda: _set(_base(), slice(None), discount=10.0), ["sex"], {}),
    "a group with no discount": (lambda: _set(_base(), _base()["sex"] == "sex-00", discount=0.0), ["sex"], {}),
    "groups of one row": (lambda: make_frame(12, {"sex": 10}, seed=11), ["sex"], {}),
    "a single group": (lambda: make_frame(300, {"sex": 1}, seed=13), ["sex"], {}),
}


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def case(request):
    make, attributes, options = CASES[request.param]
    frame = make()
    if "resolution" in options:  # the documented rounding, done here for the oracle
        frame["discount"] = np.rint(frame["discount"] / options["resolution"]) * options["resolution"]
    return frame, options, assess(frame, attributes, label="realised", **options)


def test_every_metric_per_group_matches_the_oracles(case):
    frame, options, assessment = case
    for grouping in assessment:
        groups = row_groups(frame, grouping["attributes"])
        expected = oracle_groups(frame["discount"], frame["realised"], groups, quantile=options.get("quantile", 0.5))
        assert_groups(grouping["groups"], expected, grouping["grouping"])
        by_group = metric_frame(frame["discount"], frame["realised"], groups).by_group
        for row in grouping["groups"]:
            assert_same(row["mean"], by_group.loc[row["group"], "mean"], f"{row['group']} MetricFrame mean")
            assert_same(row["mae"], by_group.loc[row["group"], "mae"], f"{row['group']} MetricFrame mae")


def test_the_quantile_is_numpys(case):
    frame, options, assessment = case
    p = options.get("quantile", 0.5)
    for grouping in assessment:
        assert grouping["quantile"] == {"p": p, "value": pytest.approx(np.quantile(frame["discount"], p), abs=1e-12)}


def test_every_disparity_matches_the_oracles(case):
    frame, options, assessment = case
    for grouping in assessment:
        groups = row_groups(frame, grouping["attributes"])
        expected_groups = oracle_groups(frame["discount"], frame["realised"], groups,
                                        quantile=options.get("quantile", 0.5))
        expected = oracle_disparities(expected_groups)
        assert set(grouping["disparities"]) == set(continuous.DISPARITIES)
        single = len(expected_groups) == 1
        if single:  # one group: no difference, a ratio of 1 and nothing against the rest, as in fairlearn
            expected.update(mean_difference=0.0, mean_ratio=1.0, above_quantile_ratio=1.0, mae_difference=0.0,
                            mean_residual_difference=0.0)
        frame_of = metric_frame(frame["discount"], frame["realised"], groups)
        fairlearn_values = {"mean_difference": frame_of.difference()["mean"], "mean_ratio": frame_of.ratio()["mean"],
                            "mae_difference": frame_of.difference()["mae"]}
        for name, entry in grouping["disparities"].items():
            assert_same(entry["value"], expected[name], f"{grouping['grouping']} {name}")
            if name in fairlearn_values:
                assert_same(entry["value"], fairlearn_values[name], f"{grouping['grouping']} {name} MetricFrame")
            if not single:  # min_group_size=0: every group is judged
                assert_same(entry["judged_value"], expected[name], f"{grouping['grouping']} {name} judged")


def test_the_worst_group_is_compared_with_the_most_favoured(case):
    frame, options, assessment = case
    for grouping in assessment:
        rows = {row["group"]: row for row in grouping["groups"]}
        for name, entry in grouping["disparities"].items():
            spec = continuous.DISPARITIES[name]
            if "worst_group" not in entry:
                continue
            values = {group: row[spec.metric] for group, row in rows.items()}
            assert entry["worst_value"] == values[entry["worst_group"]], name
            if spec.against == "rest":
                assert entry["best_group"] is None and entry["worst_value"] == max(values.values())
            elif continuous.METRICS[spec.metric].better == "favourable":  # the highest (for a discount)
                assert entry["best_value"] == max(values.values()), name
                if len(set(values.values())) > 1:
                    assert entry["worst_value"] == min(values.values()), name
            else:  # an error: the lowest serves best
                assert entry["best_value"] == min(values.values()), name


def test_exact_values_are_the_keys_without_a_resolution():
    frame = make_frame(300, {"sex": 2}, seed=3, step=None)
    table = continuous.cells_table(frame, outcome="discount", attributes=["sex"])
    assert frame["discount"].is_unique and table["leads"].eq(1).all()
    assert sorted(table["value"]) == sorted(frame["discount"])


def test_a_resolution_rounds_to_the_nearest_multiple():
    frame = pd.DataFrame({"sex": ["a", "a", "b", "b", "b"], "discount": [1.2, 1.3, 0.25, 0.75, 2.6],
                          "realised": [1.0, 1.0, 0.0, 1.0, 3.0]})
    table = continuous.cells_table(frame, outcome="discount", attributes=["sex"], label="realised", resolution=0.5)
    # 1.2 -> 1.0, 1.3 -> 1.5, 0.25 -> 0.0 and 0.75 -> 1.0 (halves to even, as np.rint), 2.6 -> 2.5
    assert table.to_dict("list") == {
        "sex": ["a", "a", "b", "b", "b"], "value": [1.0, 1.5, 0.0, 1.0, 2.5], "leads": [1, 1, 1, 1, 1],
        "label_sum": [1.0, 1.0, 0.0, 1.0, 3.0], "abs_error_sum": [0.0, 0.5, 0.0, 0.0, 0.5],
        "squared_error_sum": [0.0, 0.25, 0.0, 0.0, 0.25],
    }
    rounded = frame.assign(discount=np.rint(frame["discount"] / 0.5) * 0.5)
    assert assess(frame, ["sex"], label="realised", resolution=0.5) == assess(rounded, ["sex"], label="realised")


# -- named reference, favourable direction ----------------------------------------------------


def test_a_named_reference_and_a_price_are_compared_as_documented():
    frame = make_frame(2_000, {"age": 4}, seed=21)
    groups = row_groups(frame, ["age"])
    expected = oracle_groups(frame["discount"], frame["realised"], groups)
    for favourable, reference in (("higher", "age-01"), ("lower", None), ("lower", "age-02")):
        (grouping,) = assess(frame, ["age"], label="realised", favourable=favourable,
                             reference=None if reference is None else {"age": reference})
        for name, entry in grouping["disparities"].items():
            spec = continuous.DISPARITIES[name]
            if spec.against == "rest":
                continue
            metric = {group: row[spec.metric] for group, row in expected.items()}
            if reference is not None:
                base = reference
            elif continuous.METRICS[spec.metric].better == "lower" or favourable == "lower":
                base = min(metric, key=metric.get)
            else:
                base = max(metric, key=metric.get)
            others = [g for g in metric if g != base]
            if spec.kind == "difference":
                worst = max(others, key=lambda g: abs(metric[g] - metric[base]))
                value = abs(metric[worst] - metric[base])
            else:
                worst = max(others, key=lambda g: abs(metric[g] / metric[base] - 1))
                value = metric[worst] / metric[base]
            assert (entry["best_group"], entry["worst_group"]) == (base, worst), (favourable, reference, name)
            assert_same(entry["judged_value"], value, f"{favourable} {reference} {name}")


def test_an_unknown_reference_group_is_named():
    frame = make_frame(100, {"sex": 2}, seed=1)
    message = continuous.UNKNOWN_REFERENCE.format(group="sex-09", grouping="sex", groups="sex-00, sex-01")
    with pytest.raises(ValidationError) as error:
        assess(frame, ["sex"], reference={"sex": "sex-09"})
    assert str(error.value) == message


# -- a control: every metric per stratum × group -----------------------------------------------


@pytest.fixture(scope="module")
def controlled():
    frame = make_frame(3_000, {"sex": 3, "age": 2}, seed=31, control=True)
    return frame, assess(frame, ["sex", "age"], label="realised", control="deal_size")


def test_every_metric_per_stratum_matches_metricframe_with_control_features(controlled):
    frame, assessment = controlled
    for grouping in assessment:
        groups = row_groups(frame, grouping["attributes"])
        mf = metric_frame(frame["discount"], frame["realised"], groups, control=frame["deal_size"])
        assert grouping["control"] == "deal_size"
        assert [s["stratum"] for s in grouping["strata"]] == ["large", "medium", "small"]
        for stratum in grouping["strata"]:
            within = (frame["deal_size"] == stratum["stratum"]).to_numpy()
            expected = oracle_groups(frame["discount"], frame["realised"], groups, rest_within=within)
            assert_groups(stratum["groups"], expected, f"{grouping['grouping']} {stratum['stratum']}")
            for row in stratum["groups"]:
                for name in ("mean", "mae"):
                    assert_same(row[name], mf.by_group.loc[(stratum["stratum"], row["group"]), name],
                                f"{stratum['stratum']} {row['group']} {name}")
            disparities = stratum["disparities"]
            assert_same(disparities["mean_difference"]["value"], mf.difference().loc[stratum["stratum"], "mean"], "d")
            assert_same(disparities["mae_difference"]["value"], mf.difference().loc[stratum["stratum"], "mae"], "d")
            assert_same(disparities["mean_ratio"]["value"], mf.ratio().loc[stratum["stratum"], "mean"], "ratio")
            for name, value in oracle_disparities(expected).items():
                assert_same(disparities[name]["value"], value, f"{stratum['stratum']} {name}")


def test_the_quantile_of_strata_is_the_overall_one(controlled):
    frame, assessment = controlled
    q = np.quantile(frame["discount"], 0.5)
    sex = assessment[0]
    for stratum in sex["strata"]:
        for row in stratum["groups"]:
            mask = (frame["deal_size"] == stratum["stratum"]) & (frame["sex"] == row["group"])
            assert_same(row["above_quantile"], share_above(frame.loc[mask, "discount"], q), row["group"])


def test_empty_stratum_cells_are_shown_and_not_judged():
    frame = make_frame(400, {"sex": 2}, seed=4, control=True)
    frame = frame[~((frame["sex"] == "sex-00") & (frame["deal_size"] == "small"))]
    (grouping,) = assess(frame, ["sex"], control="deal_size", resamples=50)
    small = grouping["strata"][2]
    assert small["groups"][0] == {**small["groups"][0], "group": "sex-00", "count": 0, "judged": False, "mean": None}
    assert small["disparities"]["mean_difference"] == {"metric": "mean", "value": 0.0, "judged_groups": 1}


# -- rows and cells give the same results ------------------------------------------------------


def test_rows_and_imported_cells_give_identical_results(controlled):
    frame, _ = controlled
    options = {"attributes": ["sex", "age"], "unit": UNIT, "control": "deal_size", "resamples": 200, "seed": 5,
               "min_group_size": 40}
    from_rows = continuous.assess_continuous(frame, outcome="discount", label="realised", **options)
    table = continuous.cells_table(frame, outcome="discount", attributes=["sex", "age"], label="realised",
                                   control="deal_size")
    imported = pd.read_csv(StringIO(table.assign(dataset="eval-2026-W48").to_csv(index=False)))
    assert continuous.assess_continuous_cells(imported, **options) == from_rows
    assert len(table) < len(frame)


def test_numeric_attributes_and_controls_are_banded():
    rng = np.random.default_rng(8)
    frame = make_frame(1_000, {"sex": 2}, seed=8).assign(age=rng.integers(18, 80, 1_000),
                                                        deal=rng.uniform(0, 100_000, 1_000))
    bands = {"age": [35, 55], "deal": [10_000, 50_000]}
    (grouping, *_) = assess(frame.drop(columns="sex"), ["age"], control="deal", bands=bands)
    banded = frame.assign(age=fairness.band(frame["age"], bands["age"]))
    # Listed by their edges (issue 19), not as text (which put "<35" last).
    assert [row["group"] for row in grouping["groups"]] == ["<35", "35-54", "55+"]
    assert [stratum["stratum"] for stratum in grouping["strata"]] == ["<10000", "10000-49999", "50000+"]
    assert_groups(grouping["groups"], oracle_groups(banded["discount"], None, banded["age"]), "age")


def test_a_cell_split_over_several_rows_is_added_up():
    frame = make_frame(500, {"sex": 2, "age": 2}, seed=6)
    options = {"attributes": ["sex", "age"], "unit": UNIT, "resamples": 100}
    table = continuous.cells_table(frame, outcome="discount", attributes=["sex", "age"])
    half = table["leads"] // 2
    split = pd.concat([table.assign(leads=half), table.assign(leads=table["leads"] - half)])
    expected = continuous.assess_continuous(frame, outcome="discount", **options)
    assert continuous.assess_continuous_cells(split.sample(frac=1, random_state=0), **options) == expected


def test_cells_of_one_grouping_are_those_of_the_table(small):
    cells = continuous.continuous_cells(small["values"], groups=small["groups"], labels=small["labels"])
    frame = pd.DataFrame({"sex": small["groups"], "discount": small["values"], "realised": small["labels"]})
    (grouping,) = assess(frame, ["sex"], label="realised", resamples=100, seed=3, min_group_size=30)
    assert continuous.assess_cells(cells, unit=UNIT, grouping="sex", attributes=["sex"], resamples=100, seed=3) \
        == grouping


# -- bootstrap intervals and judged groups ------------------------------------------------------


def two_groups(rows: int, *, seed: int) -> pd.DataFrame:
    """Groups a and b of about rows/2 each; b gets 1.5 points less discount."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(rows) < 0.5, "a", "b")
    discount = np.clip(np.rint((12 - 1.5 * (group == "b") + rng.normal(0, 4, rows)) * 2) / 2, 0, 30)
    return pd.DataFrame({"sex": group, "discount": discount, "realised": discount + rng.normal(0, 1, rows)})


@pytest.fixture(scope="module")
def bootstrapped():
    return assess(two_groups(100_000, seed=1), ["sex"], label="realised", resamples=500, seed=3)[0]


def test_intervals_contain_the_point_value(bootstrapped):
    for name, entry in bootstrapped["disparities"].items():
        low, high = entry["interval"]
        assert low <= entry["judged_value"] <= high, name
    for row in bootstrapped["groups"]:
        for name in continuous.METRICS:
            if name != "count":
                low, high = row[f"{name}_interval"]
                assert low <= row[name] <= high, (row["group"], name)


def test_the_mean_difference_interval_is_about_the_normal_one(bootstrapped):
    a, b = bootstrapped["groups"]
    frame = two_groups(100_000, seed=1)
    se = math.sqrt(sum(frame.loc[frame["sex"] == g, "discount"].var() / len(frame[frame["sex"] == g])
                       for g in ("a", "b")))
    low, high = bootstrapped["disparities"]["mean_difference"]["interval"]
    assert high - low == pytest.approx(2 * 1.959964 * se, rel=0.15)
    assert bootstrapped["disparities"]["mean_difference"]["worst_group"] == "b"


def test_intervals_are_reproducible_for_a_seed():
    frame = two_groups(5_000, seed=2)
    first = assess(frame, ["sex"], label="realised", resamples=300, seed=42)
    assert assess(frame, ["sex"], label="realised", resamples=300, seed=42) == first
    other = assess(frame, ["sex"], label="realised", resamples=300, seed=43)
    entry, changed = first[0]["disparities"]["mean_difference"], other[0]["disparities"]["mean_difference"]
    assert changed["interval"] != entry["interval"] and changed["judged_value"] == entry["judged_value"]


def test_no_intervals_without_resamples():
    (grouping,) = assess(two_groups(500, seed=3), ["sex"], label="realised", resamples=0)
    assert all("interval" not in entry for entry in grouping["disparities"].values())
    assert all(not any(key.endswith("_interval") for key in row) for row in grouping["groups"])


def test_the_bootstrap_in_chunks_is_the_same_as_in_one(monkeypatch):
    frame = two_groups(2_000, seed=4)
    whole = assess(frame, ["sex"], label="realised", resamples=64, seed=1)
    monkeypatch.setattr(continuous, "_CHUNK", 2 * 2 * 61)  # 2 resamples at a time
    assert assess(frame, ["sex"], label="realised", resamples=64, seed=1) == whole


@pytest.fixture(scope="module")
def with_small_group():
    """Groups a and b of 100 rows, c of 10 rows with no discount."""
    rng = np.random.default_rng(5)
    sizes = {"a": 100, "b": 100, "c": 10}
    group = np.repeat(list(sizes), list(sizes.values()))
    discount = np.where(group == "c", 0.0, np.rint(rng.uniform(5, 20, len(group))))
    return pd.DataFrame({"sex": group, "discount": discount, "realised": discount + rng.normal(0, 1, len(group))})


def test_groups_under_the_minimum_size_are_shown_but_not_judged(with_small_group):
    frame = with_small_group
    (grouping,) = assess(frame, ["sex"], label="realised", min_group_size=30, resamples=200)
    assert [(g["group"], g["judged"]) for g in grouping["groups"]] == [("a", True), ("b", True), ("c", False)]
    expected = oracle_groups(frame["discount"], frame["realised"], frame["sex"])
    everyone = oracle_disparities(expected)
    # judged: a and b only (their KS and Wasserstein are still against everyone else, c included)
    judged_only = oracle_disparities({group: row for group, row in expected.items() if group != "c"})
    for name, entry in grouping["disparities"].items():
        assert entry["judged_groups"] == 2
        assert_same(entry["value"], everyone[name], f"{name} over all groups")
        assert_same(entry["judged_value"], judged_only[name], f"{name} over judged groups")
        assert "c" not in (entry["worst_group"], entry["best_group"]), name
        assert "interval" in entry
    assert grouping["disparities"]["mean_ratio"]["value"] == 0.0  # c gets no discount
    assert grouping["disparities"]["mean_ratio"]["judged_value"] > 0.8


def test_a_reference_group_too_small_to_judge_leaves_no_verdict(with_small_group):
    (grouping,) = assess(with_small_group, ["sex"], min_group_size=30, reference={"sex": "c"})
    entry = grouping["disparities"]["mean_difference"]
    assert "judged_value" not in entry
    result = continuous.verdict("mean_difference", entry, unit=UNIT, threshold={"fail_above": 1.0})
    assert (result["status"], result["sentence"]) == ("too_few", continuous.TOO_FEW)


def test_fewer_than_two_judged_groups_leave_no_judged_value(with_small_group):
    (grouping,) = assess(with_small_group, ["sex"], min_group_size=150, resamples=50)
    for entry in grouping["disparities"].values():
        assert entry["judged_groups"] == 0
        assert "judged_value" not in entry and "interval" not in entry


# -- verdicts and the presentation spec ---------------------------------------------------------


ENTRY = {"metric": "mean", "value": 2.1, "judged_groups": 4, "judged_value": 2.1, "worst_group": "55+",
         "worst_value": 9.9, "best_group": "25-34", "best_value": 12.0, "interval": [1.7, 2.5]}


def test_verdict_sentence_in_the_units_of_the_outcome():
    result = continuous.verdict("mean_difference", ENTRY, unit="percentage points of discount",
                                worst="Customers aged 55+", reference="customers aged 25–34",
                                threshold={"warn_above": 0.5, "fail_above": 1.0})
    assert result == {
        "metric": "mean_difference", "label": "Difference of means", "unit": "percentage points of discount",
        "status": "fail", "value": 2.1, "interval": [1.7, 2.5], "threshold": {"warn_above": 0.5, "fail_above": 1.0},
        "interval_crosses": False, "worst_group": "55+", "best_group": "25-34",
        "sentence": "Customers aged 55+ get on average 2.10 percentage points of discount less than customers aged "
                    "25–34 (95% interval 1.70–2.50); policy: at most 1.00, warn above 0.50.",
    }


def test_every_disparity_has_a_sentence(controlled):
    _, assessment = controlled
    for name, entry in assessment[0]["disparities"].items():
        text = continuous.sentence(name, entry, unit="EUR", verb="pay", threshold={"fail_below": 0.8})
        assert entry["worst_group"] in text and text.endswith("; policy: at least " + continuous.DISPARITIES[
            name].presentation.format.format(0.8) + "."), text
        assert "{" not in text and "None" not in text, text


def test_a_price_reads_as_a_price():
    entry = {**ENTRY, "judged_value": 40.0, "worst_value": 1040.0, "best_value": 1000.0, "interval": None}
    text = continuous.sentence("mean_difference", entry, unit="EUR", verb="pay", worst="Customers aged 55+",
                               reference="customers aged 25–34")
    assert text == "Customers aged 55+ pay on average 40.00 EUR more than customers aged 25–34."


def test_verdicts_are_judged_by_the_policy():
    for value, status in ((0.4, "pass"), (0.7, "warn"), (1.2, "fail")):
        result = continuous.verdict("mean_difference", {**ENTRY, "judged_value": value}, unit=UNIT,
                                    threshold={"warn_above": 0.5, "fail_above": 1.0})
        assert result["status"] == status == policy.judge(value, {"warn_above": 0.5, "fail_above": 1.0})
    crossing = continuous.verdict("mean_difference", {**ENTRY, "interval": [0.8, 1.3]}, unit=UNIT,
                                  threshold={"fail_above": 1.0})
    assert crossing["interval_crosses"] is True


def test_an_undefined_ratio_cannot_be_judged():
    entry = {"metric": "mean", "value": None, "judged_groups": 2, "judged_value": None}
    result = continuous.verdict("mean_ratio", entry, unit=UNIT, threshold={"fail_below": 0.8})
    assert result["status"] == "too_few"
    assert result["sentence"] == continuous.UNDEFINED.format(label="ratio of means", metric="mean")


@pytest.mark.parametrize("name", list(continuous.DISPARITIES))
def test_every_disparity_carries_its_presentation(name):
    spec = continuous.DISPARITIES[name]
    shown = spec.presentation
    assert spec.metric in continuous.METRICS
    assert shown.worse in ("higher", "lower", "away_from_one")
    assert shown.format.format(1.234)
    assert continuous.unit_of(spec, unit="EUR") == ("EUR" if shown.unit == VALUE else continuous.UNITS[shown.unit])
    assert (spec.kind == "ratio") == (shown.worse == "away_from_one") == (shown.unit == "ratio")


# -- bad input ---------------------------------------------------------------------------------


def bad(frame: pd.DataFrame, **options) -> str:
    with pytest.raises(ValidationError) as error:
        assess(frame, ["sex"], **options)
    return str(error.value)


def three_rows(**columns) -> pd.DataFrame:
    return pd.DataFrame({"sex": ["a", "b", "a"], "discount": [5.0, 7.5, 10.0], "realised": [5.0, 8.0, 9.0],
                         **columns})


def test_text_in_the_outcome_is_named_by_column_and_row():
    assert bad(three_rows(discount=[5, 7.5, "ten"])) == "column 'discount', row 3: 'ten' is not a number."
    assert bad(three_rows(realised=["5", "x", 9]), label="realised") == "column 'realised', row 2: 'x' is not a number."


def test_missing_and_infinite_values_are_named_by_column_and_row():
    assert bad(three_rows(discount=[5, np.nan, 1])) == continuous.MISSING_NUMBER.format(column="discount", row=2)
    assert bad(three_rows(discount=[5, None, 1])) == continuous.MISSING_NUMBER.format(column="discount", row=2)
    assert bad(three_rows(realised=[5, 1, np.nan]), label="realised") == \
        "column 'realised', row 3: the value is missing; every row needs a number."
    assert bad(three_rows(discount=[np.inf, 1, 2])) == "column 'discount', row 1: inf is not a finite number."


@pytest.mark.parametrize("resolution", [-0.5, 0, "0.5"])
def test_a_resolution_must_be_positive(resolution):
    assert bad(three_rows(), resolution=resolution) == continuous.BAD_RESOLUTION.format(resolution=resolution)


@pytest.mark.parametrize(("options", "message"), [
    ({"quantile": 1.5}, continuous.BAD_QUANTILE.format(quantile=1.5)),
    ({"confidence": 1.0}, continuous.BAD_CONFIDENCE.format(confidence=1.0)),
    ({"favourable": "up"}, continuous.BAD_FAVOURABLE.format(favourable="up")),
    ({"label": "truth"}, continuous.NO_COLUMN.format(column="truth", data="data",
                                                     columns="sex, discount, realised")),
    ({"control": "sex"}, continuous.NAME_CLASH.format(column="sex", roles="attribute and control")),
])
def test_bad_options_are_named(options, message):
    assert bad(three_rows(), **options) == message


def test_empty_data_is_refused():
    assert bad(three_rows().iloc[:0]) == continuous.NO_ROWS.format(data="data")


def cells_bad(table: pd.DataFrame, **options) -> str:
    with pytest.raises(ValidationError) as error:
        continuous.assess_continuous_cells(table, attributes=["sex"], unit=UNIT, **options)
    return str(error.value)


def test_bad_cells_tables_are_named():
    table = continuous.cells_table(three_rows(), outcome="discount", attributes=["sex"], label="realised")
    assert cells_bad(table.assign(leads=[1, -1, 1])) == continuous.BAD_LEADS.format(row=2, value=-1)
    assert cells_bad(table.assign(leads=[1, 1.5, 1])) == continuous.BAD_LEADS.format(row=2, value=1.5)
    assert cells_bad(table.assign(value=["1", "x", "2"])) == "column 'value', row 2: 'x' is not a number."
    assert cells_bad(table.drop(columns="abs_error_sum")) == continuous.PARTIAL_LABELS.format(
        present="label_sum, squared_error_sum", missing="abs_error_sum",
        expected="label_sum, abs_error_sum, squared_error_sum")
    assert cells_bad(table.assign(dataset=["x", "y", "y"])) == continuous.MIXED_DATASETS.format(datasets="x, y")
    assert cells_bad(table.assign(leads=0)) == continuous.NO_ROWS.format(data="cells table")
    assert cells_bad(table.drop(columns="leads")).startswith("Column 'leads' is not in the cells table")


def test_too_many_exact_values_ask_for_a_resolution(monkeypatch):
    monkeypatch.setattr(continuous, "MAX_CELLS", 10)
    frame = make_frame(20, {"sex": 2}, seed=1, step=None)
    with pytest.raises(ValidationError) as error:
        assess(frame, ["sex"])
    assert error.value.message == continuous.TOO_MANY_CELLS.format(grouping="sex", cells=40, strata=1, groups=2,
                                                                   values=20, limit=10)
    assert error.value.hint == continuous.TOO_MANY_CELLS_HINT
