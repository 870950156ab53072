"""Sales teams as records, and which teams' leads each model scores.

A lead belongs to the team on its own row; a model's team is its owner.  A model is
seen by its owner team and by every team whose leads it has scored
(:data:`store.MODEL_TEAMS`, filled when a model is registered and when rows or
statistics are imported), so no lead is left without a manager.  An account's team
must be one of these records.

Both tables are covered by the audit chain: a new team is recorded by its own
``team.added`` entry, a model's new teams by the entry of the write that found them
(:func:`record_model_teams` returns them for it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ethics import audit, store
from ethics.errors import ValidationError
from ethics.weeks import iso, utcnow

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
BAD_NAME = "Team name {name!r} must be 1-40 lower-case letters, digits, '-' or '_', starting with a letter."
UNKNOWN_TEAM = "Unknown team {name!r}; the teams are: {known}. Add a team with `python -m ethics teams add NAME`."
TEAM_EXISTS = "Team {name!r} exists already."


def list_teams(db: store.Database) -> list[str]:
    """Every team's name, sorted."""
    return [row["name"] for row in store.list_rows(db, store.TEAMS, order_by="name", select="name")]


def require_team(db: store.Database, name: str) -> str:
    """Return ``name`` if the team exists.

    Raises
    ------
    ValidationError
        No such team; the message lists the known ones.
    """
    if not db[store.TEAMS].count_where("name = ?", [name]):
        raise ValidationError(UNKNOWN_TEAM.format(name=name, known=", ".join(list_teams(db)) or "none yet"))
    return name


def add_team(db: store.Database, name: str, *, actor: str, now: datetime | None = None) -> str:
    """Create a team record.

    Raises
    ------
    ValidationError
        A badly formed name, or the team exists.
    """
    if not _NAME.match(name or ""):
        raise ValidationError(BAD_NAME.format(name=name))
    if db[store.TEAMS].count_where("name = ?", [name]):
        raise ValidationError(TEAM_EXISTS.format(name=name))
    ensure_teams(db, [name], actor=actor, now=now)
    return name


def record_model_teams(
    db: store.Database, model_id: str, names: Iterable[Any], *, actor: str, now: datetime | None = None
) -> list[tuple[str, tuple[str, str]]]:
    """Note that ``model_id`` scores leads of these teams (creating team records met for the first time).

    Call inside the transaction that stores the rows, so both are written or neither, and pass
    the returned records to that write's audit entry (``audit.record(..., records=...)``).

    Returns
    -------
    list of (table, key)
        The ``model_teams`` rows created now, as audit records.
    """
    found = sorted({name.strip() for name in names if isinstance(name, str) and name.strip()})
    if not found:
        return []
    stamp = iso(now or utcnow())
    with store.transaction(db):
        ensure_teams(db, found, actor=actor, now=now)
        known = set(model_teams(db, model_id))
        new = [name for name in found if name not in known]
        db[store.MODEL_TEAMS].insert_all(
            ({"model_id": model_id, "team": name, "first_seen_at": stamp} for name in new), ignore=True
        )
    return [(store.MODEL_TEAMS, (model_id, name)) for name in new]


def ensure_teams(db: store.Database, names: Iterable[str], *, actor: str, now: datetime | None = None) -> list[str]:
    """Create the team records among ``names`` that do not exist yet (rows and the demo name them).

    Each new team is recorded by a ``team.added`` entry covering its row, in the same transaction.

    Returns
    -------
    list of str
        The teams created now, sorted.
    """
    known = set(list_teams(db))
    created = sorted(set(names) - known)
    with store.transaction(db):
        for name in created:
            db[store.TEAMS].insert({"name": name, "created_at": iso(now or utcnow()), "created_by": actor})
            audit.record(db, audit.TeamAdded(actor, "team", name, created=now), records=[(store.TEAMS, name)])
    return created


def model_teams(db: store.Database, model_id: str) -> list[str]:
    """The teams whose leads ``model_id`` scores, and its owner team, sorted."""
    rows = store.list_rows(db, store.MODEL_TEAMS, "model_id = ?", [model_id], order_by="team", select="team")
    return [row["team"] for row in rows]


def visible_model_ids(db: store.Database, scope: str) -> set[str]:
    """Ids of the models a reader scoped to ``scope`` may see: owned by the team or scoring its leads."""
    rows = db.execute(
        f"select id from {store.MODELS} where team = ? union select model_id from {store.MODEL_TEAMS} where team = ?",
        [scope, scope],
    ).fetchall()
    return {row[0] for row in rows}
