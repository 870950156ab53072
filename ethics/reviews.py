"""The weekly review: the ethics officer's signed decision, bound to a snapshot hash.

Every active model is due once per ISO week.  A signed review stores the hash of the
snapshot the officer looked at; signing is refused when a newer snapshot exists (the
evidence changed after the page was opened).  Signed reviews are immutable: a
correction is a new review that refers to the old one.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ethics import audit, incidents, registry, snapshots, store
from ethics.errors import ValidationError
from ethics.weeks import iso, utcnow, week_of, weeks_before

DECISIONS = ("approve", "approve_with_conditions", "suspend")
DECISION_LABELS = {"approve": "approve", "approve_with_conditions": "approve with conditions", "suspend": "suspend"}
CHECKLIST = {
    "fairness": "Fairness verdicts and their intervals were read",
    "explainability": "Top features and proxies were checked (or their absence noted)",
    "consent": "Consent coverage and violations were checked (or their absence noted)",
    "incidents": "Open and overdue incidents were looked at",
    "human_oversight": "Human oversight described in the impact assessment still holds",
}

STALE = (
    "Not signed: the evidence changed after the page was opened. Snapshot {shown} was shown, but the latest "
    "snapshot of {model_id} for {week} is now {latest}. Reload the review and look again."
)
BAD_DECISION = "Review decision {decision!r} is not one of {allowed}."
UNCHECKED = "Review checklist: '{item}' is not ticked; every item must be checked before signing."
NEEDS_CONDITIONS = "Approving with conditions needs the conditions written down."
NEEDS_COMMENT = "Suspending a model needs a comment saying why."
TAMPERED = "Snapshot {snapshot_id} no longer matches its hash; it cannot be signed."


def sign_review(
    db: store.Database,
    *,
    model_id: str,
    snapshot_hash: str,
    decision: str,
    checklist: dict[str, bool],
    reviewer: str,
    conditions: str = "",
    comment: str = "",
    follow_up: dict[str, str] | None = None,
    corrects_review_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Sign this week's review of a model, bound to the snapshot the reviewer saw.

    Parameters
    ----------
    db : Database
    model_id : str
    snapshot_hash : str
        The hash of the snapshot shown to the reviewer; it must still be the latest.
    decision : {"approve", "approve_with_conditions", "suspend"}
    checklist : dict
        Every item of :data:`CHECKLIST` ticked (True).
    reviewer : str
    conditions, comment : str
        Conditions are required for an approval with conditions, a comment for a suspension.
    follow_up : dict, optional
        ``{"title", "severity", "category"}`` of a follow-up incident opened with the review.
    corrects_review_id : int, optional
        The signed review this one corrects.
    now : datetime, optional

    Returns
    -------
    dict
        The review row.

    Raises
    ------
    ValidationError
        Stale evidence, an unticked item, a missing condition or comment, or a bad decision.
    """
    if decision not in DECISIONS:
        raise ValidationError(BAD_DECISION.format(decision=decision, allowed=", ".join(DECISIONS)))
    for item, label in CHECKLIST.items():
        if not checklist.get(item):
            raise ValidationError(UNCHECKED.format(item=label))
    if decision == "approve_with_conditions" and not conditions.strip():
        raise ValidationError(NEEDS_CONDITIONS)
    if decision == "suspend" and not comment.strip():
        raise ValidationError(NEEDS_COMMENT)
    registry.get_model(db, model_id)
    latest = snapshots.latest_snapshot(db, model_id)
    if latest["hash"] != snapshot_hash:
        raise ValidationError(STALE.format(shown=snapshot_hash[:12], model_id=model_id, week=latest["week"],
                                           latest=latest["hash"][:12]))
    if not snapshots.verify_snapshot(db, latest["id"]):
        raise ValidationError(TAMPERED.format(snapshot_id=latest["id"]))
    if corrects_review_id is not None:
        store.get_row(db, store.REVIEWS, corrects_review_id, message=f"Unknown review {corrects_review_id!r}.")
    moment = now or utcnow()
    with store.transaction(db):
        follow_up_id = None
        if follow_up:
            follow_up_id = incidents.open_incident(
                db, model_id=model_id, severity=follow_up.get("severity", "medium"),
                category=follow_up.get("category", "other"), title=follow_up["title"],
                description=f"Follow-up of the weekly review of {week_of(moment)}.", reporter=reviewer,
                snapshot_id=latest["id"], now=moment,
            )["id"]
        row = {
            "model_id": model_id,
            "week": week_of(moment),
            "snapshot_id": latest["id"],
            "snapshot_hash": latest["hash"],
            "decision": decision,
            "conditions": conditions.strip(),
            "comment": comment.strip(),
            "checklist_json": store.to_json(checklist),
            "reviewer": reviewer,
            "signed_at": iso(moment),
            "follow_up_incident_id": follow_up_id,
            "corrects_review_id": corrects_review_id,
        }
        review_id = db[store.REVIEWS].insert(row).last_pk
        db[store.MODELS].update(model_id, {"status": "suspended" if decision == "suspend" else "active"})
        audit.record(db, audit.ReviewSigned(reviewer, "review", str(review_id), model_id=model_id, week=row["week"],
                                            decision=decision, snapshot_hash=latest["hash"],
                                            corrects_review_id=corrects_review_id, created=moment))
    return {"id": review_id, **row}


def list_reviews(db: store.Database, model_id: str) -> list[dict[str, Any]]:
    """A model's signed reviews, newest first, with the checklist parsed."""
    rows = store.list_rows(db, store.REVIEWS, "model_id = ?", [model_id], order_by="id desc")
    for row in rows:
        row["checklist"] = json.loads(row.pop("checklist_json") or "{}")
    return rows


def verify_review(db: store.Database, review_id: int) -> bool:
    """Whether the snapshot a review signed still has exactly the signed hash."""
    review = store.get_row(db, store.REVIEWS, review_id, message=f"Unknown review {review_id!r}.")
    snap = snapshots.get_snapshot(db, review["snapshot_id"])
    return snap["hash"] == review["snapshot_hash"] and snapshots.verify_snapshot(db, snap["id"])


def review_light(model: dict[str, Any], latest_review: dict[str, Any] | None, *, week: str) -> dict[str, str]:
    """Green when signed this week, amber when due, red when overdue or suspended."""
    if model["status"] == "suspended" or (latest_review and latest_review["decision"] == "suspend"):
        return {"status": "fail", "reason": "suspended at the last review"}
    if latest_review and latest_review["week"] == week:
        return {"status": "pass", "reason": f"signed {latest_review['signed_at'][:10]} by {latest_review['reviewer']}"}
    last_week = weeks_before(week, 2)[0]
    if latest_review is None or latest_review["week"] < last_week:
        since = latest_review["week"] if latest_review else "never"
        return {"status": "fail", "reason": f"overdue: last signed {since}"}
    return {"status": "warn", "reason": f"due this week ({week})"}


def review_queue(
    db: store.Database, *, team: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Models due this ISO week, overdue first, each with what changed since its last signed review."""
    moment = now or utcnow()
    week = week_of(moment)
    queue = []
    for model in registry.list_models(db, team=team):
        reviews = list_reviews(db, model["id"])
        latest_review = reviews[0] if reviews else None
        light = review_light(model, latest_review, week=week)
        history = snapshots.list_snapshots(db, model["id"])
        latest = history[0] if history else None
        queue.append({
            "model_id": model["id"],
            "name": model["name"],
            "risk_tier": model["risk_tier"],
            "light": light,
            "latest_week": latest["week"] if latest else None,
            "snapshot_hash": latest["hash"] if latest else None,
            "changes": _changes(db, model["id"], latest_review, latest),
        })
    order = {"fail": 0, "warn": 1, "pass": 2}
    return sorted(queue, key=lambda row: (order[row["light"]["status"]], row["risk_tier"] != "high", row["model_id"]))


def _changes(
    db: store.Database, model_id: str, review: dict[str, Any] | None, latest: dict[str, Any] | None
) -> list[str]:
    if latest is None:
        return ["no snapshot yet"]
    if review is None:
        return ["never reviewed"]
    found = []
    if review["snapshot_hash"] != latest["hash"]:
        found.append(f"new snapshot {latest['week']} since the signed one")
        before = snapshots.get_snapshot(db, review["snapshot_id"])["summary"].get("lights", {})
        after = snapshots.get_snapshot(db, latest["id"])["summary"].get("lights", {})
        for area, light in after.items():
            old = before.get(area, {}).get("status")
            if old != light["status"]:
                found.append(f"{area}: {old or 'not evaluated'} → {light['status']}")
    opened = [i for i in incidents.list_incidents(db, model_id=model_id) if i["opened_at"] > review["signed_at"]]
    if opened:
        found.append(f"{len(opened)} new incident(s)")
    return found or ["nothing changed"]


def due(db: store.Database, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The queue entries not yet signed this week (for reminders)."""
    return [row for row in review_queue(db, now=now) if row["light"]["status"] != "pass"]
