"""Lead lookup, contest and override on a copy of the demo: team scoping on the server, audit, bad input."""

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from ethics import audit, consent, datasets, incidents, leads, registry, snapshots, store
from ethics.auth import Actor
from ethics.errors import NotFound, PermissionDenied, ValidationError
from tests.conftest import EXAMPLE_MODEL, EXAMPLE_VERSION, NOW, WEEK, default_policy, state_of

OFFICER = Actor("olivia", "Olivia", "ethics_officer")
AUDITOR = Actor("aude", "Aude", "auditor")
NORTH = Actor("sm.north", "North", "sales_manager", "north")
SOUTH = Actor("sm.south", "South", "sales_manager", "south")


@pytest.fixture(scope="module")
def lead_home(demo_home, tmp_path_factory):
    home = tmp_path_factory.mktemp("leads") / "home"
    shutil.copytree(demo_home, home)
    return home


@pytest.fixture
def ldb(lead_home):
    database = store.open_db(lead_home / "ethics.db")
    store.migrate(database)
    yield database
    database.close()


def _batch(db, home, model_id="lead-scoring"):
    snap = snapshots.latest_snapshot(db, model_id)
    dataset = store.get_row(db, store.DATASETS, snap["inputs"]["scores"]["dataset_id"], message="x")
    return snap, datasets.read_rows(dataset, home=home)


def _lead_of(batch, team):
    return batch[batch["team"] == team]["lead_id"].iloc[0]


def test_officer_finds_a_lead_with_score_decision_reasons_and_consent(ldb, lead_home):
    snap, batch = _batch(ldb, lead_home)
    row = batch.iloc[3]
    (found,) = leads.find_leads(ldb, home=lead_home, model_id="lead-scoring", query=row["lead_id"], team=None)
    assert (found["score"], found["team"], found["customer_id"]) == (row["score"], row["team"], row["customer_id"])
    assert found["decision"] == ("selected" if row["score"] >= 0.4 else "not selected")
    assert found["snapshot_id"] == snap["id"] and found["version"] == "2.3.0"
    assert found["explanation"]["available"] and found["explanation"]["output_space"] == "log-odds"
    assert found["consent"] == {"purpose": "ai_scoring", "at": found["consent"]["at"],
                                **consent.status_at(ldb, customer_id=row["customer_id"], purpose="ai_scoring",
                                                    at=found["consent"]["at"])}


def test_consent_status_at_matches_a_plain_walk_over_the_events(ldb):
    events = pd.DataFrame(store.list_rows(ldb, store.CONSENT_EVENTS, "purpose = 'ai_scoring'"))
    changed = events[events["status"] != "granted"]["customer_id"].iloc[:5].tolist()
    for customer in [*changed, "C999999"]:
        for at in ("2026-10-01T00:00:00+00:00", "2026-11-25T00:00:00+00:00"):
            mine = events[(events["customer_id"] == customer) & (events["occurred_at"] <= at)]
            expected = "none"
            for _, event in mine.sort_values(["occurred_at", "id"]).iterrows():
                expected = event["status"]
            assert consent.status_at(ldb, customer_id=customer, purpose="ai_scoring", at=at)["status"] == expected


def test_typed_crm_id_and_name_find_the_leads_stored_under_the_pseudonym(ldb, lead_home):
    _, batch = _batch(ldb, lead_home)
    pseudonym = batch[batch["team"] == "north"]["customer_id"].value_counts().index[0]
    assert pseudonym.startswith("p-")
    (details,) = store.list_rows(ldb, store.CUSTOMERS, "pseudonym = ?", [pseudonym])
    namesakes = {row["pseudonym"] for row in store.list_rows(ldb, store.CUSTOMERS) if row["name"] == details["name"]}
    north = batch[batch["team"] == "north"]
    for typed, customers in ((details["customer_ref"], {pseudonym}), (f" {details['name'].upper()} ", namesakes)):
        found = leads.find_leads(ldb, home=lead_home, model_id="lead-scoring", query=typed, team="north")
        assert sorted(f["lead_id"] for f in found) == sorted(north[north["customer_id"].isin(customers)]["lead_id"])
    assert {(f["customer_ref"], f["customer_name"]) for f in found if f["customer_id"] == pseudonym} == {
        (details["customer_ref"], details["name"])}


def test_customer_id_finds_every_lead_of_the_customer(ldb, lead_home):
    _, batch = _batch(ldb, lead_home)
    counts = batch[batch["team"] == "north"]["customer_id"].value_counts()
    customer = counts.index[0]
    found = leads.find_leads(ldb, home=lead_home, model_id="lead-scoring", query=f" {customer} ", team="north")
    assert sorted(f["lead_id"] for f in found) == sorted(
        batch[(batch["customer_id"] == customer) & (batch["team"] == "north")]["lead_id"])


def test_a_sales_manager_never_receives_another_teams_lead(ldb, lead_home):
    _, batch = _batch(ldb, lead_home)
    south_lead = _lead_of(batch, "south")  # scored by the north team's model, but the lead is south's
    with pytest.raises(PermissionDenied, match=f"{south_lead!r} is not a lead or customer of team 'north'"):
        leads.find_leads(ldb, home=lead_home, model_id="lead-scoring", query=south_lead, team="north")
    with pytest.raises(PermissionDenied, match="is not a lead or customer of team 'north'"):
        leads.find_leads(ldb, home=lead_home, model_id="lead-scoring", query="LS-0000-nothing", team="north")
    # The north-owned model scores south's leads too: south's manager finds them (and only them).
    (found,) = leads.find_leads(ldb, home=lead_home, model_id="lead-scoring", query=south_lead, team="south")
    assert found["team"] == "south" and found["lead_id"] == south_lead
    (found,) = leads.find_leads(ldb, home=lead_home, model_id="lead-scoring", query=south_lead, team=None)
    assert found["team"] == "south"


@pytest.mark.parametrize("model_id,query,error,message", [
    ("lead-scoring", "LS-2026W48-999999", NotFound,
     "No lead or customer 'LS-2026W48-999999' in the scoring batch of lead-scoring for 2026-W48."),
    ("lead-scoring", "   ", ValidationError, "Type a lead id or a customer id"),
    ("ghost", "x", NotFound, "Unknown model 'ghost'"),
])
def test_bad_lookups_say_what_is_wrong(ldb, lead_home, model_id, query, error, message):
    with pytest.raises(error, match=message):
        leads.find_leads(ldb, home=lead_home, model_id=model_id, query=query, team=None)


def _scores_only_example(db, home, examples, now):
    """The example model as a vendor's yes/no model (scores only), with one week and its snapshot.

    The demo's vendor model decides an amount now, so the lookup's scores-only case needs its own model.
    """
    manifest = examples / "manifest.toml"
    text = manifest.read_text()
    manifest.write_text(re.sub(r'kind = "linear".*\nfile = "model.json".*\n', 'kind = "none"\n', text))
    registry.register_model(db, manifest, home=home, actor="test", now=now)
    for kind in ("eval", "scores"):
        frame = pd.read_csv(examples / f"{kind}.csv", dtype={"lead_id": str, "customer_id": str})
        frame["score"] = np.round(np.linspace(0.05, 0.95, len(frame)), 4)
        datasets.import_frame(db, frame, name=f"{kind}.parquet", kind=kind, model_id=EXAMPLE_MODEL,
                              version=EXAMPLE_VERSION, week=WEEK, home=home, actor="test", now=now)
    snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home, policy=default_policy(), actor="test",
                            now=now)
    return frame


def test_scores_only_and_sampled_snapshots_show_the_score_without_reasons(ldb, lead_home, db, home, examples, now):
    batch = _scores_only_example(db, home, examples, now)
    (found,) = leads.find_leads(db, home=home, model_id=EXAMPLE_MODEL, query=batch["lead_id"].iloc[0], team=None)
    assert found["score"] == batch["score"].iloc[0]
    assert found["explanation"] == {"available": False, "message": "No explanation available: scores-only model: "
                                                                   "no artifact to explain."}
    with pytest.raises(ValidationError, match="Model 'discount-size' decides an amount, not a yes/no score"):
        leads.find_leads(ldb, home=lead_home, model_id="discount-size", query="DS-2026W48-000001", team=None)
    older = snapshots.latest_snapshot(ldb, "lead-scoring", week="2026-W47")
    (found,) = leads.find_leads(ldb, home=lead_home, model_id="lead-scoring", query="LS-2026W47-000001", team=None,
                                snapshot_id=older["id"])
    assert not found["explanation"]["available"] and "only for a sample" in found["explanation"]["message"]


def test_contesting_a_score_opens_an_incident_linked_to_lead_version_and_snapshot(ldb, lead_home):
    snap, batch = _batch(ldb, lead_home)
    lead_id = _lead_of(batch, "north")
    incident = leads.contest_score(ldb, home=lead_home, actor=NORTH, model_id="lead-scoring", snapshot_id=snap["id"],
                                   lead_id=lead_id, reason="The customer asked for a call last week.", now=NOW)
    stored = incidents.get_incident(ldb, incident["id"])
    assert (stored["lead_id"], stored["snapshot_id"], stored["version"]) == (lead_id, snap["id"], "2.3.0")
    assert (stored["category"], stored["reporter"], stored["status"]) == ("customer_complaint", "sm.north", "open")
    assert stored["description"].startswith("The customer asked for a call last week.")
    assert "Reasons shown:" in stored["description"]
    assert stored["timeline"][0]["action"] == "incident.opened"
    with pytest.raises(PermissionDenied, match="may not open incident"):
        leads.contest_score(ldb, home=lead_home, actor=AUDITOR, model_id="lead-scoring", snapshot_id=snap["id"],
                            lead_id=lead_id, reason="x")


def test_override_is_recorded_audited_and_counted_in_the_rate(ldb, lead_home):
    snap, batch = _batch(ldb, lead_home)
    lead_id = _lead_of(batch, "north")
    score = float(batch.set_index("lead_id").loc[lead_id, "score"])
    model_decision = "selected" if score >= 0.4 else "not selected"
    other = "not selected" if model_decision == "selected" else "selected"
    row = leads.override_decision(ldb, home=lead_home, actor=NORTH, model_id="lead-scoring", snapshot_id=snap["id"],
                                  lead_id=lead_id, decision=other, reason="Met them at the fair.", now=NOW)
    assert (row["model_decision"], row["decision"], row["team"], row["actor"]) == (model_decision, other, "north",
                                                                                   "sm.north")
    entry = audit.list_entries(ldb, object_type="override", object_id=str(row["id"]))[0]
    assert entry["action"] == "decision.overridden"
    assert entry["properties"] == {"model_id": "lead-scoring", "snapshot_id": snap["id"], "lead_id": lead_id,
                                   "model_decision": model_decision, "decision": other,
                                   "reason": "Met them at the fair."}
    assert audit.verify(ldb).ok
    (found,) = leads.find_leads(ldb, home=lead_home, model_id="lead-scoring", query=lead_id, team="north")
    assert found["override"]["id"] == row["id"]
    rates = {r["team"]: r for r in leads.override_rates(ldb, snap, home=lead_home)}
    north = int((batch["team"] == "north").sum())
    assert rates["north"]["leads"] == north and rates["north"]["overrides"] >= 1
    assert rates["north"]["override_rate"] == pytest.approx(rates["north"]["overrides"] / north)
    assert [r["team"] for r in leads.override_rates(ldb, snap, home=lead_home, team="north")] == ["north"]
    assert leads.list_overrides(ldb, model_id="lead-scoring", team="north")[0]["lead_id"] == lead_id


def test_bad_overrides_are_refused_and_write_nothing(ldb, lead_home):
    snap, batch = _batch(ldb, lead_home)
    lead_id = _lead_of(batch, "north")
    (found,) = leads.find_leads(ldb, home=lead_home, model_id="lead-scoring", query=lead_id, team=None)
    other = next(d for d in leads.DECISIONS if d != found["decision"])
    common = {"home": lead_home, "model_id": "lead-scoring", "snapshot_id": snap["id"], "lead_id": lead_id}
    before = state_of(lead_home)
    cases = [
        (dict(actor=NORTH, decision=found["decision"], reason="r"), ValidationError, "the model already decided"),
        (dict(actor=NORTH, decision=other, reason="  "), ValidationError, "give the reason for the override"),
        (dict(actor=NORTH, decision="maybe", reason="r"), ValidationError, "'maybe' is not one of selected"),
        (dict(actor=AUDITOR, decision=other, reason="r"), PermissionDenied, "may not override decisions"),
        (dict(actor=SOUTH, decision=other, reason="r"), PermissionDenied,
         f"{lead_id!r} is not a lead or customer of team 'south'"),
    ]
    for arguments, error, message in cases:
        with pytest.raises(error, match=message):
            leads.override_decision(ldb, **common, **arguments)
    south_lead = _lead_of(batch, "south")
    with pytest.raises(PermissionDenied, match="is not a lead or customer of team 'north'"):
        leads.override_decision(ldb, **{**common, "lead_id": south_lead}, actor=NORTH, decision=other, reason="r")
    assert state_of(lead_home) == before


def test_a_lead_is_overridden_once_per_snapshot(ldb, lead_home):
    snap, batch = _batch(ldb, lead_home, "churn-risk")
    lead_id = _lead_of(batch, "south")
    (found,) = leads.find_leads(ldb, home=lead_home, model_id="churn-risk", query=lead_id, team="south")
    other = next(d for d in leads.DECISIONS if d != found["decision"])
    first = leads.override_decision(ldb, home=lead_home, actor=SOUTH, model_id="churn-risk", snapshot_id=snap["id"],
                                    lead_id=lead_id, decision=other, reason="Renewal signed yesterday.")
    with pytest.raises(ValidationError, match=f"already overridden in snapshot {snap['id']} \\(override "
                                              f"{first['id']}\\)"):
        leads.override_decision(ldb, home=lead_home, actor=OFFICER, model_id="churn-risk", snapshot_id=snap["id"],
                                lead_id=lead_id, decision=other, reason="again")
    assert registry.get_model(ldb, "churn-risk")["team"] == "south"
