"""The results contract: new snapshots are stamped with the schema version, old ones still read and verify."""

import json

import pytest

from ethics import datasets, lights, model_card, reports, results, snapshots, store
from ethics.auth import Actor
from ethics.errors import ValidationError
from tests.apptest import app_on, open_app, open_page
from tests.conftest import DATA, EXAMPLE_MODEL, NOW, add_accounts

OFFICER = Actor("olivia", "Olivia", "ethics_officer")


@pytest.fixture
def old_snapshot(db, home, examples, registered):
    """A snapshot exactly as the code before schema versions wrote it (tests/data/snapshot_v1.json).

    Its inputs name datasets 1 (evaluation set) and 2 (scoring batch) of the example model, imported here
    in that order.
    """
    for kind in ("eval", "scores"):
        datasets.import_dataset(db, examples / f"{kind}.csv", kind=kind, model_id=EXAMPLE_MODEL, version="1.0.0",
                                week="2026-W48", home=home, actor="test", now=NOW)
    stored = json.loads((DATA / "snapshot_v1.json").read_text())
    with store.transaction(db):
        snapshot_id = db[store.SNAPSHOTS].insert({**stored, "created_at": "2026-11-25T09:00:00+00:00",
                                                  "created_by": "old code"}).last_pk
    return snapshot_id, stored


def test_a_snapshot_written_before_schema_versions_still_reads_and_verifies(db, old_snapshot):
    snapshot_id, stored = old_snapshot
    snap = snapshots.get_snapshot(db, snapshot_id)
    assert "schema_version" not in json.loads(stored["results_json"])
    assert (snap["results"]["schema_version"], snap["results"]["outcome"]) == (1, "binary")
    assert snap["results"]["verdicts"] == json.loads(stored["results_json"])["verdicts"]
    assert snapshots.verify_snapshot(db, snapshot_id)  # reading upgraded nothing that the hash covers
    found = lights.model_lights(db, {"id": EXAMPLE_MODEL, "status": "active"}, snap, scope="north", at=NOW)
    assert found["fairness"] == json.loads(stored["summary_json"])["lights"]["fairness"]
    assert found["consent"]["status"] in ("pass", "warn", "fail", "not_evaluated")  # from its results, no team_lights
    card = json.loads(model_card.card_json(reports.model_facts(db, model_id=EXAMPLE_MODEL, actor=OFFICER, now=NOW)))
    assert card["snapshot"]["hash"] == stored["hash"] and card["snapshot"]["verified"] is True


def test_the_model_page_shows_an_old_snapshot(db, home, old_snapshot, monkeypatch):
    add_accounts(db)
    with app_on(home, monkeypatch):
        at = open_page(open_app("olivia"), "pages/model.py", model=EXAMPLE_MODEL)
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert any(old_snapshot[1]["hash"] in c.value for c in at.caption)


def test_a_new_snapshot_is_stamped(example_snapshot):
    assert example_snapshot["results"]["schema_version"] == results.SCHEMA_VERSION == 2
    assert example_snapshot["results"]["outcome"] == "binary"
    results.check(example_snapshot["results"])


@pytest.mark.parametrize("stored,message", [
    ([], "Snapshot results must be a JSON object, got list."),
    ({"schema_version": 99}, "Snapshot results have schema version 99, newer than this ethics (2): upgrade ethics to "
                             "read them."),
    ({"verdicts": {}}, "Snapshot results: section 'verdicts' must be list, got dict."),
    ({"threshold": "0.4"}, "Snapshot results: section 'threshold' must be int or float, got str."),
])
def test_results_of_the_wrong_shape_are_refused(stored, message):
    with pytest.raises(ValidationError) as raised:
        results.read(stored)
    assert str(raised.value) == message
