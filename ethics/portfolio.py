"""The portfolio at a glance: one row per model with a traffic light per area.

Each light is ``pass``, ``warn``, ``fail`` or ``not_evaluated`` with the reason in
words.  Areas whose evaluation has not been built yet stay ``not_evaluated``
(grey), never a pass.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ethics import incidents, store
from ethics.reviews import review_light
from ethics.weeks import utcnow, week_of

AREAS = ("fairness", "drift", "explanations", "consent", "incidents", "review")
LIGHTS = ("pass", "warn", "fail", "not_evaluated")
NOT_EVALUATED = {"status": "not_evaluated", "reason": "not evaluated yet"}
_SEVERE = ("critical",)


def overview(
    db: store.Database, *, team: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One row per model: identity, latest snapshot and a light per area.

    Parameters
    ----------
    db : Database
    team : str, optional
        Only this team's models.
    now : datetime, optional
        Reference time for overdue incidents.

    Returns
    -------
    list of dict
        Keys ``id, name, purpose, team, risk_tier, status, latest_week, version,
        snapshot_id, snapshot_hash, lights`` where ``lights`` maps each area of
        :data:`AREAS` to ``{"status", "reason"}``.
    """
    where, args = ("where m.team = ?", [team]) if team else ("", [])
    rows = db.execute(
        f"""
        select m.id, m.name, m.purpose, m.team, m.risk_tier, m.status,
               s.week as latest_week, s.version, s.id as snapshot_id, s.hash as snapshot_hash,
               s.summary_json
        from {store.MODELS} m
        left join (
            select id, model_id, version, week, hash, summary_json,
                   row_number() over (partition by model_id order by week desc, id desc) as rank
            from {store.SNAPSHOTS}
        ) s on s.model_id = m.id and s.rank = 1
        {where}
        order by m.id
        """,
        args,
    ).fetchall()
    columns = [
        "id", "name", "purpose", "team", "risk_tier", "status",
        "latest_week", "version", "snapshot_id", "snapshot_hash", "summary_json",
    ]
    open_incidents: dict[str, list[dict[str, Any]]] = {}
    for incident in incidents.list_incidents(db, open_only=True):
        open_incidents.setdefault(incident["model_id"], []).append(incident)
    moment = now or utcnow()
    latest_reviews = {
        row["model_id"]: row
        for row in db.execute_returning_dicts(
            f"select * from {store.REVIEWS} r "
            f"where id = (select max(id) from {store.REVIEWS} where model_id = r.model_id)"
        )
    }
    result = []
    for values in rows:
        row = dict(zip(columns, values, strict=True))
        lights = {area: dict(NOT_EVALUATED) for area in AREAS}
        lights.update(json.loads(row.pop("summary_json") or "{}").get("lights", {}))
        lights["incidents"] = incident_light(open_incidents.get(row["id"], []), now=moment)
        lights["review"] = review_light(row, latest_reviews.get(row["id"]), week=week_of(moment))
        row["lights"] = lights
        result.append(row)
    return result


def incident_light(open_incidents: list[dict[str, Any]], *, now: datetime) -> dict[str, str]:
    """Red for an overdue or critical open incident, amber for any other open one."""
    if not open_incidents:
        return {"status": "pass", "reason": "no open incidents"}
    overdue = [i for i in open_incidents if incidents.is_overdue(i, now=now)]
    severe = [i for i in open_incidents if i["severity"] in _SEVERE]
    count = f"{len(open_incidents)} open"
    if overdue or severe:
        parts = [count]
        if severe:
            parts.append(f"{len(severe)} critical")
        if overdue:
            parts.append(f"{len(overdue)} overdue")
        return {"status": "fail", "reason": ", ".join(parts)}
    return {"status": "warn", "reason": count}
