import statistics
import time
from datetime import timedelta

import click
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from ethics import audit, auth, store
from ethics.cli import cli
from ethics.errors import PermissionDenied, ValidationError

PASSWORD = "correct horse battery"


@pytest.fixture
def officer(fresh_db, now):
    return auth.add_user(fresh_db, username="olivia", display_name="Olivia", role="ethics_officer",
                         password=PASSWORD, actor="test", now=now)


def test_password_is_stored_only_as_argon2id(fresh_db, officer):
    (row,) = fresh_db.execute("select password_hash from users").fetchall()
    assert row[0].startswith("$argon2id$") and PASSWORD not in row[0]
    assert "password_hash" not in auth.list_users(fresh_db)[0]


def test_sign_in_with_the_right_password(fresh_db, officer, now):
    actor = auth.authenticate(fresh_db, "Olivia ", PASSWORD, now=now)
    assert actor == auth.Actor("olivia", "Olivia", "ethics_officer", None)
    assert actor.scope is None


@pytest.mark.parametrize("username,password", [("olivia", "wrong password!"), ("nobody", PASSWORD)])
def test_wrong_credentials_get_one_message(fresh_db, officer, now, username, password):
    with pytest.raises(PermissionDenied, match="^Wrong username or password.$"):
        auth.authenticate(fresh_db, username, password, now=now)
    (attempt,) = auth.list_sign_ins(fresh_db)
    recorded = username if username == "olivia" else auth.unknown_name(fresh_db, username)
    assert (attempt["username"], attempt["succeeded"], attempt["reason"]) == (recorded, 0, "wrong credentials")


def test_failed_sign_ins_are_rate_limited(fresh_db, officer, now):
    for minute in range(auth.MAX_FAILURES):
        with pytest.raises(PermissionDenied, match="Wrong username"):
            auth.authenticate(fresh_db, "olivia", "guess number x", now=now + timedelta(minutes=minute))
    locked = "Too many failed sign-ins for 'olivia'; try again after 2026-11-25 09:15"
    with pytest.raises(PermissionDenied, match=locked):
        auth.authenticate(fresh_db, "olivia", PASSWORD, now=now + timedelta(minutes=6))
    later = now + auth.LOCKOUT + timedelta(minutes=5)
    assert auth.authenticate(fresh_db, "olivia", PASSWORD, now=later).username == "olivia"


class _CountingHasher(PasswordHasher):
    """The real argon2 hasher, noting each hash it verifies against."""

    def __init__(self) -> None:
        super().__init__()
        self.verified: list[str] = []

    def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
        self.verified.append(hash)
        return super().verify(hash, password)


def test_an_unknown_username_costs_one_argon2_verification_like_a_wrong_password(fresh_db, officer, now,
                                                                                 monkeypatch):
    hasher = _CountingHasher()
    monkeypatch.setattr(auth, "_HASHER", hasher)
    for username in ("nobody", "olivia", ""):
        with pytest.raises(PermissionDenied, match="^Wrong username or password.$"):
            auth.authenticate(fresh_db, username, "wrong password!", now=now)
    (stored,) = fresh_db.execute("select password_hash from users").fetchone()
    assert hasher.verified == [auth._dummy_hash(), stored, auth._dummy_hash()]
    dummy, real = (PasswordHasher().check_needs_rehash(h) for h in (auth._dummy_hash(), stored))
    assert (dummy, real) == (False, False)  # the same argon2 parameters
    assert auth._dummy_hash().split("$")[:4] == stored.split("$")[:4]


def test_unknown_and_known_usernames_take_about_the_same_time(fresh_db, officer, now):
    auth.authenticate(fresh_db, "olivia", PASSWORD, now=now)  # warm up: the dummy hash, the key, the tables
    with pytest.raises(PermissionDenied):
        auth.authenticate(fresh_db, "nobody", PASSWORD, now=now)
    took: dict[str, list[float]] = {"olivia": [], "nobody": []}
    for round_ in range(5):
        later = now + (auth.LOCKOUT + timedelta(minutes=1)) * (round_ + 1)  # never locked out
        for username in took:
            started = time.perf_counter()
            with pytest.raises(PermissionDenied, match="^Wrong username or password.$"):
                auth.authenticate(fresh_db, username, "wrong password!", now=later)
            took[username].append(time.perf_counter() - started)
    known, unknown = statistics.median(took["olivia"]), statistics.median(took["nobody"])
    assert unknown >= 0.5 * known, (unknown, known)  # today's main: 4 ms against 550 ms


def test_a_successful_sign_in_resets_the_failure_count(fresh_db, officer, now):
    minute = timedelta(minutes=1)
    for step in range(auth.MAX_FAILURES - 1):
        with pytest.raises(PermissionDenied, match="Wrong username"):
            auth.authenticate(fresh_db, "olivia", "guess number x", now=now + step * minute)
    assert auth.authenticate(fresh_db, "olivia", PASSWORD, now=now + 4 * minute).username == "olivia"
    for step in range(auth.MAX_FAILURES - 1):
        with pytest.raises(PermissionDenied, match="Wrong username"):
            auth.authenticate(fresh_db, "olivia", "guess number y", now=now + (5 + step) * minute)
    # Eight failures in the window, but four since the last success: not locked out.
    assert auth.authenticate(fresh_db, "olivia", PASSWORD, now=now + 9 * minute).username == "olivia"


def test_unknown_usernames_are_locked_out_too(fresh_db, officer, now):
    for minute in range(auth.MAX_FAILURES):
        with pytest.raises(PermissionDenied, match="Wrong username"):
            auth.authenticate(fresh_db, "nobody", "guess number x", now=now + timedelta(minutes=minute))
    with pytest.raises(PermissionDenied, match="Too many failed sign-ins for 'nobody'"):
        auth.authenticate(fresh_db, "nobody", "guess number x", now=now + timedelta(minutes=6))
    with pytest.raises(PermissionDenied, match="Wrong username"):  # another text has its own count
        auth.authenticate(fresh_db, "somebody", "guess number x", now=now + timedelta(minutes=6))


def test_a_password_typed_as_the_username_is_never_stored_or_listed(db, now):
    secret = "Tr0ub4dor&3 horse"
    auth.add_user(db, username="olivia", display_name="Olivia", role="ethics_officer", password=PASSWORD,
                  actor="test", now=now)
    auth.disable_user(db, "olivia", actor="test", now=now)
    for username, password in ((secret, PASSWORD), (secret.lower(), secret), ("olivia", secret),
                               ("olivia", PASSWORD)):
        with pytest.raises(PermissionDenied):
            auth.authenticate(db, username, password, now=now)
    attempts = auth.list_sign_ins(db)  # what the Users page shows
    assert [a["reason"] for a in attempts] == ["disabled", "wrong credentials", "wrong credentials",
                                               "wrong credentials"]
    every_payload = repr(audit.list_entries(db, limit=1000)) + audit.export_csv(db)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    on_disk = b"".join(path.read_bytes() for path in store.db_file(db).parent.iterdir() if path.is_file())
    for text in (secret, secret.lower(), PASSWORD):
        assert text not in every_payload
        assert text.encode() not in on_disk
    assert {a["username"] for a in attempts} == {"olivia", auth.unknown_name(db, secret.lower())}
    assert attempts[-1]["username"].startswith("unknown username k-")


def test_disabled_account_cannot_sign_in_or_continue(fresh_db, officer, now):
    auth.disable_user(fresh_db, "olivia", actor="test", now=now)
    with pytest.raises(PermissionDenied, match="Account 'olivia' is disabled"):
        auth.authenticate(fresh_db, "olivia", PASSWORD, now=now)
    with pytest.raises(PermissionDenied, match="disabled"):
        auth.get_actor(fresh_db, "olivia")


def test_set_password_replaces_the_old_one(fresh_db, officer, now):
    auth.set_password(fresh_db, "olivia", "a brand new passphrase", actor="test", now=now)
    with pytest.raises(PermissionDenied):
        auth.authenticate(fresh_db, "olivia", PASSWORD, now=now)
    assert auth.authenticate(fresh_db, "olivia", "a brand new passphrase", now=now).role == "ethics_officer"


@pytest.mark.parametrize("fields,message", [
    ({"username": "Bad Name"}, "Username 'Bad Name' must be"),
    ({"role": "admin"}, "Role 'admin' is not one of"),
    ({"role": "sales_manager"}, "A sales manager needs a team"),
    ({"team": "north"}, "Only sales managers belong to a team"),
    ({"password": "short"}, "at least 12 characters"),
    ({"username": "olivia"}, "Username 'olivia' is taken"),
])
def test_bad_accounts_are_refused_and_nothing_written(fresh_db, officer, fields, message):
    before = auth.list_users(fresh_db)
    values = {"username": "newbie", "display_name": "N", "role": "ethics_officer", "password": PASSWORD,
              "team": None} | fields
    with pytest.raises(ValidationError, match=message):
        auth.add_user(fresh_db, **values, actor="test")
    assert auth.list_users(fresh_db) == before


def test_permissions_by_role():
    officer = auth.Actor("o", "O", "ethics_officer")
    manager = auth.Actor("m", "M", "sales_manager", "north")
    auditor = auth.Actor("a", "A", "auditor")
    assert [officer.can(p) for p in ("view_registry", "manage_users")] == [True, True]
    assert [auditor.can(p) for p in ("view_registry", "manage_users")] == [True, False]
    assert [manager.can(p) for p in ("view_model", "view_registry")] == [True, False]
    assert manager.scope == "north" and auditor.scope is None
    with pytest.raises(PermissionDenied, match="a sales manager may not view registry"):
        auth.require(manager, "view_registry")
    with pytest.raises(PermissionDenied, match="Not signed in"):
        auth.require(None, "view_portfolio")


def test_demo_accounts_have_random_passwords(fresh_db):
    accounts = auth.create_demo_accounts(fresh_db, teams=["north", "south"])
    assert [(a.username, a.role, a.team) for a in accounts] == [
        ("olivia", "ethics_officer", None), ("aude", "auditor", None),
        ("sm.north", "sales_manager", "north"), ("sm.south", "sales_manager", "south")]
    assert len({a.password for a in accounts}) == 4
    assert auth.authenticate(fresh_db, "sm.south", accounts[3].password).scope == "south"


def test_users_cli(home, monkeypatch):
    monkeypatch.setenv("ETHICS_HOME", str(home))
    runner = CliRunner()
    result = runner.invoke(cli, ["users", "add", "sam", "--role", "sales_manager", "--team", "west"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 2
    assert "Unknown team 'west'; the teams are: none yet. Add a team with `python -m ethics teams add NAME`." in (
        result.output)
    assert runner.invoke(cli, ["teams", "add", "west"]).output == "added team west\n"
    assert runner.invoke(cli, ["teams", "list"]).output == "west\n"
    result = runner.invoke(cli, ["users", "add", "sam", "--role", "sales_manager", "--team", "west",
                                 "--name", "Sam"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "added Sam (Sales manager, team west) as sam" in result.output
    assert "sam" in runner.invoke(cli, ["users", "list"]).output
    result = runner.invoke(cli, ["users", "add", "kim", "--role", "auditor", "--team", "west"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 2 and "Only sales managers belong to a team" in result.output
    assert runner.invoke(cli, ["users", "disable", "sam"]).exit_code == 0
    db = store.open_db(home / "ethics.db")
    assert auth.list_users(db)[0]["disabled"] == 1
    result = runner.invoke(cli, ["users", "set-password", "sam"], input="another long pass\nanother long pass\n")
    assert result.exit_code == 0 and "password of sam changed" in result.output


def _options(group, prefix=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _options(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), {opt for param in command.params for opt in param.opts}


def test_no_command_takes_a_password_on_the_command_line():
    for name, options in _options(cli):
        assert "--password" not in options, name  # `ps` shows every argument to every user


def test_users_cli_reads_the_password_from_a_file_or_standard_input(home, tmp_path, monkeypatch, now):
    monkeypatch.setenv("ETHICS_HOME", str(home))
    runner = CliRunner()
    result = runner.invoke(cli, ["users", "add", "kim", "--role", "auditor", "--password", PASSWORD])
    assert result.exit_code == 2 and "No such option '--password'" in result.output
    secret = tmp_path / "kim.password"
    secret.write_text(f"{PASSWORD}\n")
    result = runner.invoke(cli, ["users", "add", "kim", "--role", "auditor", "--password-file", str(secret)])
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    result = runner.invoke(cli, ["users", "set-password", "kim", "--password-stdin"],
                           input="a stdin passphrase\n")
    assert result.exit_code == 0 and "password of kim changed" in result.output
    result = runner.invoke(cli, ["users", "set-password", "kim", "--password-stdin", "--password-file",
                                 str(secret)])
    assert result.exit_code == 2 and "not both" in result.output
    result = runner.invoke(cli, ["users", "set-password", "kim", "--password-file", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "missing" in result.output and "Traceback" not in result.output
    result = runner.invoke(cli, ["users", "set-password", "kim", "--password-stdin"], input="short\n")
    assert result.exit_code == 2 and "at least 12 characters" in result.output
    db = store.open_db(home / "ethics.db")
    try:
        assert auth.authenticate(db, "kim", "a stdin passphrase", now=now).role == "auditor"
    finally:
        db.close()


def test_a_download_is_made_for_the_account_as_it_is_at_click_time(db, home, now):
    """A button drawn before `users disable` makes no file; a live one is made for the account's current team."""
    from ethics import teams, ui

    teams.add_team(db, "north", actor="t", now=now)
    drawn = auth.add_user(db, username="sam", display_name="Sam", role="sales_manager", team="north",
                          password=PASSWORD, actor="t", now=now)
    made = ui._with_store(str(home / "ethics.db"), lambda _, who: (who.username, who.team), actor=drawn)
    assert made == ("sam", "north")
    auth.disable_user(db, "sam", actor="t", now=now)
    with pytest.raises(PermissionDenied, match="sam"):
        ui._with_store(str(home / "ethics.db"), lambda *_: pytest.fail("a file was made"), actor=drawn)
