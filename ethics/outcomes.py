"""The evaluation of amounts, offers and call lists: one table of engines, one path rows → cells → results.

A binary model's week runs through :mod:`ethics.aggregates` and :mod:`ethics.fairness`
(``snapshots.evaluate``).  The other outcome types run here, each with its engine
(:mod:`ethics.continuous`, :mod:`ethics.multiclass`, :mod:`ethics.ranking`) chosen from
:data:`ENGINES` by the manifest's ``outcome``:

1. :func:`row_cells` reduces a week's rows of one kind to the engine's cells, split by
   sales team and consent state (the extra keys every engine sums over), so one table
   carries fairness, consent coverage and the week's summary; imported statistics of such
   a model are the same table (:func:`check_cells`).
2. :func:`assess_week` reads only cells: the per-group metrics and disparities with
   their intervals, the verdicts against the policy table of the outcome type, the
   summary of the evaluation set (``performance``) and of the scoring batch (``scoring``).

Each engine's ``METRICS`` and ``DISPARITIES`` carry their :class:`~ethics.presentation.Presentation`;
:func:`metric_views` and :func:`disparity_view` give every renderer the label, unit and
format of a result in the model's own unit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ethics import continuous, fairness, multiclass, ranking, text_cells
from ethics.comparison import RATIO, SHARE
from ethics.errors import ValidationError
from ethics.lazy import lazy_module
from ethics.manifest import outcome_of, sensitive_names, value_labels
from ethics.policy import DATA_NAMES, describe_threshold, group_phrase, interval_crosses, judge
from ethics.presentation import Presentation
from ethics.store import json_number

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())

#: The keys every non-binary cells table carries beside the engine's own: who scored it, and consent.
EXTRA_KEYS = ("team", "consent_status")
NO_THRESHOLDS = "no policy thresholds for {outcome} models: set [policy.{table}] (or [policy.models.\"{model}\"])"


@dataclass(frozen=True)
class View:
    """How one result is shown: its label and its presentation in the model's unit."""

    label: str
    shown: Presentation


@dataclass(frozen=True)
class Engine:
    """One outcome type: its metric spec, its policy table and how rows become cells and cells results."""

    outcome: str
    metrics: Mapping[str, Any]
    disparities: Mapping[str, Any]
    cells: Callable[[pd.DataFrame, Mapping[str, Any], str], pd.DataFrame]
    assess: Callable[[pd.DataFrame, Mapping[str, Any], dict[str, Any]], list[dict[str, Any]]]
    summary: Callable[[pd.DataFrame, str], dict[str, Any]]
    #: The noun of one decision in sentences ("customers" get an amount, "leads" an offer or a call).
    subject: str = "leads"


# -- rows to cells -------------------------------------------------------------------------------


def _bands(manifest: Mapping[str, Any]) -> dict[str, Any]:
    return {a["name"]: a["bands"] for a in manifest["sensitive_attributes"] if a.get("bands")}


def _continuous_cells(frame: pd.DataFrame, manifest: Mapping[str, Any], kind: str) -> pd.DataFrame:
    return continuous.cells_table(
        frame, outcome="score", attributes=sensitive_names(manifest), label="label" if kind == "eval" else None,
        control=manifest.get("control"), bands=_bands(manifest), resolution=manifest.get("resolution"))


def _multiclass_cells(frame: pd.DataFrame, manifest: Mapping[str, Any], kind: str) -> pd.DataFrame:
    rows = frame if kind == "eval" else frame.drop(columns=["label"], errors="ignore")
    return multiclass.multiclass_cells(rows, attributes=sensitive_names(manifest), classes=manifest["classes"],
                                       bands=_bands(manifest))


def _ranking_cells(frame: pd.DataFrame, manifest: Mapping[str, Any], kind: str) -> pd.DataFrame:
    rows = frame if kind == "eval" else frame.drop(columns=["label"], errors="ignore")
    lists = manifest["ranking"]["lists"]
    return ranking.ranking_cells(rows, attributes=sensitive_names(manifest), lists=lists, bands=_bands(manifest))


def _ranked(frame: pd.DataFrame, manifest: Mapping[str, Any]) -> pd.DataFrame:
    """Rows with their rank in their whole list and its capacity, before they are split by team and consent."""
    lists = manifest["ranking"]["lists"]
    codes, names = ranking.list_codes(frame, lists=lists)
    ranks = ranking.list_ranks(codes, frame["score"].to_numpy(dtype=np.float64))
    capacity = manifest["ranking"]["capacity"]
    k = ranking.capacities(codes, names, capacity=capacity if capacity is not None else None, frame=frame)
    return frame.assign(rank=ranks, capacity=k[codes])


def row_cells(frame: pd.DataFrame, *, manifest: Mapping[str, Any], kind: str) -> pd.DataFrame:
    """One kind's rows as the engine's cells, with ``dataset``, ``team`` and ``consent_status`` keys.

    Parameters
    ----------
    frame : DataFrame
        Validated rows of a non-binary model (``datasets.validate_rows``), with ``consent_status``
        when the model names a consent purpose.
    manifest : mapping
        The version's manifest.
    kind : {"eval", "scores"}

    Returns
    -------
    DataFrame
        The engine's cell columns, then ``dataset``, ``team`` and ``consent_status`` (None
        when the rows carry no consent state); one row per occupied cell of each
        (team, consent state).  A call list is ranked over all of its leads first.
    """
    engine = engine_for(manifest)
    if engine.outcome == "ranking":
        frame = _ranked(frame, manifest)
    keys = [key for key in EXTRA_KEYS if key in frame.columns]
    parts = []
    for values, part in frame.groupby(keys, sort=True, dropna=False) if keys else [((), frame)]:
        values = values if isinstance(values, tuple) else (values,)
        cells = engine.cells(part, manifest, kind)
        extra = dict(zip(keys, values, strict=True))
        parts.append(cells.assign(dataset=kind, **{key: extra.get(key) for key in EXTRA_KEYS}))
    out = pd.concat(parts, ignore_index=True)
    for key in EXTRA_KEYS:
        out[key] = out[key].astype(object).where(out[key].notna(), None)
    return out


def split_cells(cells: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Imported cells of a non-binary model by dataset kind (``eval``, ``scores``), with the extra keys filled."""
    cells = cells.assign(**{key: None for key in EXTRA_KEYS if key not in cells.columns})
    return {kind: cells[cells["dataset"] == kind].reset_index(drop=True)
            for kind in DATA_NAMES if (cells["dataset"] == kind).any()}


def check_cells(cells: pd.DataFrame, *, manifest: Mapping[str, Any], file: str) -> pd.DataFrame:
    """Refuse imported cells that the model's engine cannot assess; the message names the file, row and column.

    Raises
    ------
    ValidationError
        No ``dataset`` column, a dataset other than eval or scores, a text cell (team, group,
        offer, ...) that starts a formula, holds a control or bidirectional character or
        names a team against the team rule (:mod:`ethics.text_cells`, as for a yes/no model's
        statistics), or any problem the engine finds in the cells (missing column, a value
        that is not a number or an offer, a bad count).
    """
    if "dataset" not in cells.columns:
        raise ValidationError(f"{file}: column 'dataset' is missing (eval or scores on every row).")
    bad = ~cells["dataset"].isin(list(DATA_NAMES)).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise ValidationError(f"{file}, row {row + 1}, column 'dataset': {cells['dataset'].iloc[row]!r} is not "
                              "eval or scores.")
    text_cells.refuse_bad_cells(cells, file=file)
    engine = engine_for(manifest)
    for kind, part in split_cells(cells).items():
        try:
            engine.assess(part, manifest, {"min_group_size": 1, "resamples": 0, "confidence": 0.95, "seed": 0})
        except ValidationError as error:
            raise ValidationError(f"{file} ({DATA_NAMES[kind]}): {error.message}") from None
    return cells


# -- cells to results ----------------------------------------------------------------------------


def _continuous_assess(cells: pd.DataFrame, manifest: Mapping[str, Any], options: dict[str, Any]) -> list[dict]:
    table = cells if "label_sum" in cells.columns and cells["label_sum"].notna().any() else cells.drop(
        columns=list(continuous.LABEL_COLUMNS), errors="ignore")
    return continuous.assess_continuous_cells(
        table, attributes=sensitive_names(manifest), unit=manifest["unit"], control=manifest.get("control"),
        favourable=manifest.get("favourable", "higher"), resolution=manifest.get("resolution"),
        quantile=options.get("quantile", 0.5), **_engine_options(options))


def _multiclass_assess(cells: pd.DataFrame, manifest: Mapping[str, Any], options: dict[str, Any]) -> list[dict]:
    return multiclass.assess_multiclass_cells(cells, attributes=sensitive_names(manifest),
                                              classes=manifest["classes"], **_engine_options(options))


def _ranking_assess(cells: pd.DataFrame, manifest: Mapping[str, Any], options: dict[str, Any]) -> list[dict]:
    return ranking.assess_ranking_cells(cells, attributes=sensitive_names(manifest), **_engine_options(options))


def _engine_options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {**{key: options[key] for key in ("min_group_size", "resamples", "confidence", "seed")},
            "group_names": options.get("group_names")}


def _numbers(cells: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(cells[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _continuous_summary(cells: pd.DataFrame, kind: str) -> dict[str, Any]:
    leads, values = _numbers(cells, "leads"), _numbers(cells, "value")
    n = leads.sum()
    summary = {"rows": int(n), "mean": json_number((leads * values).sum() / n)}
    if kind == "eval" and "label_sum" in cells.columns and cells["label_sum"].notna().any():
        labels = _numbers(cells, "label_sum").sum()
        summary |= {"mean_realised": json_number(labels / n),
                    "mae": json_number(_numbers(cells, "abs_error_sum").sum() / n),
                    "mean_residual": json_number(((leads * values).sum() - labels) / n),
                    "rmse": json_number(np.sqrt(_numbers(cells, "squared_error_sum").sum() / n))}
    return summary


def _multiclass_summary(cells: pd.DataFrame, kind: str) -> dict[str, Any]:
    leads = _numbers(cells, "leads")
    n = leads.sum()
    shares = cells.assign(leads=leads).groupby("offer", sort=False)["leads"].sum() / n
    summary = {"rows": int(n), "offer_shares": {offer: json_number(share) for offer, share in shares.items()}}
    if kind == "eval" and cells["label"].notna().any():
        summary["accuracy"] = json_number(leads[(cells["offer"] == cells["label"]).to_numpy()].sum() / n)
    return summary


def _ranking_summary(cells: pd.DataFrame, kind: str) -> dict[str, Any]:
    leads, selected = _numbers(cells, "leads"), _numbers(cells, "selected")
    n, called = leads.sum(), (leads * selected).sum()
    summary = {"rows": int(n), "called": int(called), "selection_rate": json_number(called / n),
               "exposure": json_number(_numbers(cells, "discount_sum").sum() / n)}
    if kind == "eval" and cells["label"].notna().any():
        positive = _numbers(cells, "label") == 1
        hits = (leads * selected * positive).sum()
        summary |= {"precision_at_capacity": json_number(hits / called) if called else None,
                    "recall_at_capacity": json_number(hits / leads[positive].sum()) if positive.any() else None,
                    "base_rate": json_number(leads[positive].sum() / n)}
    return summary


ENGINES: dict[str, Engine] = {
    "continuous": Engine("continuous", continuous.METRICS, continuous.DISPARITIES, _continuous_cells,
                         _continuous_assess, _continuous_summary, subject="customers"),
    "multiclass": Engine("multiclass", multiclass.METRICS, multiclass.DISPARITIES, _multiclass_cells,
                         _multiclass_assess, _multiclass_summary),
    "ranking": Engine("ranking", ranking.METRICS, ranking.DISPARITIES, _ranking_cells, _ranking_assess,
                      _ranking_summary),
}


def engine_for(manifest: Mapping[str, Any]) -> Engine:
    """The engine of a non-binary manifest.

    Raises
    ------
    ValidationError
        A binary manifest (it runs through :mod:`ethics.fairness`).
    """
    outcome = outcome_of(dict(manifest))
    if outcome not in ENGINES:
        raise ValidationError(f"Outcome {outcome!r} has no engine here: binary models run through ethics.fairness.")
    return ENGINES[outcome]


def assess_week(
    cells: Mapping[str, pd.DataFrame], *, manifest: Mapping[str, Any], policy: Mapping[str, Any]
) -> dict[str, Any]:
    """The results of a non-binary week from its cells per kind: summaries, fairness, verdicts.

    Parameters
    ----------
    cells : mapping
        Kind → cells (:func:`row_cells` or imported, :func:`split_cells`).
    manifest : mapping
        The version's manifest.
    policy : mapping
        The model's policy (``policy.for_model``): its ``[<outcome>]`` table holds the thresholds.

    Returns
    -------
    dict
        ``performance`` (from the evaluation set), ``scoring`` (from the scoring batch),
        ``fairness`` (kind → groupings), ``verdicts`` and, per outcome, ``unit``/``favourable``
        (continuous), ``offers`` (multiclass) or ``capacity`` (ranking).
    """
    engine = engine_for(manifest)
    bootstrap = policy.get("bootstrap", {})
    options = {"min_group_size": policy.get("min_group_size", 30), "resamples": bootstrap.get("resamples", 1000),
               "confidence": bootstrap.get("confidence", 0.95), "seed": bootstrap.get("seed", 0),
               "quantile": policy.get("amount_quantile", 0.5), "group_names": value_labels(dict(manifest))}
    results: dict[str, Any] = {**outcome_facts(manifest)}
    if "eval" in cells:
        results["performance"] = engine.summary(cells["eval"], "eval")
    if "scores" in cells:
        results["scoring"] = engine.summary(cells["scores"], "scores")
    attributes = sensitive_names(manifest)
    if not attributes:
        return results | {"fairness": {}, "verdicts": []}
    assessed = {kind: engine.assess(part, manifest, options) for kind, part in cells.items()}
    labels = {a["name"]: a["label"] for a in manifest["sensitive_attributes"]}
    results["fairness"] = assessed
    results["verdicts"] = verdicts(assessed, manifest=manifest, policy=policy, labels=labels)
    return results


def outcome_facts(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What a snapshot of a non-binary model records of its manifest: unit, offers or call lists (empty for binary)."""
    outcome = outcome_of(dict(manifest))
    if outcome == "continuous":
        return {"unit": manifest["unit"], "favourable": manifest.get("favourable", "higher"),
                "control": manifest.get("control")}
    if outcome == "multiclass":
        return {"offers": [dict(entry) for entry in manifest["classes"]], "value_unit": manifest.get("value_unit")}
    if outcome == "ranking":
        return {"capacity": manifest["ranking"]["capacity"], "lists": list(manifest["ranking"]["lists"])}
    return {}


# -- verdicts ------------------------------------------------------------------------------------


def verdicts(
    assessments: Mapping[str, list[dict[str, Any]]],
    *,
    manifest: Mapping[str, Any],
    policy: Mapping[str, Any],
    labels: Mapping[str, str],
) -> list[dict[str, Any]]:
    """One verdict per data set, grouping and disparity the policy's ``[<outcome>]`` table sets a threshold for.

    Returns
    -------
    list of dict
        The keys of ``policy.fairness_verdicts``' verdicts (``data, grouping, metric, label,
        status, value, interval, threshold, interval_crosses, worst_group, best_group,
        too_few_groups, sentence``) and ``unit``.
    """
    engine = engine_for(manifest)
    thresholds = policy.get(engine.outcome, {})
    found = []
    for data, groupings in assessments.items():
        for grouping in groupings:
            for name, threshold in thresholds.items():
                entry = grouping["disparities"].get(name)
                if entry is not None:
                    found.append(_verdict(engine, data, grouping, name, entry, threshold=threshold,
                                          manifest=manifest, policy=policy, labels=labels))
    return found


def _verdict(
    engine: Engine, data: str, grouping: Mapping[str, Any], name: str, entry: Mapping[str, Any], *,
    threshold: Mapping[str, float], manifest: Mapping[str, Any], policy: Mapping[str, Any],
    labels: Mapping[str, str],
) -> dict[str, Any]:
    view = disparity_view(engine.outcome, name, unit=_unit(manifest))
    too_small = [g["group"] for g in grouping["groups"] if not g["judged"]]
    value = entry.get("judged_value")
    status = judge(value, threshold)
    phrase = {key: None if entry.get(key) is None else
              f"{engine.subject} with {group_phrase(entry[key], grouping['attributes'], labels)}"
              for key in ("worst_group", "best_group")}
    if "judged_value" not in entry:
        minimum = policy.get("min_group_size", 30)
        sentence = (f"Too few to judge: {grouping['grouping']} has fewer than two groups with at least {minimum} "
                    f"rows in the {DATA_NAMES[data]}.")
    elif value is None:
        sentence = f"Cannot judge: the {view.label.lower()} is undefined for {grouping['grouping']}."
    elif engine.outcome == "continuous":
        sentence = continuous.sentence(
            name, entry, unit=manifest["unit"], worst=phrase["worst_group"], reference=phrase["best_group"],
            threshold=threshold, verb="pay" if manifest.get("favourable") == "lower" else "get",
            quantile=grouping["quantile"]["p"], confidence=grouping["confidence"])
    else:
        sentence = _compared_sentence(engine, entry, view, phrase, threshold=threshold, manifest=manifest,
                                      confidence=policy.get("bootstrap", {}).get("confidence", 0.95))
    sentence = sentence[:1].upper() + sentence[1:]
    if too_small and "judged_value" in entry:
        sentence += f" Too few to judge and left out: {', '.join(too_small)}."
    return {
        "data": data, "grouping": grouping["grouping"], "metric": name, "label": view.label, "unit": view.shown.unit,
        "status": status, "value": value, "interval": entry.get("interval"), "threshold": dict(threshold),
        "interval_crosses": interval_crosses(entry.get("interval"), threshold),
        "worst_group": entry.get("worst_group"), "best_group": entry.get("best_group"),
        "too_few_groups": too_small, "sentence": sentence,
    }


def _compared_sentence(
    engine: Engine, entry: Mapping[str, Any], view: View, phrase: Mapping[str, str | None], *,
    threshold: Mapping[str, float], manifest: Mapping[str, Any], confidence: float,
) -> str:
    """"Leads with A: offer rate of B 12.0%, against 18.0% for leads with C; offer-rate ratio 0.67 (…); policy: …"."""
    spec = engine.metrics[entry["metric"]]
    shown = _engine_shown(spec, unit=_unit(manifest))
    metric = shown.label[:1].lower() + shown.label[1:]
    if "class" in entry:
        offers = {offer["name"]: offer["label"] for offer in manifest.get("classes", [])}
        metric += f" of {offers.get(entry['class'], entry['class'])}"
    text = (f"{phrase['worst_group']}: {metric} {shown.text(entry['worst_value'])}, against "
            f"{shown.text(entry['best_value'])} for {phrase['best_group']}; {view.label.lower()} "
            f"{view.shown.text(entry['judged_value'])}")
    low, high = entry.get("interval") or (None, None)
    if low is not None and high is not None:
        text += f" ({confidence:.0%} interval {view.shown.interval(entry['interval'])})"
    return text + f"; policy: {describe_threshold(threshold)}."


# -- presentation --------------------------------------------------------------------------------


def _unit(manifest: Mapping[str, Any]) -> str:
    return manifest.get("unit") or manifest.get("value_unit") or "value"


#: The chart axis format of an engine's shares and ratios (amounts keep plotly's default).
_AXES = {SHARE: ".0%", RATIO: ".2f"}


def _engine_shown(spec: Any, *, unit: str) -> Presentation:
    """A spec's presentation in the model's unit, with its kind's axis format when it names none."""
    shown = spec.presentation.in_unit(unit)
    return shown if shown.axis else replace(shown, axis=_AXES.get(shown.unit, ""))


def metric_views(
    outcome: str, *, unit: str = "value", offers: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, View]:
    """The per-group columns of an outcome type's tables: key → label and presentation, without ``count``.

    Binary metrics are :data:`ethics.fairness.METRICS` shown in tables; a multiclass
    model's per-offer metrics are one column per offer, keyed ``"<metric>:<offer>"``.
    """
    if outcome == "binary":
        return {name: View(spec.label, spec.shown) for name, spec in fairness.METRICS.items() if spec.in_tables}
    engine = ENGINES[outcome]
    views: dict[str, View] = {}
    for name, spec in engine.metrics.items():
        if name == "count":
            continue
        shown = _engine_shown(spec, unit=unit)
        if getattr(spec, "per_class", False):
            for offer in offers or []:
                views[f"{name}:{offer['name']}"] = View(f"{shown.label}: {offer['label']}", shown)
        else:
            views[name] = View(shown.label, shown)
    return views


def disparity_view(outcome: str, name: str, *, unit: str = "value") -> View:
    """The label and presentation of one disparity of an outcome type."""
    if outcome == "binary":
        spec = fairness.DISPARITIES[name]
        return View(spec.label, spec.shown)
    shown = _engine_shown(ENGINES[outcome].disparities[name], unit=unit)
    return View(shown.label, shown)


def results_unit(results: Mapping[str, Any]) -> str:
    """The unit amounts of a snapshot's results are in (a continuous model's unit, a multiclass offer value's)."""
    return results.get("unit") or results.get("value_unit") or "value"


def flat_groups(grouping: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A grouping's group rows with each per-offer metric spread into ``"<metric>:<offer>"`` columns.

    Every renderer's table and chart reads these rows, whatever the outcome type.
    """
    rows = []
    for group in grouping["groups"]:
        row: dict[str, Any] = {}
        for key, value in group.items():
            if key == "offers":
                continue
            if isinstance(value, Mapping):
                stem, suffix = (key[: -len("_interval")], "_interval") if key.endswith("_interval") else (key, "")
                row |= {f"{stem}:{offer}{suffix}": item for offer, item in value.items()}
            else:
                row[key] = value
        rows.append(row)
    return rows


# -- headline figures ----------------------------------------------------------------------------

_PERCENT, _NUMBER, _COUNT = "{:.1%}", "{:.3f}", "{:,.0f}"

#: Per outcome type and data set kind: (key in the summary, label, format; "{unit}" is the model's unit).
HEADLINES: dict[str, dict[str, tuple[tuple[str, str, str], ...]]] = {
    "binary": {
        "eval": (("accuracy", "Accuracy", _PERCENT), ("auc", "AUC", _NUMBER), ("base_rate", "Base rate", _PERCENT),
                 ("selection_rate", "Selected at threshold", _PERCENT), ("rows", "Labelled rows", _COUNT)),
        "scores": (("rows", "Leads scored", _COUNT), ("mean_score", "Mean score", _NUMBER),
                   ("selection_rate", "Selected at threshold", _PERCENT)),
    },
    "continuous": {
        "eval": (("mae", "Mean absolute error ({unit})", "{:.2f}"),
                 ("mean_residual", "Mean residual, prediction − realised ({unit})", "{:+.2f}"),
                 ("rmse", "Root mean squared error ({unit})", "{:.2f}"), ("mean", "Mean decided ({unit})", "{:.2f}"),
                 ("mean_realised", "Mean realised ({unit})", "{:.2f}"), ("rows", "Rows with a realised value", _COUNT)),
        "scores": (("rows", "Decisions", _COUNT), ("mean", "Mean decided ({unit})", "{:.2f}")),
    },
    "multiclass": {
        "eval": (("accuracy", "Best offer made", _PERCENT), ("rows", "Labelled rows", _COUNT)),
        "scores": (("rows", "Leads offered", _COUNT),),
    },
    "ranking": {
        "eval": (("precision_at_capacity", "Precision at capacity", _PERCENT),
                 ("recall_at_capacity", "Recall at capacity", _PERCENT), ("base_rate", "Base rate", _PERCENT),
                 ("selection_rate", "Called at capacity", _PERCENT), ("rows", "Labelled rows", _COUNT)),
        "scores": (("rows", "Leads listed", _COUNT), ("called", "Leads called (within capacity)", _COUNT),
                   ("selection_rate", "Called at capacity", _PERCENT), ("exposure", "Mean exposure", _NUMBER)),
    },
}


def headline(results: Mapping[str, Any], kind: str) -> list[dict[str, str]]:
    """The headline figures of a snapshot's evaluation set (``"eval"``) or scoring batch (``"scores"``).

    One producer for the Model page's metrics, the PDF's performance section, the model
    card and the CLI: ``[{"label": ..., "value": ...}]`` in the model's unit, with each
    offer's share for a next-best-offer model.  Empty when the snapshot has no such data.
    """
    summary = results.get("performance" if kind == "eval" else "scoring")
    if not summary:
        return []
    outcome = results.get("outcome", "binary")
    unit = results_unit(results)
    figures = [{"label": label.format(unit=unit), "value": "—" if summary.get(key) is None
                else pattern.format(summary[key])}
               for key, label, pattern in HEADLINES[outcome][kind] if key in summary]
    shares = summary.get("offer_shares", {})
    figures += [{"label": f"Share offered: {offer['label']}",
                 "value": "—" if shares.get(offer["name"]) is None else f"{shares[offer['name']]:.1%}"}
                for offer in results.get("offers", []) if offer["name"] in shares]  # in the manifest's order
    return figures


# -- page tables: the numbers beside the Fairness page's charts, as a person reads them -------------


def group_numbers(rows: Sequence[Mapping[str, Any]], *, key: str, view: View) -> list[dict[str, Any]]:
    """One per-group metric (a :func:`flat_groups` column) with its interval, in the view's presentation.

    Column headers are labels (the view's, never a key such as ``selection_rate:bundle``).
    """
    return [{"Group": row["group"], "Rows": int(row["count"]), "Judged": bool(row["judged"]),
             view.label: view.shown.text(row.get(key)), "Interval": view.shown.interval(row.get(f"{key}_interval"))}
            for row in rows]


def strata_rows(grouping: Mapping[str, Any], *, name: str) -> list[dict[str, Any]]:
    """A continuous grouping's disparity ``name`` per control value, then pooled over all of them.

    Rows of ``stratum``, ``value`` (the judged value), ``interval``, ``worst_group`` and
    ``best_group`` (None where the disparity compares a group with the rest); empty
    without a control.
    """
    if not grouping.get("strata"):
        return []
    parts = [(part["stratum"], part["disparities"]) for part in grouping["strata"]]
    rows = []
    for stratum, disparities in [*parts, ("all, pooled", grouping["disparities"])]:
        entry = disparities.get(name)
        if entry is not None:
            rows.append({"stratum": str(stratum), "value": entry.get("judged_value"), "interval": entry.get("interval"),
                         "worst_group": entry.get("worst_group"), "best_group": entry.get("best_group")})
    return rows


def strata_numbers(rows: Sequence[Mapping[str, Any]], *, control: str, view: View) -> list[dict[str, Any]]:
    """:func:`strata_rows` as a table: the value and interval in the disparity's presentation.

    The value's header is "Value" (the disparity is named by the chart and the select box
    above it), so the worst group fits beside it.
    """
    return [{control: row["stratum"], "Value": view.shown.text(row["value"]),
             "Interval": view.shown.interval(row["interval"]),
             "Worst group, against": "—" if row["worst_group"] is None else
             f"{row['worst_group']} against {row['best_group'] or 'the rest'}"} for row in rows]


def capacity_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A ranking snapshot's capacity k per call list (leads each list's team works per week)."""
    capacity, lists = results.get("capacity"), " × ".join(results.get("lists", [])) or "list"
    if isinstance(capacity, Mapping):
        return [{f"Call list ({lists})": name, "Capacity (leads called)": int(k)} for name, k in capacity.items()]
    if capacity is None:
        return []
    return [{f"Call list ({lists})": "every list", "Capacity (leads called)": int(capacity)}]


def axis_title(view: View, *, unit: str) -> str:
    """A chart axis title for a view: its label, with the model's unit when the view is an amount in it."""
    return f"{view.label} ({unit})" if view.shown.unit == unit and unit not in view.label else view.label


def trend_numbers(trend: Sequence[Mapping[str, Any]], *, view: View) -> list[dict[str, Any]]:
    """``snapshots.disparity_trend`` rows as a table: week, value and interval in the disparity's presentation."""
    return [{"Week": row["week"], view.label: view.shown.text(row["value"]),
             "Interval": view.shown.interval((row.get("low"), row.get("high")))} for row in trend]
