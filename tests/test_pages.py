"""Each page in Streamlit's AppTest against a real data home, signed in as the officer."""

import pytest

from ethics import auth, explain, policy, store, ui
from tests.apptest import button, clear_caches, open_app, open_page, shown
from tests.conftest import EXAMPLE_MODEL, add_accounts


@pytest.fixture
def app_home(home, db, example_snapshot, monkeypatch):
    add_accounts(db)
    monkeypatch.setenv("ETHICS_HOME", str(home))
    clear_caches()
    yield home
    clear_caches()


def _ok(at):
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_app_opens_the_overview(app_home, example_snapshot):
    at = _ok(open_app("olivia"))
    assert at.title[0].value == "Portfolio overview"
    frame = at.dataframe[0].value
    assert frame["Model"].tolist() == ["Webinar follow-up priority"]
    assert frame["Latest week"].tolist() == ["2026-W48"]
    light = policy.fairness_light(example_snapshot["results"]["verdicts"])
    assert frame["Fairness"].tolist() == [ui.light(light)] and light["status"] in ("pass", "warn", "fail")
    explained = explain.explanations_light(example_snapshot["results"]["explanations"])
    assert frame["Explanations"].tolist() == [ui.light(explained)] and explained["status"] in ("pass", "warn")
    assert frame["Incidents"].tolist() == ["🟢 pass"]


def test_model_page_shows_the_snapshot(app_home, example_snapshot):
    at = _ok(open_page(open_app("olivia"), "pages/model.py", model=EXAMPLE_MODEL))
    assert at.title[0].value == "Model"
    assert at.selectbox[0].value == EXAMPLE_MODEL
    assert any(example_snapshot["hash"] in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    perf = example_snapshot["results"]["performance"]
    assert metrics["Accuracy"] == f"{perf['accuracy']:.1%}"
    assert metrics["AUC"] == f"{perf['auc']:.3f}"


def test_registry_page_shows_manifest_and_hash(app_home, registered):
    at = _ok(open_page(open_app("olivia"), "pages/registry.py"))
    versions = at.dataframe[1].value
    assert versions["artifact_sha256"].tolist() == [registered["artifact_sha256"]]
    features = at.dataframe[2].value
    assert "Watched the webinar" in features["label"].tolist()
    assert set(features["type"]) == {"number"}  # a type left out of the manifest reads as what it defaults to


def test_users_page_adds_an_account(app_home):
    at = _ok(open_page(open_app("olivia"), "pages/users.py"))
    assert sorted(at.dataframe[0].value["username"]) == ["aude", "olivia", "sm.north", "sm.south"]
    at.text_input[0].input("newbie")
    at.text_input[1].input("New Person")
    next(s for s in at.selectbox if s.label == "Role").set_value("sales_manager")
    team = next(s for s in at.selectbox if s.label == "Team (sales managers only)")
    assert team.options[1:] == ["north", "south"]  # the team records: free text ("Nort") is no longer possible
    team.set_value("north")
    at.text_input[2].input("a long enough passphrase")
    button(at, "Add account").click().run()
    # The list is fresh right after adding (the page reruns), and says so.
    assert shown(at.success[0]) == "Account 'newbie' added."
    assert "newbie" in at.dataframe[0].value["username"].tolist()
    assert auth.get_actor(store.open_db(app_home / "ethics.db"), "newbie").team == "north"


def test_disabling_an_account_asks_for_confirmation(app_home):
    at = _ok(open_page(open_app("olivia"), "pages/users.py"))
    account = next(s for s in at.selectbox if s.label == "Account")
    assert account.value is None  # nobody is preselected
    account.set_value("sm.south")
    button(at, "Disable account").click().run()
    assert shown(at.error) == ["Account 'sm.south' was not disabled: tick the confirmation first."]
    assert auth.get_actor(store.open_db(app_home / "ethics.db"), "sm.south").username == "sm.south"  # still active
    next(s for s in at.selectbox if s.label == "Account").set_value("sm.south")
    next(c for c in at.checkbox if c.label.startswith("Yes: this person")).check()
    button(at, "Disable account").click().run()
    assert shown(at.success[0]) == "Account 'sm.south' disabled."
    disabled = {u["username"]: u["disabled"] for u in at.dataframe[0].value.to_dict("records")}
    assert disabled["sm.south"] == 1


def test_empty_home_shows_a_clear_empty_state(tmp_path, monkeypatch):
    from ethics import store

    db = store.open_db(tmp_path / "empty" / "ethics.db")
    store.migrate(db)
    add_accounts(db)
    monkeypatch.setenv("ETHICS_HOME", str(tmp_path / "empty"))
    clear_caches()
    at = _ok(open_app("olivia"))
    assert "No models are registered yet" in at.info[0].value
    at = _ok(open_page(at, "pages/model.py"))
    assert "No models are registered yet" in at.info[0].value


def test_fairness_page_shows_verdicts_groups_and_trend(app_home, example_snapshot):
    at = _ok(open_page(open_app("olivia"), "pages/fairness.py", model=EXAMPLE_MODEL))
    verdicts = at.dataframe[0].value
    expected = example_snapshot["results"]["verdicts"]
    assert len(verdicts) == len(expected)
    assert set(verdicts["Finding"]) == {v["sentence"] for v in expected}
    groups = at.dataframe[1].value
    sex = next(g for g in example_snapshot["results"]["fairness"]["eval"] if g["grouping"] == "sex")
    assert groups["group"].tolist() == [g["group"] for g in sex["groups"]]
    assert groups["selection_rate"].tolist() == [g["selection_rate"] for g in sex["groups"]]
    assert len(at.get("plotly_chart")) == 3  # groups, trend, drift


def test_fairness_what_if_runs_on_request_and_matches_fairlearn(app_home, db, example_snapshot):
    from fairlearn.metrics import demographic_parity_difference

    from ethics import datasets

    at = _ok(open_page(open_app("olivia"), "pages/fairness.py", model=EXAMPLE_MODEL))
    button(at, "Run the what-if").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[-1].value
    assert table["scenario"].tolist() == ["current threshold", "ThresholdOptimizer: demographic parity",
                                          "ThresholdOptimizer: equalized odds"]
    rows = datasets.read_rows(db[store.DATASETS].get(example_snapshot["inputs"]["eval"]["dataset_id"]), home=app_home)
    expected = demographic_parity_difference(rows["label"], rows["score"] >= 0.5, sensitive_features=rows["sex"])
    assert table["demographic_parity_difference"][0] == pytest.approx(expected)
    assert table["rows"].tolist() == [len(rows)] * 3


def test_incidents_page_opens_and_closes_an_incident(app_home):
    from ethics import incidents

    at = _ok(open_page(open_app("olivia"), "pages/incidents.py"))
    title = next(t for t in at.text_input if t.label == "Title")
    title.input("Scores drop for <b>older</b> leads")
    next(t for t in at.text_area if t.label == "What was found, and where").input("See snapshot of W48.")
    button(at, "Open incident").click().run()
    assert shown(at.success[0]).startswith("Incident 1 opened")
    db = store.open_db(app_home / "ethics.db")
    assert incidents.get_incident(db, 1)["title"] == "Scores drop for <b>older</b> leads"
    at.run()
    assert at.dataframe[0].value["title"].tolist() == ["Scores drop for <b>older</b> leads"]
    assert "Scores drop for <b>older</b> leads" in [t.value for t in at.text]  # shown as text, not HTML
    next(s for s in at.selectbox if s.label == "Status").select("closed")
    next(t for t in at.text_area if t.label == "Comment").input("Fixed in version 1.0.1.")
    button(at, "Save").click().run()
    assert not at.exception and not at.error
    closed = incidents.get_incident(db, 1)
    assert closed["status"] == "closed" and closed["comments"][0]["body"] == "Fixed in version 1.0.1."


def test_audit_page_verifies_the_chain(app_home):
    at = _ok(open_page(open_app("olivia"), "pages/audit.py"))
    assert shown(at.success[0]).startswith("Audit log ok, ")
    actions = at.dataframe[0].value["action"].tolist()
    assert "snapshot.taken" in actions and "user.sign_in" in actions


def _review_form(at, *, decision=None, conditions="", comment=""):
    for box in at.checkbox:
        box.check()
    if decision:
        next(r for r in at.radio if r.label == "Decision").set_value(decision)
    next(t for t in at.text_area if t.label.startswith("Conditions")).input(conditions)
    next(t for t in at.text_area if t.label == "Comment").input(comment)
    button(at, "Sign the review of snapshot 2026-W48").click().run()
    return at


def test_review_page_signs_the_weekly_review(app_home, example_snapshot):
    from ethics import reviews

    at = _ok(open_page(open_app("olivia"), "pages/review.py"))
    queue = at.dataframe[0].value
    assert queue["Review"].tolist() == ["🔴 fail"] and "never reviewed" in queue["Changed since last review"][0]
    assert any(example_snapshot["hash"] in c.value for c in at.caption)
    assert next(r for r in at.radio if r.label == "Decision").value is None
    _ok(_review_form(at, decision="approve_with_conditions", conditions="Consent import by Friday."))
    db = store.open_db(app_home / "ethics.db")
    (review,) = reviews.list_reviews(db, EXAMPLE_MODEL)
    assert shown(at.success[0]) == (f"Review 1 of Webinar follow-up priority signed: approve with conditions, "
                                   f"cycle {review['week']}, snapshot 2026-W48 (hash {example_snapshot['hash'][:12]}).")
    assert shown(at.success[1]) == "Every model with a snapshot is reviewed this week."
    assert (review["snapshot_hash"], review["snapshot_week"]) == (example_snapshot["hash"], "2026-W48")
    assert review["conditions"] == "Consent import by Friday."
    assert at.dataframe[0].value["Review"].tolist() == ["🟢 pass"]
    assert not at.checkbox  # no form left to sign the same snapshot twice


def test_review_page_refuses_an_unticked_checklist(app_home, example_snapshot):
    at = _ok(open_page(open_app("olivia"), "pages/review.py"))
    next(r for r in at.radio if r.label == "Decision").set_value("approve")
    button(at, "Sign the review of snapshot 2026-W48").click().run()
    assert shown(at.error[0]).startswith("Review checklist: 'Fairness verdicts and their intervals were read'")


@pytest.mark.parametrize("fields,message", [
    ({}, "Choose a decision: approve, approve with conditions or suspend."),
    ({"decision": "approve"}, "Approving webinar-follow-up while fairness and consent fail needs a comment saying "
                              "why the model may still be used (or approve with conditions, or suspend)."),
])
def test_review_page_refuses_a_missing_decision_or_reason_and_keeps_the_form(app_home, example_snapshot, fields,
                                                                             message):
    at = _review_form(_ok(open_page(open_app("olivia"), "pages/review.py")), **fields)
    assert shown(at.error) == [message]
    assert all(box.value for box in at.checkbox)  # the officer fixes the form instead of starting again
    db = store.open_db(app_home / "ethics.db")
    assert db[store.REVIEWS].count == 0


def test_review_page_shows_the_open_incidents_of_the_model(app_home, db, example_snapshot, now):
    from ethics import incidents

    incident = incidents.open_incident(db, model_id=EXAMPLE_MODEL, severity="high", category="bias",
                                       title="Older leads are <i>never</i> called", reporter="olivia", now=now)
    at = _ok(open_page(open_app("olivia"), "pages/review.py"))
    table = at.dataframe[1].value
    assert table.to_dict("records") == [
        {"id": incident["id"], "severity": "high", "category": "bias", "status": "open",
         "title": "Older leads are <i>never</i> called", "opened": "2026-11-25", "due": "2026-12-02",
         "overdue": incidents.is_overdue(incident)}]


def test_model_page_explanations_tab_shows_importance_distribution_proxies_and_oversight(app_home, example_snapshot):
    at = _ok(open_page(open_app("olivia"), "pages/model.py", model=EXAMPLE_MODEL))
    found = example_snapshot["results"]["explanations"]
    tables = [frame.value for frame in at.dataframe]
    importance = next(t for t in tables if "mean_abs_shap" in t.columns and "rank" in t.columns)
    assert importance["label"].tolist() == [row["label"] for row in found["importance"]]
    beeswarm = next(t for t in tables if "min_shap" in t.columns)
    assert beeswarm["leads"].tolist() == [found["rows"]] * len(found["importance"])
    proxies = next(t for t in tables if "Cramér's V" in t.columns)
    assert len(proxies) == len(found["proxies"])
    oversight = next(t for t in tables if "override_rate" in t.columns)
    assert oversight["overrides"].sum() == 0 and oversight["leads"].sum() == found["leads"]["rows"]
    assert any(box.label == "Dependence plot of" for box in at.selectbox)


def test_lead_lookup_page_shows_reasons_and_records_an_override(app_home, example_snapshot):
    from ethics import leads

    at = _ok(open_page(open_app("sm.north"), "pages/leads.py", model=EXAMPLE_MODEL))
    next(t for t in at.text_input if t.label == "Lead id, customer id or name").input("WB-01000").run()
    _ok(at)
    assert {m.label: m.value for m in at.metric}["Team"] == "north"
    db = store.open_db(app_home / "ethics.db")
    (expected,) = leads.find_leads(db, home=app_home, model_id=EXAMPLE_MODEL, query="WB-01000", team="north")
    sources = "\n".join(m.value for m in at.markdown)
    for reason in expected["explanation"]["reasons"]["raising"] + expected["explanation"]["reasons"]["lowering"]:
        assert ui.escape(reason["text"]) in sources
    next(t for t in at.text_area if t.label == "Reason for the override").input("Known customer, call anyway.")
    next(b for b in at.button if b.label.startswith("Override: mark as")).click().run()
    _ok(at)
    assert shown(at.success[0]).startswith("Lead WB-01000: decision overridden to ")
    assert leads.list_overrides(db, model_id=EXAMPLE_MODEL)[0]["reason"] == "Known customer, call anyway."
