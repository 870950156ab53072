"""The model card as Markdown and JSON, and CSV exports of the report's tables.

All three print the report facts (``reports.model_facts``), like the PDF.  Untrusted
text (names, titles, comments) is escaped in Markdown so it shows literally and
cannot add links, images or HTML; CSV cells go through ``spreadsheet.safe_cell`` so a
spreadsheet never runs them as formulas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ethics import report_rows as tables
from ethics import spreadsheet

# Characters with a meaning anywhere in CommonMark or GitHub tables, and those that start a block.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~])")
_BLOCK_START = re.compile(r"^(\s*\d*)([-+>.)])")
TABLES = ("performance", "verdicts", "groups", "strata", "offers", "incidents", "reviews", "features", "proxies",
          "consent", "instructions")
#: Tables only one outcome type has: an amount's strata under its control, an offer model's frequency table.
_OUTCOME_TABLES = {"strata": "continuous", "offers": "multiclass"}


def tables_for(outcome: str) -> tuple[str, ...]:
    """The CSV tables a snapshot of this outcome type has (``strata`` and ``offers`` belong to one type each)."""
    return tuple(name for name in TABLES if _OUTCOME_TABLES.get(name, outcome) == outcome)


def escape_markdown(text: Any) -> str:
    """Text that Markdown renders literally: special characters escaped, HTML as entities, one line."""
    value = str(text if text is not None else "—")
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(value.splitlines()))
    return _BLOCK_START.sub(lambda m: m[1] + "\\" + m[2], value)


def card_json(facts: dict[str, Any]) -> str:
    """The model card as JSON (the facts themselves, keys sorted)."""
    return json.dumps(facts, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _md_table(rows: Sequence[dict[str, Any]], *, empty: str = "Nothing to show.") -> list[str]:
    if not rows:
        return [f"_{escape_markdown(empty)}_", ""]
    columns = list(rows[0])
    lines = ["| " + " | ".join(escape_markdown(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(escape_markdown(_cell(row[c])) for c in columns) + " |" for row in rows]
    return [*lines, ""]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "—" if value is None else str(value)


def card_markdown(facts: dict[str, Any]) -> str:
    """The model card as Markdown: the report's sections as text and tables, no charts."""
    model, impact, snap = facts["model"], facts["impact_assessment"], facts["snapshot"]
    e = escape_markdown
    lines = [
        f"# Model card: {e(model['name'])}", "",
        f"Version {e(model['version'])} · week {e(facts['week'])} · team {e(model['team'])} · "
        f"risk {e(model['risk_tier'])} · status {e(model['status'])}", "",
        f"- Snapshot hash: `{snap['hash']}`",
        f"- Audit head: {e(tables.head_text(facts['audit_head']))}",
        f"- Generated: {e(facts['generated']['at'])} by {e(facts['generated']['by'])}", "",
        *([f"**SUSPENDED:** {e(facts['suspended']['text'])}", ""] if facts["suspended"] else []),
        "## At a glance", "",
        *_md_table([{"Area": area.capitalize(), "Light": light["status"].replace("_", " "), "Reason": light["reason"]}
                    for area, light in facts["lights"].items()]),
        f"_Incidents and review: {e(tables.lights_moment(facts))}._", "",
        "## Purpose and impact assessment", "",
        *_md_table([{"Field": k.replace("_", " ").capitalize(), "Value": tables.text_of(impact[k])}
                    for k in ("purpose", "affected", "data_categories", "legal_basis", "human_oversight")]),
        "## Data used", "",
        *_md_table(facts["data"]),
        "Sensitive attributes: " + ("; ".join(e(tables.attribute_use(a)) for a in facts["sensitive_attributes"])
                                    or "none") + ".", "",
        f"Artifact: {e(facts['artifact']['kind'])}. {e(facts['artifact']['equivalence'])}", "",
        "## Outcome", "",
        e(tables.sentence_case(tables.outcome_text(facts))) + ".", "",
        "## Performance", "",
        *([] if facts["headline"]["eval"] else ["No evaluation set this week.", ""]),
        *_md_table(tables.performance_rows(facts), empty="No scoring batch this week."),
        "## Fairness verdicts", "",
        *_md_table(tables.verdict_rows(facts), empty="No verdicts: the manifest names no sensitive attributes."),
    ]
    shown = tables.presentation_of(facts)
    for grouping in facts["fairness"]["groupings"]:
        lines += [f"### Groups: {e(grouping['grouping'])}", "", *_md_table(tables.group_rows(grouping, **shown))]
        if grouping.get("strata"):
            lines += [f"#### Within each {e(grouping['control'])}", "",
                      *_md_table(tables.strata_disparity_rows(grouping, unit=shown["unit"])),
                      *_md_table(tables.strata_rows(grouping, **shown))]
        if "independence" in grouping:
            lines += ["#### Offers made per group", "",
                      *_md_table(tables.offer_rows(grouping, offers=shown["offers"])),
                      e(tables.independence_text(grouping)), ""]
    lines += ["## Explanations", ""]
    explanations = facts["explanations"]
    if not explanations:
        lines += [tables.NOT_AVAILABLE, ""]
    elif explanations.get("status") != "available":
        lines += [f"Unavailable: {e(explanations.get('reason', ''))}", ""]
    else:
        features, proxies = tables.explanation_rows(explanations)
        notes = [e(p["note"]) + "." for p in explanations.get("proxies", []) if p.get("note")]
        lines += [*_md_table(features), "### Proxy check", "", *_md_table(proxies, empty="No proxies checked."),
                  *([" ".join(notes), ""] if notes else [])]
    lines += ["## Consent", ""]
    consent = facts["consent"]
    if consent:
        lines += [f"Coverage {tables.percent(consent['coverage'])} ({consent['covered']:,} of {consent['scored']:,}); "
                  f"violations {consent['violations']:,}; "
                  f"routed to a human {tables.number(consent['human_routing'], '{:,}')}.", "",
                  *_md_table(tables.consent_rows(consent), empty="No per-team breakdown.")]
    else:
        lines += [tables.NOT_AVAILABLE, ""]
    lines += [
        "## Incidents", "", *_md_table(tables.incident_rows(facts), empty="No incidents."),
        "## Review history", "", e(tables.review_of_snapshot_text(facts)), "",
        *_md_table(tables.review_rows(facts), empty="No signed reviews up to this week."),
        "## Human oversight and contact", "",
        f"{e(impact['human_oversight'])} Owner: {e(model['owner'])}; contact {e(model['contact'])}.", "",
        "## Instructions for use (EU AI Act Art. 13(3))", "",
        *_md_table([{"Item": r["item"], "Answer": r["answer"]} for r in facts["instructions_for_use"]]),
        "## Packages", "",
        *_md_table([{"Package": name, "Snapshot": facts["packages"]["snapshot"].get(name, "—"),
                     "Report": facts["packages"]["report"].get(name, "—")}
                    for name in sorted(set(facts["packages"]["snapshot"]) | set(facts["packages"]["report"]))]),
    ]
    return "\n".join(lines)


def table_rows(facts: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """One of the report's tables (:data:`TABLES`) as rows, for a CSV export.

    Raises
    ------
    KeyError
        Unknown table name.
    """
    explanations = facts["explanations"] if (facts["explanations"] or {}).get("status") == "available" else None
    shown = tables.presentation_of(facts)
    groupings = facts["fairness"]["groupings"]
    makers = {
        "performance": lambda: tables.performance_rows(facts),
        "verdicts": lambda: tables.verdict_rows(facts),
        "groups": lambda: [{"Data": g["data"], "Grouping": g["grouping"], **row}
                           for g in groupings for row in tables.group_rows(g, **shown)],
        "strata": lambda: [{"Data": g["data"], "Grouping": g["grouping"], **row}
                           for g in groupings for row in tables.strata_rows(g, **shown)],
        "offers": lambda: [{"Data": g["data"], "Grouping": g["grouping"], **row, **tables.independence_row(g)}
                           for g in groupings if "independence" in g
                           for row in tables.offer_rows(g, offers=shown["offers"])],
        "incidents": lambda: tables.incident_rows(facts),
        "reviews": lambda: tables.review_rows(facts),
        "features": lambda: tables.explanation_rows(explanations)[0] if explanations else [],
        "proxies": lambda: tables.explanation_rows(explanations)[1] if explanations else [],
        "consent": lambda: tables.consent_rows(facts["consent"]) if facts["consent"] else [],
        "instructions": lambda: facts["instructions_for_use"],
    }
    return makers[table]()


def table_csv(facts: dict[str, Any], table: str) -> str:
    """One of the report's tables as formula-safe CSV, led by the suspension notice if the model is suspended."""
    return to_csv(table_rows(facts, table), note=(facts["suspended"] or {}).get("text"))


def to_csv(rows: Sequence[dict[str, Any]], *, note: str | None = None) -> str:
    """Rows as formula-safe CSV text (``spreadsheet.to_csv``); ``note`` (a suspension) comes first."""
    return spreadsheet.to_csv(rows, note=note)
