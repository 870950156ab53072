"""Score and feature drift against a reference week: the population stability index.

A model degrades silently when the population it scores moves away from the one it was
checked on.  The population stability index (PSI) compares the distribution of one column
in the current data with the same column in the reference data::

    PSI = sum over bins i of (c_i - r_i) * ln(c_i / r_i)

where ``r_i`` and ``c_i`` are the shares of the reference and current rows that
fall into bin ``i``.  Every term is non-negative, so PSI is 0 for identical
distributions and grows with the shift.  The usual rule of thumb (and the default policy)
is: below 0.1 no real change, 0.1 to 0.25 a moderate shift worth a look, above 0.25 a
significant shift.

Bins
    Numeric columns are cut at the quantiles of the reference (``bins`` equal-frequency
    bins; duplicate edges from ties are dropped).  The outer bins are open-ended, so
    current values beyond the reference's range land in the first or last bin.  Bins are
    closed on the left, ``[edge_i, edge_i+1)``, as in :func:`numpy.histogram`.
Categories
    A column whose reference has at most ``bins`` distinct values (a constant, a flag, a
    small code list) or that is not numeric is compared category by category; current
    values never seen in the reference share one extra "unseen" category.
Missing values
    If either sample has missing values (NaN/None), they form one extra bin, so a change
    in the missing rate counts as drift.
Empty bins
    A share of 0 would make the logarithm infinite, so shares are floored at
    :data:`EPSILON`.

The results are plain dicts with floats rounded to 12 digits and NaN as ``None``, ready to
be stored as JSON in a snapshot.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ethics.errors import ValidationError
from ethics.lazy import lazy_module
from ethics.policy import judge
from ethics.store import json_number

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())

#: Floor for an empty bin's share, so that ln(c/r) stays finite.
EPSILON = 1e-6
#: Default number of equal-frequency reference bins.
DEFAULT_BINS = 10
#: Policy keys, in the order they must hold: warn_above <= fail_above.
POLICY_KEYS = ("warn_above", "fail_above")

Status = Literal["pass", "warn", "fail"]

BINS_INVALID = "PSI needs at least 2 bins; got bins={bins!r}."
SAMPLE_EMPTY = "PSI: the {which} sample has no rows."
SAMPLE_NOT_1D = "PSI: the {which} sample must be one-dimensional; got shape {shape}."
SAMPLE_INFINITE = "PSI: the {which} sample has {count} infinite value(s); PSI needs finite numbers or missing values."
SAMPLE_KIND_MISMATCH = (
    "PSI: the {which} samples differ in kind: the reference is {reference} and the current sample is {current}."
)
FRAME_EMPTY = "Drift: the {which} data has no rows."
COLUMNS_EMPTY = "Drift: no columns to compare; pass the score and feature columns."
COLUMN_MISSING = "Drift: column {column!r} is missing from the {which} data."
POLICY_MISSING = "Drift policy: rule {key!r} is missing; expected {{'warn_above': 0.1, 'fail_above': 0.25}}."
POLICY_NOT_NUMBER = "Drift policy: rule {key!r} must be a non-negative number; got {value!r}."
POLICY_ORDER = "Drift policy: 'warn_above' ({warn}) must not be greater than 'fail_above' ({fail})."


def psi(reference: np.ndarray, current: np.ndarray, *, bins: int = DEFAULT_BINS) -> float:
    """Population stability index of ``current`` against ``reference``.

    ``PSI = sum_i (c_i - r_i) * ln(c_i / r_i)`` over the bins ``i``, with ``r_i`` and
    ``c_i`` the shares of reference and current values in bin ``i`` (floored at
    :data:`EPSILON`).  Numeric bins are the deduplicated quantile edges of the reference,
    with open-ended outer bins; a reference with at most ``bins`` distinct values, or a
    non-numeric one, is compared by category; missing values form their own bin.  See the
    module docstring for the details.

    Parameters
    ----------
    reference : numpy.ndarray
        One-dimensional reference sample (e.g. last reviewed week's scores).
    current : numpy.ndarray
        One-dimensional current sample of the same column.
    bins : int, default=10
        Number of equal-frequency reference bins.

    Returns
    -------
    float
        The index, 0 for identical distributions, larger for larger shifts.

    Raises
    ------
    ValidationError
        If ``bins`` is below 2, a sample is empty or not one-dimensional, a numeric
        sample holds infinite values, or one sample is numeric and the other is not.
    """
    _check_bins(bins)
    ref = _sample(reference, which="reference")
    cur = _sample(current, which="current")
    return _psi(ref, cur, bins=bins, which="")


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str],
    policy: Mapping[str, Any],
    bins: int = DEFAULT_BINS,
) -> list[dict[str, Any]]:
    """PSI of each column of ``current`` against ``reference``, judged by the drift policy.

    Parameters
    ----------
    reference : pandas.DataFrame
        Reference rows (e.g. the scoring batch of the reference week).
    current : pandas.DataFrame
        Current rows (e.g. this week's scoring batch).
    columns : sequence of str
        Columns to compare, typically ``"score"`` followed by the model's features.
    policy : mapping
        Thresholds ``{"warn_above": 0.1, "fail_above": 0.25}``: a PSI above
        ``fail_above`` fails, above ``warn_above`` warns, otherwise passes (a PSI exactly
        at a threshold is not above it).
    bins : int, default=10
        Number of equal-frequency reference bins, as in :func:`psi`.

    Returns
    -------
    list of dict
        One row per column, in the order given::

            {"column": "score", "psi": 0.031, "status": "pass",
             "reference_mean": 0.42, "current_mean": 0.44,
             "reference_rows": 5000, "current_rows": 5200}

        Floats are rounded to 12 digits; a mean is ``None`` for a non-numeric column or
        one with no values.

    Raises
    ------
    ValidationError
        If a frame has no rows, ``columns`` is empty, a column is missing from either
        frame, the policy is incomplete or inconsistent, or a column cannot be compared
        (see :func:`psi`).
    """
    warn_above, fail_above = _thresholds(policy)
    _check_bins(bins)
    _check_frames(reference, current, columns=columns)
    return [
        _column_row(reference[column], current[column], column=column, bins=bins, warn=warn_above, fail=fail_above)
        for column in columns
    ]


def histogram_report(
    reference: np.ndarray, current: np.ndarray, *, column: str, policy: Mapping[str, Any], bins: int = DEFAULT_BINS
) -> dict[str, Any]:
    """PSI of one column from counts per fixed bin (aggregates carry score histograms, not rows).

    The fine histograms are merged into ``bins`` equal-width bins first, so the index has
    the same resolution as :func:`psi`; the bins are fixed, not the reference's quantiles.

    Parameters
    ----------
    reference, current : numpy.ndarray
        Counts per fine bin, equal lengths (a multiple of ``bins``).
    column : str
    policy : mapping
        ``{"warn_above": 0.1, "fail_above": 0.25}``.
    bins : int, default=10

    Returns
    -------
    dict
        As a :func:`drift_report` row, with ``"bins": "fixed"`` and no means.
    """
    warn_above, fail_above = _thresholds(policy)
    _check_bins(bins)
    ref = np.asarray(reference, dtype=float).reshape(bins, -1).sum(axis=1)
    cur = np.asarray(current, dtype=float).reshape(bins, -1).sum(axis=1)
    for which, counts in (("reference", ref), ("current", cur)):
        if counts.sum() <= 0:
            raise ValidationError(SAMPLE_EMPTY.format(which=which))
    value = json_number(_index(ref, cur))
    return {
        "column": column, "psi": value, "status": status_for(value, warn_above=warn_above, fail_above=fail_above),
        "reference_mean": None, "current_mean": None, "reference_rows": int(ref.sum()),
        "current_rows": int(cur.sum()), "bins": "fixed",
    }


def counts_report(
    reference: pd.Series, current: pd.Series, *, column: str, policy: Mapping[str, Any], bins: int = DEFAULT_BINS
) -> dict[str, Any]:
    """PSI of one column from its counts per value (cells carry counts, not rows), as :func:`drift_report` on rows.

    A numeric column with more than ``bins`` distinct reference values is cut at the
    reference's quantiles, exactly as :func:`psi` cuts rows (the quantiles are computed
    from the counts); otherwise it is compared value by value, unseen current values in one
    extra bin.

    Parameters
    ----------
    reference, current : pandas.Series
        Rows per value (the index), e.g. leads per amount or per offer.
    column : str
    policy : mapping
        ``{"warn_above": 0.1, "fail_above": 0.25}``.
    bins : int, default=10

    Returns
    -------
    dict
        As a :func:`drift_report` row (means of numeric columns included).
    """
    from ethics.continuous import quantile_of_counts

    warn_above, fail_above = _thresholds(policy)
    _check_bins(bins)
    ref, cur = (counts[counts > 0].groupby(level=0).sum().sort_index() for counts in (reference, current))
    for which, counts in (("reference", ref), ("current", cur)):
        if counts.sum() <= 0:
            raise ValidationError(SAMPLE_EMPTY.format(which=which))
    numeric = pd.api.types.is_numeric_dtype(ref.index) and pd.api.types.is_numeric_dtype(cur.index)
    if numeric and len(ref) > bins:
        values = ref.index.to_numpy(dtype=np.float64)
        edges = np.unique([float(quantile_of_counts(ref.to_numpy(dtype=np.float64), values, p))
                           for p in np.linspace(0.0, 1.0, bins + 1)])
        inner = edges[1:-1]
        ref_counts, cur_counts = (
            np.bincount(np.searchsorted(inner, counts.index.to_numpy(dtype=np.float64), side="right"),
                        weights=counts.to_numpy(dtype=np.float64), minlength=inner.size + 1)
            for counts in (ref, cur))
    else:
        categories = ref.index.union(cur.index, sort=False)
        ref_counts = ref.reindex(categories, fill_value=0).to_numpy(dtype=np.float64)
        cur_counts = cur.reindex(categories, fill_value=0).to_numpy(dtype=np.float64)
        unseen = ref_counts == 0
        if unseen.any():  # every current value unseen in the reference shares one bin, as on rows
            ref_counts = np.append(ref_counts[~unseen], 0.0)
            cur_counts = np.append(cur_counts[~unseen], cur_counts[unseen].sum())
    value = json_number(_index(ref_counts, cur_counts))
    return {
        "column": column, "psi": value, "status": status_for(value, warn_above=warn_above, fail_above=fail_above),
        "reference_mean": _counted_mean(ref) if numeric else None,
        "current_mean": _counted_mean(cur) if numeric else None, "reference_rows": int(ref.sum()),
        "current_rows": int(cur.sum()),
    }


def _counted_mean(counts: pd.Series) -> float | None:
    return json_number(float((counts.index.to_numpy(dtype=np.float64) * counts.to_numpy()).sum() / counts.sum()))


def status_for(value: float, *, warn_above: float, fail_above: float) -> Status:
    """Traffic light of one PSI value; a value exactly at a threshold is not above it.

    Parameters
    ----------
    value : float
        The PSI.
    warn_above : float
        PSI above this warns.
    fail_above : float
        PSI above this fails.

    Returns
    -------
    {"pass", "warn", "fail"}
        The status.
    """
    return judge(value, {"warn_above": warn_above, "fail_above": fail_above})  # type: ignore[return-value]


# -- internals -----------------------------------------------------------------------------------------------------


def _column_row(
    reference: pd.Series, current: pd.Series, *, column: str, bins: int, warn: float, fail: float
) -> dict[str, Any]:
    ref = _sample(reference, which=f"reference column {column!r}")
    cur = _sample(current, which=f"current column {column!r}")
    # Judge the stored (rounded) value, so that the row never contradicts itself.
    value = json_number(_psi(ref, cur, bins=bins, which=f"column {column!r}"))
    return {
        "column": column,
        "psi": value,
        "status": status_for(value, warn_above=warn, fail_above=fail),
        "reference_mean": _mean(ref),
        "current_mean": _mean(cur),
        "reference_rows": int(len(ref)),
        "current_rows": int(len(cur)),
    }


def _psi(ref: np.ndarray, cur: np.ndarray, *, bins: int, which: str) -> float:
    ref_numeric, cur_numeric = _is_numeric(ref), _is_numeric(cur)
    if ref_numeric != cur_numeric:
        raise ValidationError(
            SAMPLE_KIND_MISMATCH.format(
                which=which or "two",
                reference="numeric" if ref_numeric else "not numeric",
                current="numeric" if cur_numeric else "not numeric",
            )
        )
    if ref_numeric and np.unique(ref[~np.isnan(ref)]).size > bins:
        ref_counts, cur_counts = _binned_counts(ref, cur, bins=bins)
    else:
        ref_counts, cur_counts = _category_counts(ref, cur)
    return _index(ref_counts, cur_counts)


def _index(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """PSI from the bin counts of both samples: sum (c - r) * ln(c / r) over floored shares."""
    ref_share = np.maximum(ref_counts / ref_counts.sum(), EPSILON)
    cur_share = np.maximum(cur_counts / cur_counts.sum(), EPSILON)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def _binned_counts(ref: np.ndarray, cur: np.ndarray, *, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts per quantile bin of the reference, open-ended outside, plus a missing bin if needed."""
    ref_missing, cur_missing = np.isnan(ref), np.isnan(cur)
    edges = np.unique(np.quantile(ref[~ref_missing], np.linspace(0.0, 1.0, bins + 1)))
    inner = edges[1:-1]

    def counts(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
        index = np.searchsorted(inner, values[~missing], side="right")
        return np.bincount(index, minlength=inner.size + 1).astype(float)

    ref_counts, cur_counts = counts(ref, ref_missing), counts(cur, cur_missing)
    if ref_missing.any() or cur_missing.any():
        ref_counts = np.append(ref_counts, ref_missing.sum())
        cur_counts = np.append(cur_counts, cur_missing.sum())
    return ref_counts, cur_counts


def _category_counts(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts per reference category, plus one bin for current values unseen in the reference."""
    ref_keys, cur_keys = _category_keys(ref), _category_keys(cur)
    categories = pd.Index(pd.unique(ref_keys))
    ref_counts = pd.Series(ref_keys).value_counts(dropna=False).reindex(categories).to_numpy(dtype=float)
    cur_codes = categories.get_indexer(cur_keys)
    cur_counts = np.bincount(cur_codes[cur_codes >= 0], minlength=categories.size).astype(float)
    unseen = float(np.sum(cur_codes < 0))
    if unseen:
        ref_counts = np.append(ref_counts, 0.0)
        cur_counts = np.append(cur_counts, unseen)
    return ref_counts, cur_counts


def _category_keys(values: np.ndarray) -> np.ndarray:
    """Hashable category keys; every kind of missing value becomes ``None``."""
    if _is_numeric(values):
        return np.where(np.isnan(values), None, values).astype(object)
    return pd.Series(values, dtype=object).where(pd.notna(values), None).to_numpy(dtype=object)


def _sample(values: Any, *, which: str) -> np.ndarray:
    """A one-dimensional sample: float64 with NaN for missing if numeric, else object."""
    if isinstance(values, pd.Series):
        series = values
    else:
        array = np.asarray(values)
        if array.ndim != 1:
            raise ValidationError(SAMPLE_NOT_1D.format(which=which, shape=array.shape))
        series = pd.Series(array)
    if series.empty:
        raise ValidationError(SAMPLE_EMPTY.format(which=which))
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        array = series.to_numpy(dtype="float64", na_value=np.nan)
        infinite = int(np.isinf(array).sum())
        if infinite:
            raise ValidationError(SAMPLE_INFINITE.format(which=which, count=infinite))
        return array
    return series.astype(object).to_numpy(dtype=object)


def _is_numeric(values: np.ndarray) -> bool:
    return values.dtype.kind == "f"


def _mean(values: np.ndarray) -> float | None:
    if not _is_numeric(values) or np.isnan(values).all():
        return None
    return json_number(np.nanmean(values))


def _check_bins(bins: int) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise ValidationError(BINS_INVALID.format(bins=bins))


def _check_frames(reference: pd.DataFrame, current: pd.DataFrame, *, columns: Sequence[str]) -> None:
    for which, frame in (("reference", reference), ("current", current)):
        if len(frame) == 0:
            raise ValidationError(FRAME_EMPTY.format(which=which))
    if len(columns) == 0:
        raise ValidationError(COLUMNS_EMPTY)
    for column in columns:
        for which, frame in (("reference", reference), ("current", current)):
            if column not in frame.columns:
                raise ValidationError(COLUMN_MISSING.format(column=column, which=which))


def _thresholds(policy: Mapping[str, Any]) -> tuple[float, float]:
    values = []
    for key in POLICY_KEYS:
        if key not in policy:
            raise ValidationError(POLICY_MISSING.format(key=key))
        value = policy[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0 or math.isinf(value):
            raise ValidationError(POLICY_NOT_NUMBER.format(key=key, value=value))
        values.append(float(value))
    warn_above, fail_above = values
    if warn_above > fail_above:
        raise ValidationError(POLICY_ORDER.format(warn=warn_above, fail=fail_above))
    return warn_above, fail_above


