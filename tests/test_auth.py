from datetime import timedelta

import pytest
from click.testing import CliRunner

from ethics import auth, store
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
    assert (attempt["username"], attempt["succeeded"], attempt["reason"]) == (username, 0, "wrong credentials")


def test_failed_sign_ins_are_rate_limited(fresh_db, officer, now):
    for minute in range(auth.MAX_FAILURES):
        with pytest.raises(PermissionDenied, match="Wrong username"):
            auth.authenticate(fresh_db, "olivia", "guess number x", now=now + timedelta(minutes=minute))
    locked = "Too many failed sign-ins for 'olivia'; try again after 2026-11-25 09:15"
    with pytest.raises(PermissionDenied, match=locked):
        auth.authenticate(fresh_db, "olivia", PASSWORD, now=now + timedelta(minutes=6))
    later = now + auth.LOCKOUT + timedelta(minutes=5)
    assert auth.authenticate(fresh_db, "olivia", PASSWORD, now=later).username == "olivia"


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
