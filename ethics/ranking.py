"""Call lists worked to a capacity: who gets called, and how much attention each group's leads get.

A ranking model orders the leads of each *list* (a team's batch, e.g. one day's leads of
team north) and the team works the list to its capacity k.  Per group of leads:

* the selection rate at capacity: the share of the group's leads within the top k of
  their list, who actually gets called;
* the exposure: the mean over the group's leads of ``1 / log2(1 + rank)`` (rank from 1,
  every lead of the list counted), the attention a position gets in DCG;
* with labels (0/1), today's binary metrics with "in the top k" as the selection, so
  :data:`ethics.fairness.DISPARITIES` apply unchanged (their formulas are
  :data:`ethics.fairness.METRICS`' on the top-k confusion counts).

Ranks are by score, highest first, within each list; ties keep the input order (the
first row ranks first), as a stable sort does.  Rows that carry a ``rank`` column are
taken as ranked already.

Rows are reduced to *cells* (:func:`ranking_cells`): leads per (sensitive attributes,
rank band, selected, label), with the sum of their discounts.  The list itself is not a
key: no metric is per list, and it would multiply the cells by the number of lists.  A
warehouse computes the same table with a window function, ``ROW_NUMBER() OVER (PARTITION
BY team, batch ORDER BY score DESC, row_number)``: the SQL is ``ethics/sql/ranking.sql``,
rendered by :func:`ethics.warehouse.render_ranking_sql` (ties must be broken by the same
input order, there a ``row_number`` column); it runs unchanged on DuckDB and Spark SQL.

:func:`assess_ranking_cells` assesses cells and :func:`assess_ranking` rows, with equal
results.

The rank band is the rank itself up to :data:`EXACT_RANKS` and a doubling band beyond
(65–128, 129–256, …), named by its first rank.  Every point value is exact whatever the
bands, because each cell keeps its discount sum.  The bootstrap resamples each group's
leads from the cells: the top-k confusion counts (for the binary metrics) and the rank
bands (for exposure) are each drawn multinomially, since every interval is of a
quantity that depends on one of these margins.  A resampled lead's discount is its
cell's mean discount: exact for ranks up to :data:`EXACT_RANKS`, where a cell holds one
rank; beyond, the spread of the discount within a band (under 15% of its value, and a
small part of the discounts' variance) is left out.  That is the trade-off: a call list
is worked within its first ranks, and 64 exact ranks keep the bootstrap at about 70
categories per group however long the lists are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ethics import fairness
from ethics.comparison import (
    EXPOSURE,
    LEADS,
    SHARE,
    Kind,
    Stats,
    assess_groups,
    cells_labelled,
    disparity_presentation,
    multinomial,
    occupied_cells,
    occupied_rows,
    rate,
    require_cell_columns,
)
from ethics.errors import ValidationError
from ethics.fairness import BAD_LABEL, MISSING_GROUP, NO_ROWS, Counts, groupings
from ethics.lazy import lazy_module
from ethics.presentation import Presentation
from ethics.store import json_number

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())

#: The columns whose values name the list a capacity applies to (a team's batch).
LIST_COLUMNS = ("team", "batch")
SCORE_COLUMN = "score"
RANK_COLUMN = "rank"
CAPACITY_COLUMN = "capacity"
LABEL_COLUMN = "label"
#: Ranks kept one by one in the cells; beyond, doubling bands.
EXACT_RANKS = 64
#: Columns of the cells after the sensitive attributes.
CELL_COLUMNS = ("rank_band", "selected", "label", "leads", "discount_sum")

NO_CAPACITY = (
    "list {list!r} has no capacity: give k per list (manifest [ranking] capacity or the import's capacity column)."
)
CAPACITY_VARIES = "list {list!r} has capacities {values} in column 'capacity': give one k per list."
BAD_CAPACITY = "list {list!r} has capacity {value!r}: k must be a whole number of at least 0."
NO_SCORE_OR_RANK = "A call list needs a 'score' or a 'rank' column to order its leads; the data has neither."
BAD_RANK = "column 'rank', row {row}: {value!r} is not a whole number of at least 1."
BAD_SCORE = "column 'score', row {row}: {value!r} is not a number."
NO_LIST_COLUMN = "A call list is keyed by columns {columns}; the data has no column {column!r}."
ATTRIBUTE_CLASH = "Sensitive attribute {name!r} has the name of a column of the rows or cells ({columns}); rename it."
BAD_CELL = "column {column!r}, row {row}: {value!r} is not {expected}."
MIXED_LABELS = (
    "column 'label', row {row}: value is missing but other cells have a label; cells carry a label everywhere "
    "or nowhere."
)


# -- ranks -------------------------------------------------------------------------------


def list_ranks(lists: Any, scores: Any) -> np.ndarray:
    """The rank of each lead within its list: by score, highest first, ties in input order.

    Parameters
    ----------
    lists : array-like
        The list of each lead (codes or names); any 1-d container.
    scores : array-like of float
        The score of each lead.

    Returns
    -------
    ndarray of int64
        Ranks from 1 within each list.
    """
    lists, scores = _flat(lists), _flat(scores).astype(np.float64)
    codes = lists.astype(np.int64) if np.issubdtype(lists.dtype, np.integer) else pd.factorize(lists)[0]
    if codes.size and codes.min() < 0:
        codes = codes - codes.min()
    order = _by_score(scores)
    keys = codes[order]
    # A stable sort of small integers is a radix sort: int16 keys make it several times faster.
    keys = keys.astype(np.int16) if codes.size and codes.max() < 2**15 else keys
    by_list = order[np.argsort(keys, kind="stable")]
    listed = codes[by_list]
    starts = np.ones(len(listed), dtype=bool)
    starts[1:] = listed[1:] != listed[:-1]
    first = np.flatnonzero(starts)
    position = np.arange(len(listed), dtype=np.int64)
    ranks = np.empty(len(listed), dtype=np.int64)
    ranks[by_list] = position - first[np.cumsum(starts) - 1] + 1
    return ranks


def _by_score(scores: np.ndarray) -> np.ndarray:
    """Rows by score, highest first, tied scores in input order.

    A quicksort (vectorised, several times faster than a stable sort of floats) and, only
    when scores tie, a second sort of (tie run, row) to put each run in input order.
    """
    order = np.argsort(-scores, kind="quicksort")
    ordered = scores[order]
    ties = ordered[1:] == ordered[:-1]
    if ties.any():
        run = np.concatenate([[0], np.cumsum(~ties)])
        order = order[np.argsort(run * len(order) + order, kind="quicksort")]
    return order


def discount(ranks: Any) -> np.ndarray:
    """The attention a rank gets: ``1 / log2(1 + rank)`` (1 for the first, 0.63 for the second).

    Parameters
    ----------
    ranks : array-like of int
        Ranks from 1; any 1-d container.

    Returns
    -------
    ndarray of float64
    """
    return 1.0 / np.log2(1.0 + _flat(ranks).astype(np.float64))


def rank_bands(ranks: Any, *, exact: int = EXACT_RANKS) -> np.ndarray:
    """The rank band of each rank: the rank up to ``exact``, beyond it the first rank of its doubling band.

    With ``exact = 64``: 1, …, 64, then 65 for ranks 65–128, 129 for 129–256, and so on.

    Parameters
    ----------
    ranks : array-like of int
        Ranks from 1; any 1-d container.
    exact : int, default EXACT_RANKS
        Ranks kept one by one.

    Returns
    -------
    ndarray of int64
        The first rank of each rank's band (the cells' ``rank_band``).
    """
    ranks = _flat(ranks).astype(np.int64)
    code = _band_codes(ranks, exact=exact)
    return _band_first_rank(code, exact=exact)


def _band_codes(ranks: np.ndarray, *, exact: int) -> np.ndarray:
    """Dense band codes: ``rank - 1`` up to ``exact``, then ``exact - 1 + bit_length((rank - 1) // exact)``."""
    beyond = ranks > exact
    # frexp gives the exact bit length of an integer below 2**53.
    bits = np.frexp(np.maximum((ranks - 1) // exact, 1).astype(np.float64))[1].astype(np.int64)
    return np.where(beyond, exact - 1 + bits, ranks - 1)


def _band_first_rank(code: np.ndarray, *, exact: int) -> np.ndarray:
    doublings = np.maximum(code - exact, 0)
    return np.where(code < exact, code + 1, exact * np.left_shift(1, doublings) + 1)


def _flat(values: Any) -> np.ndarray:
    return np.asarray(values).ravel()


# -- lists and capacities --------------------------------------------------------------------


def list_codes(frame: pd.DataFrame, *, lists: Sequence[str] = LIST_COLUMNS) -> tuple[np.ndarray, list[str]]:
    """The list of each row, and each list's name: its key values joined by a space (``"north 2026-11-25"``).

    Missing key values are named ``(missing)``; a date is named by its ISO date.

    Parameters
    ----------
    frame : DataFrame
        Rows with the list columns.
    lists : sequence of str, default LIST_COLUMNS
        Columns whose values name a list.

    Returns
    -------
    codes : ndarray of int64
        The list of each row, lists numbered in the order of their sorted key values.
    names : list of str
        The name of each list.

    Raises
    ------
    ValidationError
        A list column is not in the data.
    """
    parts = []
    for column in lists:
        if column not in frame.columns:
            raise ValidationError(NO_LIST_COLUMN.format(columns=", ".join(lists), column=column))
        codes, uniques = pd.factorize(frame[column], sort=True, use_na_sentinel=True)
        labels = [_text(u) for u in uniques] + [MISSING_GROUP]
        parts.append((np.where(codes < 0, len(uniques), codes), labels))
    decoded, inverse = occupied_cells([(codes, len(labels)) for codes, labels in parts])
    words = [np.asarray(labels, dtype=object)[codes] for (_, labels), codes in zip(parts, decoded, strict=True)]
    return inverse, [" ".join(name) for name in zip(*words, strict=True)]


def _text(value: Any) -> str:
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.date().isoformat()
    return str(value.item() if isinstance(value, np.generic) else value)


def capacities(
    codes: np.ndarray, names: Sequence[str], *, capacity: int | Mapping[str, int] | None, frame: pd.DataFrame
) -> np.ndarray:
    """The capacity k of each list, from a number for all, a mapping list name → k, or the rows' ``capacity``.

    Parameters
    ----------
    codes : ndarray of int
        The list of each row (:func:`list_codes`).
    names : sequence of str
        The name of each list.
    capacity : int, mapping or None
        One k for every list, k per list name, or None to read the rows' ``capacity`` column.
    frame : DataFrame
        The rows, for their ``capacity`` column.

    Returns
    -------
    ndarray of int64
        k per list.

    Raises
    ------
    ValidationError
        A list without a capacity, a list whose rows disagree, or a k that is not a whole number ≥ 0.
    """
    if capacity is None:
        if CAPACITY_COLUMN not in frame.columns:
            raise ValidationError(NO_CAPACITY.format(list=names[codes[0]]))
        values = pd.to_numeric(frame[CAPACITY_COLUMN], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        if missing.any():
            raise ValidationError(NO_CAPACITY.format(list=names[codes[np.argmax(missing)]]))
        low = np.full(len(names), np.inf)
        high = np.full(len(names), -np.inf)
        np.minimum.at(low, codes, values)
        np.maximum.at(high, codes, values)
        varies = np.flatnonzero(low != high)
        if varies.size:
            shown = ", ".join(f"{v:g}" for v in np.unique(values[codes == varies[0]])[:5])
            raise ValidationError(CAPACITY_VARIES.format(list=names[varies[0]], values=shown))
        chosen: list[Any] = list(low)
    elif isinstance(capacity, Mapping):
        for name in names:
            if name not in capacity:
                raise ValidationError(NO_CAPACITY.format(list=name))
        chosen = [capacity[name] for name in names]
    else:
        chosen = [capacity] * len(names)
    for name, value in zip(names, chosen, strict=True):
        whole = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
        if not whole or not np.isfinite(value) or value < 0 or value != int(value):
            raise ValidationError(BAD_CAPACITY.format(list=name, value=_plain(value)))
    return np.array([int(v) for v in chosen], dtype=np.int64)


def _plain(value: Any) -> Any:
    value = value.item() if isinstance(value, np.generic) else value
    return int(value) if isinstance(value, float) and value.is_integer() else value


# -- the spec ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankMetric:
    """A per-group metric on the statistics of a call list worked to capacity."""

    presentation: Presentation
    formula: Callable[[Stats], np.ndarray]
    needs_labels: bool = False
    interval: bool = True


@dataclass(frozen=True)
class RankDisparity:
    """How groups are compared on one or more metrics (the worst of them, as in :mod:`ethics.fairness`)."""

    presentation: Presentation
    metrics: tuple[str, ...]
    kind: Kind

    @property
    def needs_labels(self) -> bool:
        """Whether any compared metric needs labels."""
        return any(METRICS[m].needs_labels for m in self.metrics)


def _top_k(name: str) -> Callable[[Stats], np.ndarray]:
    """The fairness metric ``name`` with "in the top k" as the selection."""
    formula = fairness.METRICS[name].formula
    return lambda stats: formula(Counts(stats["confusion"]))


METRICS: dict[str, RankMetric] = {
    "count": RankMetric(Presentation(LEADS, "{:,.0f}", None, label="Leads"), lambda s: s["n"], interval=False),
    "selection_rate": RankMetric(Presentation(SHARE, "{:.1%}", "lower", label="Called at capacity"),
                                 _top_k("selection_rate")),
    "true_positive_rate": RankMetric(Presentation(SHARE, "{:.1%}", "lower", label="True-positive rate at capacity"),
                                     _top_k("true_positive_rate"), needs_labels=True),
    "false_positive_rate": RankMetric(Presentation(SHARE, "{:.1%}", "higher", label="False-positive rate at capacity"),
                                      _top_k("false_positive_rate"), needs_labels=True),
    "exposure": RankMetric(Presentation(EXPOSURE, "{:.3f}", "lower", label="Exposure"),
                           lambda s: rate(s["discount"], s["n"])),
}

DISPARITIES: dict[str, RankDisparity] = {
    **{
        name: RankDisparity(disparity_presentation(f"{spec.label} at capacity", spec.kind, unit=SHARE),
                            spec.metrics, spec.kind)
        for name, spec in fairness.DISPARITIES.items()
    },
    "exposure_ratio": RankDisparity(disparity_presentation("Exposure ratio", "ratio", unit=EXPOSURE),
                                    ("exposure",), "ratio"),
}


# -- rows to cells -------------------------------------------------------------------------


def _check_attributes(attributes: Sequence[str], lists: Sequence[str]) -> None:
    taken = (*CELL_COLUMNS, *lists, SCORE_COLUMN, RANK_COLUMN, CAPACITY_COLUMN)
    for name in attributes:
        if name in taken:
            raise ValidationError(ATTRIBUTE_CLASH.format(name=name, columns=", ".join(dict.fromkeys(taken))))


def _row_ranks(frame: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    if RANK_COLUMN in frame.columns:
        values = pd.to_numeric(frame[RANK_COLUMN], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~(np.isfinite(values) & (values >= 1) & (values == np.round(values)))
        if bad.any():
            row = int(np.argmax(bad))
            raise ValidationError(BAD_RANK.format(row=row + 1, value=_plain(frame[RANK_COLUMN].iloc[row])))
        return values.astype(np.int64)
    if SCORE_COLUMN not in frame.columns:
        raise ValidationError(NO_SCORE_OR_RANK)
    scores = pd.to_numeric(frame[SCORE_COLUMN], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(scores)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValidationError(BAD_SCORE.format(row=row + 1, value=_plain(frame[SCORE_COLUMN].iloc[row])))
    return list_ranks(codes, scores)


def _row_labels(frame: pd.DataFrame) -> np.ndarray | None:
    if LABEL_COLUMN not in frame.columns:
        return None
    labels = frame[LABEL_COLUMN].to_numpy()
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        raise ValidationError(BAD_LABEL.format(value=_plain(labels[np.argmax(bad)])))
    return labels.astype(np.int64)


def ranking_cells(
    frame: pd.DataFrame,
    *,
    attributes: Sequence[str],
    capacity: int | Mapping[str, int] | None = None,
    lists: Sequence[str] = LIST_COLUMNS,
    bands: dict[str, Sequence[float]] | None = None,
    exact_ranks: int = EXACT_RANKS,
) -> pd.DataFrame:
    """The cells of ranked rows: leads and discount sums per (attributes, rank band, selected, label).

    Parameters
    ----------
    frame : DataFrame
        Rows with the list columns, ``score`` (or ``rank``), the sensitive attributes and
        optionally ``label`` (0/1) and ``capacity``.
    attributes : sequence of str
        Sensitive attributes.
    capacity : int, mapping or None
        k for every list, k per list name (see :func:`list_codes`), or None for the rows' ``capacity`` column.
    lists : sequence of str, default LIST_COLUMNS
        Columns whose values name a list.
    bands : dict, optional
        Band edges of numeric attributes.
    exact_ranks : int, default EXACT_RANKS
        Ranks kept one by one (see :func:`rank_bands`).

    Returns
    -------
    DataFrame
        Columns ``*attributes, rank_band, selected, label, leads, discount_sum``: one row per
        occupied cell in key order; ``label`` is missing throughout for unlabelled rows.

    Raises
    ------
    ValidationError
        No rows, a missing list or attribute column, no score or rank, a bad score, rank or
        label, or a list without capacity.
    """
    _check_attributes(attributes, lists)
    if frame.empty:
        raise ValidationError(NO_ROWS.format(data="data"))
    codes, names = list_codes(frame, lists=lists)
    ranks = _row_ranks(frame, codes)
    k = capacities(codes, names, capacity=capacity, frame=frame)
    labels = _row_labels(frame)
    coded = groupings(frame, attributes=attributes, bands=bands, intersections=False)
    band = _band_codes(ranks, exact=exact_ranks)
    parts = [(g.codes, len(g.labels)) for g in coded]
    parts += [(band, int(band.max()) + 1), ((ranks <= k[codes]).astype(np.int64), 2)]
    if labels is not None:
        parts.append((labels, 2))
    decoded, inverse = occupied_cells(parts)
    out: dict[str, Any] = {
        g.name: np.asarray(g.labels, dtype=object)[c] for g, c in zip(coded, decoded, strict=False)
    }
    out["rank_band"] = _band_first_rank(decoded[len(coded)], exact=exact_ranks)
    out["selected"] = decoded[len(coded) + 1]
    out["label"] = pd.array(decoded[-1] if labels is not None else [pd.NA] * len(decoded[0]), dtype="Int64")
    out["leads"] = np.bincount(inverse).astype(np.int64)
    out["discount_sum"] = np.bincount(inverse, weights=discount(ranks))
    return pd.DataFrame(out, index=pd.RangeIndex(len(out["leads"])))


# -- the assessment ------------------------------------------------------------------------


def assess_ranking(
    frame: pd.DataFrame,
    *,
    attributes: Sequence[str],
    capacity: int | Mapping[str, int] | None = None,
    lists: Sequence[str] = LIST_COLUMNS,
    bands: dict[str, Sequence[float]] | None = None,
    min_group_size: int = 30,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Selection at capacity, exposure and the binary disparities at the top k, per grouping of the rows.

    The rows are reduced to :func:`ranking_cells` and assessed by :func:`assess_ranking_cells`,
    so rows and imported cells give equal results.

    Parameters
    ----------
    frame : DataFrame
        Rows with the list columns, ``score`` (or ``rank``), the sensitive attributes and
        optionally ``label`` (0/1) and ``capacity``.
    attributes : sequence of str
        Sensitive attributes; every combination of them is assessed too.
    capacity : int, mapping or None
        k for every list, k per list name (``"north 2026-11-25"``), or None for the rows' ``capacity`` column.
    lists : sequence of str, default LIST_COLUMNS
        Columns whose values name a list.
    bands : dict, optional
        Band edges for numeric attributes.
    min_group_size : int, default 30
        Groups smaller than this are reported but not judged.
    resamples : int, default 1000
        Bootstrap resamples for the intervals (0 for none).
    confidence : float, default 0.95
        Interval coverage.
    seed : int, default 0
        Seed of the bootstrap.

    Returns
    -------
    list of dict
        As :func:`assess_ranking_cells`.

    Raises
    ------
    ValidationError
        As :func:`ranking_cells`.
    """
    cells = ranking_cells(frame, attributes=attributes, capacity=capacity, lists=lists, bands=bands)
    return assess_ranking_cells(cells, attributes=attributes, min_group_size=min_group_size, resamples=resamples,
                                confidence=confidence, seed=seed)


def assess_ranking_cells(
    cells: pd.DataFrame,
    *,
    attributes: Sequence[str],
    min_group_size: int = 30,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    group_names: Mapping[str, Mapping[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`assess_ranking` from cells (computed here or where the data lives).

    Parameters
    ----------
    cells : DataFrame
        Columns ``*attributes, rank_band, selected, leads, discount_sum`` and optionally
        ``label`` (see :func:`ranking_cells`); any rank banding gives the same point values.
    attributes : sequence of str
        Sensitive attributes; their values are already group labels.
    min_group_size, resamples, confidence, seed
        As in :func:`assess_ranking`.
    group_names : dict, optional
        Per attribute, its values' labels (``manifest.value_labels``), which name the groups.

    Returns
    -------
    list of dict
        Per grouping, as :func:`ethics.fairness.assess`: ``grouping``, ``attributes``,
        ``groups`` (``group``, ``judged``, each metric of :data:`METRICS` that applies and its
        ``<metric>_interval``) and ``disparities`` (each of :data:`DISPARITIES` that applies).

    Raises
    ------
    ValidationError
        A missing column, a bad count, selection, label or discount sum, labels on some cells only.
    """
    _check_attributes(attributes, ())
    require_cell_columns(cells, (*attributes, *(c for c in CELL_COLUMNS if c != "label")))
    leads = _cell_numbers(cells, "leads", whole=True, expected="a whole number of leads of at least 0")
    bands = _cell_numbers(cells, "rank_band", whole=True, expected="a rank band of at least 1", least=1)
    selected = _cell_numbers(cells, "selected", whole=True, expected="0 or 1", most=1)
    discounts = _cell_numbers(cells, "discount_sum", whole=False, expected="a discount sum of at least 0")
    labelled = cells_labelled(cells, mixed=MIXED_LABELS)
    truth = _cell_numbers(cells, "label", whole=True, expected="0 or 1", most=1) if labelled else selected
    kept, keep = occupied_rows(cells, leads, empty=NO_ROWS.format(data="cells"))
    leads, bands, selected, truth, discounts = (a[keep] for a in (leads, bands, selected, truth, discounts))
    band_values, band_codes = np.unique(bands, return_inverse=True)
    rng = np.random.default_rng(seed)
    results = []
    for grouping in groupings(kept, attributes=attributes, group_names=group_names):
        size, width = len(grouping.labels), len(band_values)
        confusion = np.bincount(grouping.codes * 4 + truth * 2 + selected, weights=leads, minlength=size * 4)
        by_band = grouping.codes * width + band_codes
        band_leads = np.bincount(by_band, weights=leads, minlength=size * width).reshape(size, width)
        band_discounts = np.bincount(by_band, weights=discounts, minlength=size * width).reshape(size, width)
        n = band_leads.sum(axis=1)
        stats = {"confusion": np.rint(confusion).astype(np.int64).reshape(size, 4), "n": n,
                 "discount": band_discounts.sum(axis=1)}
        boot = None
        if resamples > 0:
            drawn = multinomial(band_leads, resamples, rng)
            boot = {"confusion": multinomial(stats["confusion"], resamples, rng),
                    "n": np.broadcast_to(n, (resamples, size)),
                    "discount": (drawn * rate(band_discounts, band_leads)).sum(axis=-1)}
        results.append(_assess_grouping(grouping, stats, boot, labelled=labelled, min_group_size=min_group_size,
                                        confidence=confidence))
    return results


def _cell_numbers(cells: pd.DataFrame, column: str, *, whole: bool, expected: str, least: float = 0,
                  most: float = math.inf) -> np.ndarray:
    values = pd.to_numeric(cells[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~(np.isfinite(values) & (values >= least) & (values <= most))
    if whole:
        bad |= values != np.round(values)
    if bad.any():
        row = int(np.argmax(bad))
        value = _plain(cells[column].iloc[row])
        raise ValidationError(BAD_CELL.format(column=column, row=row + 1, value=value, expected=expected))
    return values.astype(np.int64) if whole else values


def _assess_grouping(
    grouping: Any,
    stats: dict[str, np.ndarray],
    boot: dict[str, np.ndarray] | None,
    *,
    labelled: bool,
    min_group_size: int,
    confidence: float,
) -> dict[str, Any]:
    metrics = {name: spec.formula for name, spec in METRICS.items() if labelled or not spec.needs_labels}
    disparities = {name: (spec.kind, spec.metrics) for name, spec in DISPARITIES.items()
                   if labelled or not spec.needs_labels}
    judged = stats["n"] >= min_group_size
    compared = assess_groups(labels=grouping.labels, stats=stats, boot=boot, metrics=metrics,
                             disparities=disparities, judged=judged, confidence=confidence)
    groups = []
    for index, label in enumerate(grouping.labels):
        row: dict[str, Any] = {"group": label, "judged": bool(judged[index])}
        for name in metrics:
            row[name] = json_number(compared.values[name][index])
            if METRICS[name].interval and compared.intervals:
                row[f"{name}_interval"] = compared.intervals[name][index]
        groups.append(row)
    return {"grouping": grouping.name, "attributes": list(grouping.attributes), "groups": groups,
            "disparities": compared.disparities}
