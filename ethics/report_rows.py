"""The report's tables and number formats, shared by the PDF, the model card and the CSV exports.

Each function turns part of the report facts (``reports.model_facts``) into rows of
``{column heading: text}``, so every output shows the same figures the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ethics import fairness, lights, reviews
from ethics.policy import DATA_NAMES, describe_threshold

NOT_AVAILABLE = "Not available in this snapshot."
DATA_LABELS = {"eval": "Evaluation set", "scores": "Scoring batch"}


def number(value: float | None, pattern: str = "{:.3f}") -> str:
    """A number for reading; an em dash when missing."""
    return "—" if value is None else pattern.format(value)


def percent(value: float | None) -> str:
    """A share as a percentage with one decimal."""
    return number(value, "{:.1%}")


def verdict_rows(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The fairness verdicts as table rows (PDF, card and CSV)."""
    return [
        {"Status": v["status"].replace("_", " "), "Data": DATA_NAMES[v["data"]], "Groups": v["grouping"],
         "Metric": v["label"], "Value": fairness.DISPARITIES[v["metric"]].shown.text(v["value"]),
         "95% interval": fairness.DISPARITIES[v["metric"]].shown.interval(v.get("interval")),
         "Threshold": describe_threshold(v["threshold"])}
        for v in facts["fairness"]["verdicts"]
    ]


def group_rows(grouping: dict[str, Any]) -> list[dict[str, Any]]:
    """One grouping's per-group metrics with intervals, as table rows."""
    shown = {name: spec for name, spec in fairness.METRICS.items() if spec.in_tables}
    rows = []
    for group in grouping["groups"]:
        row = {"Group": group["group"], "n": int(group["count"]), "Judged": "yes" if group["judged"] else "too few"}
        for name, spec in shown.items():
            if name in group:
                row[spec.label] = (f"{spec.shown.text(group[name])} "
                                   f"({spec.shown.interval(group.get(f'{name}_interval'))})")
        rows.append(row)
    return rows


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
         "Flagged": "FLAGGED" if p["flagged"] else "no"}
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
