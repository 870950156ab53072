"""Nothing of another team reaches a sales manager: every page, tab, download and CLI command, byte by byte.

The demo's models score leads of every team (lead-scoring is north's and scores south's and
west's leads).  The home gets records that name other teams' leads too: south's contest and
override of a lead-scoring lead, south's violations incident, the officer's incident about a
south lead.  Everything delivered to sm.north (the page's whole element tree, every file a
download button makes, every CLI output) is searched for any lead id, customer id, pseudonym
or customer name of another team, and every table with a ``team`` column for another team's row.
"""

import io
import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from ethics import consent, datasets, incidents, leads, model_card, portfolio, registry, report_rows, reports, store
from ethics.auth import Actor
from ethics.cli import cli
from ethics.errors import PermissionDenied
from tests.apptest import app_on, open_app, open_page, shown
from tests.conftest import NOW, copy_demo

NORTH = Actor("sm.north", "sm.north", "sales_manager", "north")
SOUTH = Actor("sm.south", "sm.south", "sales_manager", "south")
PAGES = ["pages/overview.py", "pages/model.py", "pages/fairness.py", "pages/leads.py", "pages/incidents.py",
         "pages/consent.py", "pages/reports.py"]
_TOKENS = re.compile(r"[A-Z]{2}-\d{4}W\d{2}-\d{6}|p-[0-9a-f]{32}|C\d{6}")


@pytest.fixture(scope="module")
def leak_home(demo_home, tmp_path_factory):
    home = copy_demo(demo_home, tmp_path_factory.mktemp("leaks") / "home")
    db = store.open_db(home / "ethics.db")
    models = [m["id"] for m in registry.list_models(db)]
    # Records about other teams' leads, written the way the app writes them.
    for model_id in ("lead-scoring", "churn-risk"):
        snap, south_lead = _lead(db, home, model_id, "south")
        leads.contest_score(db, home=home, actor=SOUTH, model_id=model_id, snapshot_id=snap["id"],
                            lead_id=south_lead, reason="The customer called us.", now=NOW)
        (found,) = leads.find_leads(db, home=home, model_id=model_id, query=south_lead, team="south")
        other = next(d for d in leads.DECISIONS if d != found["decision"])
        leads.override_decision(db, home=home, actor=SOUTH, model_id=model_id, snapshot_id=snap["id"],
                                lead_id=south_lead, decision=other, reason="Known account.", now=NOW)
    demo_violations = incidents.reported(db, model_id="lead-scoring", finding=consent.VIOLATIONS_FINDING, team=None)
    incidents.update_incident(db, demo_violations["id"], actor="olivia", status="closed", now=NOW)
    snap, _ = _lead(db, home, "lead-scoring", "south")
    consent.open_violations_incident(db, model_id="lead-scoring", week=snap["week"], home=home, reporter="sm.south",
                                     scope="south", now=NOW)
    _, west_lead = _lead(db, home, "upsell-propensity", "west")
    incidents.open_incident(db, model_id="upsell-propensity", severity="high", category="privacy",
                            title=f"Lead {west_lead} was called after an objection", reporter="olivia",
                            lead_id=west_lead, team="west", now=NOW)
    forbidden = _forbidden(db, home)
    north_leads = {model_id: _lead(db, home, model_id, "north")[1] for model_id in models}
    explained = {model_id: _explained(db, home, model_id) for model_id in models}
    db.close()
    return {"home": home, "models": models, "forbidden": forbidden, "north_leads": north_leads,
            "explained": explained}


def _explained(db, home, model_id):
    """How many of the latest snapshot's explained leads are north's, and how many there are in all."""
    from ethics import snapshots

    frame = leads.explained_leads(db, snapshots.latest_snapshot(db, model_id), home=home, scope=None)
    return None if frame is None else (int((frame["team"] == "north").sum()), len(frame))


def _lead(db, home, model_id, team):
    from ethics import snapshots

    snap = snapshots.latest_snapshot(db, model_id)
    frame, _ = leads.lead_rows(db, snap, home=home)
    return snap, str(frame[frame["team"] == team]["lead_id"].iloc[0])


def _forbidden(db, home):
    """Lead ids, pseudonyms, CRM ids and names that belong to other teams only."""
    frames = [datasets.read_rows(d, home=home)[["lead_id", "customer_id", "team"]]
              for d in store.list_rows(db, store.DATASETS) if d["kind"] in datasets.KINDS]
    rows = pd.concat(frames, ignore_index=True)
    north = rows["team"] == "north"
    north_customers = set(rows.loc[north, "customer_id"])
    customers = set(rows.loc[~north, "customer_id"]) - north_customers
    known = {r["pseudonym"]: r for r in store.list_rows(db, store.CUSTOMERS)}
    north_names = {known[p]["name"] for p in north_customers if p in known}
    # An evaluation set and a scoring batch of a week may use the same lead id for different people: an id
    # that is a north lead anywhere is not searched for.
    other_leads = set(rows.loc[~north, "lead_id"]) - set(rows.loc[north, "lead_id"])
    return {
        "tokens": other_leads | customers | {known[p]["customer_ref"] for p in customers if p in known},
        "names": {known[p]["name"] for p in customers if p in known and known[p]["name"]} - north_names,
    }


def _leaks(text, forbidden):
    found = {token for token in _TOKENS.findall(text) if token in forbidden["tokens"]}
    return sorted(found | {name for name in forbidden["names"] if name in text})


def _tree_text(at):
    """Every element the page sent: each proto as text (Markdown escapes undone), and each table as CSV."""
    # The text format doubles a backslash; undone, then ui.escape's escapes, so an escaped lead id still matches.
    parts = [shown(str(getattr(node, "proto", "")).replace("\\\\", "\\")) for node in at._tree]
    parts += [frame.value.to_csv() for frame in at.dataframe]
    return "\n".join(parts)


def _team_rows(frames):
    """Values of every ``team`` column of the page's tables (None: an incident about the whole model)."""
    return {str(value) for frame in frames if "team" in frame.columns for value in frame["team"]
            if value is not None and not pd.isna(value)}


@pytest.fixture
def north_app(leak_home, monkeypatch):
    with app_on(leak_home["home"], monkeypatch):
        yield leak_home


def _check_page(at, forbidden, where):
    assert not at.exception, (where, [e.message for e in at.exception])
    assert _leaks(_tree_text(at), forbidden) == [], where
    assert _team_rows([f.value for f in at.dataframe]) <= {"north", "the whole model"}, where


@pytest.mark.parametrize("page", PAGES)
def test_no_page_sends_another_teams_rows_to_a_manager(north_app, page):
    forbidden = north_app["forbidden"]
    at = open_app("sm.north")
    models = north_app["models"] if page not in ("pages/overview.py", "pages/incidents.py") else [None]
    for model_id in models:
        at = open_page(at, page, **({"model": model_id} if model_id else {}))
        _check_page(at, forbidden, (page, model_id))
        if page == "pages/model.py" and north_app["explained"][model_id]:
            _check_points(at, *north_app["explained"][model_id], where=model_id)
        if page == "pages/leads.py":
            # A north lead shows its card; every tab's and card's content is in the tree.
            box = next(t for t in at.text_input if t.label == "Lead id, customer id or name")
            box.input(north_app["north_leads"][model_id]).run()
            _check_page(at, forbidden, (page, model_id, "card"))
        if page == "pages/incidents.py":
            choices = next(s for s in at.selectbox if s.label == "Incident").options
            assert choices, "sm.north sees no incident at all"
            for choice in choices:
                next(s for s in at.selectbox if s.label == "Incident").set_value(int(choice.split(" · ")[0])).run()
                _check_page(at, forbidden, (page, choice))


def _check_points(at, north, everyone, *, where):
    """The beeswarm and the dependence plot draw the team's leads only (SHAP points carry no id to search for)."""
    frames = [f.value for f in at.dataframe]
    dependence = [f for f in frames if {"band", "leads", "mean_shap"} <= set(f.columns) or
                  {"lowest", "highest", "leads", "mean_shap"} <= set(f.columns)]
    beeswarm = [f for f in frames if {"label", "leads", "min_shap"} <= set(f.columns)]
    assert north < everyone, where
    assert dependence and all(int(f["leads"].sum()) == north for f in dependence), where
    assert beeswarm and all(int(f["leads"].max()) <= min(north, 1000) for f in beeswarm), where


def test_a_manager_looking_up_another_teams_lead_learns_nothing(north_app):
    forbidden = north_app["forbidden"]
    south_lead = sorted(t for t in forbidden["tokens"] if t.startswith("LS-"))[-1]
    at = open_page(open_app("sm.north"), "pages/leads.py", model="lead-scoring")
    next(t for t in at.text_input if t.label == "Lead id, customer id or name").input(south_lead).run()
    assert shown(at.error) == [
        f"Not allowed: '{south_lead}' is not a lead or customer of team 'north' scored by lead-scoring in "
        f"{south_lead[3:7]}-{south_lead[7:10]} (or does not exist)."]
    assert len(at.dataframe) == 0 and len(at.metric) == 0


def _pdf_text(data):
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _json_team_rows(value):
    """``team`` values of every record in a JSON document that counts or names leads or customers."""
    found = set()
    if isinstance(value, dict):
        if "team" in value and set(value) & {"scored", "lead_id", "leads", "overrides", "customer"}:
            found.add(value["team"])
        for item in value.values():
            found |= _json_team_rows(item)
    elif isinstance(value, list):
        for item in value:
            found |= _json_team_rows(item)
    return found


def test_no_download_carries_another_teams_rows(leak_home):
    forbidden, home = leak_home["forbidden"], leak_home["home"]
    db = store.open_db(home / "ethics.db")
    try:
        files = {"portfolio.pdf": _pdf_text(reports.portfolio_report_pdf(db, actor=NORTH, now=NOW)),
                 "portfolio.csv": model_card.to_csv(report_rows.portfolio_rows(portfolio.overview(db, scope="north")))}
        for model_id in leak_home["models"]:
            facts = reports.model_facts(db, model_id=model_id, actor=NORTH)
            assert _json_team_rows(facts) <= {"north"}, model_id
            assert facts["model"]["teams"] == ["north"]
            files[f"{model_id}.pdf"] = _pdf_text(reports.model_report_pdf(db, model_id=model_id, actor=NORTH))
            files[f"{model_id}.md"] = model_card.card_markdown(facts)
            files[f"{model_id}.json"] = model_card.card_json(facts)
            for table in model_card.TABLES:
                files[f"{model_id}-{table}.csv"] = model_card.table_csv(facts, table)
            week = facts["week"]
            violations = consent.list_violations(db, model_id=model_id, week=week, home=home, team="north")
            files[f"{model_id}-violations.csv"] = consent.violations_csv(violations)
            assert {r["team"] for r in violations} <= {"north"}
        leaked = {name: _leaks(text, forbidden) for name, text in files.items()}
        assert {name: found for name, found in leaked.items() if found} == {}
        assert "south" not in files["lead-scoring-consent.csv"] and "north" in files["lead-scoring-consent.csv"]
    finally:
        db.close()


def test_no_cli_command_a_manager_runs_carries_another_teams_rows(leak_home, monkeypatch, tmp_path):
    forbidden, home = leak_home["forbidden"], leak_home["home"]
    monkeypatch.setenv("ETHICS_HOME", str(home))
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(cli, ["--as", "sm.north", *args])
        assert result.exit_code in (0, 1), (args, result.output)
        return result.output

    outputs = {"models": run("models"), "models --json": run("models", "--json"),
               "incident list": run("incident", "list", "--json"), "routing": run("consent", "routing", "--json")}
    north_lead = leak_home["north_leads"]["lead-scoring"]
    for model_id in leak_home["models"]:
        outputs[f"fairness {model_id}"] = run("fairness", "--model", model_id, "--json")
        outputs[f"coverage {model_id}"] = run("consent", "coverage", "--model", model_id, "--json")
        week = json.loads(outputs[f"coverage {model_id}"])["week"]
        outputs[f"violations {model_id}"] = run("consent", "violations", "--model", model_id, "--week", week)
        for kind in ("pdf", "markdown", "json"):
            out = tmp_path / f"{model_id}.{kind}"
            run("report", "--model", model_id, "--format", kind, "--out", str(out))
            outputs[f"report {model_id} {kind}"] = _pdf_text(out.read_bytes()) if kind == "pdf" else out.read_text()
    outputs["explain lead"] = run("explain", "--model", "lead-scoring", "--lead", north_lead, "--json")
    out = tmp_path / "portfolio.pdf"
    run("report", "--portfolio", "--out", str(out))
    outputs["report portfolio"] = _pdf_text(out.read_bytes())
    leaked = {name: _leaks(text, forbidden) for name, text in outputs.items()}
    assert {name: found for name, found in leaked.items() if found} == {}
    assert {r["team"] for r in json.loads(outputs["routing"])} == {"north"}
    assert _json_team_rows(json.loads(outputs["coverage lead-scoring"])) <= {"north"}
    assert {i["team"] for i in json.loads(outputs["incident list"])} <= {"north", None}
    result = runner.invoke(cli, ["--as", "sm.north", "dsr", "export", "--customer", "C000001"])
    assert result.exit_code == 2 and "Not allowed" in result.output


def test_the_records_it_checks_exist(leak_home):
    """The test must be able to fail: the officer does receive the other teams' ids these walks look for."""
    db = store.open_db(leak_home["home"] / "ethics.db")
    try:
        everything = json.dumps(incidents.list_incidents(db), default=str)
        routing = json.dumps(consent.list_human_routing(db, home=leak_home["home"]), default=str)
    finally:
        db.close()
    assert _leaks(everything, leak_home["forbidden"]) and _leaks(routing, leak_home["forbidden"])
    with pytest.raises(PermissionDenied):
        incidents.get_incident(store.open_db(leak_home["home"] / "ethics.db"),
                               next(i["id"] for i in json.loads(everything) if i["team"] == "south"), scope="north")
