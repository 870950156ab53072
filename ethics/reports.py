"""Transparency reports: the facts of one model and week, as a PDF, a model card and CSV.

:func:`model_facts` gathers everything a report says from the stored snapshot and the
governance records (manifest, incidents, reviews, audit head); the PDF
(:func:`model_report_pdf`), the model card (``ethics.model_card``) and the CSV
exports all print those same facts, so they cannot disagree.  Nothing is recomputed:
the numbers are the snapshot's, and its hash is on the cover.

Report generation is not recorded in the audit log: it writes nothing, the log
records writes, and an entry per export would move the audit head that the report
itself prints (two exports of the same snapshot would then differ).

Access: every role may export (``export_reports``); a sales manager only the models
that score the team's leads, and of those only the team's rows and counts (consent,
incidents), checked here on the server for the PDF, card, CSV and portfolio alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ethics import (
    audit,
    auth,
    chart_images,
    consent,
    explain,
    incidents,
    lights,
    outcomes,
    portfolio,
    registry,
    report_pdf,
    reviews,
    snapshots,
    store,
    teams,
)
from ethics import report_rows as tables
from ethics.pdf import Document
from ethics.weeks import iso, utcnow

REPORT_PACKAGES = ("ethics", "fpdf2", "kaleido", "choreographer", "plotly", "pandas")
_STATUS_ORDER = {"fail": 0, "warn": 1, "too_few": 2, "pass": 3}
# Article 13(3) of the EU AI Act: what "instructions for use" must contain, where it applies.
ART_13_ITEMS = (
    ("(a) Provider identity and contact", "contact"),
    ("(b)(i) Intended purpose", "purpose"),
    ("(b)(ii) Level of accuracy, metrics used", "accuracy"),
    ("(b)(iii) Known circumstances that may lead to risks", "risks"),
    ("(b)(iv) Information to explain the output", "explain"),
    ("(b)(v) Performance for specific groups of persons", "groups"),
    ("(b)(vi) Input data specifications", "inputs"),
    ("(b)(vii) Interpreting the output", "output"),
    ("(c) Pre-determined changes", "changes"),
    ("(d) Human oversight measures", "oversight"),
    ("(e) Maintenance and care, expected lifetime", "maintenance"),
    ("(f) Logging of events", "logging"),
)


def report_packages() -> dict[str, str]:
    """Versions of the packages that laid out this report (the snapshot records its own)."""
    return snapshots.package_versions(REPORT_PACKAGES)


def visible_model(db: store.Database, *, actor: auth.Actor, model_id: str) -> dict[str, Any]:
    """The model if ``actor`` may export its reports.

    Raises
    ------
    PermissionDenied
        The role may not export, or a sales manager asks for a model that scores no lead
        of the team (the same message whether it exists or not).
    NotFound
        Unknown model (for roles that see every team).
    """
    auth.require(actor, "export_reports")
    return registry.visible_model(db, model_id, scope=actor.scope)


def model_facts(
    db: store.Database,
    *,
    model_id: str,
    actor: auth.Actor,
    week: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything a report on one model and week says, as plain JSON-ready data.

    Parameters
    ----------
    db : Database
    model_id : str
    actor : Actor
        Who generates the report; checked for ``export_reports`` and team scope.
    week : str, optional
        ISO week; the model's latest snapshot when omitted (the latest of that week otherwise).
    now : datetime, optional
        Generation time printed on the report.

    Returns
    -------
    dict
        The model card: model, snapshot, data, performance, fairness, explanations,
        consent, incidents, reviews, oversight, instructions for use, packages.

    Raises
    ------
    PermissionDenied, NotFound
        See :func:`visible_model`; also when the model has no snapshot (for the week).
    """
    model = visible_model(db, actor=actor, model_id=model_id)
    snap = snapshots.latest_snapshot(db, model_id, week=week)
    version_row = registry.get_version(db, model_id, snap["version"])
    manifest = version_row["manifest"]
    results = snap["results"]
    moment = now or utcnow()
    facts: dict[str, Any] = {
        "format": "ethics-model-card-v1",
        "model": {
            "id": model["id"], "name": model["name"], "version": snap["version"], "purpose": model["purpose"],
            "team": model["team"], "risk_tier": model["risk_tier"], "owner": manifest["owner"],
            "contact": manifest.get("contact") or manifest["owner"], "status": model["status"],
            "description": manifest.get("description", ""),
            "teams": [team for team in teams.model_teams(db, model_id) if actor.scope in (None, team)],
        },
        "suspended": registry.suspension(db, model_id),
        "scope": actor.scope,
        "week": snap["week"],
        "snapshot": {"id": snap["id"], "hash": snap["hash"], "created_at": snap["created_at"],
                     "created_by": snap["created_by"], "verified": snapshots.verify_snapshot(db, snap["id"])},
        "audit_head": audit.head(db),
        "impact_assessment": manifest["impact_assessment"],
        "threshold": results.get("threshold", manifest["threshold"]),
        "consent_purpose": manifest["consent_purpose"],
        "features": [{**{k: f.get(k, "") for k in ("name", "label", "unit", "description")},
                      "type": f.get("type", "number")} for f in manifest["features"]],
        "sensitive_attributes": tables.attribute_facts(manifest),
        "proxy_candidates": manifest.get("proxy_candidates", []),
        "artifact": {"kind": manifest["artifact"]["kind"], "sha256": snap["inputs"].get("artifact_sha256"),
                     "equivalence": registry.equivalence_text(version_row)},
        "data": _data_used(snap["inputs"], week=snap["week"]),
        **_outcome_facts(results, scope=actor.scope),
        "performance": results.get("performance"),
        "scoring": results.get("scoring"),
        "headline": {kind: outcomes.headline(results, kind) for kind in tables.DATA_LABELS},
        "performance_trend": [row for row in snapshots.performance_trend(db, model_id) if row["week"] <= snap["week"]],
        "fairness": _fairness(db, snap),
        "drift": results.get("drift"),
        "explanations": results.get("explanations"),
        "consent": consent.coverage_for(results.get("consent"), scope=actor.scope),
        "lights": lights.model_lights(db, model, snap, scope=actor.scope, at=moment),
        "lights_at": iso(moment),
        "incidents": _incidents(db, model_id, scope=actor.scope, until=iso(moment)),
        "reviews": _reviews(db, model_id, week=snap["week"]),
        "review_of_snapshot": [{k: r[k] for k in _REVIEW_FIELDS} for r in reviews.reviews_of_snapshot(db, snap["id"])],
        "policy": snap["policy"],
        "packages": {"snapshot": snap["packages"], "report": report_packages()},
        "generated": {"by": actor.label, "at": iso(moment)},
    }
    facts["instructions_for_use"] = instructions_for_use(facts)
    return facts


def _outcome_facts(results: dict[str, Any], *, scope: str | None) -> dict[str, Any]:
    """What the model decides: its outcome type, the unit of amounts, its offers, and a ranking's capacity.

    A sales manager sees the capacity of the team's own call list only.
    """
    capacity = results.get("capacity")
    if isinstance(capacity, dict) and scope is not None:
        capacity = {team: k for team, k in capacity.items() if team == scope}
    found = {"outcome": results.get("outcome", "binary"), "unit": outcomes.results_unit(results),
             "offers": results.get("offers", [])}
    if found["outcome"] == "continuous":
        found |= {"favourable": results.get("favourable"), "control": results.get("control")}
    if found["outcome"] == "ranking":
        found |= {"capacity": capacity, "lists": results.get("lists")}
    return found


def _data_used(inputs: dict[str, Any], *, week: str) -> list[dict[str, Any]]:
    rows = [
        {"data": tables.DATA_LABELS[kind], "week": week, "rows": inputs[kind]["rows"], "sha256": inputs[kind]["sha256"]}
        for kind in tables.DATA_LABELS if kind in inputs
    ]
    if "drift_reference" in inputs:
        reference = inputs["drift_reference"]
        rows.append({"data": "Drift reference (scoring batch)", "week": reference["week"], "rows": None,
                     "sha256": reference["sha256"]})
    return rows


def _incidents(db: store.Database, model_id: str, *, scope: str | None, until: str) -> list[dict[str, Any]]:
    """The model's incidents the reader may see, opened up to the report's moment, with their status then."""
    return [
        {k: i[k] for k in ("id", "severity", "category", "status", "title", "opened_at", "due_at", "updated_at")}
        for i in incidents.list_incidents(db, model_id=model_id, scope=scope) if i["opened_at"] <= until
    ]


_REVIEW_FIELDS = ("week", "snapshot_week", "decision", "reviewer", "signed_at", "snapshot_hash", "conditions",
                  "comment")


def _reviews(db: store.Database, model_id: str, *, week: str) -> list[dict[str, Any]]:
    """The signed reviews of the snapshots up to ``week``, newest first, each naming the snapshot it signs."""
    return [{k: r[k] for k in _REVIEW_FIELDS} for r in reviews.list_reviews(db, model_id) if r["snapshot_week"] <= week]


def _fairness(db: store.Database, snap: dict[str, Any]) -> dict[str, Any]:
    """Verdicts worst first, the group tables of one data set, and the trend of the worst disparity."""
    results = snap["results"]
    verdicts = sorted(results.get("verdicts", []), key=lambda v: _STATUS_ORDER[v["status"]])
    assessed = results.get("fairness", {})
    data = "eval" if assessed.get("eval") else "scores"
    groupings = [
        {"data": data, "grouping": g["grouping"], "groups": g["groups"],
         **({key: g[key] for key in ("disparities", "strata", "control", "independence") if key in g}
            if results.get("outcome", "binary") != "binary" else {})}
        for g in assessed.get(data, [])
    ]
    trend = None
    if verdicts:
        worst = verdicts[0]
        trend = {
            "data": worst["data"], "grouping": worst["grouping"], "metric": worst["metric"], "label": worst["label"],
            "threshold": worst["threshold"],
            "rows": [row for row in snapshots.disparity_trend(db, snap["model_id"], data=worst["data"],
                                                              grouping=worst["grouping"], metric=worst["metric"])
                     if row["week"] <= snap["week"]],
        }
    return {"light": snap["summary"].get("lights", {}).get("fairness"), "verdicts": verdicts,
            "groupings": groupings, "trend": trend, "sampling": results.get("sampling", [])}


def instructions_for_use(facts: dict[str, Any]) -> list[dict[str, str]]:
    """The items of EU AI Act Art. 13(3) answered from the facts ("not stated" where the record is silent)."""
    impact = facts["impact_assessment"]
    measured = facts["headline"]["eval"]
    failing = [v for v in facts["fairness"]["verdicts"] if v["status"] in ("fail", "warn")]
    flagged = [p for p in (facts["explanations"] or {}).get("proxies", []) if p.get("flagged")]
    drifted = [c["column"] for c in (facts["drift"] or {}).get("columns", []) if c["status"] != "pass"]
    risks = [f"{v['label']} on {v['grouping']}: {v['status']}" for v in failing]
    risks += [f"proxy: {p['label']} stands in for {p['attribute_label']}" for p in flagged]
    risks += [f"drift in {', '.join(drifted)}"] if drifted else []
    explanations = facts["explanations"]
    answers = {
        "contact": f"{facts['model']['owner']}; contact {facts['model']['contact']}; team {facts['model']['team']}.",
        "purpose": impact["purpose"],
        "accuracy": ("; ".join(f"{f['label']} {f['value']}" for f in measured) + f" on the evaluation set of "
                     f"{facts['week']}" + (f" at threshold {facts['threshold']}." if facts["outcome"] == "binary"
                                           else ".") if measured
                     else "No labelled evaluation set this week: accuracy is not measured."),
        "risks": "; ".join(risks) or "No failing or warning verdict, flagged proxy or drift this week.",
        "explain": (f"{explain.explainer_text(explanations)}: feature importance and per-lead reasons."
                    if explanations and explanations.get("status") == "available"
                    else "Explanations: " + (explanations or {}).get("reason", "not available in this snapshot")),
        "groups": f"{len(facts['fairness']['verdicts'])} fairness verdicts over "
                  f"{', '.join(a['label'] for a in facts['sensitive_attributes']) or 'no sensitive attributes'}; "
                  "see Fairness.",
        "inputs": "; ".join(f"{f['label']} ({f['unit']})" if f["unit"] else f["label"] for f in facts["features"]),
        "output": f"{tables.sentence_case(tables.outcome_text(facts))}. "
                  f"Scoring requires consent purpose '{facts['consent_purpose']}'.",
        "changes": "None pre-determined: every version is registered with its own manifest and artifact hash.",
        "oversight": impact["human_oversight"],
        "maintenance": "Weekly snapshot and signed weekly review; incidents tracked with due dates by severity.",
        "logging": "Every write is in the hash-chained audit log with keyed checkpoints "
                   "(python -m ethics audit verify).",
    }
    return [{"item": item, "answer": answers[key]} for item, key in ART_13_ITEMS]


def model_report_pdf(
    db: store.Database,
    *,
    model_id: str,
    actor: auth.Actor,
    week: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """The transparency report of one model and week as PDF bytes.

    Parameters
    ----------
    db : Database
    model_id : str
    actor : Actor
        Who generates it (checked: ``export_reports`` and team scope).
    week : str, optional
        ISO week; the latest snapshot when omitted.
    now : datetime, optional
        Generation time printed on the cover.

    Returns
    -------
    bytes

    Raises
    ------
    PermissionDenied, NotFound
        See :func:`model_facts`.
    """
    facts = model_facts(db, model_id=model_id, actor=actor, week=week, now=now)
    document = Document(title=f"Transparency report · {facts['model']['name']} · {facts['week']}",
                        created=datetime.fromisoformat(facts["generated"]["at"]))
    with chart_images.renderer():
        report_pdf.write_model_report(document, facts)
    return document.render()


def portfolio_report_pdf(db: store.Database, *, actor: auth.Actor, now: datetime | None = None) -> bytes:
    """The portfolio report: the traffic-light table, then one summary page per model the actor may see.

    Parameters
    ----------
    db : Database
    actor : Actor
        A sales manager gets only the team's models.
    now : datetime, optional

    Returns
    -------
    bytes

    Raises
    ------
    PermissionDenied
        The role may not export reports.
    """
    auth.require(actor, "export_reports")
    moment = now or utcnow()
    rows = portfolio.overview(db, scope=actor.scope, now=moment)
    document = Document(title="Portfolio transparency report", created=moment)
    document.add_page()
    document.heading("Portfolio transparency report")
    document.fields([
        ("Models", len(rows)),
        ("Scope", f"team {actor.scope}" if actor.scope else "every team"),
        (report_pdf.GENERATED, f"{iso(moment)} by {actor.label}"),
        ("Lights", lights.moment_text(moment)),
        ("Audit head", tables.head_text(audit.head(db))),
    ], mono=("Audit head",))
    document.heading("Traffic lights", level=2)
    document.rows_table(tables.portfolio_rows(rows), small=True, empty="No models registered.",
                        widths=(22, 9, 9, 12, 10, 9, 14, 10, 11, 9))
    with chart_images.renderer():
        for row in rows:
            facts = model_facts(db, model_id=row["id"], actor=actor, now=moment) if row["snapshot_id"] else None
            report_pdf.write_model_summary(document, row, facts)
    return document.render()
