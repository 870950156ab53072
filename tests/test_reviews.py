from datetime import timedelta

import pytest

from ethics import datasets, portfolio, reviews, snapshots, store
from ethics.errors import ValidationError
from tests.conftest import EXAMPLE_MODEL, EXAMPLE_VERSION, default_policy, state_of

ALL_TICKED = dict.fromkeys(reviews.CHECKLIST, True)


def _sign(db, snap, now, **fields):
    values = {"model_id": EXAMPLE_MODEL, "snapshot_hash": snap["hash"], "decision": "approve",
              "checklist": ALL_TICKED, "reviewer": "olivia", "now": now} | fields
    return reviews.sign_review(db, **values)


def test_signing_binds_the_review_to_the_snapshot_hash(db, example_snapshot, now):
    review = _sign(db, example_snapshot, now, comment="Fine.")
    assert review["snapshot_hash"] == example_snapshot["hash"] and review["week"] == "2026-W48"
    assert reviews.verify_review(db, review["id"])
    (row,) = portfolio.overview(db, now=now)
    assert row["lights"]["review"]["status"] == "pass"


def test_a_stale_snapshot_is_refused_and_nothing_is_written(db, home, examples, example_snapshot, now):
    datasets.import_dataset(db, examples / "eval.csv", kind="eval", model_id=EXAMPLE_MODEL, version=EXAMPLE_VERSION,
                            week="2026-W49", home=home, actor="t", now=now)
    newer = snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week="2026-W49", home=home,
                                    policy=default_policy(), actor="t", now=now)
    before = state_of(home)
    with pytest.raises(ValidationError) as raised:
        _sign(db, example_snapshot, now)
    assert str(raised.value) == reviews.STALE.format(shown=example_snapshot["hash"][:12], model_id=EXAMPLE_MODEL,
                                                     week="2026-W49", latest=newer["hash"][:12])
    assert state_of(home) == before
    assert _sign(db, newer, now)["snapshot_id"] == newer["id"]


@pytest.mark.parametrize("fields,message", [
    ({"decision": "maybe"}, "Review decision 'maybe' is not one of"),
    ({"checklist": {**ALL_TICKED, "consent": False}}, "Consent coverage and violations were checked"),
    ({"decision": "approve_with_conditions"}, "needs the conditions written down"),
    ({"decision": "suspend"}, "Suspending a model needs a comment"),
])
def test_incomplete_reviews_are_refused(db, home, example_snapshot, now, fields, message):
    before = state_of(home)
    with pytest.raises(ValidationError, match=message):
        _sign(db, example_snapshot, now, **fields)
    assert state_of(home) == before


def test_signed_reviews_are_immutable_and_corrected_by_a_new_one(db, example_snapshot, now):
    import sqlite3

    first = _sign(db, example_snapshot, now)
    with pytest.raises(sqlite3.IntegrityError, match="signed reviews are immutable"):
        db.execute("update reviews set decision = 'suspend'")
    correction = _sign(db, example_snapshot, now + timedelta(hours=1), decision="suspend",
                       comment="Bias verdict failed; approved by mistake.", corrects_review_id=first["id"],
                       follow_up={"title": "Retrain without the proxy", "severity": "high", "category": "bias"})
    history = reviews.list_reviews(db, EXAMPLE_MODEL)
    assert [(r["id"], r["decision"], r["corrects_review_id"]) for r in history] == [
        (correction["id"], "suspend", first["id"]), (first["id"], "approve", None)]
    assert db[store.MODELS].get(EXAMPLE_MODEL)["status"] == "suspended"
    assert db[store.INCIDENTS].get(correction["follow_up_incident_id"])["title"] == "Retrain without the proxy"
    (row,) = portfolio.overview(db, now=now)
    assert row["lights"]["review"] == {"status": "fail", "reason": "suspended at the last review"}


def test_queue_puts_overdue_first_and_says_what_changed(db, example_snapshot, now):
    (entry,) = reviews.review_queue(db, now=now)
    assert entry["light"] == {"status": "fail", "reason": "overdue: last signed never"}
    assert entry["changes"] == ["never reviewed"]
    _sign(db, example_snapshot, now - timedelta(days=7))
    (entry,) = reviews.review_queue(db, now=now)
    assert entry["light"] == {"status": "warn", "reason": "due this week (2026-W48)"}
    assert entry["changes"] == ["nothing changed"]
    (entry,) = reviews.review_queue(db, now=now + timedelta(days=14))
    assert entry["light"]["status"] == "fail" and "overdue" in entry["light"]["reason"]


def test_review_due_cli_exits_1_when_overdue(home, example_snapshot, monkeypatch):
    import json

    from click.testing import CliRunner

    from ethics.cli import cli

    monkeypatch.setenv("ETHICS_HOME", str(home))
    result = CliRunner().invoke(cli, ["review", "due", "--json"])
    assert result.exit_code == 1
    assert [row["model_id"] for row in json.loads(result.output)] == [EXAMPLE_MODEL]


def test_a_suspended_model_stands_out_on_overview_and_model_page(app_db_home, example_snapshot, now):
    from tests.apptest import clear_caches, open_app, open_page

    db, home = app_db_home
    _sign(db, example_snapshot, now, decision="suspend", comment="Proxy bias confirmed.")
    clear_caches()
    at = open_app("olivia")
    assert at.dataframe[0].value["Model"].tolist() == ["⛔ Webinar follow-up priority (suspended)"]
    at = open_page(at, "pages/model.py", model=EXAMPLE_MODEL)
    assert at.error[0].value.startswith("Suspended at the last weekly review")


@pytest.fixture
def app_db_home(db, home, monkeypatch):
    from tests.conftest import add_accounts

    add_accounts(db)
    from tests.apptest import clear_caches

    monkeypatch.setenv("ETHICS_HOME", str(home))
    clear_caches()
    yield db, home
    clear_caches()
