"""The portfolio at a glance: one row per model with a traffic light per area.

The lights come from :func:`ethics.lights.model_lights`, their one producer, for one
reader at one stated moment (``at`` in every row).  Areas not evaluated yet stay
``not_evaluated`` (grey), never a pass.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ethics import incidents, lights, store, teams
from ethics.lights import AREAS
from ethics.weeks import iso, utcnow

__all__ = ["AREAS", "overview"]


def overview(
    db: store.Database, *, scope: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One row per model the reader may see: identity, latest snapshot and a light per area.

    Parameters
    ----------
    db : Database
    scope : str, optional
        A sales manager's team: the models that score the team's leads, with the team's
        consent light and the incidents the team sees.
    now : datetime, optional
        The moment of the time-dependent lights (incidents, review); the current time when omitted.

    Returns
    -------
    list of dict
        Keys ``id, name, purpose, team, risk_tier, status, latest_week, version,
        snapshot_id, snapshot_hash, lights, at`` where ``lights`` maps each area of
        :data:`AREAS` to ``{"status", "reason"}``.
    """
    rows = db.execute_returning_dicts(
        f"""
        select m.id, m.name, m.purpose, m.team, m.risk_tier, m.status,
               s.week as latest_week, s.version, s.id as snapshot_id, s.hash as snapshot_hash,
               s.summary_json, s.policy_json
        from {store.MODELS} m
        left join (
            select id, model_id, version, week, hash, summary_json, policy_json,
                   row_number() over (partition by model_id order by week desc, id desc) as rank
            from {store.SNAPSHOTS}
        ) s on s.model_id = m.id and s.rank = 1
        order by m.id
        """
    )
    if scope is not None:
        visible = teams.visible_model_ids(db, scope)
        rows = [row for row in rows if row["id"] in visible]
    moment = now or utcnow()
    open_incidents: dict[str, list[dict[str, Any]]] = {}
    for incident in incidents.list_incidents(db, scope=scope, open_only=True):
        open_incidents.setdefault(incident["model_id"], []).append(incident)
    latest = lights.latest_reviews(db)
    for row in rows:
        summary, policy = row.pop("summary_json"), row.pop("policy_json")
        snap = None if row["snapshot_id"] is None else {
            "id": row["snapshot_id"], "summary": json.loads(summary or "{}"), "policy": json.loads(policy or "{}")}
        row["lights"] = lights.model_lights(db, row, snap, scope=scope, at=moment,
                                            open_incidents=open_incidents.get(row["id"], []),
                                            reviews_by_model=latest)
        row["at"] = iso(moment)
    return rows
