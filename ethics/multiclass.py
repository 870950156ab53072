"""Next-best-offer models: which of several offers each group of leads gets, and how often rightly.

A next-best-offer model makes one of the manifest's offers (its classes, a list of
``{name, label, value}``; the value is the offer's expected value and optional) to each
lead.  Rows are reduced to *cells*: counts of leads per (group, offer made[, true best
offer]), the table :func:`multiclass_cells` returns and a warehouse can compute as well::

    SELECT COALESCE(sex, '(missing)') AS sex, COALESCE(age_band, '(missing)') AS age_band,
           offer, label, COUNT(*) AS leads
    FROM scored_leads GROUP BY ALL

(numeric attributes banded first, with :func:`ethics.fairness.band`'s labels).
:func:`assess_multiclass_cells` assesses cells, and :func:`assess_multiclass` is the same
on rows, so imported cells give the same numbers, intervals included.

Everything reported is declared in :data:`METRICS` and :data:`DISPARITIES`, each entry
with its presentation:

* per group and offer, the one-vs-rest selection rate: the share of the group's leads
  offered that offer (fairlearn's ``selection_rate`` of ``y_pred == offer``; fairlearn has
  no multiclass selection rate, issue #752, and one-vs-rest is the standard reading);
* with labels (the true best offer), per group and offer the recall of that offer
  (scikit-learn's ``recall_score(average=None)`` within the group);
* with offer values, the expected offer value per group, Σ share × value;
* disparities per offer (``by_class``) and, under the same names as
  :data:`ethics.fairness.DISPARITIES`, the worst offer's (the largest difference, the
  smallest ratio, as fairness takes the worst of several metrics), so the policy's
  thresholds apply unchanged;
* the group × offer frequency table (``offers`` in each group's row) with Pearson's
  chi-square test of independence over the judged groups (:func:`independence`).

The bootstrap resamples each group's leads from the cells.  Every interval is of a
quantity that depends on one margin of a group's cells: the offers made (offer rates,
expected value) or, for recall, the true offer and whether it was made.  So each margin
is drawn multinomially on its own: exactly the distribution a row bootstrap gives that
quantity, with C and 2·C categories per group instead of C².
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ethics.comparison import (
    CHI_SQUARE,
    DEGREES,
    LEADS,
    PROBABILITY,
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
from ethics.fairness import NO_ROWS, groupings
from ethics.lazy import lazy_module
from ethics.presentation import VALUE, Presentation
from ethics.store import json_number

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())
special = lazy_module("scipy.special", globals())

OFFER_COLUMN = "offer"
LABEL_COLUMN = "label"
LEADS_COLUMN = "leads"
#: Columns of the cells after the sensitive attributes.
CELL_COLUMNS = (OFFER_COLUMN, LABEL_COLUMN, LEADS_COLUMN)

NOT_AN_OFFER = "column {column!r}, row {row}: {value!r} is not one of the model's offers ({offers})."
OFFER_MISSING = "column {column!r}, row {row}: value is missing; it must be one of the model's offers ({offers})."
NO_OFFER_COLUMN = "Next-best-offer fairness needs a column 'offer' (the offer made to each lead); the {data} has none."
NO_OFFERS = "The model has no offers: give its classes as a list of {{name, label, value}} tables."
BAD_OFFER = "Offer {position} of the model's classes is {entry!r}; give a table with a non-empty text 'name'."
DUPLICATE_OFFER = "Offer {name!r} appears more than once in the model's classes."
BAD_OFFER_VALUE = "Offer {name!r} has value {value!r}, which is not a number."
SOME_VALUES = "Offers {missing} have no value but {given} do: give every offer a value, or none."
ATTRIBUTE_CLASH = "Sensitive attribute {name!r} has the name of a column of the cells ({columns}); rename it."
BAD_LEADS = "column 'leads', row {row}: {value!r} is not a whole number of leads of at least 0."
MIXED_LABELS = (
    "column 'label', row {row}: value is missing but other cells have a label; cells carry a true offer "
    "everywhere or nowhere."
)


@dataclass(frozen=True)
class Offer:
    """One class of a next-best-offer model, as the manifest lists it."""

    name: str
    label: str
    value: float | None = None


def read_offers(classes: Sequence[Mapping[str, Any] | Offer]) -> tuple[Offer, ...]:
    """The manifest's classes as offers, checked.

    Parameters
    ----------
    classes : sequence of mapping or Offer
        ``{name, label, value}`` per offer; ``label`` defaults to the name, ``value`` is optional.

    Returns
    -------
    tuple of Offer
        In the manifest's order.

    Raises
    ------
    ValidationError
        No offers, an offer without a name, a name twice, a value that is not a number, or
        values for some offers only.
    """
    if not classes:
        raise ValidationError(NO_OFFERS.format())
    offers = []
    for position, entry in enumerate(classes, start=1):
        if isinstance(entry, Offer):
            offers.append(entry)
            continue
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(BAD_OFFER.format(position=position, entry=entry))
        value = entry.get("value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValidationError(BAD_OFFER_VALUE.format(name=name, value=value))
        offers.append(Offer(name, str(entry.get("label") or name), None if value is None else float(value)))
    names = [offer.name for offer in offers]
    for name in names:
        if names.count(name) > 1:
            raise ValidationError(DUPLICATE_OFFER.format(name=name))
    given = [offer.name for offer in offers if offer.value is not None]
    if given and len(given) < len(offers):
        missing = [offer.name for offer in offers if offer.value is None]
        raise ValidationError(SOME_VALUES.format(missing=", ".join(missing), given=", ".join(given)))
    return tuple(offers)


def offer_codes(values: Any, *, offers: Sequence[str], column: str) -> np.ndarray:
    """The position of each row's offer among ``offers``.

    Names are compared as text, so an offer column read as numbers (``3``) matches the
    offer named ``"3"``.  Inputs may be any 1-d container (list, array, Series, one-column
    DataFrame).

    Parameters
    ----------
    values : array-like
        Offer names, one per row.
    offers : sequence of str
        The model's offer names, in order.
    column : str
        The column the values come from, for the message.

    Returns
    -------
    ndarray of int64

    Raises
    ------
    ValidationError
        Naming the column and the 1-based row of the first missing or unknown offer.
    """
    series = values.iloc[:, 0] if isinstance(values, pd.DataFrame) else values
    series = series if isinstance(series, pd.Series) else pd.Series(np.asarray(series, dtype=object).ravel())
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    index = {name: position for position, name in enumerate(offers)}
    mapping = np.array([index.get(str(_plain(u)), -1) for u in uniques] + [-1], dtype=np.int64)
    result = mapping[codes]  # a missing value's code -1 picks the appended -1
    bad = result < 0
    if bad.any():
        row = int(np.argmax(bad))
        listed = ", ".join(offers)
        if codes[row] < 0:
            raise ValidationError(OFFER_MISSING.format(column=column, row=row + 1, offers=listed))
        value = _plain(uniques[codes[row]])
        raise ValidationError(NOT_AN_OFFER.format(column=column, row=row + 1, value=value, offers=listed))
    return result


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def offer_counts(
    codes: Any, offered: Any, truth: Any = None, *, groups: int, classes: int, weights: Any = None
) -> np.ndarray:
    """Leads per (group, offer made[, true offer]) in one bincount.

    Parameters
    ----------
    codes : array-like of int
        Group of each lead (or cell).
    offered : array-like of int
        Offer made to each lead (its position among the offers).
    truth : array-like of int, optional
        True best offer of each lead.
    groups, classes : int
        Number of groups and of offers.
    weights : array-like, optional
        Leads in each entry, when the entries are cells rather than leads.

    Returns
    -------
    ndarray of int64
        Shape (groups, classes), or (groups, classes, classes) with ``truth``.
    """
    key = np.asarray(codes).ravel().astype(np.int64) * classes + np.asarray(offered).ravel().astype(np.int64)
    shape: tuple[int, ...] = (groups, classes)
    if truth is not None:
        key = key * classes + np.asarray(truth).ravel().astype(np.int64)
        shape = (groups, classes, classes)
    weights = None if weights is None else np.asarray(weights).ravel()
    counts = np.bincount(key, weights=weights, minlength=int(np.prod(shape)))
    return np.rint(counts).astype(np.int64).reshape(shape)


# -- the spec ------------------------------------------------------------------------------


def _expected_value(stats: Stats, _: int | None) -> np.ndarray:
    return rate((stats["offered"] * stats["values"][:, None]).sum(axis=-2), stats["n"])


@dataclass(frozen=True)
class OfferMetric:
    """A per-group metric on the offers' statistics, per offer (``per_class``) or over all of them."""

    presentation: Presentation
    formula: Callable[[Stats, int | None], np.ndarray]
    per_class: bool
    needs_labels: bool = False
    needs_values: bool = False
    interval: bool = True


@dataclass(frozen=True)
class OfferDisparity:
    """How groups are compared on one metric (per offer, and the worst offer, for a per-offer metric)."""

    presentation: Presentation
    metric: str
    kind: Kind


METRICS: dict[str, OfferMetric] = {
    "count": OfferMetric(Presentation(LEADS, "{:,.0f}", None, label="Leads"), lambda s, _: s["n"], False,
                         interval=False),
    "selection_rate": OfferMetric(
        Presentation(SHARE, "{:.1%}", "lower", label="Offer rate"),
        lambda s, c: rate(s["offered"][..., c, :], s["n"]), True,
    ),
    "true_positive_rate": OfferMetric(
        Presentation(SHARE, "{:.1%}", "lower", label="Recall of the offer"),
        lambda s, c: rate(s["hits"][..., c, :], s["truths"][..., c, :]), True, needs_labels=True,
    ),
    "expected_value": OfferMetric(
        Presentation(VALUE, "{:,.2f}", "lower", label="Expected offer value"), _expected_value, False,
        needs_values=True,
    ),
}

DISPARITIES: dict[str, OfferDisparity] = {
    "demographic_parity_difference": OfferDisparity(
        disparity_presentation("Offer-rate difference", "difference", unit=SHARE), "selection_rate", "difference"
    ),
    "demographic_parity_ratio": OfferDisparity(
        disparity_presentation("Offer-rate ratio", "ratio", unit=SHARE), "selection_rate", "ratio"
    ),
    "equal_opportunity_difference": OfferDisparity(
        disparity_presentation("Recall difference", "difference", unit=SHARE), "true_positive_rate", "difference"
    ),
    "expected_value_difference": OfferDisparity(
        disparity_presentation("Expected-value difference", "difference", unit=VALUE), "expected_value", "difference"
    ),
    "expected_value_ratio": OfferDisparity(
        disparity_presentation("Expected-value ratio", "ratio", unit=VALUE), "expected_value", "ratio"
    ),
}

#: The chi-square test of independence of offer and group (``independence`` of each grouping).
INDEPENDENCE: dict[str, Presentation] = {
    "statistic": Presentation(CHI_SQUARE, "{:.1f}", "higher", label="Chi-square statistic (offer against group)"),
    "p_value": Presentation(PROBABILITY, "{:.3g}", "lower", label="p-value of independence"),
    "dof": Presentation(DEGREES, "{:d}", None, label="Degrees of freedom"),
    "min_expected": Presentation(LEADS, "{:.1f}", "lower", label="Smallest expected count"),
}


def _applies(metric: OfferMetric, *, labelled: bool, valued: bool) -> bool:
    return (labelled or not metric.needs_labels) and (valued or not metric.needs_values)


# -- the chi-square test -------------------------------------------------------------------


def independence(table: Any, *, correction: bool = True) -> dict[str, Any]:
    """Pearson's chi-square test that offers are independent of the group, on a groups × offers table.

    The same test as ``scipy.stats.chi2_contingency(table, correction=correction)``, with
    one difference: offers no group was offered (all-zero columns) and groups with no
    leads (all-zero rows) are left out first.  They carry no information about
    independence, and scipy refuses such a table (an expected count of zero).  Yates'
    continuity correction applies, as in scipy, when one degree of freedom is left.
    Fewer than two rows or columns left give statistic 0, p-value 1 and 0 degrees of
    freedom, as scipy does for a one-dimensional table.

    Parameters
    ----------
    table : array-like of shape (groups, offers)
        Leads per group and offer made.
    correction : bool, default True
        Yates' correction for a 2 × 2 table (after the empty rows and columns are left out).

    Returns
    -------
    dict
        ``statistic``, ``p_value``, ``dof``, ``min_expected`` (the smallest expected count, for
        judging whether the chi-square approximation holds: 5 is the usual rule) and
        ``columns`` (positions of the offers tested).
    """
    observed = np.asarray(table, dtype=np.float64)
    rows, columns = observed.sum(axis=1) > 0, observed.sum(axis=0) > 0
    observed = observed[rows][:, columns]
    tested = [int(c) for c in np.flatnonzero(columns)]
    if observed.shape[0] < 2 or observed.shape[1] < 2:
        least = float(observed.min()) if observed.size else None
        return {"statistic": 0.0, "p_value": 1.0, "dof": 0, "min_expected": least, "columns": tested}
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    dof = (observed.shape[0] - 1) * (observed.shape[1] - 1)
    if dof == 1 and correction:
        difference = expected - observed
        observed = observed + np.minimum(0.5, np.abs(difference)) * np.sign(difference)
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return {"statistic": statistic, "p_value": float(special.chdtrc(dof, statistic)), "dof": dof,
            "min_expected": float(expected.min()), "columns": tested}


# -- rows to cells -------------------------------------------------------------------------


def _check_attributes(attributes: Sequence[str]) -> None:
    for name in attributes:
        if name in CELL_COLUMNS:
            raise ValidationError(ATTRIBUTE_CLASH.format(name=name, columns=", ".join(CELL_COLUMNS)))


def multiclass_cells(
    frame: pd.DataFrame,
    *,
    attributes: Sequence[str],
    classes: Sequence[Mapping[str, Any] | Offer],
    bands: dict[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """The cells of scored rows: leads per (sensitive attributes, offer made, true offer).

    Parameters
    ----------
    frame : DataFrame
        Rows with ``offer``, the sensitive attributes and optionally ``label`` (the true best offer).
    attributes : sequence of str
        Sensitive attributes.
    classes : sequence of mapping or Offer
        The model's offers (see :func:`read_offers`).
    bands : dict, optional
        Band edges of numeric attributes (see :func:`ethics.fairness.band`).

    Returns
    -------
    DataFrame
        Columns ``*attributes, offer, label, leads``: one row per occupied cell, in key
        order (groups as :func:`ethics.fairness.groupings` sorts them, offers in the
        manifest's order); attribute values are group labels (banded, ``(missing)``);
        ``label`` is None throughout for unlabelled rows.

    Raises
    ------
    ValidationError
        No rows, no ``offer`` column, an attribute that is not a column or is named like a
        cell column, or an offer that is not one of the model's.
    """
    offers = read_offers(classes)
    names = [offer.name for offer in offers]
    _check_attributes(attributes)
    if frame.empty:
        raise ValidationError(NO_ROWS.format(data="data"))
    if OFFER_COLUMN not in frame.columns:
        raise ValidationError(NO_OFFER_COLUMN.format(data="data"))
    coded = groupings(frame, attributes=attributes, bands=bands, intersections=False)
    parts = [(g.codes, len(g.labels)) for g in coded]
    parts.append((offer_codes(frame[OFFER_COLUMN], offers=names, column=OFFER_COLUMN), len(names)))
    labelled = LABEL_COLUMN in frame.columns
    if labelled:
        parts.append((offer_codes(frame[LABEL_COLUMN], offers=names, column=LABEL_COLUMN), len(names)))
    decoded, inverse = occupied_cells(parts)
    out: dict[str, Any] = {
        g.name: np.asarray(g.labels, dtype=object)[codes] for g, codes in zip(coded, decoded, strict=False)
    }
    out[OFFER_COLUMN] = np.asarray(names, dtype=object)[decoded[len(coded)]]
    out[LABEL_COLUMN] = np.asarray(names, dtype=object)[decoded[-1]] if labelled else None
    out[LEADS_COLUMN] = np.bincount(inverse).astype(np.int64)
    return pd.DataFrame(out, index=pd.RangeIndex(len(out[LEADS_COLUMN])))


# -- the assessment ------------------------------------------------------------------------


def assess_multiclass(
    frame: pd.DataFrame,
    *,
    attributes: Sequence[str],
    classes: Sequence[Mapping[str, Any] | Offer],
    bands: dict[str, Sequence[float]] | None = None,
    min_group_size: int = 30,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Offer rates, recall, expected value and their disparities per grouping of the rows.

    The rows are reduced to :func:`multiclass_cells` and assessed by
    :func:`assess_multiclass_cells`, so rows and imported cells give equal results.

    Parameters
    ----------
    frame : DataFrame
        Rows with ``offer``, the sensitive attributes and optionally ``label`` (the true best offer).
    attributes : sequence of str
        Sensitive attributes; every combination of them is assessed too.
    classes : sequence of mapping or Offer
        The model's offers: ``{name, label, value}`` (value optional).
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
        As :func:`assess_multiclass_cells`.

    Raises
    ------
    ValidationError
        As :func:`multiclass_cells`.
    """
    cells = multiclass_cells(frame, attributes=attributes, classes=classes, bands=bands)
    return assess_multiclass_cells(
        cells, attributes=attributes, classes=classes, min_group_size=min_group_size, resamples=resamples,
        confidence=confidence, seed=seed,
    )


def assess_multiclass_cells(
    cells: pd.DataFrame,
    *,
    attributes: Sequence[str],
    classes: Sequence[Mapping[str, Any] | Offer],
    min_group_size: int = 30,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    group_names: Mapping[str, Mapping[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`assess_multiclass` from cells (computed here or where the data lives).

    Parameters
    ----------
    cells : DataFrame
        Columns ``*attributes, offer, leads`` and optionally ``label`` (see :func:`multiclass_cells`).
    attributes : sequence of str
        Sensitive attributes; their values are already group labels.
    classes : sequence of mapping or Offer
        The model's offers.
    min_group_size, resamples, confidence, seed
        As in :func:`assess_multiclass`.
    group_names : dict, optional
        Per attribute, its values' labels (``manifest.value_labels``), which name the groups.

    Returns
    -------
    list of dict
        Per grouping (single attributes, then intersections): ``grouping``, ``attributes``,
        ``groups`` (per group ``group``, ``judged``, ``count``, ``offers`` (leads per offer
        made: the frequency table), ``selection_rate`` and, with labels,
        ``true_positive_rate`` as mappings offer → value, with values
        ``expected_value``, and each metric's ``<metric>_interval``), ``disparities`` (name
        → the worst offer's entry as in :func:`ethics.fairness.assess`, with ``class``
        naming that offer and ``by_class`` holding every offer's entry; expected-value
        disparities have no offers) and ``independence`` (:func:`independence` over the
        judged groups, with ``judged``, ``judged_groups`` and ``offers`` tested).

    Raises
    ------
    ValidationError
        A missing column, an offer not of the model, a bad lead count, labels on some cells only.
    """
    offers = read_offers(classes)
    names = [offer.name for offer in offers]
    _check_attributes(attributes)
    require_cell_columns(cells, (*attributes, OFFER_COLUMN, LEADS_COLUMN))
    leads = _lead_counts(cells[LEADS_COLUMN])
    labelled = cells_labelled(cells, mixed=MIXED_LABELS, column=LABEL_COLUMN)
    offered = offer_codes(cells[OFFER_COLUMN], offers=names, column=OFFER_COLUMN)
    truth = offer_codes(cells[LABEL_COLUMN], offers=names, column=LABEL_COLUMN) if labelled else None
    kept, keep = occupied_rows(cells, leads, empty=NO_ROWS.format(data="cells"))
    leads, offered = leads[keep], offered[keep]
    truth = None if truth is None else truth[keep]
    rng = np.random.default_rng(seed)
    results = []
    for grouping in groupings(kept, attributes=attributes, group_names=group_names):
        size = len(grouping.labels)
        counts = offer_counts(grouping.codes, offered, truth, groups=size, classes=len(names), weights=leads)
        stats = _stats(counts, offers)
        boot = None if resamples <= 0 else _resample(stats, resamples, rng)
        results.append(_assess_grouping(grouping, stats, boot, offers=offers, min_group_size=min_group_size,
                                        confidence=confidence))
    return results


def _lead_counts(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~(np.isfinite(numbers) & (numbers >= 0) & (numbers == np.round(numbers)))
    if bad.any():
        row = int(np.argmax(bad))
        raise ValidationError(BAD_LEADS.format(row=row + 1, value=_plain(values.iloc[row])))
    return numbers.astype(np.int64)


def _stats(counts: np.ndarray, offers: Sequence[Offer]) -> dict[str, np.ndarray]:
    """Statistics with groups on the last axis.

    ``n``, ``offered`` (offers × groups), with labels ``hits`` and ``truths`` (true offers ×
    groups), and the offers' ``values`` (NaN without).
    """
    offered = counts if counts.ndim == 2 else counts.sum(axis=2)
    stats = {
        "n": offered.sum(axis=1),
        "offered": offered.T,
        "values": np.array([np.nan if o.value is None else o.value for o in offers], dtype=np.float64),
    }
    if counts.ndim == 3:
        stats["hits"] = np.diagonal(counts, axis1=1, axis2=2).T
        stats["truths"] = counts.sum(axis=1).T
    return stats


def _resample(stats: Stats, resamples: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each group's margins drawn multinomially: the offers made, and (true offer, offer made or not)."""
    boot = {"n": np.broadcast_to(stats["n"], (resamples, len(stats["n"]))), "values": stats["values"],
            "offered": multinomial(stats["offered"].T, resamples, rng).transpose(0, 2, 1)}
    if "hits" in stats:
        hits, truths = stats["hits"].T, stats["truths"].T
        drawn = multinomial(np.concatenate([hits, truths - hits], axis=1), resamples, rng)
        classes = hits.shape[1]
        boot["hits"] = drawn[..., :classes].transpose(0, 2, 1)
        boot["truths"] = (drawn[..., :classes] + drawn[..., classes:]).transpose(0, 2, 1)
    return boot


def _assess_grouping(
    grouping: Any,
    stats: dict[str, np.ndarray],
    boot: dict[str, np.ndarray] | None,
    *,
    offers: Sequence[Offer],
    min_group_size: int,
    confidence: float,
) -> dict[str, Any]:
    names = [offer.name for offer in offers]
    labelled = "hits" in stats
    valued = offers[0].value is not None
    metrics: dict[tuple[str, str | None], Callable[[Stats], np.ndarray]] = {}
    for name, spec in METRICS.items():
        if _applies(spec, labelled=labelled, valued=valued):
            for position, offer in enumerate(names if spec.per_class else [None]):
                metrics[(name, offer)] = _bound(spec, None if offer is None else position)
    disparities: dict[tuple[str, str | None], tuple[Kind, list[tuple[str, str | None]]]] = {}
    for name, spec in DISPARITIES.items():
        metric = METRICS[spec.metric]
        if not _applies(metric, labelled=labelled, valued=valued):
            continue
        keys = [(spec.metric, offer) for offer in (names if metric.per_class else [None])]
        disparities[(name, None)] = (spec.kind, keys)
        if metric.per_class:
            disparities |= {(name, key[1]): (spec.kind, [key]) for key in keys}
    judged = stats["n"] >= min_group_size
    compared = assess_groups(labels=grouping.labels, stats=stats, boot=boot, metrics=metrics,
                             disparities=disparities, judged=judged, confidence=confidence)
    groups = []
    for index, label in enumerate(grouping.labels):
        row: dict[str, Any] = {"group": label, "judged": bool(judged[index]),
                               "offers": {n: int(stats["offered"][c, index]) for c, n in enumerate(names)}}
        for name, spec in METRICS.items():
            if not _applies(spec, labelled=labelled, valued=valued):
                continue
            if spec.per_class:
                row[name] = {offer: json_number(compared.values[(name, offer)][index]) for offer in names}
            else:
                row[name] = json_number(compared.values[(name, None)][index])
            if spec.interval and compared.intervals:
                row[f"{name}_interval"] = (
                    {offer: compared.intervals[(name, offer)][index] for offer in names} if spec.per_class
                    else compared.intervals[(name, None)][index]
                )
        groups.append(row)
    entries: dict[str, Any] = {}
    for (name, offer), entry in compared.disparities.items():
        entry = _named_metric(entry)
        if offer is None:
            entries[name] = entry | ({"by_class": {}} if METRICS[DISPARITIES[name].metric].per_class else {})
        else:
            entries[name]["by_class"][offer] = entry
    return {
        "grouping": grouping.name,
        "attributes": list(grouping.attributes),
        "groups": groups,
        "disparities": entries,
        "independence": _independence(stats["offered"].T, judged, names),
    }


def _bound(spec: OfferMetric, position: int | None) -> Callable[[Stats], np.ndarray]:
    return lambda stats: spec.formula(stats, position)


def _named_metric(entry: dict[str, Any]) -> dict[str, Any]:
    """The engine's metric key (metric, offer) as ``metric`` and ``class``."""
    entry = dict(entry)
    if "metric" in entry:
        entry["metric"], offer = entry["metric"]
        if offer is not None:
            entry["class"] = offer
    return entry


def _independence(table: np.ndarray, judged: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"judged": bool(judged.sum() >= 2), "judged_groups": int(judged.sum())}
    if not result["judged"]:
        return result
    test = independence(table[judged])
    return result | {
        "statistic": json_number(test["statistic"]),
        "p_value": json_number(test["p_value"]),
        "dof": test["dof"],
        "min_expected": None if test["min_expected"] is None else json_number(test["min_expected"]),
        "offers": [names[c] for c in test["columns"]],
    }
