from datetime import timedelta

import pytest

from ethics import audit, incidents, portfolio, store
from ethics.errors import NotFound, PermissionDenied, ValidationError
from tests.conftest import EXAMPLE_MODEL, state_of


@pytest.fixture
def incident(db, registered, now):
    return incidents.open_incident(db, model_id=EXAMPLE_MODEL, severity="high", category="bias",
                                   title="Older leads selected less", description="<script>alert(1)</script>",
                                   reporter="olivia", now=now)


def test_open_sets_the_due_date_from_the_severity(incident, now):
    assert incident["status"] == "open"
    assert incident["due_at"] == (now + timedelta(days=7)).isoformat()
    assert incident["description"] == "<script>alert(1)</script>"  # stored as given


def test_workflow_forward_backward_and_timeline(db, incident, now):
    incidents.update_incident(db, incident["id"], actor="olivia", status="investigating", owner="maria", now=now)
    incidents.update_incident(db, incident["id"], actor="olivia", status="closed", now=now)  # skipping forward is fine
    with pytest.raises(ValidationError, match="from 'closed' back to 'investigating' needs a reason"):
        incidents.update_incident(db, incident["id"], actor="olivia", status="investigating", now=now)
    reopened = incidents.update_incident(db, incident["id"], actor="olivia", status="investigating",
                                         reason="the fix did not hold", now=now)
    incidents.add_comment(db, incident["id"], author="maria", body="Retraining with region removed.", now=now)
    full = incidents.get_incident(db, incident["id"])
    assert reopened["status"] == "investigating" and full["owner"] == "maria"
    assert [e["action"] for e in full["timeline"]] == [
        "incident.opened", "incident.updated", "incident.updated", "incident.updated", "incident.commented"]
    assert full["timeline"][1]["properties"]["changes"] == {"status": "investigating", "owner": "maria"}
    assert full["timeline"][3]["properties"]["reason"] == "the fix did not hold"
    assert [c["body"] for c in full["comments"]] == ["Retraining with region removed."]


def test_severity_change_moves_the_due_date(db, incident, now):
    updated = incidents.update_incident(db, incident["id"], actor="olivia", severity="critical", now=now)
    assert updated["due_at"] == (now + timedelta(days=2)).isoformat()


@pytest.mark.parametrize("fields,message", [
    ({"model_id": "ghost"}, "Unknown model 'ghost'"),
    ({"severity": "urgent"}, "Incident severity 'urgent' is not one of low, medium, high, critical."),
    ({"category": "vibes"}, "Incident category 'vibes' is not one of"),
    ({"title": "   "}, "Incident title is missing."),
    ({"title": "x" * 201}, "at most 200"),
    ({"snapshot_id": 999}, "Unknown snapshot 999"),
])
def test_bad_incidents_are_refused_and_nothing_written(db, home, registered, fields, message):
    before = state_of(home)
    values = {"model_id": EXAMPLE_MODEL, "severity": "low", "category": "bias", "title": "t", "reporter": "o"}
    with pytest.raises((ValidationError, NotFound), match=message):
        incidents.open_incident(db, **(values | fields))
    assert state_of(home) == before


@pytest.mark.parametrize("fields,message", [
    ({"status": "done"}, "Incident status 'done' is not one of"),
    ({}, "nothing to change"),
    ({"severity": "high"}, "nothing to change"),
])
def test_bad_updates_are_refused_and_nothing_written(db, home, incident, fields, message):
    before = state_of(home)
    with pytest.raises(ValidationError, match=message):
        incidents.update_incident(db, incident["id"], actor="o", **fields)
    with pytest.raises(NotFound, match="Unknown incident 77"):
        incidents.update_incident(db, 77, actor="o", status="closed")
    with pytest.raises(ValidationError, match="the comment is empty"):
        incidents.add_comment(db, incident["id"], author="o", body=" ")
    assert state_of(home) == before


def test_overview_light_red_for_critical_or_overdue(db, registered, now):
    incidents.open_incident(db, model_id=EXAMPLE_MODEL, severity="low", category="other", title="minor",
                            reporter="o", now=now)
    (row,) = portfolio.overview(db, now=now)
    assert row["lights"]["incidents"] == {"status": "warn", "reason": "1 open"}
    (row,) = portfolio.overview(db, now=now + timedelta(days=91))
    assert row["lights"]["incidents"]["status"] == "fail" and "1 overdue" in row["lights"]["incidents"]["reason"]


def test_every_write_records_exactly_one_audit_event(db, home, examples, now):
    from ethics import auth, consent, datasets, registry, snapshots, teams

    def count():
        return db[store.AUDIT].count

    steps = [
        # A new team is a record of its own (issue 18: teams are inside the chain), so the registration that
        # would find the example's teams (and the import that finds them in rows) is not also their creation.
        lambda: teams.add_team(db, "north", actor="t", now=now),
        lambda: teams.add_team(db, "south", actor="t", now=now),
        lambda: registry.register_model(db, examples / "manifest.toml", home=home, actor="t", now=now),
        lambda: datasets.import_dataset(db, examples / "eval.csv", kind="eval", model_id=EXAMPLE_MODEL,
                                        version="1.0.0", week="2026-W48", home=home, actor="t", now=now),
        lambda: snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week="2026-W48", home=home, policy={},
                                        actor="t", now=now),
        lambda: consent.record_events(db, [{"event_id": "E1", "customer_id": "C1", "purpose": "ai_scoring",
                                            "status": "granted", "source": "crm", "occurred_at": "2026-01-01"}],
                                      source_name="f.csv", actor="t", now=now),
        lambda: incidents.open_incident(db, model_id=EXAMPLE_MODEL, severity="low", category="other", title="t",
                                        reporter="t", now=now),
        lambda: auth.add_user(db, username="kim", display_name="K", role="auditor", password="x" * 12, actor="t"),
        lambda: auth.set_password(db, "kim", "y" * 12, actor="t"),
        lambda: auth.disable_user(db, "kim", actor="t"),
    ]
    actions = []
    for step in steps:
        before = count()
        step()
        assert count() == before + 1
        actions.append(audit.list_entries(db, limit=1)[0]["action"])
    assert actions == ["team.added", "team.added", "model.registered", "dataset.imported", "snapshot.taken",
                       "consent.imported", "incident.opened", "user.changed", "user.changed", "user.changed"]
    with pytest.raises(PermissionDenied):
        auth.authenticate(db, "kim", "wrong password!")
    assert audit.list_entries(db, limit=1)[0]["properties"] == {"succeeded": False, "reason": "wrong credentials"}
    assert audit.verify(db).ok and audit.verify(db).entries == count()
    assert (home / "audit.head").read_text().split()[0] == str(count())
