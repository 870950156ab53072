"""The report's tables and number formats, shared by the PDF, the model card and the CSV exports.

Each function turns part of the report facts (``reports.model_facts``) into rows of
``{column heading: text}``, so every output shows the same figures the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ethics import lights, multiclass, outcomes, reviews
from ethics.manifest import input_attributes
from ethics.policy import DATA_NAMES, describe_threshold

NOT_AVAILABLE = "Not available in this snapshot."
DATA_LABELS = {"eval": "Evaluation set", "scores": "Scoring batch"}


def number(value: float | None, pattern: str = "{:.3f}") -> str:
    """A number for reading; an em dash when missing."""
    return "—" if value is None else pattern.format(value)


def percent(value: float | None) -> str:
    """A share as a percentage with one decimal."""
    return number(value, "{:.1%}")


#: How the unit of a disparity or metric reads in a table's "Unit" column (amounts keep the model's unit).
UNIT_WORDS = {"share": "share (0–1)", "points": "difference (0–1)", "ratio": "ratio", "count": "leads",
              "score": "score", "exposure": "exposure (1 / log2(1 + rank))"}


def unit_text(unit: str) -> str:
    """A presentation's unit as a table shows it: "ratio", "share (0–1)" or the model's own unit ("EUR")."""
    return UNIT_WORDS.get(unit, unit)


def presentation_of(facts: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the presentation producers for the facts' model (binary by default)."""
    return {"outcome": facts.get("outcome", "binary"), "unit": facts.get("unit", "value"),
            "offers": facts.get("offers") or []}


def verdict_rows(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The fairness verdicts as table rows (PDF, card and CSV), each value in its disparity's unit."""
    shown = presentation_of(facts)
    rows = []
    for v in facts["fairness"]["verdicts"]:
        view = outcomes.disparity_view(shown["outcome"], v["metric"], unit=shown["unit"])
        rows.append({
            "Status": v["status"].replace("_", " "), "Data": DATA_NAMES[v["data"]], "Groups": v["grouping"],
            "Metric": v["label"], "Value": view.shown.text(v["value"]), "Unit": unit_text(view.shown.unit),
            "95% interval": view.shown.interval(v.get("interval")), "Threshold": describe_threshold(v["threshold"]),
        })
    return rows


def column_heading(view: outcomes.View, *, outcome: str, unit: str) -> str:
    """A metric's column heading: its label, with the model's unit when the metric is an amount."""
    return f"{view.label} ({unit})" if outcome != "binary" and view.shown.unit == unit else view.label


def group_rows(
    grouping: dict[str, Any], *, outcome: str = "binary", unit: str = "value", offers: list[dict] | None = None
) -> list[dict[str, Any]]:
    """One grouping's per-group metrics with intervals, as table rows.

    Parameters
    ----------
    grouping : dict
        A grouping of a snapshot's ``fairness`` results (or of a continuous grouping's ``strata``).
    outcome : str, default "binary"
        The model's outcome type; its metrics (``outcomes.metric_views``) are the columns.
    unit : str, default "value"
        The unit of amounts (``outcomes.results_unit``), named in the amount columns' headings.
    offers : list of dict, optional
        A next-best-offer model's offers: one labelled column per offer and per-offer metric.

    Returns
    -------
    list of dict
        ``Group``, ``n``, ``Judged``, then "value (interval)" per metric the groups carry.
    """
    views = outcomes.metric_views(outcome, unit=unit, offers=offers)
    rows = []
    for group in outcomes.flat_groups(grouping):
        row = {"Group": group["group"], "n": int(group["count"]), "Judged": "yes" if group["judged"] else "too few"}
        for key, view in views.items():
            if key in group:
                row[column_heading(view, outcome=outcome, unit=unit)] = (
                    f"{view.shown.text(group[key])} ({view.shown.interval(group.get(f'{key}_interval'))})")
        rows.append(row)
    return rows


GROUP_KEYS = ("Group", "n", "Judged")


def group_tables(
    grouping: dict[str, Any], *, outcome: str = "binary", unit: str = "value", offers: list[dict] | None = None,
    columns: int = 4,
) -> list[tuple[str, list[dict[str, Any]]]]:
    """:func:`group_rows` split into tables that fit a page: (title, rows), at most ``columns`` metrics each.

    A next-best-offer model's per-offer metrics get a table of their own per metric (one
    column per offer, titled "<metric> per offer"); the other metrics share untitled tables
    in their spec's order.
    """
    rows = group_rows(grouping, outcome=outcome, unit=unit, offers=offers)
    if not rows:
        return []
    blocks: dict[str, list[str]] = {}
    for key, view in outcomes.metric_views(outcome, unit=unit, offers=offers).items():
        heading = column_heading(view, outcome=outcome, unit=unit)
        if heading in rows[0]:
            stem = (view.shown.label or view.label) if ":" in key else ""
            blocks.setdefault(stem, []).append(heading)
    tables = []
    for stem, headings in blocks.items():
        for start in range(0, len(headings), columns):
            part = headings[start:start + columns]
            title = f"{stem} per offer" if stem else ""
            tables.append((title, [{key: row[key] for key in (*GROUP_KEYS, *part)} for row in rows]))
    return tables


def strata_rows(
    grouping: dict[str, Any], *, outcome: str = "continuous", unit: str = "value", offers: list[dict] | None = None
) -> list[dict[str, Any]]:
    """A continuous grouping's groups within each value of the control (``strata``), as table rows."""
    return [{"Control": grouping.get("control"), "Stratum": stratum["stratum"], **row}
            for stratum in grouping.get("strata") or []
            for row in group_rows(stratum, outcome=outcome, unit=unit, offers=offers)]


def strata_disparity_rows(
    grouping: dict[str, Any], *, outcome: str = "continuous", unit: str = "value", metrics: list[str] | None = None
) -> list[dict[str, Any]]:
    """Each stratum's disparities (those in ``metrics``, the grouping's verdicts; all when None), as rows.

    The same comparison as a verdict, within one value of the control (a deal band), so a
    gap that the control explains shows as a gap that vanishes within it.
    """
    rows = []
    for stratum in grouping.get("strata") or []:
        for name, entry in stratum["disparities"].items():
            if metrics is not None and name not in metrics:
                continue
            view = outcomes.disparity_view(outcome, name, unit=unit)
            rows.append({"Control": grouping.get("control"), "Stratum": stratum["stratum"], "Metric": view.label,
                         "Value": view.shown.text(entry.get("judged_value")), "Unit": unit_text(view.shown.unit),
                         "95% interval": view.shown.interval(entry.get("interval")),
                         "Worst group": entry.get("worst_group") or "—",
                         "Compared with": entry.get("best_group") or "the rest"})
    return rows


def offer_rows(grouping: dict[str, Any], *, offers: list[dict]) -> list[dict[str, Any]]:
    """A next-best-offer grouping's offer frequency table: leads per group and offer made."""
    return [{"Group": group["group"], "n": int(group["count"]), "Judged": "yes" if group["judged"] else "too few",
             **{offer["label"]: int(group.get("offers", {}).get(offer["name"], 0)) for offer in offers}}
            for group in grouping["groups"]]


#: How a p-value that the results store as 0 (rounded to 12 decimals) is printed.
SMALLEST_P = "< 1e-12"


def independence_row(grouping: dict[str, Any]) -> dict[str, str]:
    """The chi-square test of offer against group of one grouping: label → text (``multiclass.INDEPENDENCE``).

    The same keys whether or not the test ran (an em dash when fewer than two groups are judged).
    """
    found = grouping.get("independence") or {}
    ran = bool(found.get("judged"))
    row = {"Groups tested": str(found.get("judged_groups", 0)),
           **{shown.label: shown.text(found.get(key)) if ran else "—"
              for key, shown in multiclass.INDEPENDENCE.items()}}
    if ran and found.get("p_value") == 0:  # results keep 12 decimals: 0 means below 5e-13, not impossible
        row[multiclass.INDEPENDENCE["p_value"].label] = SMALLEST_P
    return row


def independence_text(grouping: dict[str, Any]) -> str:
    """:func:`independence_row` as one sentence for the PDF and the card."""
    row = independence_row(grouping)
    if not (grouping.get("independence") or {}).get("judged"):
        return (f"Chi-square test of offer against group not run: {row['Groups tested']} group(s) large enough to "
                "judge, two are needed.")
    labels = {key: shown.label for key, shown in multiclass.INDEPENDENCE.items()}
    return (f"Chi-square test of offer against group over {row['Groups tested']} groups: "
            + "; ".join(f"{labels[key].lower()} {row[labels[key]]}" for key in labels) + ".")


def performance_rows(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline figures (``outcomes.headline``) of the evaluation set and the scoring batch, as rows."""
    return [{"Data": DATA_LABELS[kind], "Figure": figure["label"], "Value": figure["value"]}
            for kind in DATA_LABELS for figure in facts["headline"][kind]]


def capacity_text(facts: dict[str, Any]) -> str:
    """A ranking model's capacity: leads called per list ("north 40, south 25")."""
    capacity = facts.get("capacity")
    if isinstance(capacity, dict):
        return ", ".join(f"{team} {k:,}" for team, k in capacity.items()) + " leads called per list"
    if capacity is None:
        return "given with each list in the data"
    return f"{capacity:,} leads called per list"


def outcome_text(facts: dict[str, Any]) -> str:
    """What the model decides, in words, by outcome type."""
    outcome = facts.get("outcome", "binary")
    if outcome == "continuous":
        return (f"an amount in {facts['unit']} per customer ({facts.get('favourable', 'higher')} is favourable to "
                "the customer)")
    if outcome == "multiclass":
        offers = ", ".join(offer_text(offer, facts) for offer in facts["offers"])
        return f"one of {len(facts['offers'])} offers per lead: {offers}"
    if outcome == "ranking":
        return (f"a call list per {', '.join(facts.get('lists') or ['team'])}, worked from the highest score down "
                f"to its capacity ({capacity_text(facts)})")
    return f"a score in [0, 1]; a score ≥ {facts['threshold']} selects the lead or customer"


def sentence_case(text: str) -> str:
    """``text`` with its first letter upper-case (the rest untouched, unlike ``str.capitalize``)."""
    return text[:1].upper() + text[1:]


def lower_first(text: str) -> str:
    """``text`` with its first letter lower-case, for a label inside a sentence ("offer rate: Bundle").

    An acronym ("KS statistic", "AUC") keeps its case.
    """
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def offer_text(offer: dict[str, Any], facts: dict[str, Any]) -> str:
    """An offer's label with its value, if it has one ("Bundle (120 EUR)")."""
    if offer.get("value") is None:
        return offer["label"]
    unit = facts.get("unit") or facts.get("value_unit") or "value"
    return f"{offer['label']} ({offer['value']:,g}{' ' + unit if unit != 'value' else ''})"


def attribute_facts(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """A manifest's sensitive attributes as the report facts hold them: name, label, whether the model reads it."""
    inputs = set(input_attributes(manifest))
    return [{"name": a["name"], "label": a["label"], "model_input": a["name"] in inputs,
             **({"labels": dict(a["labels"])} if a.get("labels") else {})} for a in manifest["sensitive_attributes"]]


def attribute_use(attribute: dict[str, Any]) -> str:
    """How a sensitive attribute (:func:`attribute_facts`) is used: "Age — sensitive attribute, also a model input"."""
    use = "also a model input" if attribute.get("model_input") else "used for fairness only, not a model input"
    return f"{attribute['label']} — sensitive attribute, {use}"


def attribute_rows(attributes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sensitive attributes as table rows (the registry page): name, use, and their values' labels."""
    return [{"Attribute": a["name"], "Use": attribute_use(a),
             "Value labels": ", ".join(f"{value} = {label}" for value, label in a.get("labels", {}).items()) or "—"}
            for a in attributes]


def explanation_rows(explanations: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Top features (rank, change) and proxy checks as table rows."""
    features = [
        {"Rank": f["rank"], "Feature": f["label"], "Mean |SHAP|": number(f["mean_abs_shap"], "{:.4f}"),
         "Previous rank": f.get("previous_rank") or "—", "Change": f.get("change") or "—"}
        for f in sorted(explanations.get("importance", []), key=lambda f: f["rank"])[:10]
    ]
    proxies = [
        {"Feature": p["label"], "Sensitive attribute": p["attribute_label"], "Measure": p["measure"],
         "Value": number(p["value"], "{:.2f}"), "Threshold": number(p["threshold"], "{:.2f}"),
         "Flagged": "FLAGGED" if p["flagged"] else "is the attribute" if p.get("note") else "no"}
        for p in explanations.get("proxies", [])
    ]
    return features, proxies


def consent_rows(consent: dict[str, Any]) -> list[dict[str, Any]]:
    """Consent coverage per team as table rows."""
    return [
        {"Team": t["team"], "Scored": t["scored"], "Covered": t["covered"], "Coverage": percent(t["coverage"]),
         "Without consent": t["without_consent"], "After withdrawal": t["after_withdrawal"],
         "After objection": t["after_objection"]}
        for t in consent.get("by_team", [])
    ]


def incident_rows(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's incidents as table rows."""
    return [
        {"#": i["id"], "Severity": i["severity"], "Category": i["category"].replace("_", " "), "Status": i["status"],
         "Title": i["title"], "Opened": i["opened_at"][:10], "Due": i["due_at"][:10]}
        for i in facts["incidents"]
    ]


def lights_moment(facts: dict[str, Any]) -> str:
    """The moment a report's time-dependent lights were computed for, in words."""
    return lights.moment_text(datetime.fromisoformat(facts["lights_at"]))


def review_of_snapshot_text(facts: dict[str, Any]) -> str:
    """Whether, and how, the snapshot a report shows was signed (reviews are found by the snapshot they sign)."""
    signed = facts["review_of_snapshot"]
    if not signed:
        return f"The snapshot of {facts['week']} shown here has no signed review."
    r = signed[0]
    return (f"The snapshot of {facts['week']} shown here was signed: {reviews.DECISION_LABELS[r['decision']]} by "
            f"{r['reviewer']} on {r['signed_at'][:10]} (review cycle {r['week']}).")


def review_rows(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The signed weekly reviews of snapshots up to the report's week, newest first."""
    return [
        {"Cycle": r["week"], "Snapshot week": r.get("snapshot_week") or "—",
         "Decision": reviews.DECISION_LABELS[r["decision"]], "Reviewer": r["reviewer"],
         "Signed": r["signed_at"][:16].replace("T", " "), "Snapshot": r["snapshot_hash"][:12],
         "Conditions / comment": "; ".join(x for x in (r["conditions"], r["comment"]) if x) or "—"}
        for r in facts["reviews"]
    ]


def head_text(head: dict[str, Any] | None) -> str:
    """The audit head as "entry N · hash"."""
    return f"entry {head['seq']} · {head['hash']}" if head else "empty audit log"


def portfolio_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Overview's rows as a table: one light per area as a word."""
    return [
        {"Model": row["name"] + (" (suspended)" if row["status"] == "suspended" else ""), "Team": row["team"],
         "Risk": row["risk_tier"], "Week": row["latest_week"] or "no snapshot",
         **{area.capitalize(): row["lights"][area]["status"].replace("_", " ") for area in lights.AREAS}}
        for row in rows
    ]


def text_of(value: Any) -> str:
    """A field value as text: lists joined with commas, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
