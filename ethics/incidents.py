"""The incident log: ethical problems found in a model, owned and worked to closure.

Status moves forward ``open → investigating → mitigated → closed`` (steps may be
skipped); moving backwards needs a reason.  Every change is audited, and the audit
entries of an incident are its timeline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ethics import audit, registry, store, teams
from ethics.errors import NotFound, PermissionDenied, ValidationError
from ethics.weeks import iso, utcnow

SEVERITIES = ("low", "medium", "high", "critical")
CATEGORIES = ("bias", "privacy", "explainability", "customer_complaint", "security", "accuracy", "other")
STATUSES = ("open", "investigating", "mitigated", "closed")
DUE_DAYS = {"critical": 2, "high": 7, "medium": 30, "low": 90}
TITLE_LIMIT = 200

UNKNOWN_INCIDENT = "Unknown incident {incident_id!r}."
BAD_CHOICE = "Incident {field} {value!r} is not one of {allowed}."
NO_TITLE = "Incident title is missing."
LONG_TITLE = "Incident title has {length} characters; at most {limit}."
BACKWARDS = (
    "Incident {incident_id}: moving from {old!r} back to {new!r} needs a reason (the workflow is "
    "open → investigating → mitigated → closed)."
)
NO_CHANGE = "Incident {incident_id}: nothing to change."
EMPTY_COMMENT = "Incident {incident_id}: the comment is empty."
ALREADY_REPORTED = (
    "Already reported: incident {incident_id} ({status}, opened {opened} by {reporter}) reports the same finding "
    "({finding}). Add a comment there instead of opening a second incident."
)
NOT_VISIBLE = "Not allowed: incident {incident_id} is not about team {team!r}'s leads (or does not exist)."


def _choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValidationError(BAD_CHOICE.format(field=field, value=value, allowed=", ".join(allowed)))
    return value


def due_date(opened: datetime, severity: str) -> datetime:
    """When an incident of this severity must be closed."""
    return opened + timedelta(days=DUE_DAYS[severity])


def open_incident(
    db: store.Database,
    *,
    model_id: str,
    severity: str,
    category: str,
    title: str,
    description: str = "",
    reporter: str,
    owner: str | None = None,
    version: str | None = None,
    lead_id: str | None = None,
    snapshot_id: int | None = None,
    team: str | None = None,
    finding: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open an incident against a model; the due date follows from the severity.

    Text is stored as given; pages render it as text, never as HTML.

    Parameters
    ----------
    team : str, optional
        The sales team the incident is about (a contested lead's team, a manager's own
        violations); None for an incident about the whole model.  Sales managers see
        their team's incidents and those about the whole model.
    finding : str, optional
        What it reports, as a key (``contest:<snapshot>:<lead>``, ``consent-violations``,
        ``fairness:<data>:<grouping>:<metric>``…): while an incident with the same key for
        the same model and team (or the whole model) is not closed, another is refused.

    Raises
    ------
    NotFound
        Unknown model (or snapshot).
    ValidationError
        Unknown severity or category, an empty or overlong title, an unknown team, or
        the finding is already reported in an open incident.
    """
    registry.get_model(db, model_id)
    _choice("severity", severity, SEVERITIES)
    _choice("category", category, CATEGORIES)
    title = title.strip()
    if not title:
        raise ValidationError(NO_TITLE)
    if len(title) > TITLE_LIMIT:
        raise ValidationError(LONG_TITLE.format(length=len(title), limit=TITLE_LIMIT))
    if snapshot_id is not None:
        store.get_row(db, store.SNAPSHOTS, snapshot_id, message=f"Unknown snapshot {snapshot_id!r}.")
    if team is not None:
        teams.require_team(db, team)
    if finding is not None:
        refuse_reported(db, model_id=model_id, finding=finding, team=team)
    moment = now or utcnow()
    row = {
        "model_id": model_id,
        "version": version,
        "severity": severity,
        "category": category,
        "title": title,
        "description": description,
        "status": "open",
        "reporter": reporter,
        "owner": owner,
        "lead_id": lead_id,
        "snapshot_id": snapshot_id,
        "team": team,
        "finding": finding,
        "opened_at": iso(moment),
        "due_at": iso(due_date(moment, severity)),
        "updated_at": iso(moment),
    }
    with store.transaction(db):
        incident_id = db[store.INCIDENTS].insert(row).last_pk
        audit.record(db, audit.IncidentOpened(reporter, "incident", str(incident_id), model_id=model_id,
                                              severity=severity, category=category, title=title, created=moment),
                     records=[(store.INCIDENTS, incident_id)])
    return {"id": incident_id, **row}


def reported(db: store.Database, *, model_id: str, finding: str, team: str | None) -> dict[str, Any] | None:
    """The open incident that already reports ``finding`` for the team or for the whole model, if any."""
    found = store.list_rows(
        db, store.INCIDENTS, "model_id = ? and finding = ? and status != 'closed' and (team is null or team = ?)",
        [model_id, finding, team], order_by="id",
    )
    return found[0] if found else None


def refuse_reported(db: store.Database, *, model_id: str, finding: str, team: str | None) -> None:
    """Refuse a second incident about a finding that an open incident already reports.

    Raises
    ------
    ValidationError
        Naming the open incident.
    """
    existing = reported(db, model_id=model_id, finding=finding, team=team)
    if existing is not None:
        raise ValidationError(ALREADY_REPORTED.format(
            incident_id=existing["id"], status=existing["status"], opened=existing["opened_at"][:10],
            reporter=existing["reporter"], finding=finding))


def _visible(row: dict[str, Any], scope: str | None, models: set[str] | None) -> bool:
    if scope is None:
        return True
    about_team = row["team"] == scope or (row["team"] is None and row["lead_id"] is None)
    return about_team and models is not None and row["model_id"] in models


def get_incident(db: store.Database, incident_id: int, *, scope: str | None = None) -> dict[str, Any]:
    """One incident with its comments and its audit timeline (oldest first).

    Parameters
    ----------
    scope : str, optional
        A sales manager's team: only the team's incidents and those about a whole model the team sees.

    Raises
    ------
    NotFound
        Unknown incident (unscoped readers).
    PermissionDenied
        Another team's incident, or none with that id (scoped readers).
    """
    try:
        row = store.get_row(db, store.INCIDENTS, incident_id,
                            message=UNKNOWN_INCIDENT.format(incident_id=incident_id))
    except NotFound:
        if scope is None:
            raise
        row = None
    if scope is not None and (row is None or not _visible(row, scope, teams.visible_model_ids(db, scope))):
        raise PermissionDenied(NOT_VISIBLE.format(incident_id=incident_id, team=scope))
    row["comments"] = store.list_rows(db, store.INCIDENT_COMMENTS, "incident_id = ?", [incident_id], order_by="id")
    row["timeline"] = list(reversed(audit.list_entries(db, object_type="incident", object_id=str(incident_id))))
    return row


def update_incident(
    db: store.Database,
    incident_id: int,
    *,
    actor: str,
    status: str | None = None,
    owner: str | None = None,
    severity: str | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Change an incident's status, owner or severity (a new severity moves the due date).

    Raises
    ------
    NotFound
        Unknown incident.
    ValidationError
        Unknown status or severity, a backward move without a reason, or no change.
    """
    current = get_incident(db, incident_id)
    changes: dict[str, Any] = {}
    if status is not None and _choice("status", status, STATUSES) != current["status"]:
        if STATUSES.index(status) < STATUSES.index(current["status"]) and not reason.strip():
            raise ValidationError(BACKWARDS.format(incident_id=incident_id, old=current["status"], new=status))
        changes["status"] = status
    if owner is not None and owner != current["owner"]:
        changes["owner"] = owner
    if severity is not None and _choice("severity", severity, SEVERITIES) != current["severity"]:
        changes["severity"] = severity
        changes["due_at"] = iso(due_date(datetime.fromisoformat(current["opened_at"]), severity))
    if not changes:
        raise ValidationError(NO_CHANGE.format(incident_id=incident_id))
    moment = now or utcnow()
    with store.transaction(db):
        db[store.INCIDENTS].update(incident_id, {**changes, "updated_at": iso(moment)})
        audit.record(db, audit.IncidentUpdated(actor, "incident", str(incident_id), changes=changes,
                                               reason=reason.strip(), created=moment),
                     records=[(store.INCIDENTS, incident_id)])
    return get_incident(db, incident_id)


def add_comment(
    db: store.Database, incident_id: int, *, author: str, body: str, now: datetime | None = None
) -> dict[str, Any]:
    """Add a comment to an incident.

    Raises
    ------
    NotFound
        Unknown incident.
    ValidationError
        An empty comment.
    """
    get_incident(db, incident_id)
    if not body.strip():
        raise ValidationError(EMPTY_COMMENT.format(incident_id=incident_id))
    moment = now or utcnow()
    row = {"incident_id": incident_id, "author": author, "body": body, "created_at": iso(moment)}
    with store.transaction(db):
        comment_id = db[store.INCIDENT_COMMENTS].insert(row).last_pk
        audit.record(db, audit.IncidentCommented(author, "incident", str(incident_id), comment_id=comment_id,
                                                 created=moment), records=[(store.INCIDENT_COMMENTS, comment_id)])
    return {"id": comment_id, **row}


def list_incidents(
    db: store.Database,
    *,
    model_id: str | None = None,
    status: str | None = None,
    scope: str | None = None,
    open_only: bool = False,
) -> list[dict[str, Any]]:
    """Incidents, newest first, optionally of one model or status.

    Parameters
    ----------
    scope : str, optional
        A sales manager's team: the team's incidents (a contested lead of the team, the
        team's consent violations) and incidents about a whole model the team sees;
        never an incident about another team's lead.
    """
    clauses, args = [], []
    if model_id is not None:
        clauses.append("model_id = ?")
        args.append(model_id)
    if status is not None:
        clauses.append("status = ?")
        args.append(_choice("status", status, STATUSES))
    if open_only:
        clauses.append("status != 'closed'")
    rows = store.list_rows(
        db, store.INCIDENTS, " and ".join(clauses) or None, args, order_by="opened_at desc, id desc"
    )
    if scope is None:
        return rows
    models = teams.visible_model_ids(db, scope)
    return [row for row in rows if _visible(row, scope, models)]


_DATA_WORDS = {"eval": "evaluation set", "scores": "scoring batch"}
_AREA_CATEGORY = {"fairness": "bias", "drift": "accuracy", "explanations": "explainability", "consent": "privacy"}


def finding_draft(
    snap: dict[str, Any], *, area: str, key: str, sentence: str, status: str, heading: str | None = None
) -> dict[str, Any]:
    """A pre-filled incident about one failing or warning finding of a snapshot.

    Parameters
    ----------
    snap : dict
        The snapshot (``id, model_id, week, hash``) the finding comes from.
    area : {"fairness", "drift", "explanations", "consent"}
    key : str
        What the finding is about within the area (e.g. ``eval:age_band:demographic_parity_ratio``).
    sentence : str
        The finding as the page shows it.
    status : {"fail", "warn"}
    heading : str, optional
        What the finding is, for the page (the area by default).

    Returns
    -------
    dict
        ``incident``: keyword arguments of :func:`open_incident` except ``reporter`` (title and
        description may be edited before opening); ``status``, ``heading`` and ``sentence`` as shown.
    """
    title = f"{area.capitalize()} {status} in {snap['week']}: {sentence}"
    incident = {
        "model_id": snap["model_id"], "snapshot_id": snap["id"], "version": snap.get("version"),
        "category": _AREA_CATEGORY[area], "severity": "high" if status == "fail" else "medium",
        "title": title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…",
        "description": f"{sentence}\n\nFound in the snapshot of {snap['week']} (hash {snap['hash'][:12]}).",
        "finding": f"{area}:{key}",
    }
    return {"incident": incident, "status": status, "heading": heading or area, "sentence": sentence}


def finding_drafts(snap: dict[str, Any], found_lights: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Drafts for every failing or warning fairness verdict and every failing snapshot light but fairness."""
    drafts = [
        finding_draft(snap, area="fairness", key=f"{v['data']}:{v['grouping']}:{v['metric']}",
                      sentence=v["sentence"], status=v["status"],
                      heading=f"{v['label']}, {v['grouping']} ({_DATA_WORDS[v['data']]})")
        for v in snap["results"].get("verdicts", []) if v["status"] in ("fail", "warn")
    ]
    drafts += [
        finding_draft(snap, area=area, key=area, sentence=found_lights[area]["reason"], status="fail",
                      heading=f"{area.capitalize()} light")
        for area in ("drift", "explanations", "consent") if found_lights.get(area, {}).get("status") == "fail"
    ]
    return drafts


def is_overdue(incident: dict[str, Any], *, now: datetime | None = None) -> bool:
    """Open past its due date."""
    return incident["status"] != "closed" and incident["due_at"] < iso(now or utcnow())


