"""Accounts, roles, permissions and team scoping.

Roles: ``ethics_officer`` (everything), ``sales_manager`` (one team's models and
leads), ``auditor`` (reads everything, changes nothing).  Passwords are hashed with
argon2id; nothing else about them is stored.  Every page calls :func:`require`
through ``ui.run_page``, and reads that return team-bound rows take the actor's
:attr:`Actor.scope`.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ethics import audit, privacy, store
from ethics.errors import PermissionDenied, ValidationError
from ethics.teams import ensure_teams, require_team
from ethics.weeks import iso, utcnow

ROLES = ("ethics_officer", "sales_manager", "auditor")
ROLE_LABELS = {"ethics_officer": "AI ethics officer", "sales_manager": "Sales manager", "auditor": "Auditor"}
ALL_ROLES = frozenset(ROLES)

# permission -> roles that hold it.  Reads of team-bound data are further scoped by team.
PERMISSIONS: dict[str, frozenset[str]] = {
    "view_portfolio": ALL_ROLES,
    "view_model": ALL_ROLES,
    "view_registry": frozenset({"ethics_officer", "auditor"}),
    "view_users": frozenset({"ethics_officer", "auditor"}),
    "view_incidents": ALL_ROLES,
    "open_incident": frozenset({"ethics_officer", "sales_manager"}),
    "manage_incidents": frozenset({"ethics_officer"}),
    "view_audit": frozenset({"ethics_officer", "auditor"}),
    "view_reviews": frozenset({"ethics_officer", "auditor"}),
    "sign_reviews": frozenset({"ethics_officer"}),
    "manage_users": frozenset({"ethics_officer"}),
    "export_reports": ALL_ROLES,  # sales managers: the models that score their team's leads, team rows only
    "view_leads": ALL_ROLES,
    "override_decisions": frozenset({"ethics_officer", "sales_manager"}),
    "view_consent": ALL_ROLES,
    "handle_requests": frozenset({"ethics_officer"}),
    # The command line's data-home operations: register, import, snapshot, migrate, demo, teams.
    "operate_data": frozenset({"ethics_officer"}),
}

MIN_PASSWORD_LENGTH = 12
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
_HASHER = PasswordHasher()

WRONG_CREDENTIALS = "Wrong username or password."
UNKNOWN_USERNAME = "unknown username"
ACCOUNT_DISABLED = "Account {username!r} is disabled; ask the AI ethics officer."
NO_ACCOUNT_CHOSEN = "Choose the account to disable."
CONFIRM_DISABLE = "Account {username!r} was not disabled: tick the confirmation first."
ALREADY_DISABLED = "Account {username!r} is disabled already."
LOCKED_OUT = "Too many failed sign-ins for {username!r}; try again after {until} (UTC)."
NOT_ALLOWED = "Not allowed: a {role} may not {permission}."


@dataclass(frozen=True)
class Actor:
    """The signed-in account, as pages and services see it."""

    username: str
    display_name: str
    role: str
    team: str | None = None

    @property
    def scope(self) -> str | None:
        """The team whose rows this actor may see; None means every team."""
        return self.team if self.role == "sales_manager" else None

    def can(self, permission: str) -> bool:
        """Whether the role holds ``permission``."""
        return self.role in PERMISSIONS[permission]

    @property
    def label(self) -> str:
        """Name and role for the sidebar."""
        team = f", team {self.team}" if self.scope else ""
        return f"{self.display_name} ({ROLE_LABELS[self.role]}{team})"


def require(actor: Actor | None, permission: str) -> Actor:
    """Return ``actor`` if it holds ``permission``.

    Raises
    ------
    PermissionDenied
        When nobody is signed in or the role lacks the permission.
    """
    if actor is None:
        raise PermissionDenied("Not signed in.")
    if not actor.can(permission):
        raise PermissionDenied(
            NOT_ALLOWED.format(role=ROLE_LABELS[actor.role].lower(), permission=permission.replace("_", " "))
        )
    return actor


def _check_account(username: str, role: str, team: str | None) -> None:
    if not _USERNAME.match(username):
        raise ValidationError(
            f"Username {username!r} must be 2-40 lower-case letters, digits, '.', '_' or '-', starting with a letter."
        )
    if role not in ROLES:
        raise ValidationError(f"Role {role!r} is not one of {', '.join(ROLES)}.")
    if role == "sales_manager" and not team:
        raise ValidationError("A sales manager needs a team (--team).")
    if role != "sales_manager" and team:
        raise ValidationError(f"Only sales managers belong to a team; a {role} sees every team.")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"Password rule: at least {MIN_PASSWORD_LENGTH} characters.")


def add_user(
    db: store.Database,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    team: str | None = None,
    actor: str,
    now: datetime | None = None,
) -> Actor:
    """Create an account with an argon2id password hash.

    Raises
    ------
    ValidationError
        Bad username, role or password, a team that is not a record, or the username is taken.
    """
    _check_account(username, role, team)
    if team is not None:
        require_team(db, team)
    _check_password(password)
    if db[store.USERS].count_where("username = ?", [username]):
        raise ValidationError(f"Username {username!r} is taken.")
    stamp = iso(now or utcnow())
    with store.transaction(db):
        db[store.USERS].insert(
            {
                "username": username,
                "display_name": display_name.strip() or username,
                "role": role,
                "team": team,
                "password_hash": _HASHER.hash(password),
                "disabled": 0,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        audit.record(db, audit.UserChanged(actor, "user", username, change="added", role=role, team=team,
                                           created=now), records=[(store.USERS, username)])
    return get_actor(db, username)


def _user(db: store.Database, username: str) -> dict[str, Any]:
    return store.get_row(db, store.USERS, username, message=f"Unknown user {username!r}.")


def get_actor(db: store.Database, username: str) -> Actor:
    """The account as an :class:`Actor`.

    Raises
    ------
    NotFound
        Unknown username.
    PermissionDenied
        The account is disabled.
    """
    row = _user(db, username)
    if row["disabled"]:
        raise PermissionDenied(ACCOUNT_DISABLED.format(username=username))
    return Actor(row["username"], row["display_name"], row["role"], row["team"])


def list_users(db: store.Database) -> list[dict[str, Any]]:
    """Every account without its password hash."""
    return store.list_rows(
        db, store.USERS, order_by="username",
        select="username, display_name, role, team, disabled, created_at, updated_at",
    )


def disable_user(
    db: store.Database, username: str, *, actor: str, confirmed: bool = True, now: datetime | None = None
) -> None:
    """Disable an account; it can no longer sign in and open sessions end at their next page.

    Raises
    ------
    NotFound
        Unknown (or no) username.
    ValidationError
        ``confirmed`` is false (the page asks first), or the account is already disabled.
    """
    if not username:
        raise ValidationError(NO_ACCOUNT_CHOSEN)
    row = _user(db, username)
    if not confirmed:
        raise ValidationError(CONFIRM_DISABLE.format(username=username))
    if row["disabled"]:
        raise ValidationError(ALREADY_DISABLED.format(username=username))
    with store.transaction(db):
        db[store.USERS].update(username, {"disabled": 1, "updated_at": iso(now or utcnow())})
        audit.record(db, audit.UserChanged(actor, "user", username, change="disabled", created=now),
                     records=[(store.USERS, username)])


def set_password(
    db: store.Database, username: str, password: str, *, actor: str, now: datetime | None = None
) -> None:
    """Replace an account's password (and re-enable nothing)."""
    _user(db, username)
    _check_password(password)
    with store.transaction(db):
        db[store.USERS].update(
            username, {"password_hash": _HASHER.hash(password), "updated_at": iso(now or utcnow())}
        )
        audit.record(db, audit.UserChanged(actor, "user", username, change="password set", created=now),
                     records=[(store.USERS, username)])


def _recent_failures(db: store.Database, name: str, since: str) -> list[str]:
    """Failed attempts under ``name`` since ``since`` and after its last successful sign-in."""
    rows = db.execute(
        f"select attempted_at from {store.SIGN_INS} where username = ? and succeeded = 0 and attempted_at >= ? "
        f"and id > coalesce((select max(id) from {store.SIGN_INS} where username = ? and succeeded = 1), 0) "
        "order by attempted_at",
        [name, since, name],
    ).fetchall()
    return [row[0] for row in rows]


def _record_attempt(db: store.Database, name: str, *, succeeded: bool, reason: str, stamp: str) -> None:
    with store.transaction(db):
        db[store.SIGN_INS].insert(
            {"username": name, "succeeded": int(succeeded), "reason": reason, "attempted_at": stamp}
        )
        audit.record(db, audit.SignIn(name, "user", name, succeeded=succeeded, reason=reason,
                                      created=datetime.fromisoformat(stamp)))


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password with the hasher's parameters: unknown names cost one verification too."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def unknown_name(db: store.Database, typed: str) -> str:
    """How an attempt under a name that is no account is recorded: never the typed text.

    People type passwords and e-mail addresses into the username box; the record keeps
    ``unknown username`` and a keyed hash of the text (the data home's privacy key), so
    repeated attempts with one text still count towards its lockout and nobody can read
    or reverse it.
    """
    return f"{UNKNOWN_USERNAME} {privacy.keyed_tag(db, typed, purpose='sign-in username')}"


def authenticate(db: store.Database, username: str, password: str, *, now: datetime | None = None) -> Actor:
    """Check a username and password; every attempt is recorded.

    After :data:`MAX_FAILURES` failures within :data:`LOCKOUT` (counted since the last
    successful sign-in), the username is refused until the window has passed, whatever
    the password.  An unknown username costs the same argon2 verification as a known one
    (against a dummy hash) and is recorded as :func:`unknown_name`, never as typed.

    Raises
    ------
    PermissionDenied
        Wrong credentials (one message for unknown user and wrong password),
        a disabled account, or too many recent failures.
    """
    moment = now or utcnow()
    stamp = iso(moment)
    username = username.strip().lower()
    rows = store.list_rows(db, store.USERS, "username = ?", [username]) if username else []
    name = username if rows else unknown_name(db, username)
    failures = _recent_failures(db, name, iso(moment - LOCKOUT))
    if len(failures) >= MAX_FAILURES:
        until = datetime.fromisoformat(failures[-MAX_FAILURES]) + LOCKOUT
        _record_attempt(db, name, succeeded=False, reason="locked out", stamp=stamp)
        # The typed text is shown back to whoever typed it (never stored), known or not: no difference to read.
        raise PermissionDenied(LOCKED_OUT.format(username=username, until=until.strftime("%Y-%m-%d %H:%M")))
    try:
        # A disabled account is checked against its own hash, so its "disabled" answer needs the right password.
        _HASHER.verify(rows[0]["password_hash"] if rows else _dummy_hash(), password)
        if not rows:
            raise VerificationError("unknown user")
    except (VerificationError, InvalidHashError):
        _record_attempt(db, name, succeeded=False, reason="wrong credentials", stamp=stamp)
        raise PermissionDenied(WRONG_CREDENTIALS) from None
    if rows[0]["disabled"]:
        _record_attempt(db, username, succeeded=False, reason="disabled", stamp=stamp)
        raise PermissionDenied(ACCOUNT_DISABLED.format(username=username))
    _record_attempt(db, username, succeeded=True, reason="ok", stamp=stamp)
    if _HASHER.check_needs_rehash(rows[0]["password_hash"]):
        set_password(db, username, password, actor=username, now=moment)
    return get_actor(db, username)


def list_sign_ins(db: store.Database, *, limit: int = 200) -> list[dict[str, Any]]:
    """The most recent sign-in attempts, newest first."""
    return store.list_rows(db, store.SIGN_INS, order_by="id desc limit " + str(int(limit)))


@dataclass(frozen=True)
class DemoAccount:
    """A demo account and its one-time password."""

    username: str
    display_name: str
    role: str
    team: str | None
    password: str


def create_demo_accounts(
    db: store.Database, *, teams: Iterable[str], now: datetime | None = None
) -> list[DemoAccount]:
    """Create one officer, one auditor and one sales manager per team (and the team records), random passwords.

    The passwords are returned once (to be printed) and stored only as hashes.
    """
    teams = list(teams)
    ensure_teams(db, teams, actor="demo", now=now)
    accounts = [
        ("olivia", "Olivia Officer", "ethics_officer", None),
        ("aude", "Aude Auditor", "auditor", None),
        *((f"sm.{team}", f"Sales manager {team.title()}", "sales_manager", team) for team in teams),
    ]
    created = []
    for username, name, role, team in accounts:
        password = secrets.token_urlsafe(12)
        add_user(db, username=username, display_name=name, role=role, team=team, password=password,
                 actor="demo", now=now)
        created.append(DemoAccount(username, name, role, team, password))
    return created
