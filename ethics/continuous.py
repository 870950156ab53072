"""Group fairness of amounts: a discount in %, a price in EUR.

The same architecture as :mod:`ethics.fairness`, for a continuous outcome:
**rows → cells → results**.  A *cell* is one (control stratum, group, value) with the
number of rows that got that value and, when a realised value (the label) is known,
the sums ``label_sum``, ``abs_error_sum`` and ``squared_error_sum`` of its rows.  Every
result (means, medians, the Kolmogorov–Smirnov statistic, the Wasserstein distance, the
share above a quantile, the errors, every disparity and its bootstrap interval) is a
function of the cells alone, so cells computed elsewhere (SQL, Spark) and imported with
:func:`assess_continuous_cells` give the same numbers as the rows.

Values and resolution
    With ``resolution`` (e.g. ``0.5`` for half-percent discounts, ``0.01`` for cents)
    every value is first rounded to the nearest multiple: ``np.rint(value / resolution)
    * resolution`` (halves to even, as numpy does), and the metrics and errors are of the
    rounded values.  Rounding twice changes nothing, so imported cells may be rounded
    again.  With ``resolution=None`` the exact values are the keys; the cells are dense
    (strata × groups × distinct values), so more than :data:`MAX_CELLS` of them are
    refused: pass a resolution.

The quantile
    ``above_quantile`` is the share of a group's rows *strictly greater* than the
    overall ``p``-th quantile of all rows (of every stratum), numpy's default
    ``np.quantile(values, p)`` (linear interpolation), computed exactly from the counts.

Against what
    ``ks`` and ``wasserstein`` compare a group with *the rest*: every other row of its
    grouping (of its stratum, with a control), judged or not.  The other disparities
    compare the *worst* group with a *reference* group: by default the most favoured
    group (the highest mean when a higher outcome favours the customer,
    ``favourable="higher"``, as for a discount; the lowest for a price), or the group
    served best (the lowest error); or a group named by the caller.  With the default
    reference, differences are ``max - min`` and ratios ``min / max`` as in fairlearn's
    ``MetricFrame.difference()`` / ``.ratio()``, which the tests use as the oracle.

Bootstrap
    As in :mod:`ethics.fairness`, resampling each group's rows with replacement is drawing
    its value counts from a multinomial with the observed shares, so the counts are
    resampled (seeded ``numpy.random.default_rng(seed)``) and the quantile, the rest and
    every metric are recomputed in each resample; intervals are percentile intervals of
    the named comparison (worst against reference).  With a control the resampling is
    stratified by stratum × group.  The label sums of a resampled cell are its count
    times the cell's mean: rows of one cell share a value, not a label, so the variation
    of the errors *within* a cell is not resampled and error intervals are a little narrow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ethics.comparison import RATIO, SHARE, group_intervals, interval
from ethics.errors import ValidationError
from ethics.fairness import groupings
from ethics.lazy import lazy_module
from ethics.policy import interval_crosses, judge
from ethics.presentation import VALUE, Presentation, Worse
from ethics.store import json_number

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())

#: The columns of a cells table after the attributes and the control, in order; the last three only with labels.
CELL_COLUMNS = ("value", "leads", "label_sum", "abs_error_sum", "squared_error_sum")
LABEL_COLUMNS = CELL_COLUMNS[2:]
#: The most cells (strata × groups × distinct values) one grouping may have.
MAX_CELLS = 2**23
#: The most resampled cells held in memory at once (the bootstrap runs in chunks of resamples).
_CHUNK = 2**22

NOT_A_NUMBER = "column {column!r}, row {row}: {value!r} is not a number."
MISSING_NUMBER = "column {column!r}, row {row}: the value is missing; every row needs a number."
NOT_FINITE = "column {column!r}, row {row}: {value!r} is not a finite number."
BAD_LEADS = "column 'leads', row {row}: {value!r} is not a whole number of rows (0 or more)."
BAD_RESOLUTION = "resolution must be a positive number, or None for exact values; got {resolution!r}."
BAD_QUANTILE = "quantile must be between 0 and 1; got {quantile!r}."
BAD_CONFIDENCE = "confidence must be between 0 and 1 (exclusive); got {confidence!r}."
BAD_FAVOURABLE = "favourable must be 'higher' (e.g. a discount) or 'lower' (e.g. a price); got {favourable!r}."
NO_COLUMN = "Column {column!r} is not in the {data} (columns: {columns})."
NO_ATTRIBUTES = "Continuous fairness needs at least one sensitive attribute."
NO_ROWS = "Continuous fairness needs at least one row; the {data} is empty."
LENGTHS = "values, groups, labels and control need one entry per row; got lengths {lengths}."
NAME_CLASH = "Column {column!r} is used twice ({roles}); give each role its own column."
PARTIAL_LABELS = "The cells table has {present} but not {missing}: give all of {expected} or none of them."
UNKNOWN_REFERENCE = "Reference group {group!r} is not a group of {grouping!r} (groups: {groups})."
MIXED_DATASETS = "Continuous fairness assesses one dataset's cells at a time; these hold {datasets} (split them first)."
TOO_MANY_CELLS = (
    "{grouping!r} has {cells:,} cells ({strata} strata × {groups} groups × {values:,} distinct values), "
    "more than {limit:,}."
)
TOO_MANY_CELLS_HINT = "Pass a resolution (e.g. 0.01 for cents) so the values fall on a grid."
TOO_FEW = "Too few to judge: fewer than two groups (or not the reference group) have enough rows to compare."
UNDEFINED = "Cannot judge: the {label} is undefined (the reference group's {metric} is not above 0)."


# -- the spec: what is computed, and how it is shown ---------------------------------------


@dataclass(frozen=True)
class Metric:
    """A per-group metric of a continuous outcome, computed from the cells.

    ``presentation`` is its label, unit and format: the unit is :data:`~ethics.presentation.VALUE`
    (the caller's unit, e.g. "EUR", by :meth:`~ethics.presentation.Presentation.in_unit`),
    ``"share"`` (0–1) or ``"rows"``.  ``better`` says which group is served best, the
    default reference: ``"favourable"`` follows the outcome's favourable direction (so its
    presentation names no worse direction), ``"lower"`` is an error or a distance, None has
    no direction.
    """

    presentation: Presentation
    needs_labels: bool
    better: Literal["favourable", "lower"] | None


def _shown(label: str, unit: str, pattern: str, worse: Worse = None) -> Presentation:
    return Presentation(unit, pattern, worse, label=label)


METRICS: dict[str, Metric] = {
    "count": Metric(_shown("Rows", "rows", "{:,.0f}"), False, None),
    "mean": Metric(_shown("Mean", VALUE, "{:.2f}"), False, "favourable"),
    "median": Metric(_shown("Median", VALUE, "{:.2f}"), False, "favourable"),
    "above_quantile": Metric(_shown("Share above the overall quantile", SHARE, "{:.1%}"), False, "favourable"),
    "ks": Metric(_shown("KS statistic against the rest", SHARE, "{:.3f}", "higher"), False, "lower"),
    "wasserstein": Metric(_shown("Wasserstein distance to the rest", VALUE, "{:.2f}", "higher"), False, "lower"),
    "mae": Metric(_shown("Mean absolute error", VALUE, "{:.2f}", "higher"), True, "lower"),
    "mean_residual": Metric(_shown("Mean residual (prediction − realised)", VALUE, "{:.2f}"), True, "favourable"),
    "rmse": Metric(_shown("Root mean squared error", VALUE, "{:.2f}", "higher"), True, "lower"),
}


@dataclass(frozen=True)
class Disparity:
    """How groups are compared on one metric, and how the comparison is presented.

    ``kind`` is ``"difference"`` (``|worst - reference|``, in the metric's unit), ``"ratio"``
    (``worst / reference``) or ``"largest"`` (the largest value of a group-against-the-rest
    metric).  ``presentation`` is its label, unit, format and which values are worse
    (``"higher"``, or ``"away_from_one"`` for a ratio); ``sentence`` is the verdict's
    template, ``directions`` the words for a worst group below / above its reference.
    """

    presentation: Presentation
    metric: str
    kind: Literal["difference", "ratio", "largest"]
    sentence: str
    directions: tuple[str, str] = ("less", "more")

    @property
    def needs_labels(self) -> bool:
        """Whether the compared metric needs realised values."""
        return METRICS[self.metric].needs_labels

    @property
    def against(self) -> Literal["reference", "rest"]:
        """Whether the worst group is compared with a reference group or with the rest."""
        return "rest" if self.kind == "largest" else "reference"


DISPARITIES: dict[str, Disparity] = {
    "mean_difference": Disparity(
        _shown("Difference of means", VALUE, "{:.2f}", "higher"), "mean", "difference",
        "{worst} {verb} on average {value} {unit} {direction} than {reference}"),
    "mean_ratio": Disparity(
        _shown("Ratio of means", RATIO, "{:.2f}", "away_from_one"), "mean", "ratio",
        "{worst} {verb} on average {value} times the {unit} of {reference}"),
    "ks": Disparity(
        _shown("Largest KS statistic against the rest", SHARE, "{:.3f}", "higher"), "ks", "largest",
        "The distribution for {worst} differs most from everyone else's, a Kolmogorov–Smirnov statistic of {value}"),
    "wasserstein": Disparity(
        _shown("Largest Wasserstein distance to the rest", VALUE, "{:.2f}", "higher"), "wasserstein", "largest",
        "{worst} are furthest from everyone else, a Wasserstein distance of {value} {unit}"),
    "above_quantile_ratio": Disparity(
        _shown("Ratio of shares above the overall quantile", RATIO, "{:.2f}", "away_from_one"), "above_quantile",
        "ratio",
        "{worst_value} of {worst} are above the overall {quantile} against {reference_value} of {reference}: "
        "{value} times as often"),
    "mae_difference": Disparity(
        _shown("Difference of mean absolute errors", VALUE, "{:.2f}", "higher"), "mae", "difference",
        "The model's mean absolute error for {worst} is {worst_value} {unit}, {value} {direction} than for "
        "{reference}", ("lower", "higher")),
    "mean_residual_difference": Disparity(
        _shown("Difference of mean residuals", VALUE, "{:.2f}", "higher"), "mean_residual", "difference",
        "Measured against the realised values, {worst} {verb} on average {value} {unit} {direction} "
        "than {reference}"),
}

#: Unit texts of everything that is not in the outcome's own unit (keyed by the presentations' units).
UNITS = {RATIO: "×", SHARE: "share (0–1)", "rows": "rows"}


def unit_of(spec: Metric | Disparity, *, unit: str) -> str:
    """The unit a metric or disparity is shown in.

    Parameters
    ----------
    spec : Metric or Disparity
        An entry of :data:`METRICS` or :data:`DISPARITIES`.
    unit : str
        The outcome's unit, e.g. ``"% discount"`` or ``"EUR"``.

    Returns
    -------
    str
        ``unit`` for amounts, else the fixed text of :data:`UNITS`.
    """
    shown = spec.presentation
    return shown.in_unit(unit).unit if shown.unit == VALUE else UNITS[shown.unit]


# -- input ---------------------------------------------------------------------------------


def _flat(values: Any) -> np.ndarray:
    return np.asarray(values).ravel()


def _numbers(values: Any, *, column: str) -> np.ndarray:
    """Values as float64, refusing text and missing or infinite values (first bad row named, 1-based)."""
    array = _flat(values)
    if array.dtype.kind not in "iuf":
        parsed = pd.to_numeric(pd.Series(array, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(parsed) & ~pd.isna(array)
        if bad.any():
            row = int(np.argmax(bad))
            raise ValidationError(NOT_A_NUMBER.format(column=column, row=row + 1, value=_plain(array[row])))
        array = parsed
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.argmax(bad))
        message = MISSING_NUMBER if np.isnan(array[row]) else NOT_FINITE
        raise ValidationError(message.format(column=column, row=row + 1, value=_plain(array[row])))
    return array


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _check_resolution(resolution: float | None) -> None:
    if resolution is not None and not (isinstance(resolution, int | float) and resolution > 0):
        raise ValidationError(BAD_RESOLUTION.format(resolution=resolution))


def _check_options(*, quantile: float, confidence: float, favourable: str) -> None:
    if not 0 <= quantile <= 1:
        raise ValidationError(BAD_QUANTILE.format(quantile=quantile))
    if not 0 < confidence < 1:
        raise ValidationError(BAD_CONFIDENCE.format(confidence=confidence))
    if favourable not in ("higher", "lower"):
        raise ValidationError(BAD_FAVOURABLE.format(favourable=favourable))


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], *, data: str) -> None:
    for column in columns:
        if column not in frame.columns:
            names = ", ".join(map(str, frame.columns))
            raise ValidationError(NO_COLUMN.format(column=column, data=data, columns=names))


def _check_roles(roles: Mapping[str, Sequence[str]]) -> None:
    """Attributes, control and the cells' own columns must all have distinct names."""
    seen: dict[str, str] = {}
    for role, names in roles.items():
        for name in names:
            if name in seen:
                raise ValidationError(NAME_CLASH.format(column=name, roles=f"{seen[name]} and {role}"))
            seen[name] = role


def _on_grid(values: np.ndarray, resolution: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values (rounded to the resolution) and each row's position among them.

    On a resolution's grid with a modest range the positions come from a bincount of the
    whole steps (no sort); otherwise from ``np.unique``.  Either way a value is
    ``np.rint(value / resolution) * resolution``.
    """
    if resolution is not None:
        steps = np.rint(values / resolution)
        if steps.size and steps.max() - steps.min() <= 4 * steps.size + 1024:
            low = int(steps.min())
            offset = (steps - low).astype(np.int64)
            present = np.flatnonzero(np.bincount(offset))
            renumber = np.zeros(int(present[-1]) + 1, dtype=np.int64)
            renumber[present] = np.arange(len(present))
            return (present + low).astype(np.float64) * resolution, renumber[offset]
        values = steps * resolution
    grid, index = np.unique(values, return_inverse=True)
    return grid, index.ravel()


def _dense_keys(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys in order and each row's position among them (a bincount when the key space is small)."""
    if size <= max(4 * keys.size, 1 << 20):
        present = np.flatnonzero(np.bincount(keys, minlength=size))
        renumber = np.zeros(size, dtype=np.int64)
        renumber[present] = np.arange(len(present))
        return present, renumber[keys]
    present, index = np.unique(keys, return_inverse=True)
    return present, index.ravel()


# -- rows → cells ---------------------------------------------------------------------------


def cells_table(
    frame: pd.DataFrame,
    *,
    outcome: str,
    attributes: Sequence[str],
    label: str | None = None,
    control: str | None = None,
    bands: Mapping[str, Sequence[float]] | None = None,
    resolution: float | None = None,
) -> pd.DataFrame:
    """The cells of the rows: one row per (attributes, control, value) that occurs.

    Parameters
    ----------
    frame : DataFrame
        One row per decision.
    outcome : str
        Column of the decided amount (the prediction), e.g. ``"discount"``.
    attributes : sequence of str
        Sensitive attributes; the cells are those of their full intersection.
    label : str, optional
        Column of the realised (true) value; adds the error sums.
    control : str, optional
        Column of a legitimate factor (e.g. a deal-size band); its values are strata.
    bands : mapping, optional
        Band edges per numeric attribute or control (see :func:`ethics.fairness.band`).
    resolution : float, optional
        Round values to this step first; None keeps the exact values.

    Returns
    -------
    DataFrame
        Columns: the attributes (group labels, banded, ``(missing)`` for missing), the
        control if any, then ``value``, ``leads`` (rows in the cell) and, with a label,
        ``label_sum``, ``abs_error_sum`` and ``squared_error_sum`` (of ``value - label``);
        sorted by attributes, control and value.

    Raises
    ------
    ValidationError
        A missing column, no rows, a value or label that is not a finite number, a bad
        resolution, or a column used for two roles.
    """
    keys = [*attributes, *([control] if control else [])]
    _check_roles({"attribute": list(attributes), "control": [control] if control else [], "cell": CELL_COLUMNS})
    if not attributes:
        raise ValidationError(NO_ATTRIBUTES)
    _check_columns(frame, [outcome, *keys, *([label] if label else [])], data="data")
    if frame.empty:
        raise ValidationError(NO_ROWS.format(data="data"))
    _check_resolution(resolution)
    values = _numbers(frame[outcome], column=outcome)
    grid, value_index = _on_grid(values, resolution)
    coded = groupings(frame, attributes=keys, bands=bands, intersections=False)
    combined = np.zeros(len(frame), dtype=np.int64)
    size = 1
    for grouping in coded:
        combined = combined * len(grouping.labels) + grouping.codes
        size *= len(grouping.labels)
    present, cell = _dense_keys(combined * len(grid) + value_index, size * len(grid))
    table: dict[str, Any] = {}
    rest, position = np.divmod(present, len(grid))
    for grouping in reversed(coded):
        rest, code = np.divmod(rest, len(grouping.labels))
        table[grouping.name] = np.asarray(grouping.labels, dtype=object)[code]
    table = {key: table[key] for key in keys}
    table["value"] = grid[position]
    table["leads"] = np.bincount(cell, minlength=len(present)).astype(np.int64)
    if label:
        realised = _numbers(frame[label], column=label)
        errors = grid[value_index] - realised
        table["label_sum"] = np.bincount(cell, weights=realised, minlength=len(present))
        table["abs_error_sum"] = np.bincount(cell, weights=np.abs(errors), minlength=len(present))
        table["squared_error_sum"] = np.bincount(cell, weights=errors * errors, minlength=len(present))
    return pd.DataFrame(table)


@dataclass(frozen=True)
class ContinuousCells:
    """The cells of one grouping, dense: arrays of shape (strata, groups, values).

    Attributes
    ----------
    values : ndarray of shape (values,)
        The distinct values, sorted (rounded to the resolution, if one was given).
    groups : list of str
        Group labels, in the order of the second axis.
    strata : list of str or None
        Control strata, in the order of the first axis; None without a control (one stratum).
    counts : ndarray
        Rows per cell (whole numbers, as float64).
    label_sum, abs_error_sum, squared_error_sum : ndarray or None
        Per cell, the sum of the realised values and of ``|value - label|`` and
        ``(value - label)**2``; None without labels.
    """

    values: np.ndarray
    groups: list[str]
    strata: list[str] | None
    counts: np.ndarray
    label_sum: np.ndarray | None = None
    abs_error_sum: np.ndarray | None = None
    squared_error_sum: np.ndarray | None = None

    @property
    def sums(self) -> dict[str, np.ndarray]:
        """The label sums by column name; empty without labels."""
        if self.label_sum is None:
            return {}
        return {"label_sum": self.label_sum, "abs_error_sum": self.abs_error_sum,
                "squared_error_sum": self.squared_error_sum}


def continuous_cells(
    values: Any,
    *,
    groups: Any,
    labels: Any = None,
    control: Any = None,
    resolution: float | None = None,
) -> ContinuousCells:
    """The cells of one grouping from 1-d containers (list, array, Series, one-column DataFrame).

    Parameters
    ----------
    values : 1-d container of numbers
        The decided amounts; read by position.
    groups : 1-d container
        Each row's group; missing values are the group ``(missing)``, sorted last.
    labels : 1-d container of numbers, optional
        Realised values.
    control : 1-d container, optional
        Each row's control stratum.
    resolution : float, optional
        Round values to this step first.

    Returns
    -------
    ContinuousCells
        The grouping's cells (the same as :func:`cells_table` gives, made dense).

    Raises
    ------
    ValidationError
        Containers of different lengths, or a value or label that is not a finite number
        (the columns are called ``values`` and ``labels`` in the message).
    """
    columns = {"groups": groups, "values": values, "labels": labels, "control": control}
    columns = {name: _flat(column) for name, column in columns.items() if column is not None}
    lengths = {len(column) for column in columns.values()}
    if len(lengths) > 1:
        raise ValidationError(LENGTHS.format(lengths=", ".join(f"{k} {len(v)}" for k, v in columns.items())))
    frame = pd.DataFrame(columns)
    options = {"label": "labels" if labels is not None else None, "control": "control" if control is not None else None}
    table = cells_table(frame, outcome="values", attributes=["groups"], resolution=resolution, **options)
    ((_, cells),) = _grouping_cells(table, attributes=["groups"], control=options["control"], resolution=resolution)
    return cells


# -- cells table → dense cells per grouping -------------------------------------------------


def _table_arrays(
    table: pd.DataFrame, *, attributes: Sequence[str], control: str | None
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The occupied rows of a cells table, validated, and its numeric columns."""
    keys = [*attributes, *([control] if control else [])]
    _check_roles({"attribute": list(attributes), "control": [control] if control else [],
                  "cell": [*CELL_COLUMNS, "dataset"]})
    if not attributes:
        raise ValidationError(NO_ATTRIBUTES)
    _check_columns(table, [*keys, "value", "leads"], data="cells table")
    if "dataset" in table.columns and table["dataset"].nunique() > 1:
        datasets = ", ".join(sorted(map(str, table["dataset"].unique())))
        raise ValidationError(MIXED_DATASETS.format(datasets=datasets))
    present = [c for c in LABEL_COLUMNS if c in table.columns]
    if present and len(present) < len(LABEL_COLUMNS):
        missing = [c for c in LABEL_COLUMNS if c not in present]
        raise ValidationError(PARTIAL_LABELS.format(present=", ".join(present), missing=", ".join(missing),
                                                    expected=", ".join(LABEL_COLUMNS)))
    leads = _numbers(table["leads"], column="leads")
    bad = (leads < 0) | (leads != np.floor(leads))
    if bad.any():
        row = int(np.argmax(bad))
        raise ValidationError(BAD_LEADS.format(row=row + 1, value=_plain(table["leads"].iloc[row])))
    arrays = {"leads": leads, "value": _numbers(table["value"], column="value")}
    arrays.update({column: _numbers(table[column], column=column) for column in present})
    occupied = leads > 0
    if not occupied.any():
        raise ValidationError(NO_ROWS.format(data="cells table"))
    return table[occupied].reset_index(drop=True), {name: array[occupied] for name, array in arrays.items()}


def _grouping_cells(
    table: pd.DataFrame, *, attributes: Sequence[str], control: str | None, resolution: float | None,
    group_names: Mapping[str, Mapping[str, str]] | None = None,
) -> list[tuple[Any, ContinuousCells]]:
    """Every grouping of a cells table (each attribute, every intersection) with its dense cells."""
    _check_resolution(resolution)
    table, arrays = _table_arrays(table, attributes=attributes, control=control)
    grid, value_index = _on_grid(arrays["value"], resolution)
    strata: list[str] | None = None
    stratum = np.zeros(len(table), dtype=np.int64)
    if control:
        (coded,) = groupings(table, attributes=[control])
        stratum, strata = coded.codes, coded.labels
    sums = [name for name in LABEL_COLUMNS if name in arrays]
    result = []
    for grouping in groupings(table, attributes=attributes, group_names=group_names):
        shape = (len(strata or [None]), len(grouping.labels), len(grid))
        size = shape[0] * shape[1] * shape[2]
        if size > MAX_CELLS:
            raise ValidationError(
                TOO_MANY_CELLS.format(grouping=grouping.name, cells=size, strata=shape[0], groups=shape[1],
                                      values=shape[2], limit=MAX_CELLS), hint=TOO_MANY_CELLS_HINT)
        flat = (stratum * shape[1] + grouping.codes) * shape[2] + value_index

        def dense(weights: np.ndarray, flat: np.ndarray = flat, shape: tuple = shape, size: int = size) -> np.ndarray:
            return np.bincount(flat, weights=weights, minlength=size).reshape(shape)

        cells = ContinuousCells(grid, grouping.labels, strata, dense(arrays["leads"]),
                                **{name: dense(arrays[name]) for name in sums})
        result.append((grouping, cells))
    return result


# -- cells → metrics ------------------------------------------------------------------------


def _at_rank(cum: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Position of the value of 0-based rank ``rank`` given cumulative counts along the last axis."""
    return np.argmax(cum > rank[..., None], axis=-1)


def quantile_of_counts(counts: np.ndarray, values: np.ndarray, p: float | np.ndarray) -> np.ndarray:
    """``np.quantile(rows, p)`` (linear method) from value counts along the last axis, step by step as numpy.

    ``values`` are sorted ascending; ``counts`` are the rows per value (drift cuts amounts at
    the reference's quantiles with it too).

    numpy takes the order statistics around the virtual index ``(n - 1) * p`` and
    interpolates with ``_lerp``, which counts back from the upper one when the weight is
    at least 0.5; doing the same keeps the result identical, not just close.
    """
    n = counts.sum(axis=-1)
    cum = np.cumsum(counts, axis=-1)
    virtual = (n - 1) * p
    last = virtual >= n - 1
    previous = np.where(last, n - 1, np.floor(virtual))
    below, above = values[_at_rank(cum, previous)], values[_at_rank(cum, np.where(last, n - 1, previous + 1))]
    gamma = virtual - np.floor(virtual)
    difference = above - below
    return np.where(gamma >= 0.5, above - difference * (1 - gamma), below + difference * gamma)


def _metrics(counts: np.ndarray, sums: Mapping[str, np.ndarray], values: np.ndarray, q: Any) -> dict[str, np.ndarray]:
    """Every :data:`METRICS` entry from counts of shape (..., groups, values).

    ``sums`` are the label sums per group (shape ``(..., groups)``); the rest of a group
    is the other groups along the groups axis; ``q`` (shape ``...``) is the overall
    quantile.  Empty groups, and groups without a rest for ``ks`` and ``wasserstein``,
    give NaN.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        n = counts.sum(axis=-1)
        rest = n.sum(axis=-1, keepdims=True) - n
        cum = np.cumsum(counts, axis=-1)
        cum_rest = np.cumsum(counts.sum(axis=-2, keepdims=True), axis=-1) - cum
        # The CDFs of the group and of the rest at every value, as scipy's ks_2samp and
        # wasserstein_distance evaluate them (counts over sizes, so the same floats).
        gaps = np.divide(cum, n[..., None])
        cum_rest /= rest[..., None]
        gaps -= cum_rest
        np.abs(gaps, out=gaps)
        valid = (n > 0) & (rest > 0)
        # Rows at or below the quantile: the cumulative count at the last value <= q.
        position = np.asarray(np.searchsorted(values, np.asarray(q, dtype=np.float64), side="right"))
        index = np.broadcast_to(np.maximum(position - 1, 0)[..., None, None], (*cum.shape[:-1], 1))
        at_or_below = np.take_along_axis(cum, index, axis=-1)[..., 0] * (position > 0)[..., None]
        totals = counts @ values
        result = {
            "count": n,
            "mean": totals / n,
            "median": np.where(n > 0, (values[_at_rank(cum, np.floor((n - 1) / 2))]
                                       + values[_at_rank(cum, np.floor(n / 2))]) / 2, np.nan),
            "above_quantile": (n - at_or_below) / n,
            "ks": np.where(valid, gaps.max(axis=-1), np.nan),
            "wasserstein": np.where(valid, gaps[..., :-1] @ np.diff(values), np.nan),
        }
        if sums:
            result["mae"] = sums["abs_error_sum"] / n
            result["mean_residual"] = (totals - sums["label_sum"]) / n
            result["rmse"] = np.sqrt(sums["squared_error_sum"] / n)
    return result


def _bootstrap(
    cells: ContinuousCells, *, resamples: int, quantile: float, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None] | None:
    """Every metric in every resample: overall (resamples, groups) and per stratum (resamples, strata, groups).

    Each (stratum, group) draws its value counts from a multinomial with its observed
    shares; label sums follow as count × the cell's mean.  Resamples are drawn in chunks
    so that no more than ``_CHUNK`` resampled cells are held at once.
    """
    if resamples <= 0:
        return None
    strata, groups, width = cells.counts.shape
    blocks = cells.counts.reshape(strata * groups, width)
    totals = blocks.sum(axis=1)
    proportions = blocks / np.maximum(totals, 1)[:, None]
    means = {name: np.divide(total, cells.counts, out=np.zeros_like(total), where=cells.counts > 0)
             for name, total in cells.sums.items()}
    chunk = max(1, _CHUNK // blocks.size)
    overall: list[dict[str, np.ndarray]] = []
    by_stratum: list[dict[str, np.ndarray]] = []
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        drawn = rng.multinomial(totals.astype(np.int64), proportions, size=(size, strata * groups))
        counts = drawn.reshape(size, strata, groups, width).astype(np.float64)
        sums = {name: np.einsum("rsgv,sgv->rsg", counts, mean) for name, mean in means.items()}
        q = quantile_of_counts(counts.sum(axis=(1, 2)), cells.values, quantile)
        # One stratum (no control): its counts are the overall ones, as they are (a sum over one stratum copies).
        merged = counts[:, 0] if strata == 1 else counts.sum(axis=1)
        overall.append(_metrics(merged, {k: v.sum(axis=1) for k, v in sums.items()}, cells.values, q))
        if cells.strata is not None:
            by_stratum.append(_metrics(counts, sums, cells.values, q[:, None]))
    joined = {name: np.concatenate([part[name] for part in overall]) for name in overall[0]}
    if cells.strata is None:
        return joined, None
    return joined, {name: np.concatenate([part[name] for part in by_stratum]) for name in by_stratum[0]}


# -- the assessment ------------------------------------------------------------------------


def _compare(
    spec: Disparity, values: np.ndarray, mask: np.ndarray, reference: int | None, favourable: str
) -> tuple[float, int | None, int | None]:
    """A disparity over the groups in ``mask``: its value, the worst group and the reference (positions)."""
    candidates = mask & np.isfinite(values)
    if spec.kind == "largest":
        if not candidates.any():
            return np.nan, None, None
        worst = int(np.argmax(np.where(candidates, values, -np.inf)))
        return float(values[worst]), worst, None
    if reference is None:
        if not candidates.any():
            return np.nan, None, None
        highest = METRICS[spec.metric].better == "favourable" and favourable == "higher"
        reference = int(np.argmax(np.where(candidates, values, -np.inf)) if highest
                        else np.argmin(np.where(candidates, values, np.inf)))
    elif not candidates[reference]:
        return np.nan, None, None
    others = candidates.copy()
    others[reference] = False
    if not others.any():  # a single group: no disparity, as in fairlearn
        return (0.0 if spec.kind == "difference" else 1.0), None, reference
    base = values[reference]
    if spec.kind == "ratio" and not base > 0:
        return np.nan, None, reference
    # The worst group is the one furthest from the reference (for a ratio: furthest from 1).
    scores = np.abs(values - base) if spec.kind == "difference" else np.abs(values / base - 1)
    worst = int(np.argmax(np.where(others, scores, -np.inf)))
    value = abs(values[worst] - base) if spec.kind == "difference" else values[worst] / base
    return float(value), worst, reference


def _pair(spec: Disparity, boot: np.ndarray, values: np.ndarray, worst: int, reference: int | None) -> np.ndarray:
    """The named comparison (worst against reference, or the worst group's distance) in every resample.

    As in :func:`ethics.comparison._pair`: the interval is of the comparison the
    sentence names, not of "the largest gap" picked anew in every resample.
    """
    if reference is None:
        return boot[:, worst]
    if spec.kind == "difference":
        sign = 1.0 if values[worst] >= values[reference] else -1.0
        return sign * (boot[:, worst] - boot[:, reference])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(boot[:, reference] > 0, boot[:, worst] / boot[:, reference], np.nan)


def _disparity(
    name: str,
    values: np.ndarray,
    *,
    present: np.ndarray,
    judged: np.ndarray,
    boot: np.ndarray | None,
    labels: Sequence[str],
    reference: int | None,
    favourable: str,
    confidence: float,
) -> dict[str, Any]:
    spec = DISPARITIES[name]
    entry: dict[str, Any] = {
        "metric": spec.metric,
        "value": json_number(_compare(spec, values, present, reference, favourable)[0]),
        "judged_groups": int(judged.sum()),
    }
    if judged.sum() < 2 or (reference is not None and not judged[reference]):
        return entry  # too few to judge
    value, worst, base = _compare(spec, values, judged, reference, favourable)
    entry["judged_value"] = json_number(value)
    if worst is None:
        return entry  # undefined (a ratio against a reference of 0)
    entry.update({
        "worst_group": labels[worst],
        "worst_value": json_number(values[worst]),
        "best_group": None if base is None else labels[base],
        "best_value": None if base is None else json_number(values[base]),
    })
    if boot is not None:
        entry["interval"] = interval(_pair(spec, boot, values, worst, base), confidence)
    return entry


def _section(
    labels: Sequence[str],
    metrics: Mapping[str, np.ndarray],
    boot: Mapping[str, np.ndarray] | None,
    *,
    labelled: bool,
    min_group_size: int,
    reference: int | None,
    favourable: str,
    confidence: float,
) -> dict[str, Any]:
    """Group rows and disparities of one set of groups (a grouping, or one stratum of it)."""
    n = metrics["count"]
    present = n > 0
    judged = present & (n >= min_group_size)
    names = [name for name, spec in METRICS.items() if labelled or not spec.needs_labels][1:]
    intervals = None
    if boot is not None:  # (metric, group) -> interval, all in one pass
        flat = group_intervals(np.concatenate([boot[name] for name in names], axis=1), confidence)
        intervals = np.asarray(flat, dtype=object).reshape(len(names), len(labels), 2)
    groups = []
    for index, label in enumerate(labels):
        row: dict[str, Any] = {"group": label, "judged": bool(judged[index]), "count": int(n[index])}
        for position, name in enumerate(names):
            row[name] = json_number(metrics[name][index])
            if intervals is not None:
                row[f"{name}_interval"] = list(intervals[position, index])
        groups.append(row)
    disparities = {
        name: _disparity(name, metrics[spec.metric], present=present, judged=judged,
                         boot=None if boot is None else boot[spec.metric], labels=labels, reference=reference,
                         favourable=favourable, confidence=confidence)
        for name, spec in DISPARITIES.items() if labelled or not spec.needs_labels
    }
    return {"groups": groups, "disparities": disparities}


def _assess(
    cells: ContinuousCells,
    *,
    grouping: str,
    attributes: Sequence[str],
    unit: str,
    favourable: str,
    reference: str | None,
    min_group_size: int,
    resamples: int,
    confidence: float,
    quantile: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    if reference is not None and reference not in cells.groups:
        raise ValidationError(UNKNOWN_REFERENCE.format(group=reference, grouping=grouping,
                                                       groups=", ".join(cells.groups)))
    position = None if reference is None else cells.groups.index(reference)
    sums = {name: total.sum(axis=-1) for name, total in cells.sums.items()}
    q = quantile_of_counts(cells.counts.sum(axis=(0, 1)), cells.values, quantile)
    overall = _metrics(cells.counts.sum(axis=0), {k: v.sum(axis=0) for k, v in sums.items()}, cells.values, q)
    boot = _bootstrap(cells, resamples=resamples, quantile=quantile, rng=rng)
    options = {"labelled": bool(sums), "min_group_size": min_group_size, "reference": position,
               "favourable": favourable, "confidence": confidence}
    result: dict[str, Any] = {
        "grouping": grouping,
        "attributes": list(attributes),
        "unit": unit,
        "favourable": favourable,
        "quantile": {"p": quantile, "value": json_number(q)},
        "confidence": confidence,
        **_section(cells.groups, overall, None if boot is None else boot[0], **options),
    }
    if cells.strata is not None:
        by_stratum = _metrics(cells.counts, sums, cells.values, q)
        result["strata"] = [
            {"stratum": label,
             **_section(cells.groups, {k: v[index] for k, v in by_stratum.items()},
                        None if boot is None else {k: v[:, index] for k, v in boot[1].items()}, **options)}
            for index, label in enumerate(cells.strata)
        ]
    return result


def assess_cells(
    cells: ContinuousCells,
    *,
    unit: str,
    grouping: str = "group",
    attributes: Sequence[str] = ("group",),
    favourable: Literal["higher", "lower"] = "higher",
    reference: str | None = None,
    min_group_size: int = 30,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    quantile: float = 0.5,
) -> dict[str, Any]:
    """Group metrics, disparities and intervals of one grouping's cells.

    Parameters
    ----------
    cells : ContinuousCells
        From :func:`continuous_cells`.
    unit : str
        The outcome's unit for the renderers, e.g. ``"% discount"`` or ``"EUR"``.
    grouping : str, default "group"
        Name of the grouping in the result.
    attributes : sequence of str, default ("group",)
        The attributes the groups are made of.
    favourable : {"higher", "lower"}, default "higher"
        Whether a higher outcome favours the customer (a discount) or a lower one (a price);
        it picks the default reference group.
    reference : str, optional
        Compare every group with this one instead of the most favoured group.
    min_group_size : int, default 30
        Groups (per stratum: stratum × group cells) with fewer rows are shown with
        ``judged: False`` and left out of the judged disparities.
    resamples : int, default 1000
        Bootstrap resamples (0 for no intervals).
    confidence : float, default 0.95
        Interval coverage.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``.
    quantile : float, default 0.5
        ``p`` of the overall quantile for ``above_quantile``.

    Returns
    -------
    dict
        ``grouping``, ``attributes``, ``unit``, ``favourable``, ``quantile`` (``p``, ``value``),
        ``confidence``, ``groups`` (per group: ``group``, ``judged``, every metric of
        :data:`METRICS` and its ``<metric>_interval``), ``disparities`` (name →
        ``metric``, ``value`` over all groups, ``judged_groups`` and, with two judged
        groups or more, ``judged_value``, ``worst_group``, ``worst_value``,
        ``best_group``/``best_value`` (the reference; None against the rest) and
        ``interval``); with a control also ``strata``, a list of ``stratum``,
        ``groups`` and ``disparities`` per control value.

    Raises
    ------
    ValidationError
        An unknown reference group or a bad option.
    """
    _check_options(quantile=quantile, confidence=confidence, favourable=favourable)
    return _assess(cells, grouping=grouping, attributes=attributes, unit=unit, favourable=favourable,
                   reference=reference, min_group_size=min_group_size, resamples=resamples, confidence=confidence,
                   quantile=quantile, rng=np.random.default_rng(seed))


def assess_continuous_cells(
    table: pd.DataFrame,
    *,
    attributes: Sequence[str],
    unit: str,
    control: str | None = None,
    favourable: Literal["higher", "lower"] = "higher",
    reference: Mapping[str, str] | None = None,
    min_group_size: int = 30,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    quantile: float = 0.5,
    resolution: float | None = None,
    group_names: Mapping[str, Mapping[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`assess_continuous` from a cells table (imported statistics) instead of rows.

    Parameters
    ----------
    table : DataFrame
        One dataset's cells as :func:`cells_table` makes them: the attributes (banded
        labels), the control if any, ``value``, ``leads`` and, for the error metrics,
        all of ``label_sum``, ``abs_error_sum`` and ``squared_error_sum``; an optional
        ``dataset`` column must hold one value.  A cell may appear in several rows
        (they are added); other columns are ignored.
    attributes : sequence of str
        Sensitive attributes; every combination of them is assessed too.
    unit : str
        The outcome's unit, e.g. ``"% discount"``.
    control : str, optional
        The control column (strata).
    favourable, min_group_size, resamples, confidence, seed, quantile
        As in :func:`assess_cells`; one generator is drawn from across the groupings.
    reference : mapping, optional
        Reference group per grouping name (``{"age_band": "25-34"}``); groupings not
        named use their most favoured group.
    resolution : float, optional
        Round the values again to this step (rounding is idempotent).
    group_names : dict, optional
        Per attribute, its values' labels (``manifest.value_labels``), which name the groups.

    Returns
    -------
    list of dict
        Per grouping, single attributes first, as :func:`assess_cells`; ``control`` names
        the control column when there is one.

    Raises
    ------
    ValidationError
        A missing column, a cell that is not a number, a bad ``leads`` count, only some
        label columns, several datasets, too many cells, or a bad option.
    """
    _check_options(quantile=quantile, confidence=confidence, favourable=favourable)
    reference = reference or {}
    rng = np.random.default_rng(seed)
    results = []
    for grouping, cells in _grouping_cells(table, attributes=attributes, control=control, resolution=resolution,
                                           group_names=group_names):
        result = _assess(cells, grouping=grouping.name, attributes=grouping.attributes, unit=unit,
                         favourable=favourable, reference=reference.get(grouping.name),
                         min_group_size=min_group_size, resamples=resamples, confidence=confidence,
                         quantile=quantile, rng=rng)
        if control:
            result["control"] = control
        results.append(result)
    return results


def assess_continuous(
    frame: pd.DataFrame,
    *,
    outcome: str,
    attributes: Sequence[str],
    unit: str,
    label: str | None = None,
    control: str | None = None,
    bands: Mapping[str, Sequence[float]] | None = None,
    favourable: Literal["higher", "lower"] = "higher",
    reference: Mapping[str, str] | None = None,
    min_group_size: int = 30,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    quantile: float = 0.5,
    resolution: float | None = None,
) -> list[dict[str, Any]]:
    """Fairness of a continuous decision, for each grouping of the rows.

    The rows are reduced to their cells (:func:`cells_table`) and assessed by
    :func:`assess_continuous_cells`, so rows and imported cells of the same rows give the
    same results.

    Parameters
    ----------
    frame : DataFrame
        One row per decision.
    outcome : str
        Column of the decided amount, e.g. ``"discount"``.
    attributes : sequence of str
        Sensitive attributes; every combination of them is assessed too.
    unit : str
        The outcome's unit, e.g. ``"% discount"`` or ``"EUR"``.
    label : str, optional
        Column of the realised value; adds ``mae``, ``mean_residual`` (prediction −
        realised: positive = over-offer) and ``rmse``.
    control : str, optional
        Column of a legitimate factor; every metric and disparity is also given per stratum.
    bands : mapping, optional
        Band edges per numeric attribute or control.
    favourable, reference, min_group_size, resamples, confidence, seed, quantile
        As in :func:`assess_continuous_cells`.
    resolution : float, optional
        Round the values to this step (e.g. 0.5); None keeps the exact values.

    Returns
    -------
    list of dict
        As :func:`assess_continuous_cells`.

    Raises
    ------
    ValidationError
        As :func:`cells_table` and :func:`assess_continuous_cells`.
    """
    _check_options(quantile=quantile, confidence=confidence, favourable=favourable)
    table = cells_table(frame, outcome=outcome, attributes=attributes, label=label, control=control, bands=bands,
                        resolution=resolution)
    return assess_continuous_cells(
        table, attributes=attributes, unit=unit, control=control, favourable=favourable, reference=reference,
        min_group_size=min_group_size, resamples=resamples, confidence=confidence, seed=seed, quantile=quantile,
        resolution=resolution,
    )


# -- verdicts --------------------------------------------------------------------------------

#: How a threshold table's limits read after "policy:", in this order.
LIMIT_WORDS = {"fail_above": "at most {}", "fail_below": "at least {}", "warn_above": "warn above {}",
               "warn_below": "warn below {}"}


def sentence(
    name: str,
    entry: Mapping[str, Any],
    *,
    unit: str,
    worst: str | None = None,
    reference: str | None = None,
    threshold: Mapping[str, float] | None = None,
    verb: str = "get",
    quantile: float = 0.5,
    confidence: float = 0.95,
) -> str:
    """The plain sentence of a judged disparity, in its unit, from its spec's template.

    Parameters
    ----------
    name : str
        Key of :data:`DISPARITIES`.
    entry : mapping
        The disparity of an assessment, with a ``judged_value``.
    unit : str
        The outcome's unit, e.g. ``"percentage points of discount"`` or ``"EUR"``.
    worst, reference : str, optional
        Phrases for the worst and the reference group ("customers aged 55+"); default
        the group labels.
    threshold : mapping, optional
        The policy's limits (``{warn_above, fail_above}`` …), read out after "policy:".
    verb : str, default "get"
        The verb for what a group receives ("pay" for a price).
    quantile : float, default 0.5
        ``p`` of the assessment's quantile ("median" for 0.5).
    confidence : float, default 0.95
        Coverage of the interval.

    Returns
    -------
    str
        For example "Customers aged 55+ get on average 2.10 percentage points of discount
        less than customers aged 25-34 (95% interval 1.70–2.50); policy: at most 1.00."
    """
    spec = DISPARITIES[name]
    shown, metric = spec.presentation.format.format, METRICS[spec.metric].presentation.format.format
    best = entry.get("best_value")
    text = spec.sentence.format(
        worst=worst or entry["worst_group"],
        reference=reference or entry.get("best_group"),
        verb=verb,
        value=shown(entry["judged_value"]),
        unit=unit,
        direction="" if best is None else spec.directions[entry["worst_value"] > best],
        worst_value=metric(entry["worst_value"]),
        reference_value="" if best is None else metric(best),
        quantile="median" if quantile == 0.5 else f"{quantile:.0%} quantile",
    )
    low, high = entry.get("interval") or (None, None)
    if low is not None and high is not None:
        text += f" ({confidence:.0%} interval {shown(low)}–{shown(high)})"
    limits = [words.format(shown(threshold[key])) for key, words in LIMIT_WORDS.items() if key in (threshold or {})]
    if limits:
        text += f"; policy: {', '.join(limits)}"
    return text + "."


def verdict(
    name: str,
    entry: Mapping[str, Any],
    *,
    unit: str,
    threshold: Mapping[str, float],
    worst: str | None = None,
    reference: str | None = None,
    verb: str = "get",
    quantile: float = 0.5,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Pass, warn, fail or too few of one disparity against a threshold table, with its sentence.

    Parameters
    ----------
    name : str
        Key of :data:`DISPARITIES`.
    entry : mapping
        The disparity of an assessment.
    unit : str
        The outcome's unit.
    threshold : mapping
        ``{warn_above, fail_above}`` (or ``_below``), judged by :func:`ethics.policy.judge`.
    worst, reference, verb, quantile, confidence
        As in :func:`sentence`.

    Returns
    -------
    dict
        ``metric, label, unit, status, value, interval, threshold, interval_crosses,
        worst_group, best_group, sentence``.
    """
    spec = DISPARITIES[name]
    value = entry.get("judged_value")
    status = judge(value, threshold)
    if status == "too_few":
        text = TOO_FEW if "judged_value" not in entry else UNDEFINED.format(
            label=spec.presentation.label.lower(), metric=METRICS[spec.metric].presentation.label.lower())
    else:
        text = sentence(name, entry, unit=unit, worst=worst, reference=reference, threshold=threshold, verb=verb,
                        quantile=quantile, confidence=confidence)
    return {
        "metric": name,
        "label": spec.presentation.label,
        "unit": unit_of(spec, unit=unit),
        "status": status,
        "value": value,
        "interval": entry.get("interval"),
        "threshold": dict(threshold),
        "interval_crosses": interval_crosses(entry.get("interval"), threshold),
        "worst_group": entry.get("worst_group"),
        "best_group": entry.get("best_group"),
        "sentence": text,
    }
