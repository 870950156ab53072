"""Consent events: append-only records of what each customer allowed, and when.

The state of a customer at a moment is derived from the events, never stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ethics import audit, store
from ethics.errors import ValidationError
from ethics.weeks import iso, utcnow

STATUSES = ("granted", "withdrawn", "objected")
PURPOSES = ("ai_scoring", "marketing", "profiling")
EVENT_FIELDS = ("event_id", "customer_id", "purpose", "status", "source", "occurred_at")


def record_events(
    db: store.Database,
    events: Iterable[dict[str, Any]],
    *,
    source_name: str,
    actor: str,
    now: datetime | None = None,
) -> int:
    """Append consent events after checking all of them.

    Parameters
    ----------
    db : Database
    events : iterable of dict
        Each with ``event_id, customer_id, purpose, status, source, occurred_at``.
    source_name : str
        File or feed name used in messages.
    actor : str
        Who imports them (audited).
    now : datetime, optional

    Returns
    -------
    int
        Number of events appended.

    Raises
    ------
    ValidationError
        Naming the row and field of the first bad event; nothing is written.
    """
    stamp = iso(now or utcnow())
    rows = []
    for number, event in enumerate(events, start=1):
        for field in EVENT_FIELDS:
            if not str(event.get(field) or "").strip():
                raise ValidationError(f"{source_name}, row {number}, column {field!r}: value is missing.")
        if event["status"] not in STATUSES:
            raise ValidationError(
                f"{source_name}, row {number}, column 'status': {event['status']!r} is not one of "
                f"{', '.join(STATUSES)}."
            )
        if event["purpose"] not in PURPOSES:
            raise ValidationError(
                f"{source_name}, row {number}, column 'purpose': {event['purpose']!r} is not one of "
                f"{', '.join(PURPOSES)}."
            )
        rows.append({**{field: str(event[field]) for field in EVENT_FIELDS}, "imported_at": stamp})
    with store.transaction(db):
        db[store.CONSENT_EVENTS].insert_all(rows, batch_size=5000)
        audit.record(db, audit.ConsentImported(actor, "consent_import", source_name, events=len(rows),
                                               source=source_name, created=now))
    return len(rows)


def count_events(db: store.Database) -> dict[str, int]:
    """Number of events per status."""
    return {
        row["status"]: row["n"]
        for row in db.query(f"select status, count(*) as n from {store.CONSENT_EVENTS} group by status")
    }


def status_at(db: store.Database, *, customer_id: str, purpose: str, at: str) -> dict[str, Any]:
    """A customer's consent for one purpose at a moment, derived from the events up to then.

    Parameters
    ----------
    db : Database
    customer_id : str
        The id as stored in the scoring data.
    purpose : str
        e.g. ``ai_scoring``.
    at : str
        ISO 8601 UTC time.

    Returns
    -------
    dict
        ``{"status": "granted" | "withdrawn" | "objected" | "none", "since", "source"}``.
    """
    rows = store.list_rows(
        db, store.CONSENT_EVENTS, "customer_id = ? and purpose = ? and occurred_at <= ?",
        [customer_id, purpose, at], order_by="occurred_at desc, id desc limit 1",
    )
    if not rows:
        return {"status": "none", "since": None, "source": None}
    return {"status": rows[0]["status"], "since": rows[0]["occurred_at"], "source": rows[0]["source"]}
