"""Lead lookup for sales managers: score, decision, reasons, consent; contest and override.

Every function here scopes by team on the server side: a sales manager (``team`` set)
only ever receives leads whose model belongs to the team *and* whose own ``team``
column is the team.  A lead of another team and a lead that does not exist give the
same message, so a lookup cannot probe other teams' leads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ethics import audit, consent, datasets, explain, incidents, privacy, registry, snapshots, store
from ethics.auth import Actor, require
from ethics.errors import UNKNOWN_SNAPSHOT, NotFound, PermissionDenied, ValidationError
from ethics.lazy import lazy_module
from ethics.weeks import iso, parse_time, utcnow

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())

SELECTED, NOT_SELECTED = "selected", "not selected"
DECISIONS = (SELECTED, NOT_SELECTED)
MAX_MATCHES = 20
CONTEST_CATEGORY = "customer_complaint"
CONTEST_SEVERITY = "medium"

EMPTY_QUERY = "Type a lead id or a customer id to look a lead up."
LEAD_NOT_FOUND = "No lead or customer {query!r} in the scoring batch of {model_id} for {week}."
LEAD_NOT_VISIBLE = (
    "Not allowed: {query!r} is not a lead or customer of team {team!r} scored by {model_id} in {week} "
    "(or does not exist)."
)
NO_BATCH = "Snapshot {snapshot_id} of {model_id} has no scoring batch: there are no leads to look up."
NOT_EXPLAINED = "No explanation available: {reason}."
NO_LEAD_VALUES = (
    "No explanation stored for this lead: the snapshot of {week} kept SHAP values only for a sample of "
    "leads (global importance). Take a new snapshot of the week to explain every lead."
)
BAD_DECISION = "Decision {decision!r} is not one of {allowed}."
SAME_DECISION = "Lead {lead_id}: the model already decided {decision!r}; an override must change the decision."
NO_REASON = "Lead {lead_id}: give the reason for the {what}."
ALREADY_OVERRIDDEN = "Lead {lead_id} was already overridden in snapshot {snapshot_id} (override {override_id})."
SUSPENDED_OVERRIDE = "Lead {lead_id}: no override. {suspended} There is no decision to override; contest the score."

Loader = Callable[[Mapping[str, Any]], "pd.DataFrame"]


NOT_A_SCORE = (
    "Model {model_id!r} decides {what}, not a yes/no score: the lead lookup explains scores cut at a threshold. "
    "Its decisions per group are on the Fairness page."
)
OUTCOME_WORDS = {"continuous": "an amount", "multiclass": "an offer", "ranking": "a place on a call list"}


def decision(score: float, threshold: float) -> str:
    """The model's decision at its threshold: ``selected`` when ``score >= threshold``."""
    return SELECTED if score >= threshold else NOT_SELECTED


def match_customer(db: store.Database, customer_ids: pd.Series, typed: str) -> np.ndarray:
    """Rows of the customer a person typed: the CRM id (stored as its keyed pseudonym) or the name.

    The one place that compares typed text with stored customer ids; the stored
    pseudonym itself and an id stored before pseudonymisation match too.
    """
    wanted = {typed, privacy.pseudonymise(db, typed), *privacy.pseudonyms_named(db, typed)}
    return customer_ids.isin(wanted).to_numpy(dtype=bool)


def _snapshot(db: store.Database, model_id: str, snapshot_id: int | None) -> dict[str, Any]:
    snap = snapshots.latest_snapshot(db, model_id) if snapshot_id is None else snapshots.get_snapshot(db, snapshot_id)
    if snap["model_id"] != model_id:
        raise NotFound(UNKNOWN_SNAPSHOT.format(snapshot_id=snapshot_id))
    outcome = snap["results"].get("outcome", "binary")
    if outcome != "binary":
        raise ValidationError(NOT_A_SCORE.format(model_id=model_id, what=OUTCOME_WORDS[outcome]))
    return snap


def _batch(db: store.Database, snap: Mapping[str, Any]) -> dict[str, Any]:
    if "scores" not in snap["inputs"]:
        raise ValidationError(NO_BATCH.format(snapshot_id=snap["id"], model_id=snap["model_id"]))
    dataset_id = snap["inputs"]["scores"]["dataset_id"]
    return store.get_row(db, store.DATASETS, dataset_id, message=f"Unknown dataset {dataset_id!r}.")


def lead_rows(
    db: store.Database, snap: Mapping[str, Any], *, home: Path, loader: Loader | None = None
) -> tuple[pd.DataFrame, bool]:
    """A snapshot's scored leads and whether they carry SHAP values.

    The per-lead explanations when the snapshot stored them (one hash-checked read),
    otherwise the scoring batch itself.
    """
    leads = snap["results"].get("explanations", {}).get("leads")
    if leads:
        return (loader or (lambda ref: explain.read_leads(ref, home=home)))(leads), True
    return datasets.read_rows(_batch(db, snap), home=home), False


def team_rows(frame: pd.DataFrame, scope: str | None) -> pd.DataFrame:
    """The rows of ``frame`` a reader scoped to ``scope`` may receive: the team's leads (all for None)."""
    return frame if scope is None else frame[(frame["team"] == scope).to_numpy(dtype=bool)]


def explained_leads(
    db: store.Database, snap: Mapping[str, Any], *, home: Path, scope: str | None, loader: Loader | None = None
) -> pd.DataFrame | None:
    """The per-lead SHAP values of a snapshot that a reader may see (the team's leads); None when not stored."""
    ref = snap["results"].get("explanations", {}).get("leads")
    if not ref:
        return None
    return team_rows((loader or (lambda r: explain.read_leads(r, home=home)))(ref), scope)


def find_leads(
    db: store.Database,
    *,
    home: Path,
    model_id: str,
    query: str,
    team: str | None,
    snapshot_id: int | None = None,
    loader: Loader | None = None,
) -> list[dict[str, Any]]:
    """Look a lead up by lead id or customer id in one snapshot (the latest by default).

    Parameters
    ----------
    db : Database
    home : Path
        The data home (per-lead explanations, scoring batches).
    model_id : str
    query : str
        A lead id, or a customer id (every lead of that customer in the batch).
    team : str or None
        The reader's team scope (``Actor.scope``); None reads every team.
    snapshot_id : int, optional
    loader : callable, optional
        Reads the per-lead explanations of a reference (the app passes a cached reader).

    Returns
    -------
    list of dict
        One entry per matching lead (at most :data:`MAX_MATCHES`) with ``score, decision, threshold,
        consent, override, explanation`` and the lead's and snapshot's ids.

    Raises
    ------
    ValidationError
        An empty query, or a snapshot without a scoring batch.
    NotFound
        Unknown model, snapshot or lead (unscoped readers).
    PermissionDenied
        The model or the lead is another team's, or does not exist (scoped readers).
    """
    query = (query or "").strip()
    if not query:
        raise ValidationError(EMPTY_QUERY)
    model = registry.visible_model(db, model_id, scope=team)
    snap = _snapshot(db, model["id"], snapshot_id)
    frame, explained = lead_rows(db, snap, home=home, loader=loader)
    mask = (frame["lead_id"] == query).to_numpy(dtype=bool) | match_customer(db, frame["customer_id"], query)
    if team is not None:
        mask &= (frame["team"] == team).to_numpy(dtype=bool)
    if not mask.any():
        where = {"query": query, "model_id": model_id, "week": snap["week"]}
        if team is not None:
            raise PermissionDenied(LEAD_NOT_VISIBLE.format(team=team, **where))
        raise NotFound(LEAD_NOT_FOUND.format(**where))
    # Plain dicts of the few matching rows: DataFrame.to_dict costs more than the whole search.
    matches = frame.iloc[np.flatnonzero(mask)[:MAX_MATCHES]]
    columns = {name: matches[name].to_numpy() for name in matches.columns}
    rows = [{name: values[position] for name, values in columns.items()} for position in range(len(matches))]
    context = {"manifest": registry.get_version(db, snap["model_id"], snap["version"])["manifest"],
               "model_name": model["name"], "scored_at": _batch(db, snap)["imported_at"],
               "suspended": registry.suspension(db, model["id"])}
    details = [_lead_detail(db, snap, row, explained=explained, **context) for row in rows]
    known = privacy.customer_names(db, [d["customer_id"] for d in details])
    for detail in details:  # the CRM id and name a person recognises, where contact details were imported
        found = known.get(detail["customer_id"], {})
        detail["customer_ref"], detail["customer_name"] = found.get("customer_ref"), found.get("name")
    return details


def _lead_detail(
    db: store.Database, snap: Mapping[str, Any], row: Mapping[str, Any], *, explained: bool,
    manifest: Mapping[str, Any], model_name: str, scored_at: str, suspended: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Score, decision, explanation, consent and any override of one lead of a snapshot.

    Consent is the state when the lead was scored: its own ``scored_at`` if the batch had
    one, else ``scored_at`` given here (the batch's import time).
    """
    threshold = snap["results"]["threshold"]
    results = snap["results"].get("explanations", {})
    own = parse_time(row.get("scored_at"))  # the batch's optional per-lead time, as the snapshot's coverage uses
    at = iso(own) if own is not None else scored_at
    detail = {
        "lead_id": str(row["lead_id"]), "customer_id": str(row["customer_id"]), "team": str(row["team"]),
        "model_id": snap["model_id"], "model_name": model_name,
        "version": snap["version"], "snapshot_id": snap["id"], "snapshot_hash": snap["hash"], "week": snap["week"],
        "score": float(row["score"]), "threshold": threshold, "decision": decision(float(row["score"]), threshold),
        "consent": {"purpose": manifest["consent_purpose"], "at": at,
                    **consent.status_at(db, customer_id=row["customer_id"], purpose=manifest["consent_purpose"],
                                        at=at)},
        "suspended": suspended,
        "override": _override(db, snap["id"], row["lead_id"]),
        "contest": incidents.reported(db, model_id=snap["model_id"], team=str(row["team"]),
                                      finding=contest_finding(snap["id"], row["lead_id"])),
        "explanation": _explanation(row, results, manifest=manifest, explained=explained, week=snap["week"]),
    }
    return detail


def _explanation(
    row: Mapping[str, Any], results: Mapping[str, Any], *, manifest: Mapping[str, Any], explained: bool, week: str
) -> dict[str, Any]:
    if results.get("status") != "available":
        return {"available": False, "message": NOT_EXPLAINED.format(reason=results.get("reason", "not computed"))}
    if not explained:
        return {"available": False, "message": NO_LEAD_VALUES.format(week=week)}
    base = results["base_value"]
    return {
        "available": True, "explainer": results["explainer"], "method": explain.explainer_text(results),
        "output_space": results["output_space"],
        "base_value": base, "output": float(row["output"]),
        "reasons": explain.reason_codes(row, manifest=manifest, proxies=results.get("proxies", [])),
        "waterfall": explain.waterfall(row, base_value=base, manifest=manifest),
    }


def _override(db: store.Database, snapshot_id: int, lead_id: str) -> dict[str, Any] | None:
    found = store.list_rows(db, store.OVERRIDES, "snapshot_id = ? and lead_id = ?", [snapshot_id, lead_id])
    return found[0] if found else None


def _one_lead(
    db: store.Database, *, home: Path, actor: Actor, model_id: str, snapshot_id: int, lead_id: str,
    loader: Loader | None,
) -> dict[str, Any]:
    found = find_leads(db, home=home, model_id=model_id, query=lead_id, team=actor.scope, snapshot_id=snapshot_id,
                       loader=loader)
    exact = [lead for lead in found if lead["lead_id"] == lead_id]
    if not exact:
        where = {"query": lead_id, "model_id": model_id, "week": found[0]["week"]}
        if actor.scope is not None:
            raise PermissionDenied(LEAD_NOT_VISIBLE.format(team=actor.scope, **where))
        raise NotFound(LEAD_NOT_FOUND.format(**where))
    return exact[0]


def contest_score(
    db: store.Database,
    *,
    home: Path,
    actor: Actor,
    model_id: str,
    snapshot_id: int,
    lead_id: str,
    reason: str,
    now: datetime | None = None,
    loader: Loader | None = None,
) -> dict[str, Any]:
    """Open an incident contesting one lead's score, linked to the lead, version and snapshot.

    Raises
    ------
    PermissionDenied
        The actor may not open incidents, or may not see the lead.
    ValidationError
        No reason given, or the lead's score is already contested in an open incident (named).
    """
    require(actor, "open_incident")
    lead = _one_lead(db, home=home, actor=actor, model_id=model_id, snapshot_id=snapshot_id, lead_id=lead_id,
                     loader=loader)
    if not reason.strip():
        raise ValidationError(NO_REASON.format(lead_id=lead_id, what="contest"))
    incidents.refuse_reported(db, model_id=model_id, finding=contest_finding(snapshot_id, lead_id), team=lead["team"])
    explanation = lead["explanation"]
    factors = ""
    if explanation["available"]:
        texts = [r["text"] for direction in ("raising", "lowering") for r in explanation["reasons"][direction]]
        factors = "\n\nReasons shown:\n" + "\n".join(f"- {text}" for text in texts)
    description = (
        f"{reason.strip()}\n\nLead {lead_id} of team {lead['team']}: score {lead['score']:.3f}, decision "
        f"{lead['decision']} at threshold {lead['threshold']:g} (week {lead['week']}, snapshot "
        f"{lead['snapshot_hash'][:12]}).{factors}"
    )
    return incidents.open_incident(
        db, model_id=model_id, severity=CONTEST_SEVERITY, category=CONTEST_CATEGORY,
        title=f"Score of lead {lead_id} contested", description=description, reporter=actor.username,
        version=lead["version"], lead_id=lead_id, snapshot_id=snapshot_id, team=lead["team"],
        finding=contest_finding(snapshot_id, lead_id), now=now,
    )


def contest_finding(snapshot_id: int, lead_id: str) -> str:
    """The finding key of a contest: one open contest per lead and snapshot."""
    return f"contest:{snapshot_id}:{lead_id}"


def override_decision(
    db: store.Database,
    *,
    home: Path,
    actor: Actor,
    model_id: str,
    snapshot_id: int,
    lead_id: str,
    decision: str,
    reason: str,
    now: datetime | None = None,
    loader: Loader | None = None,
) -> dict[str, Any]:
    """Record a person's decision for a lead instead of the model's (human oversight).

    Parameters
    ----------
    decision : {"selected", "not selected"}
        The decision that replaces the model's; it must differ from it.
    reason : str
        Why; required.

    Returns
    -------
    dict
        The override row.

    Raises
    ------
    PermissionDenied
        The actor may not override, or may not see the lead.
    ValidationError
        Unknown or unchanged decision, no reason, the lead is already overridden in the snapshot, or the
        model is suspended (its decisions are not used, so there is none to override).
    """
    require(actor, "override_decisions")
    if decision not in DECISIONS:
        raise ValidationError(BAD_DECISION.format(decision=decision, allowed=", ".join(DECISIONS)))
    lead = _one_lead(db, home=home, actor=actor, model_id=model_id, snapshot_id=snapshot_id, lead_id=lead_id,
                     loader=loader)
    if lead["suspended"]:
        raise ValidationError(SUSPENDED_OVERRIDE.format(lead_id=lead_id, suspended=lead["suspended"]["text"]))
    if decision == lead["decision"]:
        raise ValidationError(SAME_DECISION.format(lead_id=lead_id, decision=decision))
    if not reason.strip():
        raise ValidationError(NO_REASON.format(lead_id=lead_id, what="override"))
    if lead["override"]:
        raise ValidationError(ALREADY_OVERRIDDEN.format(lead_id=lead_id, snapshot_id=snapshot_id,
                                                        override_id=lead["override"]["id"]))
    moment = now or utcnow()
    row = {
        "model_id": model_id, "version": lead["version"], "snapshot_id": snapshot_id, "lead_id": lead_id,
        "team": lead["team"], "score": lead["score"], "threshold": lead["threshold"],
        "model_decision": lead["decision"], "decision": decision, "reason": reason.strip(),
        "actor": actor.username, "created_at": iso(moment),
    }
    with store.transaction(db):
        override_id = db[store.OVERRIDES].insert(row).last_pk
        # The chained object is the override, not the lead: a lead id leads to a customer, and an erasure can
        # tombstone the payload that names it but not a field the chain hashes as it is (issue 18).
        audit.record(db, audit.DecisionOverridden(
            actor.username, "override", str(override_id), model_id=model_id, snapshot_id=snapshot_id, lead_id=lead_id,
            model_decision=lead["decision"], decision=decision, reason=row["reason"], created=moment),
            records=[(store.OVERRIDES, override_id)])
    return {"id": override_id, **row}


def list_overrides(db: store.Database, *, model_id: str, team: str | None = None) -> list[dict[str, Any]]:
    """A model's overrides, newest first, optionally of one team's leads."""
    where, args = "model_id = ?", [model_id]
    if team is not None:
        where, args = where + " and team = ?", [*args, team]
    return store.list_rows(db, store.OVERRIDES, where, args, order_by="id desc")


def override_rates(
    db: store.Database, snap: Mapping[str, Any], *, home: Path, team: str | None = None,
    loader: Loader | None = None,
) -> list[dict[str, Any]]:
    """Per team: leads scored in the snapshot, overrides of them, and the override rate.

    The share of the model's decisions people changed is evidence of human oversight
    (and a rate far from zero is a finding in itself).
    """
    if "scores" not in snap["inputs"]:
        return []
    frame, _ = lead_rows(db, snap, home=home, loader=loader)
    scored = team_rows(frame, team)["team"].value_counts()
    found = store.list_rows(db, store.OVERRIDES, "snapshot_id = ?", [snap["id"]])
    rows = []
    for name in sorted(scored.index):
        mine = [o for o in found if o["team"] == name]
        rows.append({
            "team": name, "leads": int(scored[name]), "overrides": len(mine),
            "override_rate": len(mine) / int(scored[name]),
            "to_selected": sum(o["decision"] == SELECTED for o in mine),
            "to_not_selected": sum(o["decision"] == NOT_SELECTED for o in mine),
        })
    return rows
