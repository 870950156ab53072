"""Trade-off what-if: what fairlearn's ThresholdOptimizer would do to accuracy and disparity.

This is a **what-if that changes nothing**: no model, threshold or decision is altered.
It answers "if we post-processed this model's scores with group-specific thresholds
chosen under a fairness constraint, how would accuracy and the disparities move on the
evaluation set?".

How it works
    The model is represented by its scores alone.  A passthrough estimator
    (:class:`ScorePassthrough`) whose ``predict_proba`` returns the score column (``X`` is
    the scores as an ``(n, 1)`` array) is wrapped by
    :class:`fairlearn.postprocessing.ThresholdOptimizer` with ``prefit=True`` and
    ``predict_method="predict_proba"``, so nothing is refitted and no model artifact is
    needed.  The optimizer is fitted on the labelled evaluation rows, once per constraint
    (``"demographic_parity"``, ``"equalized_odds"``), maximising accuracy.
Randomised predictions
    ThresholdOptimizer's decisions are randomised between two thresholds per group; they
    are drawn with ``random_state``, so the same inputs and seed give the same numbers.
    The numbers are in-sample (fitted and measured on the same rows), so they are an
    optimistic view of what the post-processing would achieve on new data.
Large evaluation sets
    If there are more than ``max_rows`` rows, a uniform random subsample of ``max_rows``
    rows (seeded with ``random_state``) is used for every scenario, including the
    "current threshold" one, so that all rows of the result describe the same rows.
    Each result row says how many rows it used.

Results are plain dicts with floats rounded to 12 digits and NaN as ``None``, ready to be
stored as JSON in a snapshot.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import accuracy_score

from ethics.errors import ValidationError
from ethics.store import json_number

#: Constraints the what-if runs by default, and the scenario label of each.
CONSTRAINT_LABELS = {
    "demographic_parity": "ThresholdOptimizer: demographic parity",
    "equalized_odds": "ThresholdOptimizer: equalized odds",
}
DEFAULT_CONSTRAINTS = ("demographic_parity", "equalized_odds")
CURRENT_SCENARIO = "current threshold"
#: Group label for rows whose sensitive attribute is missing (as in ``snapshots``).
MISSING_GROUP = "(missing)"
#: Name used in messages when ``sensitive`` carries no name.
UNNAMED_ATTRIBUTE = "the sensitive attribute"
DEFAULT_MAX_ROWS = 50_000
#: What ThresholdOptimizer maximises under each constraint.
OBJECTIVE = "accuracy_score"

LENGTH_MISMATCH = "What-if: y_true has {labels} rows, scores {scores} and {attribute} {groups}; they must be equal."
NOT_1D = "What-if: {name} must be one-dimensional (one value per row); got shape {shape}."
NO_ROWS = "What-if: the evaluation set has no rows."
LABEL_NOT_BINARY = "What-if: label {value!r} (row {row}) is not 0 or 1."
SCORE_NOT_NUMBER = "What-if: score {value!r} (row {row}) is not a finite number."
THRESHOLD_INVALID = "What-if: the decision threshold must be a finite number; got {threshold!r}."
MAX_ROWS_INVALID = "What-if: max_rows must be a positive integer; got {max_rows!r}."
CONSTRAINT_UNKNOWN = "What-if: constraint {constraint!r} is not supported; choose from {allowed}."
CONSTRAINTS_EMPTY = "What-if: no constraints given; choose from {allowed}."
TOO_FEW_GROUPS = (
    "What-if needs at least two groups with both outcomes (label 0 and 1); {attribute} has only {count}: {groups}."
)
GROUP_ONE_OUTCOME = (
    "What-if: group {group!r} of {attribute} has only label {label} in the {rows} rows used; "
    "ThresholdOptimizer needs both outcomes in every group."
)
GROUP_ONE_OUTCOME_HINT = "Merge the group into a larger one, or evaluate on a labelled set where it has both outcomes."


class ScorePassthrough(ClassifierMixin, BaseEstimator):
    """A fitted-by-construction classifier whose output is the score column it is given.

    ``X`` is the model's scores as an ``(n, 1)`` array.  ``predict_proba`` returns
    ``[1 - score, score]`` and ``predict`` returns the score itself, so
    :class:`~fairlearn.postprocessing.ThresholdOptimizer` with ``prefit=True`` can
    post-process a model known only by its scores.
    """

    classes_ = np.array([0, 1])

    def fit(self, X: Any, y: Any = None) -> ScorePassthrough:
        """Do nothing: the scores are the model.

        Parameters
        ----------
        X : array-like of shape (n, 1)
            Scores (ignored).
        y : array-like, optional
            Labels (ignored).

        Returns
        -------
        ScorePassthrough
            ``self``.
        """
        return self

    def __sklearn_is_fitted__(self) -> bool:
        """Tell ``check_is_fitted`` that there is nothing to fit."""
        return True

    def predict(self, X: Any) -> np.ndarray:
        """Return the score column.

        Parameters
        ----------
        X : array-like of shape (n, 1)
            Scores.

        Returns
        -------
        numpy.ndarray of shape (n,)
            The scores.
        """
        return np.asarray(X, dtype=float)[:, 0]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return ``[1 - score, score]`` per row.

        Parameters
        ----------
        X : array-like of shape (n, 1)
            Scores.

        Returns
        -------
        numpy.ndarray of shape (n, 2)
            Probability of the negative and of the positive outcome.
        """
        scores = self.predict(X)
        return np.column_stack([1.0 - scores, scores])


def threshold_optimizer_what_if(
    y_true: Sequence[int] | np.ndarray | pd.Series,
    scores: Sequence[float] | np.ndarray | pd.Series,
    sensitive: Sequence[Any] | np.ndarray | pd.Series,
    *,
    threshold: float,
    constraints: str | Sequence[str] = DEFAULT_CONSTRAINTS,
    random_state: int = 0,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> list[dict[str, Any]]:
    """Accuracy and disparity now, and after ThresholdOptimizer under each constraint.

    A what-if that changes nothing; see the module docstring for the method, the
    randomised predictions and the subsample of large evaluation sets.

    Parameters
    ----------
    y_true : array-like of 0/1
        True outcomes of the evaluation rows.
    scores : array-like of float
        The model's scores for the same rows (higher means more likely positive).
    sensitive : array-like or pandas.Series
        The sensitive attribute per row; a Series' name is used in messages.  Missing
        values form the group ``"(missing)"``.
    threshold : float
        The model's own decision threshold: a row is selected when ``score >= threshold``.
    constraints : str or sequence of str, default=("demographic_parity", "equalized_odds")
        ThresholdOptimizer constraints to try, in order; a single name is one constraint.
    random_state : int, default=0
        Seed for the subsample and for ThresholdOptimizer's randomised decisions.
    max_rows : int, default=50_000
        Largest number of rows to use; larger sets are subsampled uniformly.

    Returns
    -------
    list of dict
        First the current threshold, then one row per constraint::

            {"scenario": "current threshold",   # or "ThresholdOptimizer: demographic parity", ...
             "constraint": None,                 # or "demographic_parity", ...
             "accuracy": 0.81, "selection_rate": 0.32,
             "demographic_parity_difference": 0.21, "equalized_odds_difference": 0.18,
             "groups": {"female": 0.22, "male": 0.43},   # selection rate per group
             "rows": 20000}

        Floats are rounded to 12 digits; NaN becomes ``None``.

    Raises
    ------
    ValidationError
        If an input is not one-dimensional, the lengths differ, there are no rows, a
        label is not 0/1, a score is not a finite number, the threshold, ``max_rows`` or
        a constraint is invalid, fewer than two groups have both outcomes, or any group
        has only one outcome.
    """
    attribute = _attribute_name(sensitive)
    labels, values, groups = _inputs(y_true, scores, sensitive, attribute=attribute)
    constraints = (constraints,) if isinstance(constraints, str) else tuple(constraints)
    _check_options(threshold=threshold, constraints=constraints, max_rows=max_rows)
    labels, values, groups = _subsample(labels, values, groups, max_rows=max_rows, random_state=random_state)
    _check_groups(labels, groups, attribute=attribute)

    current = (values >= threshold).astype(int)
    rows = [_scenario_row(CURRENT_SCENARIO, None, labels, current, groups)]
    for constraint in constraints:
        predicted = _optimised_predictions(labels, values, groups, constraint=constraint, random_state=random_state)
        rows.append(_scenario_row(CONSTRAINT_LABELS[constraint], constraint, labels, predicted, groups))
    return rows


# -- internals -----------------------------------------------------------------------------------------------------


def _optimised_predictions(
    labels: np.ndarray, scores: np.ndarray, groups: np.ndarray, *, constraint: str, random_state: int
) -> np.ndarray:
    """Fit ThresholdOptimizer around the scores and draw its (randomised) decisions for the same rows."""
    optimizer = ThresholdOptimizer(
        estimator=ScorePassthrough(),
        constraints=constraint,
        objective=OBJECTIVE,
        prefit=True,
        predict_method="predict_proba",
    )
    X = scores.reshape(-1, 1)
    optimizer.fit(X, labels, sensitive_features=groups)
    predicted = optimizer.predict(X, sensitive_features=groups, random_state=random_state)
    return np.asarray(predicted, dtype=int)


def _scenario_row(
    scenario: str, constraint: str | None, labels: np.ndarray, predicted: np.ndarray, groups: np.ndarray
) -> dict[str, Any]:
    rates = pd.Series(predicted, dtype=float).groupby(groups, sort=True).mean()
    return {
        "scenario": scenario,
        "constraint": constraint,
        "accuracy": json_number(accuracy_score(labels, predicted)),
        "selection_rate": json_number(predicted.mean()),
        "demographic_parity_difference": json_number(
            demographic_parity_difference(labels, predicted, sensitive_features=groups)
        ),
        "equalized_odds_difference": json_number(
            equalized_odds_difference(labels, predicted, sensitive_features=groups)
        ),
        "groups": {str(group): json_number(rate) for group, rate in rates.items()},
        "rows": int(labels.size),
    }


def _attribute_name(sensitive: Any) -> str:
    name = getattr(sensitive, "name", None)
    return str(name) if name is not None else UNNAMED_ATTRIBUTE


def _inputs(y_true: Any, scores: Any, sensitive: Any, *, attribute: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels_in = _series(y_true, name="y_true")
    scores_in = _series(scores, name="scores")
    groups_in = _series(sensitive, name=attribute)
    if not len(labels_in) == len(scores_in) == len(groups_in):
        raise ValidationError(
            LENGTH_MISMATCH.format(
                labels=len(labels_in), scores=len(scores_in), attribute=attribute, groups=len(groups_in)
            )
        )
    if len(labels_in) == 0:
        raise ValidationError(NO_ROWS)
    return _labels(labels_in), _scores(scores_in), _groups(groups_in)


def _series(values: Any, *, name: str) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValidationError(NOT_1D.format(name=name, shape=array.shape))
    return pd.Series(array)


def _labels(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isin(numbers, (0.0, 1.0)))
    if bad.size:
        raise ValidationError(LABEL_NOT_BINARY.format(value=_plain(values.iloc[bad[0]]), row=int(bad[0])))
    return numbers.astype(int)


def _scores(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        raise ValidationError(SCORE_NOT_NUMBER.format(value=_plain(values.iloc[bad[0]]), row=int(bad[0])))
    return numbers


def _groups(values: pd.Series) -> np.ndarray:
    return values.astype("string").fillna(MISSING_GROUP).to_numpy(dtype=object)


def _check_options(*, threshold: float, constraints: Sequence[str], max_rows: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not math.isfinite(threshold):
        raise ValidationError(THRESHOLD_INVALID.format(threshold=threshold))
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValidationError(MAX_ROWS_INVALID.format(max_rows=max_rows))
    allowed = ", ".join(CONSTRAINT_LABELS)
    if len(constraints) == 0:
        raise ValidationError(CONSTRAINTS_EMPTY.format(allowed=allowed))
    for constraint in constraints:
        if constraint not in CONSTRAINT_LABELS:
            raise ValidationError(CONSTRAINT_UNKNOWN.format(constraint=constraint, allowed=allowed))


def _subsample(
    labels: np.ndarray, scores: np.ndarray, groups: np.ndarray, *, max_rows: int, random_state: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if labels.size <= max_rows:
        return labels, scores, groups
    keep = np.sort(np.random.default_rng(random_state).choice(labels.size, size=max_rows, replace=False))
    return labels[keep], scores[keep], groups[keep]


def _check_groups(labels: np.ndarray, groups: np.ndarray, *, attribute: str) -> None:
    counts = pd.crosstab(groups, labels).reindex(columns=[0, 1], fill_value=0).sort_index()
    both = counts[(counts[0] > 0) & (counts[1] > 0)]
    if len(both) < 2:
        listed = ", ".join(f"{group!r} ({n0} with label 0, {n1} with label 1)" for group, (n0, n1) in counts.iterrows())
        raise ValidationError(TOO_FEW_GROUPS.format(attribute=attribute, count=len(both), groups=listed))
    for group, (n0, n1) in counts.iterrows():
        if n0 == 0 or n1 == 0:
            raise ValidationError(
                GROUP_ONE_OUTCOME.format(group=group, attribute=attribute, label=1 if n0 == 0 else 0, rows=labels.size),
                hint=GROUP_ONE_OUTCOME_HINT,
            )


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value, so that messages read ``2``, not ``np.int64(2)``."""
    return value.item() if isinstance(value, np.generic) else value


