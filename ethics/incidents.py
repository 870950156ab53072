"""The incident log: ethical problems found in a model, owned and worked to closure."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ethics import registry, store
from ethics.errors import ValidationError
from ethics.weeks import iso, utcnow

SEVERITIES = ("low", "medium", "high", "critical")
CATEGORIES = ("bias", "privacy", "explainability", "customer_complaint", "security", "accuracy", "other")
STATUSES = ("open", "investigating", "mitigated", "closed")
DUE_DAYS = {"critical": 2, "high": 7, "medium": 30, "low": 90}


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

    Raises
    ------
    NotFound
        Unknown model.
    ValidationError
        Unknown severity or category, or an empty title.
    """
    registry.get_model(db, model_id)
    if severity not in SEVERITIES:
        raise ValidationError(f"Incident severity {severity!r} is not one of {', '.join(SEVERITIES)}.")
    if category not in CATEGORIES:
        raise ValidationError(f"Incident category {category!r} is not one of {', '.join(CATEGORIES)}.")
    if not title.strip():
        raise ValidationError("Incident title is missing.")
    moment = now or utcnow()
    row = {
        "model_id": model_id,
        "version": version,
        "severity": severity,
        "category": category,
        "title": title.strip(),
        "description": description,
        "status": "open",
        "reporter": reporter,
        "owner": owner,
        "lead_id": lead_id,
        "snapshot_id": snapshot_id,
        "opened_at": iso(moment),
        "due_at": iso(moment + timedelta(days=DUE_DAYS[severity])),
        "updated_at": iso(moment),
    }
    with store.transaction(db):
        incident_id = db[store.INCIDENTS].insert(row).last_pk
    return {"id": incident_id, **row}


def list_incidents(
    db: store.Database, *, model_id: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Incidents, newest first, optionally for one model and/or status."""
    clauses, args = [], []
    if model_id is not None:
        clauses.append("model_id = ?")
        args.append(model_id)
    if status is not None:
        clauses.append("status = ?")
        args.append(status)
    return store.list_rows(
        db, store.INCIDENTS, " and ".join(clauses) or None, args, order_by="opened_at desc, id desc"
    )
