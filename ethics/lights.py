"""The six traffic lights of a model, produced here and read by every surface.

Four lights belong to a snapshot and are computed once, when it is taken
(:func:`summarize`, stored in its summary): fairness, drift, explanations and consent.
Two change after it and are computed for a stated moment: incidents (open, critical,
overdue *at* that moment) and the review (signed in that moment's cycle week, due,
overdue, suspended).  :func:`model_lights` puts the six together for one reader; the
Overview, the Model page, the Weekly review, both PDFs, the model card and the CLI all
call it, so they print the same light and the same reason for the same moment.

A sales manager's consent light is the team's (its coverage row against the policy);
the other five describe the model and are the same for everyone, except that the
incidents counted are those the reader may see.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ethics import consent, explain, incidents, reviews, store
from ethics import policy as rules
from ethics.weeks import iso, week_of

AREAS = ("fairness", "drift", "explanations", "consent", "incidents", "review")
SNAPSHOT_AREAS = AREAS[:4]
STATUSES = ("pass", "warn", "fail", "not_evaluated")
NOT_EVALUATED = {"status": "not_evaluated", "reason": "not evaluated yet"}
NO_SNAPSHOT = {"status": "not_evaluated", "reason": "no snapshot yet"}
_SEVERE = ("critical",)
NO_LIST_DRIFT = "a call list's cells carry no score, and its features' drift needs rows"

Light = dict[str, str]


def summarize(results: Mapping[str, Any], *, policy: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The snapshot's own lights (stored in its summary when it is taken), model-wide and per team."""
    policy = policy or {}
    found = results.get("consent")
    return {
        "lights": {
            "fairness": rules.fairness_light(results.get("verdicts", [])),
            "drift": _drift_light(results),
            "explanations": explain.explanations_light(results.get("explanations")),
            "consent": consent.consent_light(found, policy),
        },
        "team_lights": team_consent_lights(found, policy),
    }


def _drift_light(results: Mapping[str, Any]) -> Light:
    """The drift light; a call list without drift says why (its cells carry no score, and features need rows)."""
    if results.get("outcome") == "ranking" and "scores" in results.get("rows", {}) and not results.get("drift"):
        return {"status": "not_evaluated", "reason": NO_LIST_DRIFT}
    return rules.drift_light(results.get("drift"))


def team_consent_lights(found: Mapping[str, Any] | None, policy: Mapping[str, Any]) -> dict[str, dict[str, Light]]:
    """Per team: the consent light of the team's leads alone."""
    rows = (found or {}).get("by_team", [])
    return {row["team"]: {"consent": consent.consent_light(consent.coverage_for(found, scope=row["team"]), policy)}
            for row in rows if row["team"] is not None}


def snapshot_lights(
    summary: Mapping[str, Any] | None, *, scope: str | None, results: Callable[[], Mapping[str, Any]],
    policy: Mapping[str, Any],
) -> dict[str, Light]:
    """The four snapshot lights as a reader sees them (a sales manager: the team's consent light).

    ``results`` is called only for a snapshot stored before per-team lights were kept.
    """
    if summary is None:
        return {area: dict(NO_SNAPSHOT) for area in SNAPSHOT_AREAS}
    lights = {area: dict(NOT_EVALUATED) for area in SNAPSHOT_AREAS} | dict(summary.get("lights", {}))
    if scope is not None:
        by_team = summary.get("team_lights")
        if by_team is None:
            by_team = team_consent_lights(results().get("consent"), policy)
        lights["consent"] = by_team.get(scope, {}).get(
            "consent", {"status": "not_evaluated", "reason": f"no leads of team {scope} in this snapshot"})
    return lights


def incident_light(open_incidents: list[dict[str, Any]], *, at: datetime) -> Light:
    """Red for an overdue or critical open incident, amber for any other open one (at ``at``)."""
    if not open_incidents:
        return {"status": "pass", "reason": "no open incidents"}
    overdue = [i for i in open_incidents if incidents.is_overdue(i, now=at)]
    severe = [i for i in open_incidents if i["severity"] in _SEVERE]
    parts = [f"{len(open_incidents)} open"]
    if severe:
        parts.append(f"{len(severe)} critical")
    if overdue:
        parts.append(f"{len(overdue)} overdue")
    return {"status": "fail" if overdue or severe else "warn", "reason": ", ".join(parts)}


def open_at(rows: list[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    """The incidents of ``rows`` that were open at ``at`` (opened by then and not closed now)."""
    stamp = iso(at)
    return [row for row in rows if row["status"] != "closed" and row["opened_at"] <= stamp]


def latest_reviews(db: store.Database) -> dict[str, dict[str, Any]]:
    """Each model's latest signed review."""
    return {
        row["model_id"]: row
        for row in db.execute_returning_dicts(
            f"select * from {store.REVIEWS} r "
            f"where id = (select max(id) from {store.REVIEWS} where model_id = r.model_id)"
        )
    }


def model_lights(
    db: store.Database,
    model: Mapping[str, Any],
    snap: Mapping[str, Any] | None,
    *,
    scope: str | None,
    at: datetime,
    open_incidents: list[dict[str, Any]] | None = None,
    reviews_by_model: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Light]:
    """The six lights of one model for one reader at one moment.

    Parameters
    ----------
    db : Database
    model : mapping
        The model row (``id``, ``status``).
    snap : mapping or None
        The snapshot shown (``summary``, ``policy`` and, for old snapshots, ``results``);
        None when the model has none.
    scope : str or None
        The reader's team (``Actor.scope``).
    at : datetime
        The moment the time-dependent lights are computed for; print it beside them.
    open_incidents : list of dict, optional
        The model's open incidents the reader sees, if already read.
    reviews_by_model : mapping, optional
        Each model's latest review (:func:`latest_reviews`), if already read (the Overview
        reads both once for every model).

    Returns
    -------
    dict
        ``{area: {"status", "reason"}}`` for every area of :data:`AREAS`.
    """
    if open_incidents is None:
        open_incidents = incidents.list_incidents(db, model_id=model["id"], scope=scope, open_only=True)
    latest_review = (latest_reviews(db) if reviews_by_model is None else reviews_by_model).get(model["id"])
    lights = snapshot_lights(
        None if snap is None else snap.get("summary") or {}, scope=scope, policy=(snap or {}).get("policy", {}),
        results=lambda: snap["results"] if "results" in snap else _stored_results(db, snap["id"]),
    )
    lights["incidents"] = incident_light(open_at(open_incidents, at), at=at)
    lights["review"] = reviews.review_light(model, latest_review, week=week_of(at))
    return lights


def _stored_results(db: store.Database, snapshot_id: int) -> dict[str, Any]:
    row = db.execute(f"select results_json from {store.SNAPSHOTS} where id = ?", [snapshot_id]).fetchone()
    return json.loads(row[0]) if row else {}


def moment_text(at: datetime) -> str:
    """The moment lights are computed for, as every surface prints it."""
    return f"lights as of {at.strftime('%Y-%m-%d %H:%M')} UTC (ISO week {week_of(at)})"
