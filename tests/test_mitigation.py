import json
import re

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    selection_rate,
)
from sklearn.metrics import accuracy_score

from ethics import mitigation
from ethics.errors import ValidationError
from ethics.mitigation import ScorePassthrough, threshold_optimizer_what_if

THRESHOLD = 0.5


def biased(n=3_000, seed=0):
    """Scores that favour men beyond what the labels justify."""
    rng = np.random.default_rng(seed)
    sex = pd.Series(rng.choice(["female", "male"], size=n, p=[0.45, 0.55]), name="sex")
    male = (sex == "male").to_numpy()
    y = rng.binomial(1, np.where(male, 0.45, 0.3))
    scores = np.clip(0.3 * y + 0.25 * male + 0.5 * rng.random(n), 0.0, 1.0)
    return y, scores, sex


@pytest.fixture(scope="module")
def data():
    return biased()


@pytest.fixture(scope="module")
def result(data):
    y, scores, sex = data
    return threshold_optimizer_what_if(y, scores, sex, threshold=THRESHOLD, random_state=7)


def test_scenarios_in_order(result):
    assert [row["scenario"] for row in result] == [
        "current threshold",
        "ThresholdOptimizer: demographic parity",
        "ThresholdOptimizer: equalized odds",
    ]
    assert [row["constraint"] for row in result] == [None, "demographic_parity", "equalized_odds"]
    for row in result:
        assert set(row) == {
            "scenario",
            "constraint",
            "accuracy",
            "selection_rate",
            "demographic_parity_difference",
            "equalized_odds_difference",
            "groups",
            "rows",
        }
        assert row["rows"] == 3_000
        assert set(row["groups"]) == {"female", "male"}
    json.dumps(result, allow_nan=False)


def test_current_threshold_matches_fairlearn(data, result):
    y, scores, sex = data
    predicted = (scores >= THRESHOLD).astype(int)
    before = result[0]
    assert before["accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=1e-12)
    assert before["selection_rate"] == pytest.approx(selection_rate(y, predicted), abs=1e-12)
    assert before["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y, predicted, sensitive_features=sex), abs=1e-12
    )
    assert before["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y, predicted, sensitive_features=sex), abs=1e-12
    )
    by_group = MetricFrame(metrics=selection_rate, y_true=y, y_pred=predicted, sensitive_features=sex).by_group
    assert before["groups"] == pytest.approx(by_group.to_dict(), abs=1e-12)


def test_demographic_parity_constraint_shrinks_the_gap(result):
    before, after = result[0], result[1]
    assert before["demographic_parity_difference"] > 0.2
    assert after["demographic_parity_difference"] < 0.5 * before["demographic_parity_difference"]
    assert after["demographic_parity_difference"] < 0.05


def test_equalized_odds_constraint_shrinks_its_gap(result):
    before, after = result[0], result[2]
    assert after["equalized_odds_difference"] < 0.5 * before["equalized_odds_difference"]


def test_deterministic_with_the_same_random_state(data, result):
    y, scores, sex = data
    assert threshold_optimizer_what_if(y, scores, sex, threshold=THRESHOLD, random_state=7) == result


@pytest.mark.parametrize("constraints", [["demographic_parity"], "demographic_parity"])
def test_one_constraint_and_plain_inputs(data, constraints):
    y, scores, sex = data
    rows = threshold_optimizer_what_if(list(y), list(scores), list(sex), threshold=THRESHOLD, constraints=constraints)
    assert [row["scenario"] for row in rows] == ["current threshold", "ThresholdOptimizer: demographic parity"]


def test_large_sets_are_subsampled_reproducibly(data):
    y, scores, sex = data
    first = threshold_optimizer_what_if(
        y, scores, sex, threshold=THRESHOLD, constraints=["demographic_parity"], max_rows=1_000, random_state=3
    )
    again = threshold_optimizer_what_if(
        y, scores, sex, threshold=THRESHOLD, constraints=["demographic_parity"], max_rows=1_000, random_state=3
    )
    assert first == again
    assert [row["rows"] for row in first] == [1_000, 1_000]


def test_missing_sensitive_values_form_a_group():
    y, scores, sex = biased(n=1_000, seed=1)
    sex = sex.astype(object)
    sex.iloc[::10] = None
    rows = threshold_optimizer_what_if(y, scores, sex, threshold=THRESHOLD, constraints=["demographic_parity"])
    assert set(rows[0]["groups"]) == {"(missing)", "female", "male"}


def test_passthrough_estimator():
    X = np.array([[0.2], [0.9]])
    estimator = ScorePassthrough().fit(X)
    np.testing.assert_allclose(estimator.predict(X), [0.2, 0.9])
    np.testing.assert_allclose(estimator.predict_proba(X), [[0.8, 0.2], [0.1, 0.9]])


def test_labels_must_be_binary():
    with pytest.raises(ValidationError, match=re.escape(mitigation.LABEL_NOT_BINARY.format(value=2, row=1))):
        threshold_optimizer_what_if([0, 2, 1], [0.1, 0.2, 0.3], ["a", "b", "a"], threshold=0.5)


def test_scores_must_be_finite():
    with pytest.raises(ValidationError, match=re.escape(mitigation.SCORE_NOT_NUMBER.format(value="high", row=2))):
        threshold_optimizer_what_if([0, 1, 1], [0.1, 0.2, "high"], ["a", "b", "a"], threshold=0.5)


def test_lengths_must_match():
    sex = pd.Series(["a", "b"], name="sex")
    message = "What-if: y_true has 3 rows, scores 3 and sex 2; they must be equal."
    assert mitigation.LENGTH_MISMATCH.format(labels=3, scores=3, attribute="sex", groups=2) == message
    with pytest.raises(ValidationError, match=re.escape(message)):
        threshold_optimizer_what_if([0, 1, 1], [0.1, 0.2, 0.3], sex, threshold=0.5)


def test_needs_two_groups_with_both_outcomes():
    y = [0, 1, 0, 1, 0, 0]
    sex = pd.Series(["f", "f", "f", "f", "m", "m"], name="sex")
    message = (
        "What-if needs at least two groups with both outcomes (label 0 and 1); sex has only 1: "
        "'f' (2 with label 0, 2 with label 1), 'm' (2 with label 0, 0 with label 1)."
    )
    with pytest.raises(ValidationError, match=re.escape(message)):
        threshold_optimizer_what_if(y, [0.1, 0.9, 0.2, 0.8, 0.3, 0.4], sex, threshold=0.5)


def test_every_group_needs_both_outcomes():
    y = [0, 1, 0, 1, 1, 1]
    sex = pd.Series(["f", "f", "m", "m", "x", "x"], name="sex")
    with pytest.raises(
        ValidationError,
        match=re.escape(mitigation.GROUP_ONE_OUTCOME.format(group="x", attribute="sex", label=1, rows=6)),
    ) as raised:
        threshold_optimizer_what_if(y, [0.1, 0.9, 0.2, 0.8, 0.3, 0.4], sex, threshold=0.5)
    assert raised.value.hint == mitigation.GROUP_ONE_OUTCOME_HINT


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"threshold": float("nan")}, mitigation.THRESHOLD_INVALID.format(threshold=float("nan"))),
        ({"threshold": 0.5, "max_rows": 0}, mitigation.MAX_ROWS_INVALID.format(max_rows=0)),
        (
            {"threshold": 0.5, "constraints": ["true_positive_rate_parity"]},
            mitigation.CONSTRAINT_UNKNOWN.format(
                constraint="true_positive_rate_parity", allowed="demographic_parity, equalized_odds"
            ),
        ),
        (
            {"threshold": 0.5, "constraints": []},
            mitigation.CONSTRAINTS_EMPTY.format(allowed="demographic_parity, equalized_odds"),
        ),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        threshold_optimizer_what_if([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], ["a", "a", "b", "b"], **options)


def test_no_rows():
    with pytest.raises(ValidationError, match=re.escape(mitigation.NO_ROWS)):
        threshold_optimizer_what_if([], [], [], threshold=0.5)
