"""The sections of the PDF reports, each drawn from the report facts (``reports.model_facts``).

A model report is :data:`MODEL_SECTIONS` in order; a portfolio report is a cover
with the traffic-light table and one :func:`write_model_summary` page per model.
Every chart is the app's plotly figure (``ethics.charts``) as an image, followed by
the table of the numbers it draws.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from ethics import chart_images, charts, explain, lights, outcomes
from ethics import report_rows as tables
from ethics.pdf import Document, table_keep
from ethics.policy import DATA_NAMES, describe_threshold

GENERATED = "Generated"
# A portfolio page must fit one model on one page.
SUMMARY_FINDINGS = 3
SUMMARY_WEEKS = 8
SUMMARY_FIGURES = 3
GROUP_CHART_HEIGHT = 320
#: Below this largest share (bar or whisker), a non-binary group chart's axis ends just above it, not at 100%.
SHARE_ZOOM = 0.5


def write_model_report(document: Document, facts: dict[str, Any]) -> None:
    """Every section of a model's report, in order, into ``document`` (its charts drawn meanwhile)."""
    with chart_images.drawing_ahead(model_figures(facts)):
        for section in MODEL_SECTIONS:
            section(document, facts)


def model_figures(facts: dict[str, Any]) -> list[tuple[Any, int]]:
    """The charts of a model's report with their heights, in page order."""
    figures = [(_performance_figure(facts), chart_images.HEIGHT)]
    if facts["fairness"]["verdicts"]:  # the fairness section draws nothing without verdicts
        figures += [(_group_figure(grouping, facts), GROUP_CHART_HEIGHT) for grouping in facts["fairness"]["groupings"]]
        figures.append((_trend_figure(facts["fairness"]), chart_images.HEIGHT))
    return [(figure, height) for figure, height in figures if figure is not None]


def _performance_figure(facts: dict[str, Any]) -> Any:
    """The accuracy and AUC trend: a binary model's only (the other types have neither)."""
    trend = pd.DataFrame(facts["performance_trend"])
    return charts.performance_trend(trend) if len(trend) and _binary(facts) else None


def _binary(facts: dict[str, Any]) -> bool:
    return facts.get("outcome", "binary") == "binary"


def _charted(grouping: dict[str, Any], facts: dict[str, Any]) -> tuple[str, Any]:
    """The metric a grouping's chart draws, and its view.

    The selection rate (a binary model's, a call list's at capacity), the mean amount, or the
    offer rate of the offer its worst verdict names (the offer whose rates differ most).
    """
    outcome, unit = facts.get("outcome", "binary"), facts.get("unit", "value")
    views = outcomes.metric_views(outcome, unit=unit, offers=facts.get("offers"))
    if outcome == "continuous":
        return "mean", views["mean"]
    if outcome == "multiclass":
        disparities = grouping.get("disparities", {})
        judged = [v["metric"] for v in facts["fairness"]["verdicts"]
                  if (v["data"], v["grouping"]) == (grouping["data"], grouping["grouping"])]
        found = [disparities[name]["class"] for name in [*judged, *disparities]
                 if disparities.get(name, {}).get("class")]
        offer = found[0] if found else facts["offers"][0]["name"]
        return f"selection_rate:{offer}", views[f"selection_rate:{offer}"]
    return "selection_rate", views["selection_rate"]


def _group_figure(grouping: dict[str, Any], facts: dict[str, Any]) -> Any:
    key, view = _charted(grouping, facts)
    label = tables.column_heading(view, outcome=facts.get("outcome", "binary"), unit=facts.get("unit", "value"))
    groups = pd.DataFrame(outcomes.flat_groups(grouping))
    figure = charts.group_metric(groups, metric=key, label=label, shown=view.shown)
    if view.shown.unit == "share" and not _binary(facts):
        # A call list reaches a few percent of its leads: bars on a 0–100% axis would be flat lines.
        highs = [bounds[1] for bounds in groups.get(f"{key}_interval", pd.Series(dtype=object))
                 if isinstance(bounds, (list, tuple))]
        top = pd.to_numeric(pd.Series([*groups[key], *highs]), errors="coerce").max()
        if pd.notna(top) and 0 < top < SHARE_ZOOM:
            figure.update_layout(yaxis_range=[0, top * 1.15])
    return figure


def _trend_figure(found: dict[str, Any]) -> Any:
    trend = found["trend"]
    if not (trend and trend["rows"]):
        return None
    return charts.disparity_trend(pd.DataFrame(trend["rows"]), label=trend["label"], threshold=trend["threshold"])


def _cover(document: Document, facts: dict[str, Any]) -> None:
    model = facts["model"]
    document.add_page()
    document.heading("Transparency report", level=1)
    document.paragraph(f"{model['name']} — version {model['version']} — week {facts['week']}")
    head = facts["audit_head"]
    document.fields([
        ("Model", f"{model['name']} ({model['id']})"),
        ("Version", model["version"]),
        ("Week", facts["week"]),
        ("Purpose", model["purpose"].replace("_", " ")),
        ("Team · risk tier", f"{model['team']} · {model['risk_tier']}"),
        ("Status", model["status"]),
        (GENERATED, f"{facts['generated']['at']} by {facts['generated']['by']}"),
        ("Snapshot", f"#{facts['snapshot']['id']} taken {facts['snapshot']['created_at']} by "
                     f"{facts['snapshot']['created_by']}; hash "
                     f"{'verified' if facts['snapshot']['verified'] else 'DOES NOT MATCH its content'}"),
        ("Snapshot hash", facts["snapshot"]["hash"]),
        ("Audit head", f"entry {head['seq']} · {head['hash']}" if head else "empty audit log"),
    ], mono=("Snapshot hash", "Audit head"))
    if facts["suspended"]:
        document.status_line("fail", f"SUSPENDED: {facts['suspended']['text']}")
    document.heading("At a glance", level=2)
    _lights(document, facts)
    if model["description"]:
        document.paragraph(model["description"])


def _lights(document: Document, facts: dict[str, Any]) -> None:
    for area in lights.AREAS:
        light = facts["lights"][area]
        document.status_line(light["status"], f"{area.capitalize()}: {light['reason']}")
    document.paragraph(f"Incidents and review: {tables.lights_moment(facts)}.", grey=True, small=True)


def _purpose(document: Document, facts: dict[str, Any]) -> None:
    impact = facts["impact_assessment"]
    document.heading("Purpose and impact assessment")
    document.fields([
        ("Purpose", impact["purpose"]),
        ("Affected", impact["affected"]),
        ("Data categories", impact["data_categories"]),
        ("Legal basis", impact["legal_basis"]),
        ("Human oversight", impact["human_oversight"]),
        ("Consent required", facts["consent_purpose"]),
        *([("Decision threshold", f"score ≥ {facts['threshold']} means selected")] if _binary(facts) else
          [("Outcome", tables.sentence_case(tables.outcome_text(facts)))]),
    ])


def _data(document: Document, facts: dict[str, Any]) -> None:
    document.heading("Data used")
    document.paragraph("The snapshot's inputs, each identified by the SHA-256 of its stored Parquet file.")
    document.rows_table(facts["data"],
                   widths=(28, 12, 10, 60))
    document.fields([("Artifact", facts["artifact"]["kind"]),
                     ("Artifact sha256", facts["artifact"]["sha256"] or "none (scores only)"),
                     ("Equivalence with production", facts["artifact"]["equivalence"]),
                     *_decision_fields(facts)],
                    mono=("Artifact sha256",))
    document.heading("Model inputs", level=2, keep=25)
    document.rows_table([{"Feature": f["name"], "Label": f["label"], "Type": f["type"], "Unit": f["unit"],
                          "Description": f["description"]} for f in facts["features"]], widths=(24, 27, 12, 13, 34))
    document.paragraph("Sensitive attributes (used for fairness; never a reason shown to a sales manager): "
                       + ("; ".join(tables.attribute_use(a) for a in facts["sensitive_attributes"]) or "none") + ".")


def _decision_fields(facts: dict[str, Any]) -> list[tuple[str, str]]:
    """What a non-binary model's data decide: the unit and control of amounts, the offers, a list's capacity."""
    outcome = facts.get("outcome", "binary")
    if outcome == "continuous":
        return [("Unit of the amounts", facts["unit"]),
                ("Control", f"{facts['control']}: fairness is also shown within each of its values"
                 if facts.get("control") else "none")]
    if outcome == "multiclass":
        return [("Offers", ", ".join(tables.offer_text(o, facts) for o in facts["offers"]))]
    if outcome == "ranking":
        return [("Call lists", ", ".join(facts.get("lists") or ["team"])),
                ("Capacity per list", tables.capacity_text(facts))]
    return []


def _performance(document: Document, facts: dict[str, Any]) -> None:
    document.heading("Performance")
    measured, scored = facts["headline"]["eval"], facts["headline"]["scores"]
    if measured:
        document.fields([(f["label"], f["value"]) for f in measured])
    else:
        document.paragraph("No evaluation set this week: performance needs labelled tables.", grey=True)
    if scored:
        document.heading("Scoring batch", level=2, keep=table_keep(len(scored)))
        document.fields([(f["label"], f["value"]) for f in scored])
    if not _binary(facts):
        document.paragraph(f"AUC, calibration and the accuracy trend are computed for binary models only: a "
                           f"{facts['outcome']} model is measured by the figures above.", grey=True)
    figure = _performance_figure(facts)
    if figure is not None:
        trend = pd.DataFrame(facts["performance_trend"])
        _chart(document, "Trend", figure, "Performance across weekly snapshots (up to this week).",
               trend[["week", "version", "accuracy", "auc", "selection_rate", "scored_leads"]])


def _chart(document: Document, heading: str, figure: Any, caption: str, numbers: pd.DataFrame) -> None:
    """A sub-heading, the chart as an image and, under it, the numbers it draws, kept on one page if they fit."""
    png = chart_images.to_png(figure)
    table = table_keep(len(numbers), small=True)
    document.heading(heading, level=2, keep=document.image_height(png) + 8 + table)
    document.chart(png, caption=caption, reserve=table)
    document.rows_table(numbers.to_dict("records"), small=True)


def _fairness_section(document: Document, facts: dict[str, Any]) -> None:
    found = facts["fairness"]
    document.heading("Fairness")
    if not found["verdicts"]:
        document.paragraph("No fairness verdicts: the manifest names no sensitive attributes.", grey=True)
        return
    light = found["light"] or {"status": "not_evaluated", "reason": ""}
    document.status_line(light["status"], f"Overall: {light['reason']}")
    for verdict in found["verdicts"]:
        if verdict["status"] in ("fail", "warn"):
            document.status_line(verdict["status"], f"{verdict['label']}, {verdict['grouping']} "
                                 f"({DATA_NAMES[verdict['data']]}): {verdict['sentence']}")
    passed = sum(v["status"] == "pass" for v in found["verdicts"])
    document.paragraph(f"{passed} of {len(found['verdicts'])} verdicts pass.", grey=True)
    verdict_rows = tables.verdict_rows(facts)
    document.heading("Verdicts against the policy", level=2, keep=table_keep(len(verdict_rows), small=True))
    document.rows_table(verdict_rows, widths=(9, 15, 17, 27, 9, 13, 14, 22), small=True)
    for grouping in found["groupings"]:
        _groups(document, facts, grouping)
    trend, figure = found["trend"], _trend_figure(found)
    if figure is not None:
        rows = pd.DataFrame(trend["rows"])
        _chart(document, f"Trend: {trend['label']}, {trend['grouping']}", figure,
               f"The worst verdict's disparity across weeks with its 95% interval; dashed: policy lines "
               f"({describe_threshold(trend['threshold'])}).", rows)
    if found["sampling"]:
        document.heading("Sampling bias: evaluation set against scoring batch", level=2)
        document.rows_table([
            {"Attribute": s["attribute"], "Group": s["group"], "Eval share": tables.percent(s["eval_share"]),
             "Scoring share": tables.percent(s["scores_share"]), "Difference": tables.number(s["difference"]),
             "Flagged": "FLAGGED" if s["flagged"] else "no"} for s in found["sampling"]], small=True)
    if facts["drift"]:
        document.heading(f"Drift against {facts['drift']['reference_week']} (population stability index)", level=2)
        document.rows_table([
            {"Column": c["column"], "PSI": tables.number(c["psi"]), "Status": c["status"],
             "Reference mean": tables.number(c["reference_mean"]), "Current mean": tables.number(c["current_mean"])}
            for c in facts["drift"]["columns"]], small=True)


def _groups(document: Document, facts: dict[str, Any], grouping: dict[str, Any]) -> None:
    """One grouping: its chart, its per-group tables, and the strata (amounts) or offer frequencies (offers)."""
    shown = tables.presentation_of(facts)
    _, view = _charted(grouping, facts)
    label = tables.column_heading(view, outcome=shown["outcome"], unit=shown["unit"])
    document.heading(f"Groups: {grouping['grouping']} ({DATA_NAMES[grouping['data']]})", level=2, keep=75)
    document.chart(chart_images.to_png(_group_figure(grouping, facts), height=GROUP_CHART_HEIGHT),
                   caption=f"{label} per group; whiskers: 95% bootstrap interval; grey: too few to judge.")
    parts = tables.group_tables(grouping, **shown)
    for title, rows in parts:
        if title:
            document.heading(title, level=3, keep=table_keep(len(rows), small=True))
        document.rows_table(rows, small=True, widths=(20, 8, 10, 17, 17, 17, 17) if len(rows[0]) == 7 else None)
    if grouping.get("strata"):
        judged = [v["metric"] for v in facts["fairness"]["verdicts"]
                  if (v["data"], v["grouping"]) == (grouping["data"], grouping["grouping"])]
        rows = tables.strata_disparity_rows(grouping, unit=shown["unit"], metrics=judged)
        document.heading(f"Within each {grouping['control']}: {grouping['grouping']}", level=3,
                         keep=12 + table_keep(len(rows), small=True))
        document.paragraph(f"The verdicts' comparisons among customers of the same {grouping['control']}: a gap "
                           "that vanishes here is explained by the control.", small=True, grey=True)
        document.rows_table([{key: value for key, value in row.items() if key != "Control"} for row in rows],
                            small=True, widths=(10, 26, 9, 14, 14, 14, 14))
    if "independence" in grouping:
        offers = tables.offer_rows(grouping, offers=shown["offers"])
        document.heading(f"Offers made per group: {grouping['grouping']}", level=3,
                         keep=table_keep(len(offers), small=True))
        document.rows_table(offers, small=True)
        document.paragraph(tables.independence_text(grouping), small=True)


def _explanations(document: Document, facts: dict[str, Any]) -> None:
    document.heading("Explanations")
    found = facts["explanations"]
    if not found:
        document.paragraph(tables.NOT_AVAILABLE, grey=True)
        return
    if found.get("status") != "available":
        document.status_line("not_evaluated", f"Unavailable: {found.get('reason', 'no reason recorded')}")
        return
    document.fields([
        ("Explainer", f"{explain.explainer_text(found)}, output in {found['output_space']} space"),
        ("Rows explained", f"{found['rows']:,}"),
        ("Base value", tables.number(found["base_value"], "{:.4f}")),
        ("Additivity error", f"max {found['additivity_max_error']:.2e}"),
    ])
    features, proxies = tables.explanation_rows(found)
    document.heading("Top features (mean absolute SHAP value)", level=2)
    document.rows_table(features, widths=(8, 40, 18, 14, 14))
    document.heading("Proxy check", level=2)
    flagged = [p for p in found.get("proxies", []) if p["flagged"]]
    document.paragraph(f"{len(flagged)} feature(s) flagged as a possible proxy for a sensitive attribute."
                       + "".join(f" {p['note']}." for p in found.get("proxies", []) if p.get("note")))
    document.rows_table(proxies, empty="No proxy candidates checked.")


def _consent(document: Document, facts: dict[str, Any]) -> None:
    document.heading("Consent")
    found = facts["consent"]
    if not found:
        document.paragraph(tables.NOT_AVAILABLE, grey=True)
        return
    document.fields([
        ("Consent purpose", found["purpose"]),
        ("Coverage", f"{tables.percent(found['coverage'])} ({found['covered']:,} of {found['scored']:,} scored leads)"),
        ("Violations", f"{found['violations']:,} (without consent {found['without_consent']:,}, after withdrawal "
                       f"{found['after_withdrawal']:,}, after objection {found['after_objection']:,})"),
        ("Routed to a human", tables.number(found["human_routing"], "{:,}")),
    ])
    document.rows_table(tables.consent_rows(found), empty="No per-team breakdown.", small=True)
    consented = (found.get("fairness_consented") or {}).get("verdicts") or []
    if consented:
        failing = [v for v in consented if v["status"] in ("fail", "warn")]
        document.paragraph(f"Fairness on consented rows only: {len(failing)} of {len(consented)} verdicts "
                           "fail or warn.")


def _incidents_section(document: Document, facts: dict[str, Any]) -> None:
    document.heading("Incidents")
    open_ = sum(i["status"] != "closed" for i in facts["incidents"])
    document.paragraph(f"Incidents opened up to the moment of the lights on the cover: {open_} open, "
                       f"{len(facts['incidents']) - open_} closed.")
    document.rows_table(tables.incident_rows(facts), widths=(5, 11, 16, 13, 45, 13, 13), empty="No incidents.",
                        small=True)


def _reviews_section(document: Document, facts: dict[str, Any]) -> None:
    document.heading("Review history")
    document.paragraph(tables.review_of_snapshot_text(facts))
    document.rows_table(tables.review_rows(facts), widths=(12, 12, 15, 13, 16, 12, 30),
                        empty="No signed reviews up to this week.", small=True)


def _oversight(document: Document, facts: dict[str, Any]) -> None:
    document.heading("Human oversight and contact")
    model = facts["model"]
    document.fields([
        ("Human oversight", facts["impact_assessment"]["human_oversight"]),
        ("Accountable owner", model["owner"]),
        ("Contact", model["contact"]),
        ("Team", model["team"]),
    ])


def _limitations(document: Document, facts: dict[str, Any]) -> None:
    document.heading("Instructions for use and limitations")
    document.paragraph("The items that EU AI Act Art. 13(3) expects of instructions for use, where they apply, "
                       "answered from the registered manifest and this week's snapshot.", grey=True)
    document.rows_table([{"Art. 13(3)": row["item"], "In this model's case": row["answer"]}
                         for row in facts["instructions_for_use"]], widths=(32, 68))


def _reproducibility(document: Document, facts: dict[str, Any]) -> None:
    document.heading("Reproducibility")
    document.paragraph("The numbers come from the stored snapshot, computed with the packages below; the report was "
                       "laid out with the second set. The command python -m ethics report --model "
                       f"{facts['model']['id']} --week {facts['week']} reproduces it.")
    snap_pkgs, report_pkgs = facts["packages"]["snapshot"], facts["packages"]["report"]
    names = sorted(set(snap_pkgs) | set(report_pkgs))
    document.rows_table([{"Package": n, "Snapshot": snap_pkgs.get(n, "—"), "Report": report_pkgs.get(n, "—")}
                    for n in names], widths=(30, 25, 25))
    bootstrap = facts["policy"].get("bootstrap", {})
    document.paragraph(f"Policy: minimum group size {facts['policy'].get('min_group_size', '—')}, bootstrap "
                       f"{bootstrap.get('resamples', '—')} resamples at {bootstrap.get('confidence', '—')} "
                       f"(seed {bootstrap.get('seed', '—')}).", small=True)


MODEL_SECTIONS: tuple[Callable[[Document, dict[str, Any]], None], ...] = (
    _cover, _purpose, _data, _performance, _fairness_section, _explanations, _consent, _incidents_section,
    _reviews_section, _oversight, _limitations, _reproducibility,
)


def write_model_summary(document: Document, row: dict[str, Any], facts: dict[str, Any] | None) -> None:
    """One portfolio page: a model's identity, lights, failing verdicts and performance trend.

    Parameters
    ----------
    document : Document
    row : dict
        The model's ``portfolio.overview`` row.
    facts : dict or None
        The model's latest facts; None when it has no snapshot.
    """
    document.add_page()
    document.heading(f"{row['name']} ({row['id']})")
    if facts is None:
        document.paragraph("No snapshot yet: nothing has been evaluated.", grey=True)
        return
    model, measured = facts["model"], facts["headline"]["eval"]
    document.fields([
        ("Version · week", f"{model['version']} · {facts['week']}"),
        ("Purpose", facts["impact_assessment"]["purpose"]),
        ("Team · risk · owner", f"{model['team']} · {model['risk_tier']} · {model['owner']}"),
        ("Performance", "; ".join(f"{f['label']} {f['value']}" for f in measured[:SUMMARY_FIGURES])
         if measured else "not measured"),
        ("Consent coverage",
         tables.percent(facts["consent"]["coverage"]) if facts["consent"] else tables.NOT_AVAILABLE),
        ("Snapshot hash", facts["snapshot"]["hash"]),
    ], mono=("Snapshot hash",))
    if facts["suspended"]:
        document.status_line("fail", f"SUSPENDED: {facts['suspended']['text']}")
    _lights(document, facts)
    failing = [v for v in facts["fairness"]["verdicts"] if v["status"] == "fail"]
    for verdict in failing[:SUMMARY_FINDINGS]:
        document.status_line("fail", f"{verdict['label']}, {verdict['grouping']}: {verdict['sentence']}")
    if len(failing) > SUMMARY_FINDINGS:
        document.paragraph(f"… and {len(failing) - SUMMARY_FINDINGS} more failing verdicts: see the model's report.",
                           grey=True)
    trend = pd.DataFrame(facts["performance_trend"]).tail(SUMMARY_WEEKS)
    if len(trend) and _binary(facts):
        document.chart(chart_images.to_png(charts.performance_trend(trend), height=260),
                       caption=f"Performance across the last {len(trend)} weekly snapshots.")
        document.rows_table(trend[["week", "accuracy", "auc", "selection_rate"]].to_dict("records"), small=True)
