"""Team scope in the services, idempotent writes and suspension, on a private copy of the demo."""

import json

import pytest
from click.testing import CliRunner

from ethics import auth, consent, incidents, leads, registry, reviews, snapshots, store, teams
from ethics.auth import Actor
from ethics.cli import cli
from ethics.errors import PermissionDenied, ValidationError
from tests.conftest import NOW, copy_demo, state_of

OFFICER = Actor("olivia", "Olivia", "ethics_officer")
NORTH = Actor("sm.north", "North", "sales_manager", "north")
SOUTH = Actor("sm.south", "South", "sales_manager", "south")
ALL_TICKED = dict.fromkeys(reviews.CHECKLIST, True)


@pytest.fixture
def scope_home(demo_home, tmp_path):
    return copy_demo(demo_home, tmp_path / "home")


@pytest.fixture
def sdb(scope_home):
    database = store.open_db(scope_home / "ethics.db")
    yield database
    database.close()


def _south_lead(db, home, model_id="lead-scoring"):
    snap = snapshots.latest_snapshot(db, model_id)
    frame, _ = leads.lead_rows(db, snap, home=home)
    return snap, frame[frame["team"] == "south"]["lead_id"].iloc[0]


def test_every_team_sees_the_models_that_score_its_leads(sdb):
    owners = {m["id"]: m["team"] for m in registry.list_models(sdb)}
    assert owners["lead-scoring"] == "north"
    for team in ("north", "south", "west"):
        assert [m["id"] for m in registry.list_models(sdb, scope=team)] == sorted(owners)
        assert registry.visible_model(sdb, "lead-scoring", scope=team)["team"] == "north"
    with pytest.raises(PermissionDenied, match="scores no leads of team 'east'"):
        registry.visible_model(sdb, "lead-scoring", scope="east")
    assert teams.list_teams(sdb) == ["north", "south", "west"]


def test_south_manager_looks_up_contests_and_is_refused_twice(sdb, scope_home):
    snap, lead_id = _south_lead(sdb, scope_home)
    common = {"home": scope_home, "model_id": "lead-scoring", "snapshot_id": snap["id"], "lead_id": lead_id}
    (found,) = leads.find_leads(sdb, home=scope_home, model_id="lead-scoring", query=lead_id, team="south")
    assert found["team"] == "south" and found["contest"] is None and found["suspended"] is None
    opened = leads.contest_score(sdb, actor=SOUTH, reason="The customer called.", now=NOW, **common)
    finding = f"contest:{snap['id']}:{lead_id}"
    assert (opened["team"], opened["lead_id"], opened["finding"]) == ("south", lead_id, finding)
    before = state_of(scope_home)
    with pytest.raises(ValidationError) as raised:
        leads.contest_score(sdb, actor=SOUTH, reason="The customer called.", now=NOW, **common)
    assert str(raised.value) == incidents.ALREADY_REPORTED.format(
        incident_id=opened["id"], status="open", opened=opened["opened_at"][:10], reporter="sm.south",
        finding=f"contest:{snap['id']}:{lead_id}")
    assert state_of(scope_home) == before
    (again,) = leads.find_leads(sdb, home=scope_home, model_id="lead-scoring", query=lead_id, team="south")
    assert again["contest"]["id"] == opened["id"]
    # The contest is south's: north's manager never receives it, the officer does.
    assert opened["id"] in [i["id"] for i in incidents.list_incidents(sdb, scope="south")]
    assert opened["id"] not in [i["id"] for i in incidents.list_incidents(sdb, scope="north")]
    assert opened["id"] in [i["id"] for i in incidents.list_incidents(sdb)]
    with pytest.raises(PermissionDenied, match=f"incident {opened['id']} is not about team 'north'"):
        incidents.get_incident(sdb, opened["id"], scope="north")


def test_a_manager_reports_the_team_violations_once(sdb, scope_home):
    snap = snapshots.latest_snapshot(sdb, "lead-scoring")
    mine = consent.list_violations(sdb, model_id="lead-scoring", week=snap["week"], home=scope_home, team="north")
    everyone = consent.list_violations(sdb, model_id="lead-scoring", week=snap["week"], home=scope_home)
    assert mine and len(mine) < len(everyone) and {r["team"] for r in mine} == {"north"}
    # The demo's officer incident about violations is open: it covers the whole model, so nobody files another.
    demo = incidents.reported(sdb, model_id="lead-scoring", finding=consent.VIOLATIONS_FINDING, team="north")
    assert demo is not None and demo["team"] is None
    before = state_of(scope_home)
    with pytest.raises(ValidationError, match=f"Already reported: incident {demo['id']} \\(open"):
        consent.open_violations_incident(sdb, model_id="lead-scoring", week=snap["week"], home=scope_home,
                                         reporter="sm.north", scope="north", now=NOW)
    assert state_of(scope_home) == before
    incidents.update_incident(sdb, demo["id"], actor="olivia", status="closed", now=NOW)
    opened = consent.open_violations_incident(sdb, model_id="lead-scoring", week=snap["week"], home=scope_home,
                                              reporter="sm.north", scope="north", now=NOW)
    assert opened["team"] == "north" and opened["title"] == f"{len(mine)} leads of team north scored without " \
                                                            f"consent in {snap['week']}"
    south_ids = {r["lead_id"] for r in everyone if r["team"] != "north"}
    assert not any(lead in opened["description"] for lead in south_ids)
    assert mine[0]["lead_id"] in opened["description"]
    with pytest.raises(ValidationError, match=f"Already reported: incident {opened['id']}"):
        consent.open_violations_incident(sdb, model_id="lead-scoring", week=snap["week"], home=scope_home,
                                         reporter="sm.north", scope="north", now=NOW)


def test_the_routing_list_of_a_north_owned_model_reaches_south(sdb, scope_home):
    rows = consent.list_human_routing(sdb, home=scope_home, scope="south", at=NOW)
    in_lead_scoring = [r for r in rows if "(lead-scoring)" in r["leads"]]
    assert in_lead_scoring and {r["team"] for r in rows} == {"south"}
    everyone = consent.list_human_routing(sdb, home=scope_home, at=NOW)
    assert {r["customer"] for r in everyone if r["team"] == "south"} == {r["customer"] for r in rows}


def test_coverage_for_a_manager_is_the_team_row():
    found = {"purpose": "ai_scoring", "scored": 10, "covered": 7, "coverage": 0.7, "without_consent": 3,
             "after_withdrawal": 1, "after_objection": 1, "violations": 3, "human_routing": 2,
             "by_team": [{"team": "north", "scored": 4, "covered": 4, "coverage": 1.0, "without_consent": 0,
                          "after_withdrawal": 0, "after_objection": 0},
                         {"team": "south", "scored": 6, "covered": 3, "coverage": 0.5, "without_consent": 3,
                          "after_withdrawal": 1, "after_objection": 1}],
             "fairness_consented": {"rows": {"scores": 7}, "verdicts": [], "sampling": []}}
    north = consent.coverage_for(found, scope="north")
    assert (north["scored"], north["coverage"], north["without_consent"], north["human_routing"]) == (4, 1.0, 0, None)
    assert [r["team"] for r in north["by_team"]] == ["north"]
    assert "rows" not in north["fairness_consented"]
    assert consent.coverage_for(found, scope=None) == found
    assert consent.coverage_for(found, scope="west")["scored"] == 0


def _suspend(db, model_id):
    snap = snapshots.latest_snapshot(db, model_id)
    return reviews.sign_review(db, model_id=model_id, snapshot_hash=snap["hash"], decision="suspend",
                               checklist=ALL_TICKED, reviewer="olivia", comment="Bias confirmed.", now=NOW)


def test_a_suspended_model_says_so_first_and_refuses_overrides(sdb, scope_home):
    review = _suspend(sdb, "lead-scoring")
    snap, lead_id = _south_lead(sdb, scope_home)
    (found,) = leads.find_leads(sdb, home=scope_home, model_id="lead-scoring", query=lead_id, team="south")
    expected = (f"Lead scoring is suspended since {review['signed_at'][:10]} (review {review['id']}): its decisions "
                "must not be used until a new review approves it.")
    assert found["suspended"]["text"] == expected
    before = state_of(scope_home)
    with pytest.raises(ValidationError) as raised:
        leads.override_decision(sdb, home=scope_home, actor=SOUTH, model_id="lead-scoring", snapshot_id=snap["id"],
                                lead_id=lead_id, decision="selected", reason="Known account.", now=NOW)
    assert str(raised.value) == leads.SUSPENDED_OVERRIDE.format(lead_id=lead_id, suspended=expected)
    assert state_of(scope_home) == before
    # Contesting stays possible.
    assert leads.contest_score(sdb, home=scope_home, actor=SOUTH, model_id="lead-scoring", snapshot_id=snap["id"],
                               lead_id=lead_id, reason="Wrong.", now=NOW)["team"] == "south"
    routed = consent.list_human_routing(sdb, home=scope_home, scope="south", at=NOW)
    assert any("(lead-scoring, suspended)" in r["leads"] for r in routed)
    assert consent.violations_csv([], note=expected).splitlines()[0] == expected


def test_cli_explain_and_exports_say_suspended_first(sdb, scope_home, monkeypatch):
    _suspend(sdb, "lead-scoring")
    _, lead_id = _south_lead(sdb, scope_home)
    monkeypatch.setenv("ETHICS_HOME", str(scope_home))
    runner = CliRunner()
    result = runner.invoke(cli, ["--as", "sm.south", "explain", "--model", "lead-scoring", "--lead", lead_id])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("SUSPENDED: Lead scoring is suspended since ")
    week = snapshots.latest_snapshot(sdb, "lead-scoring")["week"]
    result = runner.invoke(cli, ["--as", "sm.south", "consent", "violations", "--model", "lead-scoring",
                                 "--week", week])
    assert result.output.startswith("Lead scoring is suspended since ")
    out = scope_home.parent / "card.json"
    result = runner.invoke(cli, ["--as", "sm.south", "report", "--model", "lead-scoring", "--format", "json",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    card = json.loads(out.read_text())
    assert card["suspended"]["text"].startswith("Lead scoring is suspended since ")
    assert card["lights"]["review"] == {"status": "fail", "reason": "suspended at the last review"}


def test_cli_as_a_manager_is_scoped_and_refused_operator_commands(scope_home, sdb, monkeypatch):
    monkeypatch.setenv("ETHICS_HOME", str(scope_home))
    runner = CliRunner()
    _, south_lead = _south_lead(sdb, scope_home)
    result = runner.invoke(cli, ["--as", "sm.north", "explain", "--model", "lead-scoring", "--lead", south_lead])
    assert result.exit_code == 2
    assert f"Not allowed: {south_lead!r} is not a lead or customer of team 'north'" in result.output
    for command in (["snapshot", "--model", "lead-scoring"], ["teams", "add", "east"], ["audit", "verify"],
                    ["dsr", "export", "--customer", "C000001"], ["review", "due"]):
        before = state_of(scope_home)
        result = runner.invoke(cli, ["--as", "sm.north", *command])
        assert result.exit_code == 2 and "Not allowed: a sales manager may not" in result.output, command
        assert state_of(scope_home) == before
    routing = json.loads(runner.invoke(cli, ["--as", "sm.north", "consent", "routing", "--json"]).output)
    assert routing and {r["team"] for r in routing} == {"north"}
    result = runner.invoke(cli, ["--as", "sm.north", "consent", "routing", "--team", "south"])
    assert result.exit_code == 2 and "sees only the team's customers" in result.output


def test_an_account_needs_an_existing_team(fresh_db):
    with pytest.raises(ValidationError) as raised:
        auth.add_user(fresh_db, username="sm.nort", display_name="Typo", role="sales_manager", team="nort",
                      password="a long enough passphrase", actor="olivia")
    assert str(raised.value) == teams.UNKNOWN_TEAM.format(name="nort", known="none yet")
    teams.add_team(fresh_db, "north", actor="olivia")
    with pytest.raises(ValidationError, match="Team 'north' exists already."):
        teams.add_team(fresh_db, "north", actor="olivia")
    with pytest.raises(ValidationError, match="Team name 'North Team' must be"):
        teams.add_team(fresh_db, "North Team", actor="olivia")
    assert auth.add_user(fresh_db, username="sm.north", display_name="N", role="sales_manager", team="north",
                         password="a long enough passphrase", actor="olivia").team == "north"


def test_disabling_needs_confirmation_and_writes_nothing_without_it(sdb, scope_home):
    before = state_of(scope_home)
    with pytest.raises(ValidationError, match="was not disabled: tick the confirmation first"):
        auth.disable_user(sdb, "sm.south", actor="olivia", confirmed=False)
    with pytest.raises(ValidationError, match="Choose the account to disable"):
        auth.disable_user(sdb, "", actor="olivia")
    assert state_of(scope_home) == before


def test_a_failing_finding_is_drafted_and_reported_once(sdb, scope_home):
    snap = snapshots.get_snapshot(sdb, snapshots.latest_snapshot(sdb, "lead-scoring")["id"])
    found = snap["summary"]["lights"]
    drafts = [d["incident"] for d in incidents.finding_drafts(snap, found)]
    failing = [v for v in snap["results"]["verdicts"] if v["status"] == "fail"]
    assert failing, "the demo's lead model fails the four-fifths rule"
    # The demo's own bias incident reports the evaluation set's age-band selection-rate ratio already.
    demo = incidents.reported(sdb, model_id="lead-scoring", finding="fairness:eval:age_band:demographic_parity_ratio",
                              team="north")
    assert demo is not None and demo["category"] == "bias"
    verdict = next(v for v in failing if (v["data"], v["grouping"]) == ("scores", "age_band"))
    first = next(d for d in drafts
                 if d["finding"] == f"fairness:{verdict['data']}:{verdict['grouping']}:{verdict['metric']}")
    assert (first["model_id"], first["snapshot_id"], first["severity"], first["category"]) == (
        "lead-scoring", snap["id"], "high", "bias")
    assert len(drafts) == sum(v["status"] in ("fail", "warn") for v in snap["results"]["verdicts"]) + sum(
        found[area]["status"] == "fail" for area in ("drift", "explanations", "consent"))
    assert first["title"].startswith(f"Fairness {verdict['status']} in {snap['week']}: ")
    assert first["description"].startswith(verdict["sentence"]) and snap["hash"][:12] in first["description"]
    opened = incidents.open_incident(sdb, **first, reporter="sm.north", team="north", now=NOW)
    assert opened["finding"] == first["finding"] and opened["snapshot_id"] == snap["id"]
    before = state_of(scope_home)
    with pytest.raises(ValidationError, match=f"Already reported: incident {opened['id']} \\(open"):
        incidents.open_incident(sdb, **first, reporter="sm.north", team="north", now=NOW)
    assert state_of(scope_home) == before
    # Another team may report the same finding for its own leads; the officer's whole-model report would cover all.
    assert incidents.open_incident(sdb, **first, reporter="sm.south", team="south", now=NOW)["team"] == "south"
