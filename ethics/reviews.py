"""The weekly review: the ethics officer's signed decision, bound to a snapshot hash.

Every model is due once per review cycle, the ISO week it is signed in (``week``).  A
signed review names the snapshot the officer looked at (``snapshot_id``, its hash, week
and version), which is usually of the week before; signing is refused when a newer
snapshot exists (the evidence changed after the page was opened).  Signed reviews are
immutable: a snapshot is signed once per cycle, and a change is a correction, a new
review that refers to the old one.
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

# The snapshot lights a plain approval may not pass over in silence, in the order of the Overview columns.
EVIDENCE_AREAS = ("fairness", "drift", "explanations", "consent")

STALE = (
    "Not signed: the evidence changed after the page was opened. Snapshot {shown} was shown, but the latest "
    "snapshot of {model_id} for {week} is now {latest}. Reload the review and look again."
)
NO_DECISION = "Choose a decision: approve, approve with conditions or suspend."
BAD_DECISION = "Review decision {decision!r} is not one of {allowed}."
UNCHECKED = "Review checklist: '{item}' is not ticked; every item must be checked before signing."
NEEDS_CONDITIONS = "Approving with conditions needs the conditions written down."
NEEDS_COMMENT = "Suspending a model needs a comment saying why."
APPROVES_FAILING = (
    "Approving {model_id} while {areas} {verb} needs a comment saying why the model may still be used "
    "(or approve with conditions, or suspend)."
)
TAMPERED = "Snapshot {snapshot_id} no longer matches its hash; it cannot be signed."
UNKNOWN_REVIEW = "Unknown review {review_id!r}."
OTHER_MODELS_REVIEW = (
    "Review {review_id} is a review of {other}, not of {model_id}; a correction names a review of the same model."
)
SIGNED_ALREADY = (
    "Review {review_id} of {model_id} already signs snapshot {snapshot_week} ({hash}) in cycle {week}: "
    "{decision} by {reviewer} at {signed_at}."
)
DOUBLE_SUBMIT = SIGNED_ALREADY + " To change it, sign a correction."
NOT_A_CORRECTION = (
    SIGNED_ALREADY + " A different decision, conditions or comment must be signed as a correction of review "
    "{review_id}."
)
FOLLOW_UP = "Follow-up of the weekly review (cycle {week}) of snapshot {snapshot_week} (hash {hash})."
SIGNED = "Review {review_id} of {name} signed: {decision}, cycle {week}, snapshot {snapshot_week} (hash {hash})."


def sign_review(
    db: store.Database,
    *,
    model_id: str,
    snapshot_hash: str,
    decision: str | None,
    checklist: dict[str, bool],
    reviewer: str,
    conditions: str = "",
    comment: str = "",
    follow_up: dict[str, str] | None = None,
    corrects_review_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Sign this cycle's review of a model, bound to the snapshot the reviewer saw.

    The review's ``week`` is the cycle (ISO week) it is signed in; ``snapshot_week`` and
    ``snapshot_version`` name the snapshot it signs, which may be of an earlier week.

    Parameters
    ----------
    db : Database
    model_id : str
    snapshot_hash : str
        The hash of the snapshot shown to the reviewer; it must still be the latest.
    decision : {"approve", "approve_with_conditions", "suspend"}
        None (nothing chosen yet) is refused.
    checklist : dict
        Every item of :data:`CHECKLIST` ticked (True).
    reviewer : str
    conditions, comment : str
        Conditions are required for an approval with conditions; a comment for a suspension, and for a plain
        approval while one of the snapshot's lights (:data:`EVIDENCE_AREAS`) fails.
    follow_up : dict, optional
        ``{"title", "severity", "category"}`` of a follow-up incident opened with the review.
    corrects_review_id : int, optional
        The signed review of the same model this one corrects.  Needed to sign a different decision, conditions
        or comment on a snapshot already signed in this cycle.
    now : datetime, optional

    Returns
    -------
    dict
        The review row, with ``id``.

    Raises
    ------
    NotFound
        Unknown model, or an unknown review to correct.
    ValidationError
        No or a bad decision, an unticked item, a missing condition or comment, stale or altered evidence, a
        correction of another model's review, or a snapshot already signed in this cycle (a double submit, or a
        change that is not signed as a correction).
    """
    _check_form(decision, checklist, conditions=conditions, comment=comment)
    registry.get_model(db, model_id)
    if corrects_review_id is not None:
        _check_correction(db, model_id, corrects_review_id)
    snap = _signable_snapshot(db, model_id, snapshot_hash)
    _check_approval(model_id, snap, decision=decision, comment=comment)
    moment = now or utcnow()
    week = week_of(moment)
    _check_not_signed(db, model_id, snap, week=week, decision=decision, conditions=conditions, comment=comment,
                      corrects_review_id=corrects_review_id)
    with store.transaction(db):
        follow_up_id = None
        if follow_up:
            follow_up_id = incidents.open_incident(
                db, model_id=model_id, severity=follow_up.get("severity", "medium"),
                category=follow_up.get("category", "other"), title=follow_up["title"],
                description=FOLLOW_UP.format(week=week, snapshot_week=snap["week"], hash=snap["hash"][:12]),
                reporter=reviewer, snapshot_id=snap["id"], now=moment,
            )["id"]
        row = {
            "model_id": model_id,
            "week": week,
            "snapshot_id": snap["id"],
            "snapshot_hash": snap["hash"],
            "snapshot_week": snap["week"],
            "snapshot_version": snap["version"],
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
        audit.record(db, audit.ReviewSigned(reviewer, "review", str(review_id), model_id=model_id, week=week,
                                            decision=decision, snapshot_hash=snap["hash"],
                                            corrects_review_id=corrects_review_id, created=moment),
                     records=[(store.REVIEWS, review_id), (store.MODELS, model_id)])
    return {"id": review_id, **row}


def _check_form(decision: str | None, checklist: dict[str, bool], *, conditions: str, comment: str) -> None:
    """What the form alone must hold: a decision, every item ticked, the text the decision needs."""
    if not decision:
        raise ValidationError(NO_DECISION)
    if decision not in DECISIONS:
        raise ValidationError(BAD_DECISION.format(decision=decision, allowed=", ".join(DECISIONS)))
    for item, label in CHECKLIST.items():
        if not checklist.get(item):
            raise ValidationError(UNCHECKED.format(item=label))
    if decision == "approve_with_conditions" and not conditions.strip():
        raise ValidationError(NEEDS_CONDITIONS)
    if decision == "suspend" and not comment.strip():
        raise ValidationError(NEEDS_COMMENT)


def _signable_snapshot(db: store.Database, model_id: str, snapshot_hash: str) -> dict[str, Any]:
    """The model's latest snapshot, if it is the one shown and still matches its hash."""
    latest = snapshots.latest_snapshot(db, model_id)
    if latest["hash"] != snapshot_hash:
        raise ValidationError(STALE.format(shown=snapshot_hash[:12], model_id=model_id, week=latest["week"],
                                           latest=latest["hash"][:12]))
    if not snapshots.verify_snapshot(db, latest["id"]):
        raise ValidationError(TAMPERED.format(snapshot_id=latest["id"]))
    return latest


def failing_areas(snap: dict[str, Any]) -> list[str]:
    """The areas of :data:`EVIDENCE_AREAS` whose light in the snapshot is ``fail``.

    Parameters
    ----------
    snap : dict
        A parsed snapshot (:func:`ethics.snapshots.get_snapshot`).

    Returns
    -------
    list of str
        In the order of :data:`EVIDENCE_AREAS`.
    """
    lights = snap.get("summary", {}).get("lights", {})
    return [area for area in EVIDENCE_AREAS if lights.get(area, {}).get("status") == "fail"]


def _check_approval(model_id: str, snap: dict[str, Any], *, decision: str, comment: str) -> None:
    failing = failing_areas(snap)
    if decision == "approve" and failing and not comment.strip():
        areas = ", ".join(failing[:-1]) + " and " + failing[-1] if len(failing) > 1 else failing[0]
        raise ValidationError(APPROVES_FAILING.format(model_id=model_id, areas=areas,
                                                      verb="fail" if len(failing) > 1 else "fails"))


def _check_correction(db: store.Database, model_id: str, review_id: int) -> None:
    corrected = store.get_row(db, store.REVIEWS, review_id, message=UNKNOWN_REVIEW.format(review_id=review_id))
    if corrected["model_id"] != model_id:
        raise ValidationError(OTHER_MODELS_REVIEW.format(review_id=review_id, other=corrected["model_id"],
                                                         model_id=model_id))


def _check_not_signed(
    db: store.Database,
    model_id: str,
    snap: dict[str, Any],
    *,
    week: str,
    decision: str,
    conditions: str,
    comment: str,
    corrects_review_id: int | None,
) -> None:
    """Refuse a repeat of the review in force for this snapshot and cycle, and a change not signed as a correction."""
    in_force = next((r for r in reviews_of_snapshot(db, snap["id"]) if r["week"] == week), None)
    if in_force is None:
        return
    same = (in_force["decision"], in_force["conditions"], in_force["comment"]) == (
        decision, conditions.strip(), comment.strip())
    if not same and corrects_review_id is not None:
        return
    facts = {"review_id": in_force["id"], "model_id": model_id, "snapshot_week": snap["week"],
             "hash": snap["hash"][:12], "week": week, "decision": DECISION_LABELS[in_force["decision"]],
             "reviewer": in_force["reviewer"], "signed_at": in_force["signed_at"][:16].replace("T", " ")}
    raise ValidationError((DOUBLE_SUBMIT if same else NOT_A_CORRECTION).format(**facts))


def signed_message(review: dict[str, Any], *, name: str) -> str:
    """The sentence that confirms a signed review (:data:`SIGNED`).

    Parameters
    ----------
    review : dict
        A review row as :func:`sign_review` returns it.
    name : str
        The model's name.

    Returns
    -------
    str
    """
    return SIGNED.format(review_id=review["id"], name=name, decision=DECISION_LABELS[review["decision"]],
                         week=review["week"], snapshot_week=review["snapshot_week"],
                         hash=review["snapshot_hash"][:12])


def list_reviews(db: store.Database, model_id: str) -> list[dict[str, Any]]:
    """A model's signed reviews, newest first, with the checklist parsed.

    Parameters
    ----------
    db : Database
    model_id : str

    Returns
    -------
    list of dict
        Review rows: ``week`` is the cycle signed in, ``snapshot_week`` and ``snapshot_version`` the snapshot signed.
    """
    return _parsed(store.list_rows(db, store.REVIEWS, "model_id = ?", [model_id], order_by="id desc"))


def reviews_of_snapshot(db: store.Database, snapshot_id: int) -> list[dict[str, Any]]:
    """The reviews that sign one snapshot, newest first (a correction is newer than what it corrects).

    Parameters
    ----------
    db : Database
    snapshot_id : int

    Returns
    -------
    list of dict
        Review rows as :func:`list_reviews` gives them; empty when nobody signed the snapshot.
    """
    return _parsed(store.list_rows(db, store.REVIEWS, "snapshot_id = ?", [snapshot_id], order_by="id desc"))


def _parsed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["checklist"] = json.loads(row.pop("checklist_json") or "{}")
    return rows


def verify_review(db: store.Database, review_id: int) -> bool:
    """Whether the snapshot a review signed still has exactly the signed hash."""
    review = store.get_row(db, store.REVIEWS, review_id, message=UNKNOWN_REVIEW.format(review_id=review_id))
    snap = snapshots.get_snapshot(db, review["snapshot_id"])
    return snap["hash"] == review["snapshot_hash"] and snapshots.verify_snapshot(db, snap["id"])


def review_light(model: dict[str, Any], latest_review: dict[str, Any] | None, *, week: str) -> dict[str, str]:
    """Green when signed this week, amber when due, red when overdue or suspended."""
    if model["status"] == "suspended" or (latest_review and latest_review["decision"] == "suspend"):
        return {"status": "fail", "reason": "suspended at the last review"}
    if latest_review and latest_review["week"] == week:
        return {"status": "pass", "reason": f"signed {latest_review['signed_at'][:10]} by {latest_review['reviewer']} "
                                            f"(snapshot {latest_review['snapshot_week']})"}
    last_week = weeks_before(week, 2)[0]
    if latest_review is None or latest_review["week"] < last_week:
        since = latest_review["week"] if latest_review else "never"
        return {"status": "fail", "reason": f"overdue: last signed {since}"}
    return {"status": "warn", "reason": f"due this week ({week})"}


def review_queue(
    db: store.Database, *, team: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Every model of the cycle (this ISO week), overdue first, each with what changed since its last signed review.

    Parameters
    ----------
    db : Database
    team : str, optional
        Only the models a manager of this team sees (``registry.list_models``).
    now : datetime, optional
        The moment whose ISO week is the review cycle.

    Returns
    -------
    list of dict
        Keys ``model_id, name, risk_tier, light, latest_week, snapshot_hash, signed_in_cycle, changes``;
        ``signed_in_cycle`` is True when a review was signed in this cycle (whatever its decision).
    """
    moment = now or utcnow()
    week = week_of(moment)
    queue = []
    for model in registry.list_models(db, scope=team):
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
            "signed_in_cycle": latest_review is not None and latest_review["week"] == week,
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
    """The queue entries with no review signed in this cycle (for reminders).

    Parameters
    ----------
    db : Database
    now : datetime, optional

    Returns
    -------
    list of dict
        Entries of :func:`review_queue`, overdue first.
    """
    return [row for row in review_queue(db, now=now) if not row["signed_in_cycle"]]


def to_sign(queue: list[dict[str, Any]]) -> list[str]:
    """The models of a queue the officer can sign now: a snapshot, and no review signed in this cycle.

    A model suspended at a review of this cycle has left the queue; it is due again next cycle.

    Parameters
    ----------
    queue : list of dict
        Entries of :func:`review_queue`.

    Returns
    -------
    list of str
        Model ids, in queue order.
    """
    return [row["model_id"] for row in queue if row["snapshot_hash"] and not row["signed_in_cycle"]]


def open_incidents(db: store.Database, model_id: str, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The model's incidents not closed yet, overdue first: what the checklist's incidents item asks about.

    Parameters
    ----------
    db : Database
    model_id : str
    now : datetime, optional
        The moment an incident is overdue at.

    Returns
    -------
    list of dict
        Keys ``id, severity, category, status, title, opened, due, overdue`` (dates as ``YYYY-MM-DD``).
    """
    moment = now or utcnow()
    rows = [
        {"id": i["id"], "severity": i["severity"], "category": i["category"], "status": i["status"],
         "title": i["title"], "opened": i["opened_at"][:10], "due": i["due_at"][:10],
         "overdue": incidents.is_overdue(i, now=moment)}
        for i in incidents.list_incidents(db, model_id=model_id, open_only=True)
    ]
    return sorted(rows, key=lambda row: not row["overdue"])
