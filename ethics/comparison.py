"""Groups compared on metrics from a spec table: values, intervals, disparities, and how to show them.

Every kind of sales decision is assessed the same way once its rows are reduced to
sufficient statistics per group ("cells"): a spec table names per-group metrics (a
formula on the statistics) and disparities (how groups are compared on one or more
metrics), and :func:`assess_groups` turns statistics and their bootstrap resamples into
the numbers :func:`ethics.fairness.assess` reports: per-group values with percentile
intervals, and per disparity its value over all groups, its value over the judged
groups, the worst and best group and the interval of that named comparison.  The
semantics are fairlearn's ``between_groups`` (a disparity over several metrics is the
worst of them), for any statistics, so :mod:`ethics.fairness` (on confusion counts),
:mod:`ethics.multiclass` and :mod:`ethics.ranking` share one implementation of them.

Each spec entry also carries a :class:`Presentation` (label, unit, format, which
direction is worse), so renderers read how to show a number instead of hard-coding it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ethics.errors import ValidationError
from ethics.lazy import lazy_module
from ethics.presentation import Presentation
from ethics.store import json_number

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())

# Units a presentation names.  VALUE stands for the unit of the model's own values
# (the expected value of an offer, e.g. EUR), which only the manifest knows.
LEADS = "leads"
SHARE = "share"
RATIO = "ratio"
EXPOSURE = "exposure"
CHI_SQUARE = "chi-square"
PROBABILITY = "probability"
DEGREES = "degrees of freedom"

CELL_COLUMN_MISSING = "The cells need column {column!r} (columns: {columns})."

Kind = Literal["difference", "ratio"]
Stats = Mapping[str, "np.ndarray"]  # a string: the alias must not import numpy
Formula = Callable[[Stats], "np.ndarray"]


def disparity_presentation(label: str, kind: Kind, *, unit: str) -> Presentation:
    """The presentation of a comparison of groups on a metric measured in ``unit``.

    A ratio is unitless and worse when lower; a difference keeps the metric's unit and is
    worse when higher.  Both show two decimals, as the policy's thresholds are written.
    """
    if kind == "ratio":
        return Presentation(RATIO, "{:.2f}", "lower", label=label)
    return Presentation(unit, "{:.2f}" if unit in (SHARE, EXPOSURE) else "{:,.2f}", "higher", label=label)


# -- formulas ------------------------------------------------------------------------------


def rate(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, and 0 where the denominator is 0 (as fairlearn and scikit-learn report)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.broadcast_to(np.asarray(denominator, dtype=np.float64), numerator.shape)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def compare(values: np.ndarray, kind: str) -> np.ndarray:
    """Compare groups along the last axis: max − min, or min / max (fairlearn's between_groups)."""
    low, high = values.min(axis=-1), values.max(axis=-1)
    return high - low if kind == "difference" else _ratio(low, high)


def _ratio(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(high > 0, low / np.where(high > 0, high, 1), np.nan)


def worst(per_metric: Sequence[np.ndarray], kind: Kind) -> np.ndarray:
    """The worst of several metrics' comparisons: the largest difference or the smallest ratio."""
    if len(per_metric) == 1:
        return per_metric[0]
    stacked = np.stack(per_metric)
    # A metric that is undefined (a ratio of 0/0) does not hide the others, as in fairlearn.
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(stacked, axis=0) if kind == "difference" else np.nanmin(stacked, axis=0)


# -- intervals -----------------------------------------------------------------------------


def interval(samples: np.ndarray, confidence: float) -> list[float | None]:
    """Percentile interval of the finite bootstrap samples; ``[None, None]`` when none is finite."""
    tail = (1 - confidence) / 2 * 100
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return [None, None]
    low, high = np.percentile(finite, [tail, 100 - tail])
    return [json_number(low), json_number(high)]


def group_intervals(samples: np.ndarray, confidence: float) -> list[list[float | None]]:
    """:func:`interval` of each group: samples of shape (resamples, groups).

    The groups without undefined samples take one percentile pass (the same numbers as
    group by group); the others are done one by one over their finite samples.
    """
    tail = (1 - confidence) / 2 * 100
    finite = np.isfinite(samples)
    bounds = np.full((2, samples.shape[1]), np.nan)
    whole = finite.all(axis=0)
    if whole.any():
        bounds[:, whole] = np.percentile(samples[:, whole], [tail, 100 - tail], axis=0)
    for column in np.flatnonzero(~whole & finite.any(axis=0)):
        bounds[:, column] = np.percentile(samples[finite[:, column], column], [tail, 100 - tail])
    return [[json_number(low), json_number(high)] for low, high in bounds.T]


def multinomial(counts: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Resample each row of ``counts`` (groups, categories) multinomially with its own total and proportions.

    Resampling a group's leads with replacement and counting them per category is
    exactly this draw, so the bootstrap needs the counts, not the rows.

    Returns
    -------
    ndarray of shape (resamples, groups, categories)
    """
    counts = np.rint(np.asarray(counts, dtype=np.float64)).astype(np.int64)
    totals = counts.sum(axis=1)
    proportions = counts / np.maximum(totals, 1)[:, None]
    return rng.multinomial(totals, proportions, size=(resamples, len(totals)))


# -- the comparison ------------------------------------------------------------------------


@dataclass(frozen=True)
class Compared:
    """Per-group values and intervals of every metric, and every disparity's entry.

    ``values`` maps a metric key to its values per group; ``intervals`` maps it to a
    ``[low, high]`` per group (empty without resamples); ``disparities`` maps a disparity
    key to its entry (the keys of :func:`ethics.fairness.assess`'s entries).
    """

    values: dict[Hashable, np.ndarray]
    intervals: dict[Hashable, list[list[float | None]]]
    disparities: dict[Hashable, dict[str, Any]]


def assess_groups(
    *,
    labels: Sequence[str],
    stats: Stats,
    boot: Stats | None,
    metrics: Mapping[Hashable, Formula],
    disparities: Mapping[Hashable, tuple[Kind, Sequence[Hashable]]],
    judged: np.ndarray,
    confidence: float,
) -> Compared:
    """Compare the groups of one grouping on every metric and disparity.

    Parameters
    ----------
    labels : sequence of str
        Group labels, in the order of the statistics' last axis.
    stats : mapping of str to ndarray
        Sufficient statistics, groups on the last axis.
    boot : mapping of str to ndarray, optional
        The same statistics resampled, resamples on the first axis; None for no intervals.
    metrics : mapping
        Metric key → formula on statistics, giving values with groups on the last axis.
        Formulas must work group by group (elementwise), so the judged groups' values are a
        slice of all groups' values.
    disparities : mapping
        Disparity key → (``"difference"`` or ``"ratio"``, metric keys compared).  Over
        several metrics the disparity is the worst of them (largest difference, smallest ratio).
    judged : ndarray of bool
        Groups large enough to be judged.
    confidence : float
        Interval coverage.

    Returns
    -------
    Compared
        Each disparity entry holds ``value`` (over all groups) and ``judged_groups``; with at
        least two judged groups also ``judged_value``, ``metric`` (the key behind the worst
        case), ``worst_group``/``worst_value`` (lowest), ``best_group``/``best_value``
        (highest) and, with resamples, ``interval`` of that worst-against-best comparison.
    """
    judged = np.asarray(judged, dtype=bool)
    values = {key: np.asarray(formula(stats), dtype=np.float64) for key, formula in metrics.items()}
    samples = {} if boot is None else {key: np.asarray(formula(boot), dtype=np.float64)
                                       for key, formula in metrics.items()}
    intervals = {key: group_intervals(value, confidence) for key, value in samples.items()}
    judged_labels = [label for label, keep in zip(labels, judged, strict=True) if keep]
    entries = {}
    for name, (kind, keys) in disparities.items():
        entry: dict[str, Any] = {
            "value": json_number(worst([compare(values[k], kind) for k in keys], kind)),
            "judged_groups": int(judged.sum()),
        }
        if judged.sum() >= 2:
            chosen = {k: values[k][judged] for k in keys}
            entry["judged_value"] = json_number(worst([compare(v, kind) for v in chosen.values()], kind))
            key, low, high = _extremes(chosen, kind)
            entry |= {
                "metric": key,
                "worst_group": judged_labels[low],
                "worst_value": json_number(chosen[key][low]),
                "best_group": judged_labels[high],
                "best_value": json_number(chosen[key][high]),
            }
            if key in samples:
                entry["interval"] = interval(_pair(samples[key][:, judged], low, high, kind), confidence)
        entries[name] = entry
    return Compared(values, intervals, entries)


def _extremes(values: Mapping[Hashable, np.ndarray], kind: Kind) -> tuple[Hashable, int, int]:
    """The metric and the (lowest, highest) group positions behind a disparity's worst case (first on ties)."""
    best: tuple[float, Hashable, int, int] | None = None
    for key, value in values.items():
        gap = compare(value, kind)
        score = float(gap) if kind == "difference" else -float(np.nan_to_num(gap, nan=1.0))
        if best is None or score > best[0]:
            best = (score, key, int(np.argmin(value)), int(np.argmax(value)))
    assert best is not None
    return best[1], best[2], best[3]


def _pair(samples: np.ndarray, low: int, high: int, kind: Kind) -> np.ndarray:
    """The named comparison (worst against best group) in every resample, as :mod:`ethics.fairness` has it.

    The interval is of the comparison the verdict names: an interval of "max − min over
    all groups" would sit above the observed value whenever groups are noisy.
    """
    if kind == "difference":
        return compare(np.stack([samples[:, low], samples[:, high]], axis=-1), kind)
    return _ratio(samples[:, low], samples[:, high])


# -- cells ---------------------------------------------------------------------------------


def require_cell_columns(cells: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise :data:`CELL_COLUMN_MISSING` for the first of ``columns`` that the cells lack."""
    for column in columns:
        if column not in cells.columns:
            raise ValidationError(CELL_COLUMN_MISSING.format(column=column, columns=", ".join(cells.columns)))


def cells_labelled(cells: pd.DataFrame, *, mixed: str, column: str = "label") -> bool:
    """Whether the cells carry a label in every cell (True) or in none (False).

    Raises
    ------
    ValidationError
        ``mixed`` (formatted with the 1-based ``row`` of the first unlabelled cell) when only some cells do.
    """
    if column not in cells.columns:
        return False
    missing = cells[column].isna().to_numpy()
    labelled = not missing.all()
    if labelled and missing.any():
        raise ValidationError(mixed.format(row=int(np.argmax(missing)) + 1))
    return labelled


def occupied_rows(cells: pd.DataFrame, leads: np.ndarray, *, empty: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The cells that hold leads (renumbered from 0) and the mask that keeps them.

    Raises
    ------
    ValidationError
        ``empty`` when no cell holds a lead.
    """
    keep = leads > 0
    if not keep.any():
        raise ValidationError(empty)
    return cells[keep].reset_index(drop=True), keep

#: Above this many possible cells the rows' keys are counted with a sort instead of a bincount.
_DENSE_CELLS = 1 << 22


def occupied_cells(parts: Sequence[tuple[np.ndarray, int]]) -> tuple[list[np.ndarray], np.ndarray]:
    """The occupied combinations of several codes, and the cell of each row.

    Parameters
    ----------
    parts : sequence of (codes, size)
        Integer codes in ``[0, size)`` of each key, one entry per row.

    Returns
    -------
    decoded : list of ndarray
        Each key's code of every occupied cell, cells in key order.
    inverse : ndarray
        The cell of each row (for ``np.bincount(inverse, weights=...)``).
    """
    size = 1
    key = np.zeros(len(parts[0][0]), dtype=np.int64)
    for codes, width in parts:
        key = key * width + codes
        size *= width
    if size <= _DENSE_CELLS:  # a bincount over every combination: no sort of the rows
        present = np.flatnonzero(np.bincount(key, minlength=size))
        renumber = np.zeros(size, dtype=np.int64)
        renumber[present] = np.arange(len(present))
        inverse = renumber[key]
    else:
        present, inverse = np.unique(key, return_inverse=True)
    decoded = []
    for _, width in reversed(parts):
        present, code = np.divmod(present, width)
        decoded.append(code)
    return decoded[::-1], inverse
