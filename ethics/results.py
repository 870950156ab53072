"""The results contract: what a snapshot's ``results`` hold, area by area, with a schema version.

Every renderer (pages, PDF, model card, CLI, lights) reads snapshot results through
these records instead of guessing at nested dicts.  A new snapshot stores
:data:`SCHEMA_VERSION`; :func:`read` upgrades any stored version to the current view
(a snapshot written before versions existed is version 1) without touching what was
stored, so old snapshots still read and still verify against their hash.

Records are ``TypedDict``s: plain JSON-ready dicts at run time, typed for readers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict

from ethics.errors import ValidationError

SCHEMA_VERSION = 2
Outcome = Literal["binary", "continuous", "multiclass", "ranking"]
Status = Literal["pass", "warn", "fail", "too_few"]
Source = Literal["rows", "aggregates"]

NOT_RESULTS = "Snapshot results must be a JSON object, got {kind}."
NEWER_SCHEMA = (
    "Snapshot results have schema version {version}, newer than this ethics ({current}): upgrade ethics to read them."
)
BAD_SECTION = "Snapshot results: section {section!r} must be {expected}, got {kind}."


class Performance(TypedDict):
    """Evaluation-set performance at the threshold."""

    rows: int
    accuracy: float | None
    auc: float | None
    base_rate: float | None
    selection_rate: float | None
    auc_bounds: NotRequired[list[float | None]]
    calibration: NotRequired[list[dict[str, Any]]]


class AmountSummary(TypedDict, total=False):
    """A continuous model's data set: rows, mean amount and, with realised values, the errors (in its unit)."""

    rows: int
    mean: float | None
    mean_realised: float | None
    mae: float | None
    mean_residual: float | None
    rmse: float | None


class OfferSummary(TypedDict, total=False):
    """A next-best-offer model's data set: rows, each offer's share and, with true offers, the accuracy."""

    rows: int
    offer_shares: dict[str, float | None]
    accuracy: float | None


class CallListSummary(TypedDict, total=False):
    """A call list worked to capacity: rows, leads called, their share, exposure; with labels precision, recall."""

    rows: int
    called: int
    selection_rate: float | None
    exposure: float | None
    precision_at_capacity: float | None
    recall_at_capacity: float | None
    base_rate: float | None


class Scoring(TypedDict):
    """The scoring batch at the threshold."""

    rows: int
    mean_score: float | None
    selection_rate: float | None


class GroupRow(TypedDict, total=False):
    """One group of one grouping: ``group``, ``judged``, each metric and its ``<metric>_interval``."""

    group: str
    judged: bool
    count: float


class DisparityEntry(TypedDict, total=False):
    """One disparity of one grouping: over all groups (``value``) and over the judged ones."""

    value: float | None
    judged_groups: int
    judged_value: float | None
    interval: list[float | None]
    metric: str
    worst_group: str
    worst_value: float | None
    best_group: str
    best_value: float | None


class GroupingResult(TypedDict):
    """The groups and disparities of one attribute or intersection."""

    grouping: str
    attributes: list[str]
    groups: list[GroupRow]
    disparities: dict[str, DisparityEntry]


class Verdict(TypedDict):
    """A disparity judged against the policy, with its sentence."""

    data: Literal["eval", "scores"]
    grouping: str
    metric: str
    label: str
    status: Status
    value: float | None
    interval: list[float | None] | None
    threshold: dict[str, float]
    sentence: str


class DriftColumn(TypedDict, total=False):
    """PSI of one column against the reference."""

    column: str
    psi: float | None
    status: str


class Drift(TypedDict, total=False):
    """Score (and, from rows, feature) drift against the reference week."""

    reference_week: str
    columns: list[DriftColumn]
    note: str


class Explanations(TypedDict, total=False):
    """SHAP explanations of the scoring batch (``ethics.explain.snapshot_explanations``).

    ``status`` is ``available`` or ``unavailable`` (then ``reason`` says why: a scores-only
    model, no scoring batch, only aggregates); ``proxies`` (the proxy check) is there either way.
    """

    status: Literal["available", "unavailable"]
    reason: str
    explainer: str
    sampling: dict[str, int]  # the sampled explainer's budget: permutations, background rows
    output_space: str
    base_value: float
    rows: int
    additivity_max_error: float
    importance: list[dict[str, Any]]
    leads: dict[str, Any] | None
    proxies: list[dict[str, Any]]


class ConsentTeam(TypedDict):
    """Consent coverage of one sales team's leads."""

    team: str | None
    scored: int
    covered: int
    coverage: float | None
    without_consent: int
    after_withdrawal: int
    after_objection: int


class Consent(TypedDict, total=False):
    """Consent coverage of the scoring batch (``human_routing`` and ``fairness_consented`` need rows)."""

    purpose: str
    scored: int
    covered: int
    coverage: float | None
    without_consent: int
    after_withdrawal: int
    after_objection: int
    violations: int
    human_routing: int | None
    by_team: list[ConsentTeam]
    fairness_consented: dict[str, Any]
    source: str


class Results(TypedDict, total=False):
    """A snapshot's results; each area is present when the week's data allowed it.

    ``performance`` and ``scoring`` are :class:`Performance` and :class:`Scoring` for a binary
    model, and the summary of its type otherwise (:class:`AmountSummary`,
    :class:`OfferSummary`, :class:`CallListSummary`).  Groupings of a continuous model carry
    ``unit``, ``favourable``, ``quantile`` and, with a control, ``strata``; of a multiclass
    model each group's ``offers`` and per-offer metrics (offer → value), and ``independence``.
    """

    schema_version: int
    outcome: Outcome
    threshold: float
    unit: str
    favourable: Literal["higher", "lower"]
    control: str | None
    offers: list[dict[str, Any]]
    value_unit: str | None
    capacity: int | dict[str, int] | None
    lists: list[str]
    source: dict[str, Source]
    rows: dict[str, int]
    performance: Performance | AmountSummary | OfferSummary | CallListSummary
    scoring: Scoring | AmountSummary | OfferSummary | CallListSummary
    fairness: dict[str, list[GroupingResult]]
    verdicts: list[Verdict]
    sampling: list[dict[str, Any]]
    drift: Drift
    explanations: Explanations
    consent: Consent
    consent_counts: dict[str, list[dict[str, Any]]]


_SECTIONS: dict[str, type | tuple[type, ...]] = {
    "threshold": (int, float), "source": dict, "rows": dict, "performance": dict, "scoring": dict,
    "fairness": dict, "verdicts": list, "sampling": list, "drift": dict, "explanations": dict, "consent": dict,
    "consent_counts": dict, "unit": str, "offers": list, "lists": list,
}


def stamp(results: dict[str, Any], *, outcome: Outcome = "binary") -> Results:
    """New results as written now: the schema version and outcome type first, then checked.

    Raises
    ------
    ValidationError
        A section of the wrong shape (a bug, caught before anything is stored).
    """
    stamped: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "outcome": outcome, **results}
    check(stamped)
    return stamped  # type: ignore[return-value]


def read(stored: Mapping[str, Any]) -> Results:
    """Stored results of any schema version as the current :class:`Results` (a new dict; nothing stored changes).

    Version 1 (no ``schema_version``) is today's binary results without the two stamps.

    Raises
    ------
    ValidationError
        Not an object, a section of the wrong shape, or a version newer than this code.
    """
    if not isinstance(stored, Mapping):
        raise ValidationError(NOT_RESULTS.format(kind=type(stored).__name__))
    version = int(stored.get("schema_version", 1))
    if version > SCHEMA_VERSION:
        raise ValidationError(NEWER_SCHEMA.format(version=version, current=SCHEMA_VERSION))
    results: dict[str, Any] = {"schema_version": version, "outcome": stored.get("outcome", "binary"), **stored}
    check(results)
    return results  # type: ignore[return-value]


def check(results: Mapping[str, Any]) -> None:
    """Refuse results whose sections do not have the contract's shape.

    Raises
    ------
    ValidationError
        Naming the section.
    """
    for section, expected in _SECTIONS.items():
        value = results.get(section)
        if value is not None and not isinstance(value, expected):
            names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
            raise ValidationError(BAD_SECTION.format(section=section, expected=names, kind=type(value).__name__))
