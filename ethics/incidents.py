"""The incident log: ethical problems found in a model, owned and worked to closure.

Status moves forward ``open → investigating → mitigated → closed`` (steps may be
skipped); moving backwards needs a reason.  Every change is audited, and the audit
entries of an incident are its timeline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ethics import audit, registry, store
from ethics.errors import ValidationError
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
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open an incident against a model; the due date follows from the severity.

    Text is stored as given; pages render it as text, never as HTML.

    Raises
    ------
    NotFound
        Unknown model (or snapshot).
    ValidationError
        Unknown severity or category, or an empty or overlong title.
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
        "opened_at": iso(moment),
        "due_at": iso(due_date(moment, severity)),
        "updated_at": iso(moment),
    }
    with store.transaction(db):
        incident_id = db[store.INCIDENTS].insert(row).last_pk
        audit.record(db, audit.IncidentOpened(reporter, "incident", str(incident_id), model_id=model_id,
                                              severity=severity, category=category, title=title, created=moment))
    return {"id": incident_id, **row}


def get_incident(db: store.Database, incident_id: int) -> dict[str, Any]:
    """One incident with its comments and its audit timeline (oldest first).

    Raises
    ------
    NotFound
        Unknown incident.
    """
    row = store.get_row(db, store.INCIDENTS, incident_id, message=UNKNOWN_INCIDENT.format(incident_id=incident_id))
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
                                               reason=reason.strip(), created=moment))
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
                                                 created=moment))
    return {"id": comment_id, **row}


def list_incidents(
    db: store.Database,
    *,
    model_id: str | None = None,
    status: str | None = None,
    team: str | None = None,
    open_only: bool = False,
) -> list[dict[str, Any]]:
    """Incidents, newest first, optionally for one model, status or team (the model's team)."""
    clauses, args = [], []
    if model_id is not None:
        clauses.append("model_id = ?")
        args.append(model_id)
    if status is not None:
        clauses.append("status = ?")
        args.append(_choice("status", status, STATUSES))
    if open_only:
        clauses.append("status != 'closed'")
    if team is not None:
        clauses.append(f"model_id in (select id from {store.MODELS} where team = ?)")
        args.append(team)
    return store.list_rows(
        db, store.INCIDENTS, " and ".join(clauses) or None, args, order_by="opened_at desc, id desc"
    )


def is_overdue(incident: dict[str, Any], *, now: datetime | None = None) -> bool:
    """Open past its due date."""
    return incident["status"] != "closed" and incident["due_at"] < iso(now or utcnow())


