"""The Consent & privacy page and the Model page's Consent tab in AppTest, on the example model with consent events."""

import pytest

from ethics import consent, incidents, privacy, snapshots, store, ui
from tests.apptest import button, clear_caches, open_app, open_page, shown
from tests.conftest import EXAMPLE_MODEL, WEEK, add_accounts, default_policy

EVENTS = [
    {"event_id": "E1", "customer_id": "C000455", "purpose": "ai_scoring", "status": "granted", "source": "crm",
     "occurred_at": "2026-10-01T09:00:00Z"},
    {"event_id": "E2", "customer_id": "C000096", "purpose": "ai_scoring", "status": "objected", "source": "call",
     "occurred_at": "2026-10-02T09:00:00Z"},
]


@pytest.fixture
def consent_home(home, db, examples, registered, now, monkeypatch):
    from ethics import datasets

    consent.record_events(db, EVENTS, source_name="events.csv", actor="t", now=now)
    privacy.record_customers(db, [{"customer_id": "C000096", "name": "Ada Example"}], source_name="crm.csv",
                             actor="t", now=now)
    for kind in ("eval", "scores"):
        datasets.import_dataset(db, examples / f"{kind}.csv", kind=kind, model_id=EXAMPLE_MODEL, version="1.0.0",
                                week=WEEK, home=home, actor="t", now=now)
    snap = snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home, policy=default_policy(),
                                   actor="t", now=now)
    add_accounts(db)
    monkeypatch.setenv("ETHICS_HOME", str(home))
    clear_caches()
    yield snap
    clear_caches()


def _ok(at):
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_consent_page_shows_the_snapshot_numbers_and_lists(consent_home, db):
    found = consent_home["results"]["consent"]
    at = _ok(open_page(open_app("olivia"), "pages/consent.py", model=EXAMPLE_MODEL))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Coverage"] == f"{found['coverage']:.1%}"
    assert metrics["Without consent"] == f"{found['without_consent']:,}"
    assert metrics["After an objection"] == f"{found['after_objection']:,}" != "0"
    frames = [f.value for f in at.dataframe]
    teams = next(f for f in frames if "covered" in f.columns)
    assert teams["scored"].sum() == found["scored"]
    violations = next(f for f in frames if "reason" in f.columns)
    assert len(violations) == found["without_consent"]
    routing = next(f for f in frames if "objected_on" in f.columns)
    assert routing["name"].tolist() == ["Ada Example"] * len(routing)
    button(at, f"Open an incident for these {found['without_consent']} violations").click()
    _ok(at.run())
    opened = incidents.list_incidents(db, model_id=EXAMPLE_MODEL)
    assert [i["category"] for i in opened] == ["privacy"] and opened[0]["severity"] == "high"


def test_officer_erases_a_customer_on_the_page(consent_home, db):
    at = _ok(open_page(open_app("olivia"), "pages/consent.py", model=EXAMPLE_MODEL))
    box = next(t for t in at.text_input if t.label == "Customer id (as in the CRM)")
    box.input("C000096")
    _ok(at.run())
    next(c for c in at.checkbox if c.label.startswith("I checked the request")).check()
    _ok(at.run())
    button(at, "Erase").click()
    _ok(at.run())
    assert any("Erased (request" in s.value for s in at.success)
    assert [r["kind"] for r in store.list_rows(db, store.DSR_REQUESTS)] == ["erase"]
    assert store.list_rows(db, store.CUSTOMERS) == []


def test_model_page_consent_tab(consent_home):
    at = _ok(open_page(open_app("sm.north"), "pages/model.py", model=EXAMPLE_MODEL))
    north = next(r for r in consent_home["results"]["consent"]["by_team"] if r["team"] == "north")
    metrics = {m.label: m.value for m in at.metric}
    # The team's counts only: routing is per customer on the routing list, not a model-wide count.
    assert (metrics["Without consent"], metrics["Customers to route to a human"]) == (
        f"{north['without_consent']:,}", "—")
    team_light = consent_home["summary"]["team_lights"]["north"]["consent"]
    assert any(f"{ui.light(team_light)} · {team_light['reason']} (team north)" in shown(m) for m in at.markdown)
