"""Every page x every role, on the demo portfolio: who sees what, checked in the data sent."""


import pytest

from ethics import registry, store
from ethics.demo import DEMO_MODEL_IDS
from tests.apptest import app_on, open_app, open_page, shown, texts
from tests.conftest import ACCOUNTS, copy_demo

PAGES = ["pages/overview.py", "pages/model.py", "pages/fairness.py", "pages/leads.py", "pages/review.py",
         "pages/incidents.py", "pages/consent.py", "pages/registry.py", "pages/audit.py", "pages/users.py",
         "pages/reports.py"]
FORBIDDEN_WORDS = {"pages/registry.py": "view registry", "pages/audit.py": "view audit", "pages/users.py": "view users",
                   "pages/review.py": "view reviews"}
MANAGER_PAGES = {"pages/overview.py", "pages/model.py", "pages/fairness.py", "pages/leads.py", "pages/incidents.py",
                 "pages/consent.py", "pages/reports.py"}
ALLOWED = {
    "officer": set(PAGES),
    "auditor": set(PAGES),
    "manager_north": MANAGER_PAGES,
    "manager_south": MANAGER_PAGES,
}


@pytest.fixture(scope="module")
def access_home(demo_home, tmp_path_factory):
    home = copy_demo(demo_home, tmp_path_factory.mktemp("access") / "home")
    db = store.open_db(home / "ethics.db")
    models = registry.list_models(db)
    db.close()
    return home, models


@pytest.fixture
def env(access_home, monkeypatch):
    home, models = access_home
    with app_on(home, monkeypatch):
        yield models


def _foreign_names(models, team):
    """Ids and names of the models a manager of ``team`` must never receive: those that score none of its leads."""
    return [value for m in models if team not in m["teams"] for value in (m["id"], m["name"])]


@pytest.mark.parametrize("page", PAGES)
def test_not_signed_in_sees_only_the_sign_in_form(env, page):
    at = open_page(open_app(), page)
    assert not at.exception
    assert at.title[0].value == "Sign in"
    assert len(at.dataframe) == 0
    assert not any(m["id"] in texts(at) for m in env)


@pytest.mark.parametrize("role", sorted(ACCOUNTS))
@pytest.mark.parametrize("page", PAGES)
def test_page_by_role(env, role, page):
    username, _, team = ACCOUNTS[role]
    at = open_page(open_app(username), page)
    assert not at.exception, [e.message for e in at.exception]
    sent = texts(at)
    if page in ALLOWED[role]:
        assert not at.error, [e.value for e in at.error]
        assert at.title[0].value != "Sign in"
    else:
        assert shown(at.error) == [f"Not allowed: a sales manager may not {FORBIDDEN_WORDS[page]}."]
        assert len(at.dataframe) == 0
    if team is not None:
        leaked = [name for name in _foreign_names(env, team) if name in sent]
        assert leaked == [], f"{username} received {leaked}"


@pytest.mark.parametrize("role", ["manager_north", "manager_south"])
def test_manager_sees_exactly_the_team_models_on_the_overview(env, role):
    username, _, team = ACCOUNTS[role]
    at = open_app(username)
    # Every demo model scores leads of every team, so every manager sees all six, with their owner teams.
    assert sorted(at.dataframe[0].value["Model"]) == sorted(m["name"] for m in env if team in m["teams"])
    assert len(at.dataframe[0].value) == len(DEMO_MODEL_IDS)
    assert sorted(at.dataframe[0].value["Team"]) == sorted(m["team"] for m in env)


def test_manager_direct_url_to_a_model_that_scores_none_of_the_team_is_refused(env):
    at = open_page(open_app("sm.south"), "pages/model.py", model="ghost-model")
    assert shown(at.error) == [
        "Not allowed: model 'ghost-model' scores no leads of team 'south' (or does not exist)."]
    assert len(at.dataframe) == 0 and len(at.metric) == 0


def test_officer_sees_every_model(env):
    at = open_app("olivia")
    assert len(at.dataframe[0].value) == len(env) == len(DEMO_MODEL_IDS)


def test_sidebar_lists_only_the_pages_a_role_may_see(env):
    from ethics import auth, ui

    manager = auth.Actor("sm.north", "M", "sales_manager", "north")
    assert [s.title for s in ui.PAGES if manager.can(s.permission)] == ["Overview", "Model", "Fairness", "Lead lookup",
                                                                         "Incidents", "Consent & privacy", "Reports"]
    auditor = auth.Actor("aude", "A", "auditor")
    everything = ["Overview", "Model", "Fairness", "Lead lookup", "Weekly review", "Incidents", "Consent & privacy",
                  "Registry", "Audit log", "Reports", "Users"]
    assert [s.title for s in ui.PAGES if auditor.can(s.permission)] == everything


def test_auditor_cannot_change_accounts(env):
    at = open_page(open_app("aude"), "pages/users.py")
    assert "Add account" not in [b.label for b in at.button]
    assert not any(b.label.startswith("Disable") for b in at.button)


def test_disabled_account_is_signed_out_at_the_next_page(env, access_home):
    from ethics import auth

    home, _ = access_home
    at = open_app("sm.north")
    db = store.open_db(home / "ethics.db")
    auth.disable_user(db, "sm.north", actor="test")
    try:
        at = open_page(at, "pages/model.py")
        assert shown(at.error) == ["Account 'sm.north' is disabled; ask the AI ethics officer."]
        assert len(at.dataframe) == 0
        at.run()
        assert at.title[0].value == "Sign in"
    finally:
        db.execute("update users set disabled = 0 where username = 'sm.north'")
        db.close()


@pytest.mark.parametrize("role", ["manager_north", "manager_south"])
def test_manager_receives_only_the_team_rows_on_the_consent_page(env, role):
    username, _, team = ACCOUNTS[role]
    at = open_page(open_app(username), "pages/consent.py")
    assert not at.exception and not at.error
    assert "Data-subject requests" not in texts(at)
    frames = [frame.value for frame in at.dataframe if "team" in frame.value.columns]
    assert frames and all(set(frame["team"]) <= {team} for frame in frames)
