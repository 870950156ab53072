"""Group fairness: metrics, disparities, intervals and policy verdicts.

Everything is computed from per-group confusion counts, driven by two declarative
tables: :data:`METRICS` (a formula on counts per group) and :data:`DISPARITIES` (how
groups are compared).  The semantics are those of
fairlearn's ``MetricFrame`` and its ``demographic_parity_*`` / ``equalized_odds_*`` /
``equal_opportunity_*`` functions, which the tests use as the oracle.

Uncertainty comes from a stratified bootstrap: resampling the rows of each group with
replacement is the same as drawing that group's four confusion counts from a
multinomial with the observed proportions, so the counts are resampled, not the rows,
and the result is exact for that bootstrap.

Rows are first reduced to their sufficient statistics (:mod:`ethics.aggregates`), and
:func:`assess_statistics` works on those; statistics computed elsewhere (DuckDB, Spark,
a warehouse) and imported give the same numbers, intervals included.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ethics import group_values
from ethics.comparison import assess_groups, compare, multinomial, worst
from ethics.errors import ValidationError
from ethics.lazy import lazy_module
from ethics.presentation import COUNT, POINTS, RATIO, SHARE, SHARE_HIGH_IS_WORSE, Presentation
from ethics.store import json_number

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())

MISSING_GROUP = "(missing)"
JOIN = " × "

NO_LABELS = "Fairness needs a 'label' column with 0/1 values for metric {metric!r}; this data has none."
NO_ATTRIBUTE = "Sensitive attribute {attribute!r} is not a column of the data (columns: {columns})."
NO_ROWS = "Fairness needs at least one row; the {data} is empty."
BAD_LABEL = "Column 'label' must hold only 0 and 1; found {value!r}."
NO_SCORE = "Fairness needs a 'score' column; this data has none."
MIXED_DATASETS = "Fairness assesses one dataset's statistics at a time; these hold {datasets} (split them first)."


class Counts:
    """Confusion counts per group: arrays of shape (..., groups)."""

    __slots__ = ("tn", "fp", "fn", "tp")

    def __init__(self, cells: np.ndarray) -> None:
        cells = np.asarray(cells, dtype=np.float64)
        self.tn, self.fp, self.fn, self.tp = (cells[..., i] for i in range(4))

    @property
    def n(self) -> np.ndarray:
        """Rows per group."""
        return self.tn + self.fp + self.fn + self.tp


def _rate(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # fairlearn (through scikit-learn's zero_division and normalize="true") reports 0
    # where a rate has no rows to be computed on; so do we.
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


@dataclass(frozen=True)
class Metric:
    """A per-group metric defined on confusion counts, and how it is shown.

    ``in_tables`` marks the metrics a group table shows (with their intervals).
    """

    label: str
    formula: Callable[[Counts], np.ndarray]
    needs_labels: bool
    shown: Presentation = SHARE
    in_tables: bool = False


METRICS: dict[str, Metric] = {
    "count": Metric("Rows", lambda c: c.n, False, COUNT),
    "selection_rate": Metric("Selection rate", lambda c: _rate(c.tp + c.fp, c.n), False, in_tables=True),
    "base_rate": Metric("Base rate", lambda c: _rate(c.tp + c.fn, c.n), True),
    "true_positive_rate": Metric("True-positive rate", lambda c: _rate(c.tp, c.tp + c.fn), True, in_tables=True),
    "false_positive_rate": Metric("False-positive rate", lambda c: _rate(c.fp, c.fp + c.tn), True,
                                  SHARE_HIGH_IS_WORSE, in_tables=True),
    "false_negative_rate": Metric("False-negative rate", lambda c: _rate(c.fn, c.tp + c.fn), True,
                                  SHARE_HIGH_IS_WORSE),
    "precision": Metric("Precision", lambda c: _rate(c.tp, c.tp + c.fp), True),
    "accuracy": Metric("Accuracy", lambda c: _rate(c.tp + c.tn, c.n), True, in_tables=True),
}


@dataclass(frozen=True)
class Disparity:
    """How groups are compared on one or more metrics (worst case over the metrics)."""

    label: str
    metrics: tuple[str, ...]
    kind: Literal["difference", "ratio"]

    @property
    def shown(self) -> Presentation:
        """Ratios are worse when lower, differences (in points of a share) when higher."""
        return RATIO if self.kind == "ratio" else POINTS

    @property
    def needs_labels(self) -> bool:
        """Whether any compared metric needs true labels."""
        return any(METRICS[m].needs_labels for m in self.metrics)


DISPARITIES: dict[str, Disparity] = {
    "demographic_parity_difference": Disparity("Selection-rate difference", ("selection_rate",), "difference"),
    "demographic_parity_ratio": Disparity("Selection-rate ratio", ("selection_rate",), "ratio"),
    "equalized_odds_difference": Disparity(
        "Equalised-odds difference", ("true_positive_rate", "false_positive_rate"), "difference"
    ),
    "equalized_odds_ratio": Disparity("Equalised-odds ratio", ("true_positive_rate", "false_positive_rate"), "ratio"),
    "equal_opportunity_difference": Disparity(
        "Equal-opportunity difference", ("true_positive_rate",), "difference"
    ),
}


def disparity_values(counts: Counts, name: str) -> np.ndarray:
    """One disparity from per-group counts (worst case over its metrics, as fairlearn's agg)."""
    spec = DISPARITIES[name]
    return worst([compare(METRICS[m].formula(counts), spec.kind) for m in spec.metrics], spec.kind)


# -- groups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grouping:
    """Rows coded into the groups of one attribute or one intersection of attributes."""

    name: str
    attributes: tuple[str, ...]
    codes: np.ndarray
    labels: list[str]


def _column_codes(
    values: pd.Series, bands: Sequence[float] | None, names: Mapping[str, str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Codes of one attribute's groups, in the order :mod:`ethics.group_values` lists them, and their names."""
    if bands:
        values = band(values, bands)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = [group_values.value_text(u) for u in uniques]
    # Missing values and a literal "(missing)" are one group, last; 1 and 1.0 (or "1.0") are one group.
    present = sorted(set(texts) - {MISSING_GROUP}, key=group_values.value_order)
    position = {text: index for index, text in enumerate(present)}
    missing_code = len(present)
    lookup = np.array([position.get(text, missing_code) for text in texts] + [missing_code], dtype=np.int64)
    codes = lookup[codes]  # the NA sentinel -1 picks the last entry: missing
    shown = group_values.shown_labels(names)
    labels = [shown.get(text, text) for text in present]
    if (codes == missing_code).any():
        labels.append(MISSING_GROUP)
    return codes, labels


def band(values: pd.Series, edges: Sequence[float]) -> pd.Series:
    """Numeric values as bands: edges ``[25, 35]`` give ``<25``, ``25-34``, ``35+``.

    Bands are labelled for whole numbers (ages); missing values stay missing.
    """
    edges = sorted(float(e) for e in edges)
    names = band_names(edges)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    index = np.searchsorted(np.asarray(edges), numbers, side="right")
    result = np.asarray(names, dtype=object)[np.minimum(index, len(names) - 1)]
    result[np.isnan(numbers)] = None
    return pd.Series(result, index=values.index, dtype="object")


def band_names(edges: Sequence[float]) -> list[str]:
    """The labels :func:`band` gives for band edges, lowest band first."""
    edges = sorted(float(e) for e in edges)
    names = [f"<{edges[0]:g}"]
    names += [f"{lo:g}-{hi - 1:g}" for lo, hi in itertools.pairwise(edges)]
    names.append(f"{edges[-1]:g}+")
    return names


def groupings(
    frame: pd.DataFrame,
    *,
    attributes: Sequence[str],
    bands: dict[str, Sequence[float]] | None = None,
    intersections: bool = True,
    group_names: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Grouping]:
    """Code the rows by each sensitive attribute and by every combination of them.

    Parameters
    ----------
    frame : DataFrame
        Rows holding the sensitive attributes.
    attributes : sequence of str
        Sensitive attribute columns.
    bands : dict, optional
        Band edges per numeric attribute (see :func:`band`).
    intersections : bool, default True
        Also code every combination of two or more attributes.
    group_names : dict, optional
        Per attribute, its values' labels (``manifest.value_labels``): groups are named by them.
        Given only where groups become results, never where rows become statistics, so that
        statistics hold the values themselves.

    Returns
    -------
    list of Grouping
        Single attributes first, then intersections; only groups that occur, each attribute's
        in :func:`ethics.group_values.value_order`.
    """
    bands = bands or {}
    group_names = group_names or {}
    for attribute in attributes:
        if attribute not in frame.columns:
            raise ValidationError(NO_ATTRIBUTE.format(attribute=attribute, columns=", ".join(frame.columns)))
    coded = {a: _column_codes(frame[a], bands.get(a), group_names.get(a)) for a in attributes}
    result = []
    sizes = range(1, len(attributes) + 1) if intersections else range(1, 2)
    for size in sizes:
        for combo in itertools.combinations(attributes, size):
            if size == 1:
                codes, labels = coded[combo[0]]
                result.append(Grouping(combo[0], combo, codes, labels))
                continue
            combined = np.zeros(len(frame), dtype=np.int64)
            for attribute in combo:
                codes, labels = coded[attribute]
                combined = combined * len(labels) + codes
            # Keep only the combinations that occur, numbered in order (a bincount, not a sort).
            present = np.flatnonzero(np.bincount(combined))
            renumber = np.zeros(int(present[-1]) + 1, dtype=np.int64)
            renumber[present] = np.arange(len(present))
            labels = [_combined_label(value, combo, coded) for value in present]
            result.append(Grouping(JOIN.join(combo), combo, renumber[combined], labels))
    return result


def _combined_label(value: int, combo: tuple[str, ...], coded: dict[str, tuple[np.ndarray, list[str]]]) -> str:
    parts = []
    for attribute in reversed(combo):
        labels = coded[attribute][1]
        value, code = divmod(int(value), len(labels))
        parts.append(labels[code])
    return JOIN.join(reversed(parts))


def confusion_counts(codes: np.ndarray, y_pred: np.ndarray, y_true: np.ndarray | None, *, groups: int) -> np.ndarray:
    """Per group ``[tn, fp, fn, tp]`` in one bincount; without labels, selected rows count as tp.

    Inputs may be any 1-d container (list, array, Series, one-column DataFrame).
    """
    codes, y_pred = _flat(codes), _flat(y_pred)
    truth = y_pred if y_true is None else _flat(y_true)
    cells = np.bincount(codes * 4 + truth.astype(np.int64) * 2 + y_pred.astype(np.int64), minlength=groups * 4)
    return cells.reshape(groups, 4)


def _flat(values: Any) -> np.ndarray:
    return np.asarray(values).ravel()


#: Bits of the int64 key that :func:`group_auc` sorts (sign bit left alone); wider keys take a lexsort.
_KEY_BITS = 63


def score_ranks(scores: Any) -> np.ndarray:
    """Dense rank of each row's score (0 for the lowest, tied scores share a rank), shared by every grouping's AUC.

    The only sort of the scores: an unstable one is enough (ties get one rank whatever their order), and numpy's
    default quicksort is several times faster than its stable merge sort on floats.
    """
    scores = _flat(scores)
    order = np.argsort(scores)
    ordered = scores[order]
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.concatenate(([0], np.cumsum(ordered[1:] != ordered[:-1])))
    return ranks


def group_auc(
    codes: Any, scores: Any, y_true: Any, *, groups: int, ranks: np.ndarray | None = None
) -> np.ndarray:
    """ROC AUC per group (Mann-Whitney rank sums), NaN where a group lacks one class.

    Each row becomes one int64 key, group code, score rank and label from high bits to low, and one sort of those
    keys puts each group's scores in order with no gather of the rows; tied (group, score) runs get their average
    position, as ``rankdata`` does.  Pass ``ranks`` from :func:`score_ranks` to share the score sort.
    """
    codes, truth = _flat(codes).astype(np.int64), _flat(y_true).astype(np.int64)
    ranks = score_ranks(scores) if ranks is None else ranks
    rank_bits = max(int(ranks.max(initial=0)).bit_length(), 1)
    if 1 + rank_bits + max(groups - 1, 0).bit_length() <= _KEY_BITS:
        keys = np.sort((codes << (rank_bits + 1)) | (ranks << 1) | truth)
        code, truth = keys >> (rank_bits + 1), keys & 1
        tied = keys >> 1
        starts = np.ones(len(keys), dtype=bool)
        starts[1:] = tied[1:] != tied[:-1]
    else:
        by_group = np.lexsort((ranks, codes))
        code, rank, truth = codes[by_group], ranks[by_group], truth[by_group]
        starts = np.ones(len(code), dtype=bool)
        starts[1:] = (code[1:] != code[:-1]) | (rank[1:] != rank[:-1])
    # Twice each row's average 1-based position in its tied run, in integers (exact); code is sorted, so the
    # per-group sums are differences of cumulative sums at the groups' boundaries.
    first = np.flatnonzero(starts)
    doubled = (first + np.append(first[1:], len(code)) + 1)[np.cumsum(starts) - 1]
    bounds = np.searchsorted(code, np.arange(groups + 1))
    group_start = bounds[:-1]
    positive_rows = np.concatenate(([0], np.cumsum(truth)))[bounds]
    positive_sums = np.concatenate(([0], np.cumsum(doubled * truth)))[bounds]
    positives = np.diff(positive_rows).astype(np.float64)
    negatives = np.diff(bounds) - positives
    rank_sum = (np.diff(positive_sums) - 2 * positives.astype(np.int64) * group_start) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
    return np.where((positives > 0) & (negatives > 0), auc, np.nan)


# -- the assessment ------------------------------------------------------------------------


def assess(
    frame: pd.DataFrame,
    *,
    attributes: Sequence[str],
    threshold: float,
    bands: dict[str, Sequence[float]] | None = None,
    min_group_size: int = 30,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    group_names: Mapping[str, Mapping[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """Group metrics with intervals, and every disparity, for each grouping of the rows.

    The rows are first reduced to their sufficient statistics (:func:`ethics.aggregates.from_rows`)
    and assessed by :func:`assess_statistics`, so rows and imported aggregates of the same
    rows give the same numbers.  Only the per-group AUC is exact here (a rank statistic of
    the rows); from aggregates it is the binned estimate within ``auc_bounds``.

    Parameters
    ----------
    frame : DataFrame
        Rows with ``score``, the sensitive attributes and, for label metrics, ``label``.
    attributes : sequence of str
        Sensitive attributes; every combination of them is assessed too.
    threshold : float
        Decision threshold: ``score >= threshold`` is selected.
    bands : dict, optional
        Band edges for numeric attributes.
    min_group_size : int, default 30
        Groups smaller than this are reported but left out of the judged disparities.
    resamples : int, default 1000
        Bootstrap resamples for the intervals (0 for none).
    confidence : float, default 0.95
        Interval coverage.
    seed : int, default 0
        Seed of the bootstrap.
    group_names : dict, optional
        Per attribute, its values' labels (``manifest.value_labels``), which name the groups.

    Returns
    -------
    list of dict
        Per grouping: ``grouping``, ``attributes``, ``groups`` (a row per group with
        each metric, its interval and ``judged``), ``disparities`` (name → value over
        all groups as fairlearn computes it; ``judged_value``, ``interval``,
        ``worst_group``, ``best_group`` over the judged groups).
    """
    # aggregates defines the statistics on top of this module's grouping rules.
    from ethics import aggregates

    if frame.empty:
        raise ValidationError(NO_ROWS.format(data="data"))
    if "score" not in frame.columns:
        raise ValidationError(NO_SCORE)
    scores = frame["score"].to_numpy()
    y_true = None
    if "label" in frame.columns:
        y_true = frame["label"].to_numpy()
        bad = ~np.isin(y_true, (0, 1))
        if bad.any():
            value = y_true[np.argmax(bad)]
            raise ValidationError(BAD_LABEL.format(value=value.item() if isinstance(value, np.generic) else value))
        y_true = y_true.astype(np.int64)
    # The rows are coded once: the statistics take the single attributes, the AUC every grouping.
    aggregates.columns(attributes)  # refuses an attribute named like a key column, as from_rows does first
    found = groupings(frame, attributes=attributes, bands=bands)
    statistics = aggregates.from_rows(frame, attributes=attributes, bands=bands, threshold=threshold,
                                      coded=found[:len(attributes)])
    results = assess_statistics(
        statistics, attributes=attributes, min_group_size=min_group_size, resamples=resamples,
        confidence=confidence, seed=seed, group_names=group_names,
    )
    if y_true is not None:
        ranks = score_ranks(scores)
        for grouping, result in zip(found, results, strict=True):
            auc = group_auc(grouping.codes, scores, y_true, groups=len(grouping.labels), ranks=ranks)
            for row, value in zip(result["groups"], auc, strict=True):
                row["auc"] = json_number(value)
    return results


def assess_statistics(
    statistics: pd.DataFrame,
    *,
    attributes: Sequence[str],
    min_group_size: int = 30,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    group_names: Mapping[str, Mapping[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`assess` from the sufficient statistics of one dataset instead of its rows.

    Parameters
    ----------
    statistics : DataFrame
        One dataset's statistics (:data:`ethics.aggregates.COLUMNS`): a row per cell of
        (sensitive attributes, label, selected, score bin) with its ``leads``.
    attributes : sequence of str
        Sensitive attributes; their values are already banded group labels.
    min_group_size, resamples, confidence, seed, group_names
        As in :func:`assess`; the same seed gives the same intervals as on the rows.

    Returns
    -------
    list of dict
        As :func:`assess`; each group's ``auc`` is the binned estimate, with ``auc_bounds``.
    """
    if "dataset" in statistics.columns and statistics["dataset"].nunique() > 1:
        raise ValidationError(MIXED_DATASETS.format(datasets=", ".join(sorted(statistics["dataset"].unique()))))
    cells_frame = statistics[statistics["leads"] > 0].reset_index(drop=True)
    if cells_frame.empty:
        raise ValidationError(NO_ROWS.format(data="statistics"))
    leads = cells_frame["leads"].to_numpy(dtype=np.float64)
    selected = cells_frame["selected"].to_numpy(dtype=np.int64)
    labelled = bool(cells_frame["label"].notna().any())
    truth = cells_frame["label"].to_numpy(dtype=np.float64, na_value=-1).astype(np.int64) if labelled else selected
    rng = np.random.default_rng(seed)
    results = []
    for grouping in groupings(cells_frame, attributes=attributes, group_names=group_names):
        size = len(grouping.labels)
        keys = grouping.codes * 4 + truth * 2 + selected
        cells = np.rint(np.bincount(keys, weights=leads, minlength=size * 4)).astype(np.int64).reshape(size, 4)
        boot = _resample(cells, resamples, rng)
        bounds = None
        if labelled:
            order = cells_frame["score_bin"].to_numpy(dtype=np.int64) * 2 + selected
            bounds = binned_auc(grouping.codes, order, truth, leads, groups=size)
        results.append(
            _assess_grouping(
                grouping, cells, boot, labelled=labelled, min_group_size=min_group_size, confidence=confidence,
                auc=None if bounds is None else bounds.mean(axis=0), auc_bounds=bounds,
            )
        )
    return results


def binned_auc(codes: Any, order: Any, y_true: Any, weights: Any, *, groups: int) -> np.ndarray:
    """Bounds of each group's ROC AUC from counts of rows per ordered score bin.

    Pairs of a positive and a negative row in different bins are ordered for certain;
    pairs in the same bin may go either way, so they count 0 for the lower bound and
    1 for the upper one (their midpoint treats them as ties, as the exact AUC does).

    Parameters
    ----------
    codes : array of int
        Group of each cell.
    order : array of int
        Ordered score bin of each cell (higher = higher scores).
    y_true : array of 0/1
        Label of each cell.
    weights : array
        Rows in each cell.
    groups : int
        Number of groups.

    Returns
    -------
    ndarray of shape (2, groups)
        Lower and upper bounds; NaN where a group lacks one class.
    """
    codes, order, y_true = _flat(codes).astype(np.int64), _flat(order).astype(np.int64), _flat(y_true)
    weights = _flat(weights).astype(np.float64)
    width = int(order.max()) + 1 if order.size else 1
    keys = codes * width + order
    positives = np.bincount(keys, weights=weights * (y_true == 1), minlength=groups * width).reshape(groups, width)
    negatives = np.bincount(keys, weights=weights * (y_true == 0), minlength=groups * width).reshape(groups, width)
    below = np.cumsum(negatives, axis=1) - negatives
    pairs = positives.sum(axis=1) * negatives.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = (positives * below).sum(axis=1) / pairs
        high = low + (positives * negatives).sum(axis=1) / pairs
    return np.where(pairs > 0, np.stack([low, high]), np.nan)


def _resample(cells: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray | None:
    return None if resamples <= 0 else multinomial(cells, resamples, rng)


def _metric_names(labelled: bool) -> list[str]:
    return [name for name, spec in METRICS.items() if labelled or not spec.needs_labels]


def _assess_grouping(
    grouping: Grouping,
    cells: np.ndarray,
    boot: np.ndarray | None,
    *,
    labelled: bool,
    min_group_size: int,
    confidence: float,
    auc: np.ndarray | None,
    auc_bounds: np.ndarray | None = None,
) -> dict[str, Any]:
    """One grouping's rows and disparities: :func:`ethics.comparison.assess_groups` on the confusion counts."""
    names = _metric_names(labelled)
    metrics = {name: _on_counts(METRICS[name].formula) for name in names}
    disparities = {name: (spec.kind, spec.metrics) for name, spec in DISPARITIES.items()
                   if labelled or not spec.needs_labels}
    judged = Counts(cells).n >= min_group_size
    compared = assess_groups(labels=grouping.labels, stats={"cells": cells},
                             boot=None if boot is None else {"cells": boot}, metrics=metrics,
                             disparities=disparities, judged=judged, confidence=confidence)
    groups = []
    for index, label in enumerate(grouping.labels):
        row: dict[str, Any] = {"group": label, "judged": bool(judged[index])}
        for name in names:
            row[name] = json_number(compared.values[name][index])
            if boot is not None and name != "count":
                row[f"{name}_interval"] = compared.intervals[name][index]
        if auc is not None:
            row["auc"] = json_number(auc[index])
        if auc_bounds is not None:
            row["auc_bounds"] = [json_number(auc_bounds[0, index]), json_number(auc_bounds[1, index])]
        groups.append(row)
    return {"grouping": grouping.name, "attributes": list(grouping.attributes), "groups": groups,
            "disparities": compared.disparities}


def _on_counts(formula: Callable[[Counts], np.ndarray]) -> Callable[[Any], np.ndarray]:
    return lambda stats: formula(Counts(stats["cells"]))
