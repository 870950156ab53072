"""A data home whose every free-text field is hostile Markdown/HTML (issue 18, point 5).

Model name, owner, description, impact assessment, feature and sensitive labels, a group
value, a lead id, a customer name, an incident's title, description and comment, a review's
comment and conditions, a contest's and an override's reasons and two display names.
"""

import re
from pathlib import Path

import pandas as pd

from ethics import auth, datasets, incidents, leads, privacy, registry, reviews, snapshots, store, teams
from ethics.auth import Actor
from tests.conftest import EXAMPLES, NOW, PASSWORD, WEEK, default_policy

MODEL = "hostile-model"
VERSION = "1.0.0"
BEACON = "127.0.0.1:9"
#: Each kind of markup Streamlit's Markdown or Plotly would render, with a beacon image and a link.
HOSTILE = (f"![x](http://{BEACON}/beacon.png) [link](http://evil.example) :red[red] $x^2$ <b>b</b> **bold** "
           ":material/home: :smile: <a href=\"http://evil.example\">a</a> www.evil.example mail@evil.example")
#: Substrings only the raw hostile text holds: none of them survives ``ui.escape``.
RAW_MARKERS = ("![", "](", ":red[", "$x^2$", "<b>", "**bold**", ":material/home", ":smile:", "</a>", "http://",
               "www.evil", "mail@evil")
#: What Plotly would render (it knows no Markdown): HTML tags.
HTML_MARKERS = ("<b>", "<a href")
#: A hostile lead id (the CRM's ids are free text).
LEAD = "![l](http://127.0.0.1:9/lead.png) :red[lead]"
ACCOUNTS = {"ethics_officer": ("hostile.officer", None), "auditor": ("hostile.auditor", None),
            "sales_manager": ("hostile.north", "north")}


def _manifest(source: Path, target: Path) -> None:
    text = source.read_text()
    text = text.replace('id = "webinar-follow-up"', f'id = "{MODEL}"')
    counter = iter(range(100))
    # TOML literal strings: HOSTILE has no single quote.
    for key in ("name", "description", "owner"):  # the first `name` is the model's, the others features'
        text = re.sub(rf'^{key} = "[^"]*"', f"{key} = '{key} {HOSTILE}'", text, count=1, flags=re.M)
    text = re.sub(r'^label = "[^"]*"', lambda m: f"label = 'label {next(counter)} {HOSTILE}'", text, flags=re.M)
    text = re.sub(r'^(purpose|affected|human_oversight|legal_basis) = "([^"]*)"$',
                  lambda m: f"{m[1]} = '{m[2]} {HOSTILE}'", text, flags=re.M)
    text = text.replace('data_categories = ["webinar engagement"', f'data_categories = [\'{HOSTILE}\'')
    target.write_text(text)


def build(home: Path, work: Path) -> dict:
    """The hostile model registered, one week imported and snapshotted, and records about it."""
    work.mkdir(parents=True, exist_ok=True)
    for name in ("model.json", "eval.csv", "scores.csv"):
        (work / name).write_bytes((EXAMPLES / name).read_bytes())
    _manifest(EXAMPLES / "manifest.toml", work / "manifest.toml")
    for name in ("eval.csv", "scores.csv"):
        frame = pd.read_csv(work / name, dtype=str, keep_default_na=False)
        frame["sex"] = frame["sex"].replace("female", HOSTILE)
        if name == "scores.csv":
            frame.loc[0, "lead_id"] = LEAD
        frame.to_csv(work / name, index=False)
    db = store.open_db(home / "ethics.db")
    store.migrate(db)
    try:
        teams.ensure_teams(db, ["north", "south"], actor="test")
        for role, (username, team) in ACCOUNTS.items():
            auth.add_user(db, username=username, display_name=f"{username} {HOSTILE}", role=role, team=team,
                          password=PASSWORD, actor="test")
        registry.register_model(db, work / "manifest.toml", home=home, actor="test", now=NOW)
        for kind in ("eval", "scores"):
            datasets.import_dataset(db, work / f"{kind}.csv", kind=kind, model_id=MODEL, version=VERSION, week=WEEK,
                                    home=home, actor="test", now=NOW)
        customer = pd.read_csv(work / "scores.csv", dtype=str).loc[0, "customer_id"]
        privacy.record_customers(db, [{"customer_id": customer, "name": f"name {HOSTILE}"}], source_name="crm.csv",
                                 actor="test", now=NOW)
        snap = snapshots.take_snapshot(db, model_id=MODEL, week=WEEK, home=home, policy=default_policy(),
                                       actor="test", now=NOW)
        officer = Actor(ACCOUNTS["ethics_officer"][0], "officer", "ethics_officer", None)
        leads.contest_score(db, home=home, actor=officer, model_id=MODEL, snapshot_id=snap["id"], lead_id=LEAD,
                            reason=f"contest {HOSTILE}", now=NOW)
        (found,) = leads.find_leads(db, home=home, model_id=MODEL, query=LEAD, team=None)
        other = next(d for d in leads.DECISIONS if d != found["decision"])
        leads.override_decision(db, home=home, actor=officer, model_id=MODEL, snapshot_id=snap["id"], lead_id=LEAD,
                                decision=other, reason=f"override {HOSTILE}", now=NOW)
        incident = incidents.open_incident(db, model_id=MODEL, severity="high", category="other",
                                           title=f"title {HOSTILE}"[:incidents.TITLE_LIMIT],
                                           description=f"description {HOSTILE}", reporter=officer.username,
                                           lead_id=LEAD, team="north", now=NOW)
        incidents.add_comment(db, incident["id"], author=officer.username, body=f"comment {HOSTILE}", now=NOW)
        reviews.sign_review(db, model_id=MODEL, snapshot_hash=snap["hash"], decision="approve_with_conditions",
                            checklist=dict.fromkeys(reviews.CHECKLIST, True), reviewer=officer.username,
                            conditions=f"conditions {HOSTILE}", comment=f"comment {HOSTILE}", now=NOW)
    finally:
        db.close()
    return {"home": home, "snapshot": snap, "incident": incident["id"]}
