"""The real app, served by `streamlit run`, driven in Debian's Chromium."""

import contextlib
import shutil
import time
import urllib.error
import urllib.request

import pytest

from ethics import registry, snapshots, store, ui
from ethics.demo import DEMO_MODEL_IDS
from tests.browser import chromium, served, settled
from tests.conftest import PASSWORD, add_accounts

pytestmark = pytest.mark.browser
@contextlib.contextmanager
def _served(demo_home, tmp_path_factory):
    """A fresh `streamlit run app.py` on a free port against a copy of the demo home."""
    home = tmp_path_factory.mktemp("served") / "home"
    shutil.copytree(demo_home, home)
    db = store.open_db(home / "ethics.db")
    add_accounts(db)
    db.close()
    with served(home) as url:
        yield {"url": url, "home": home}


@pytest.fixture(scope="module")
def server(demo_home, tmp_path_factory):
    """The module's server: tests share it, so each works on rows no other test touches."""
    with _served(demo_home, tmp_path_factory) as found:
        yield found


@pytest.fixture
def untouched_server(demo_home, tmp_path_factory):
    """A server of its own, on the demo as built (no review signed, no contest filed by another test)."""
    with _served(demo_home, tmp_path_factory) as found:
        yield found


@pytest.fixture(scope="module")
def browser():
    with chromium() as found:
        yield found


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def _latest_hash(home, model_id):
    db = store.open_db(home / "ethics.db")
    try:
        return snapshots.latest_snapshot(db, model_id)["hash"]
    finally:
        db.close()


def _sign_in(page, username):
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _open_as(page, server, path, username, *, heading):
    """Open a URL, sign in there, and wait for the page's heading."""
    page.goto(server["url"] + path)
    _sign_in(page, username)
    page.get_by_role("heading", name=heading).wait_for(timeout=30_000)
    settled(page)


def _choose(page, label, text):
    """Pick an option of a Streamlit select box by typing it (the list is virtual)."""
    box = page.get_by_role("combobox", name=label)
    box.click()
    box.fill(text)
    page.keyboard.press("Enter")
    settled(page)


def _sidebar_links(page):
    """Link labels in the sidebar (the material icon's ligature text comes first)."""
    return [text.strip().splitlines()[-1] for text in page.locator('[data-testid="stSidebar"] a').all_inner_texts()]


def _assert_sidebar(page, expected, timeout=10):
    """Streamlit keeps the last run's elements until the new run replaces them: poll."""
    deadline = time.time() + timeout
    while _sidebar_links(page) != expected and time.time() < deadline:
        page.wait_for_timeout(200)
    assert _sidebar_links(page) == expected


_GRID_JS = """grid => {
    const table = grid.querySelector('table[role="grid"]');
    if (!table) return null;
    const heads = {};
    for (const th of table.querySelectorAll('thead th')) heads[th.getAttribute('aria-colindex')] = th.textContent;
    const rows = [...table.querySelectorAll('tbody tr')].map(tr => Object.fromEntries(
        [...tr.querySelectorAll('td')].map(td => [heads[td.getAttribute('aria-colindex')], td.textContent])));
    return {count: Number(table.getAttribute('aria-rowcount')) - 1, rows};
}"""


def _grid(page, index=0):
    """A visible st.dataframe's row count and its rendered rows (dicts by column).

    The grid draws on a canvas; its accessibility table carries the text. It is virtualised:
    ``rows`` holds the rows rendered (all of a short table), ``count`` every row of the data.
    """
    grid = page.locator('[data-testid="stDataFrame"] >> visible=true').nth(index)
    grid.locator('table[role="grid"] tbody tr').first.wait_for(state="attached", timeout=30_000)
    return grid.evaluate(_GRID_JS)


def _metrics(page):
    """The visible st.metric cards: label -> value."""
    found = {}
    for card in page.locator('[data-testid="stMetric"] >> visible=true').all():
        label = card.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        found[label] = card.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return found


def _override(page, expected, reason):
    """Override the lead card's decision with ``reason``; the decision it was changed to."""
    from ethics import leads

    other = next(d for d in leads.DECISIONS if d != expected["decision"])
    page.get_by_role("textbox", name="Reason for the override").fill(reason)
    page.get_by_role("button", name=f"Override: mark as {other}").click()
    page.get_by_text(f"decision overridden to {other}").wait_for(timeout=30_000)
    settled(page)
    page.get_by_text(f"Reason: {reason}").wait_for(timeout=10_000)
    return other


def test_every_sub_url_on_a_fresh_server_asks_for_sign_in(server, page):
    """Before anyone opened `/`: Streamlit runs page files directly; each must guard itself."""
    for path in ("/model?model=churn-risk", "/registry", "/users", "/"):
        page.goto(server["url"] + path)
        page.get_by_role("heading", name="Sign in").wait_for(timeout=30_000)
        settled(page)
        assert page.locator('[data-testid="stDataFrame"]').count() == 0
        assert "churn" not in page.locator('[data-testid="stMain"]').inner_text().lower()
        _assert_sidebar(page, [])


def test_direct_model_url_after_sign_in(server, page):
    _open_as(page, server, "/model?model=churn-risk", "olivia", heading="Model")
    page.get_by_text(_latest_hash(server["home"], "churn-risk")).first.wait_for(timeout=10_000)


def test_model_page_downloads_the_transparency_report(server, page):
    import io

    from pypdf import PdfReader

    _open_as(page, server, "/model?model=lead-scoring", "olivia", heading="Model")
    with page.expect_download(timeout=90_000) as download:
        page.get_by_role("button", name="Transparency report (PDF)").click()
    body = open(download.value.path(), "rb").read()
    assert download.value.suggested_filename.startswith("lead-scoring-2026-W")
    assert body.startswith(b"%PDF-")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    assert "Lead scoring (lead-scoring)" in text
    assert _latest_hash(server["home"], "lead-scoring") in "".join(text.split())


def test_officer_walk_overview_then_click_into_a_model(server, page):
    _open_as(page, server, "/", "olivia", heading="Portfolio overview")
    _assert_sidebar(page, ["Overview", "Model", "Fairness", "Lead lookup", "Weekly review", "Incidents",
                           "Consent & privacy", "Registry", "Audit log", "Reports", "Users"])
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=10_000)
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
    page.get_by_role("link", name="Lead scoring (lead-scoring)").click()
    page.get_by_role("heading", name="Model").wait_for(timeout=30_000)
    settled(page)
    assert "model=lead-scoring" in page.url
    page.get_by_text(_latest_hash(server["home"], "lead-scoring")).first.wait_for(timeout=10_000)
    page.get_by_role("tab", name="Performance").click()
    settled(page)
    page.locator(".js-plotly-plot >> visible=true").first.wait_for(timeout=10_000)
    page.get_by_role("tab", name="Fairness").click()
    settled(page)
    page.get_by_text("Leads with Age band 55+ are selected").first.wait_for(timeout=10_000)
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Fairness").click()
    page.get_by_role("heading", name="Fairness").wait_for(timeout=30_000)
    settled(page)
    page.get_by_text("Leads with Age band 55+ are selected").first.wait_for(timeout=10_000)
    page.get_by_text("Run the what-if").click()
    page.get_by_text("ThresholdOptimizer: demographic parity").first.wait_for(timeout=60_000)
    settled(page)
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Registry").click()
    page.get_by_role("heading", name="Model registry").wait_for(timeout=30_000)
    settled(page)


def test_sales_manager_walk(server, page):
    page.goto(f"{server['url']}/registry")
    _sign_in(page, "sm.south")
    page.get_by_text("Not allowed: a sales manager may not view registry.").wait_for(timeout=30_000)
    settled(page)
    assert page.locator('[data-testid="stDataFrame"]').count() == 0
    _assert_sidebar(page, ["Overview", "Model", "Fairness", "Lead lookup", "Incidents", "Consent & privacy", "Reports"])
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Overview").click()
    page.get_by_role("heading", name="Portfolio overview").wait_for(timeout=30_000)
    settled(page)
    # A model is seen by its owner team and by every team whose leads it scores (README "Team scope"):
    # in the demo each of the six scores some of south's leads, whichever team owns it.
    db = store.open_db(server["home"] / "ethics.db")
    try:
        visible = registry.list_models(db, scope="south")
    finally:
        db.close()
    assert {m["id"] for m in visible} == set(DEMO_MODEL_IDS)
    for model in visible:
        page.get_by_role("link", name=f"{model['name']} ({model['id']})").wait_for(timeout=10_000)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for(timeout=30_000)
    settled(page)
    _assert_sidebar(page, [])


def test_officer_opens_and_closes_an_incident(server, page):
    _open_as(page, server, "/incidents", "olivia", heading="Incidents")
    page.get_by_text("Open an incident").click()
    page.get_by_role("textbox", name="Title").fill("<img src=x onerror=alert(1)> browser test incident")
    page.get_by_role("button", name="Open incident").click()
    page.get_by_text("opened; due").wait_for(timeout=30_000)
    settled(page)
    assert page.locator("img[src=x]").count() == 0  # the title is text, never HTML
    db = store.open_db(server["home"] / "ethics.db")
    try:
        opened = db.execute("select id from incidents where title like '%browser test incident'").fetchone()[0]
    finally:
        db.close()
    _choose(page, "Incident", f"{opened} · <img")
    _choose(page, "Status", "closed")
    page.get_by_role("button", name="Save").click()
    settled(page)
    db = store.open_db(server["home"] / "ethics.db")
    try:
        deadline = time.time() + 15
        while db.execute("select status from incidents where id = ?", [opened]).fetchone()[0] != "closed":
            assert time.time() < deadline, "the incident was not closed"
            time.sleep(0.3)
    finally:
        db.close()


def test_officer_weekly_review_loop(server, page):
    """Queue -> model -> tick, decide, write the conditions, sign -> next, for every demo model; counts the clicks.

    There is no default decision, and some demo models have failing lights (a plain approval would need a
    comment), so the officer approves each with conditions, as one would with red lights on the page.
    """
    _open_as(page, server, "/review", "olivia", heading="Weekly review")
    db = store.open_db(server["home"] / "ethics.db")
    try:
        models = [row[0] for row in db.execute("select id from models order by id")]
    finally:
        db.close()
    clicks = 0
    for number in range(1, len(models) + 1):
        for label in ("Fairness verdicts", "Top features", "Consent coverage", "Open and overdue", "Human oversight"):
            page.get_by_text(label).first.click()
            clicks += 1
            settled(page)
        page.get_by_text("approve with conditions", exact=True).click()
        clicks += 1
        page.get_by_role("textbox", name="Conditions (for an approval with conditions)").fill(
            "Re-check the red lights at next week's review.")
        page.get_by_role("button", name="Sign the review of snapshot").click()
        clicks += 1
        # Review ids count up from 1 in this fresh home; waiting for this one's message, not a stale one.
        page.get_by_text(f"Review {number} of ").wait_for(timeout=30_000)
        settled(page)  # the next model due is already selected
    db = store.open_db(server["home"] / "ethics.db")
    try:
        signed = db.execute("select model_id, decision from reviews order by model_id").fetchall()
    finally:
        db.close()
    assert signed == [(model, "approve_with_conditions") for model in models]  # each once, as decided
    assert clicks == 7 * len(models)


def test_sales_manager_looks_up_a_lead_contests_and_overrides(server, page):
    from ethics import leads

    db = store.open_db(server["home"] / "ethics.db")
    try:
        snap = snapshots.latest_snapshot(db, "lead-scoring")
        batch = leads.lead_rows(db, snap, home=server["home"])[0]
        lead_id = batch[batch["team"] == "north"]["lead_id"].iloc[1]
        (expected,) = leads.find_leads(db, home=server["home"], model_id="lead-scoring", query=lead_id, team="north")
    finally:
        db.close()
    _open_as(page, server, "/leads?model=lead-scoring", "sm.north", heading="Lead lookup")
    box = page.get_by_role("textbox", name="Lead id, customer id or name")
    box.fill(lead_id)
    box.press("Enter")
    reasons = expected["explanation"]["reasons"]
    for reason in reasons["raising"] + reasons["lowering"]:
        page.get_by_text(reason["text"]).first.wait_for(timeout=30_000)
    settled(page)
    page.locator(".js-plotly-plot >> visible=true").first.wait_for(timeout=10_000)  # the waterfall
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert expected["decision"] in main and f"{expected['score']:.3f}" in main
    page.set_viewport_size({"width": 1400, "height": 2400})  # Streamlit scrolls inside its main block
    settled(page)
    page.screenshot(path="/tmp/explain-browser-lookup.png")

    page.get_by_role("textbox", name="Why is this score wrong?").fill("The customer called us yesterday.")
    page.get_by_role("button", name="Contest this score").click()
    page.get_by_text("is contested").wait_for(timeout=30_000)
    settled(page)
    other = _override(page, expected, "Known account, the rep calls anyway.")
    page.screenshot(path="/tmp/explain-browser-overridden.png")
    db = store.open_db(server["home"] / "ethics.db")
    try:
        incident = db.execute("select lead_id, snapshot_id, version, category from incidents where lead_id = ?",
                              [lead_id]).fetchone()
        override = db.execute("select decision, actor, team from decision_overrides where lead_id = ?",
                              [lead_id]).fetchone()
    finally:
        db.close()
    assert incident == (lead_id, snap["id"], snap["version"], "customer_complaint")
    assert override == (other, "sm.north", "north")
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Model").click()
    page.get_by_role("heading", name="Model").wait_for(timeout=30_000)
    settled(page)
    _choose(page, "Model", "Lead scoring")  # the sidebar link opens the first model north sees (churn-risk)
    page.get_by_text(snap["hash"]).first.wait_for(timeout=10_000)
    page.get_by_role("tab", name="Explanations").click()
    page.get_by_text("Possible proxy:").first.wait_for(timeout=30_000)
    settled(page)
    page.set_viewport_size({"width": 1400, "height": 3600})
    settled(page)
    page.screenshot(path="/tmp/explain-browser-model.png")


def test_consent_page_officer_and_manager(server, page, tmp_path):
    """Officer: coverage, violations, route-to-a-human; manager: only the team's list; both screenshotted."""
    _open_as(page, server, "/consent?model=lead-scoring", "olivia", heading="Consent & privacy")
    page.get_by_text("leads covered by ai_scoring").first.wait_for(timeout=30_000)
    page.locator(".js-plotly-plot >> visible=true").first.wait_for(timeout=10_000)
    page.screenshot(path=str(tmp_path / "consent-coverage.png"), full_page=True)
    page.get_by_role("tab", name="Violations").click()
    settled(page)
    # The demo already has an open incident about these violations: a second is refused, the first named.
    page.get_by_role("button", name="Open an incident for these").or_(
        page.get_by_text("covers these violations; add a comment there")).first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Download CSV").wait_for(timeout=10_000)
    page.get_by_role("tab", name="Route to a human").click()
    settled(page)
    page.get_by_text("opted out of automated decisions").first.wait_for(timeout=10_000)
    page.get_by_role("tab", name="Data-subject requests").wait_for(timeout=10_000)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for(timeout=30_000)
    settled(page)
    _sign_in(page, "sm.north")
    page.get_by_role("heading", name="Consent & privacy").wait_for(timeout=30_000)
    settled(page)
    assert page.get_by_role("tab", name="Data-subject requests").count() == 0
    page.get_by_role("tab", name="Route to a human").click()
    settled(page)
    grid = page.locator('[data-testid="stDataFrame"] >> visible=true').first
    grid.wait_for(timeout=10_000)
    page.screenshot(path=str(tmp_path / "consent-routing-north.png"), full_page=True)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "south" not in main and "west" not in main
    assert {row["team"] for row in _grid(page)["rows"]} == {"north"}  # the grid's text is not in inner_text


def test_south_manager_works_a_south_lead_of_the_north_model(server, page):
    """lead-scoring is north's, and scores south's leads: sm.south looks one up, contests, overrides, routes."""
    from ethics import consent, leads

    home = server["home"]
    db = store.open_db(home / "ethics.db")
    try:
        snap = snapshots.latest_snapshot(db, "lead-scoring")
        batch = leads.lead_rows(db, snap, home=home)[0]
        lead_id = batch[batch["team"] == "south"]["lead_id"].iloc[2]  # iloc[1] of north is another test's
        (expected,) = leads.find_leads(db, home=home, model_id="lead-scoring", query=lead_id, team="south")
    finally:
        db.close()
    assert expected["team"] == "south" and not expected["suspended"]
    assert not expected["contest"] and not expected["override"]
    _open_as(page, server, "/leads?model=lead-scoring", "sm.south", heading="Lead lookup")
    box = page.get_by_role("textbox", name="Lead id, customer id or name")
    box.fill(lead_id)
    box.press("Enter")
    page.get_by_role("button", name="Contest this score").wait_for(timeout=30_000)
    settled(page)
    cards = _metrics(page)
    assert cards["Score"] == f"{expected['score']:.3f}"
    assert cards["Model's decision"] == expected["decision"]
    assert cards["Team"] == "south"

    page.get_by_role("textbox", name="Why is this score wrong?").fill("The customer asked for a call back.")
    page.get_by_role("button", name="Contest this score").click()
    page.get_by_text("is contested").wait_for(timeout=30_000)
    settled(page)
    db = store.open_db(home / "ethics.db")
    try:
        incident = db.execute("select id, team, lead_id, snapshot_id, category, reporter from incidents "
                              "where lead_id = ?", [lead_id]).fetchall()
    finally:
        db.close()
    assert [row[1:] for row in incident] == [("south", lead_id, snap["id"], "customer_complaint", "sm.south")]
    incident_id = incident[0][0]
    page.get_by_text(f"Incident {incident_id} opened: the score of lead {lead_id} is contested.").wait_for(
        timeout=10_000)
    page.get_by_text(f"Already contested (incident {incident_id}, open").wait_for(timeout=10_000)
    assert page.get_by_role("button", name="Contest this score").count() == 0  # a second contest is not offered

    other = _override(page, expected, "Existing customer, the rep calls anyway.")
    page.get_by_text(f"Already contested (incident {incident_id}, open").wait_for(timeout=10_000)
    assert page.get_by_role("button", name="Contest this score").count() == 0
    assert page.get_by_role("button", name=f"Override: mark as {other}").count() == 0
    page.set_viewport_size({"width": 1400, "height": 2400})  # Streamlit scrolls inside its main block
    settled(page)
    page.screenshot(path="/tmp/trust-south-lead.png")
    db = store.open_db(home / "ethics.db")
    try:
        overrides = db.execute("select model_decision, decision, actor, team, snapshot_id from decision_overrides "
                               "where lead_id = ?", [lead_id]).fetchall()
        incidents_now = db.execute("select count(*) from incidents where lead_id = ?", [lead_id]).fetchone()[0]
        routing = consent.list_human_routing(db, home=home, scope="south")
    finally:
        db.close()
    assert overrides == [(expected["decision"], other, "sm.south", "south", snap["id"])]
    assert incidents_now == 1

    assert routing and {row["team"] for row in routing} == {"south"}
    assert any("(lead-scoring)" in row["leads"] for row in routing)
    _open_as(page, server, "/consent?model=lead-scoring", "sm.south", heading="Consent & privacy")
    page.get_by_role("tab", name="Route to a human").click()
    settled(page)
    page.get_by_text("opted out of automated decisions").first.wait_for(timeout=30_000)
    shown = _grid(page)
    assert shown["count"] == len(routing)
    assert shown["rows"], "the routing grid rendered no row"
    assert {row["team"] for row in shown["rows"]} == {"south"}  # no north or west row
    listed = {(row["customer_ref"], row["leads"]) for row in routing}
    assert {(row["customer_ref"], row["leads"]) for row in shown["rows"]} <= listed
    assert any("(lead-scoring)" in row["leads"] for row in shown["rows"])
    page.set_viewport_size({"width": 1400, "height": 1400})
    settled(page)
    page.screenshot(path="/tmp/trust-south-routing.png")


def _shoot(page, path):
    """A screenshot of the whole page: Streamlit scrolls inside its main block (full_page would not help),
    so the viewport is made as tall as the block's content first."""
    settled(page)
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(max(height + 120, 1000), 8000)})
    settled(page)
    page.screenshot(path=path)
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_trust_screenshots(untouched_server, page):
    """Screenshots for the release note, on a demo no other test wrote to (no review signed yet)."""
    server = untouched_server
    _open_as(page, server, "/", "sm.north", heading="Portfolio overview")
    page.get_by_text("lights as of").first.wait_for(timeout=30_000)
    page.locator('[data-testid="stDataFrame"] >> visible=true').first.wait_for(timeout=30_000)
    page.get_by_role("link", name="Lead scoring (lead-scoring)").wait_for(timeout=30_000)
    _shoot(page, "/tmp/trust-overview-north.png")

    _open_as(page, server, "/model?model=lead-scoring", "sm.north", heading="Model")
    page.get_by_text(_latest_hash(server["home"], "lead-scoring")).first.wait_for(timeout=30_000)
    page.get_by_text("At a glance: the six lights").wait_for(timeout=30_000)
    page.locator(".js-plotly-plot >> visible=true").first.wait_for(timeout=30_000)  # the Performance tab
    _shoot(page, "/tmp/trust-model-north.png")
    page.get_by_role("tab", name="Consent").click()
    settled(page)
    page.get_by_text("Customers to route to a human").wait_for(timeout=30_000)
    page.locator('[data-testid="stDataFrame"] >> visible=true').first.wait_for(timeout=30_000)
    _shoot(page, "/tmp/trust-model-consent-north.png")
    page.get_by_role("tab", name="Fairness").click()
    settled(page)
    page.get_by_role("button", name="New incident").first.wait_for(timeout=30_000)
    _shoot(page, "/tmp/trust-model-fairness-north.png")

    _open_as(page, server, "/incidents", "sm.north", heading="Incidents")
    page.get_by_role("combobox", name="Incident").wait_for(timeout=30_000)
    _shoot(page, "/tmp/trust-incidents-north.png")

    _open_as(page, server, "/review", "olivia", heading="Weekly review")
    page.get_by_role("button", name="Sign the review of snapshot").wait_for(timeout=30_000)
    _shoot(page, "/tmp/trust-review.png")

    _open_as(page, server, "/users", "olivia", heading="Users")
    page.locator('[data-testid="stDataFrame"] >> visible=true').first.wait_for(timeout=30_000)
    _shoot(page, "/tmp/trust-users.png")


@pytest.fixture
def expiring_server(demo_home, tmp_path_factory, monkeypatch):
    """A server of its own whose downloads expire 2 s after they are made (ETHICS_DOWNLOAD_SECONDS)."""
    monkeypatch.setenv(ui.ENV_DOWNLOAD_SECONDS, "2")
    with _served(demo_home, tmp_path_factory) as found:
        yield found


def _status(url):
    """The HTTP status of a GET without the browser's session (what anyone holding the URL gets)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_downloaded_file_is_gone_from_its_url_after_the_expiry(expiring_server, page):
    _open_as(page, expiring_server, "/model?model=lead-scoring", "olivia", heading="Model")
    with page.expect_download(timeout=90_000) as download:
        page.get_by_role("button", name="Model card (Markdown)").click()
    assert open(download.value.path(), "rb").read().startswith(b"# Model card: Lead scoring")
    url = download.value.url
    assert "/media/" in url
    # Without ethics' sweep Streamlit keeps it until two later script runs: nobody else uses this server.
    deadline = time.monotonic() + 60
    while (status := _status(url)) == 200:
        assert time.monotonic() < deadline, f"{url} still served 60 s after a 2 s expiry"
        page.wait_for_timeout(500)  # polling the URL, as a person holding it would, until it is gone
    assert status == 404


def test_a_sidebar_link_keeps_the_model_and_the_week(server, page):
    db = store.open_db(server["home"] / "ethics.db")
    try:
        older = snapshots.list_snapshots(db, "upsell-propensity")[1]  # newest first: the week before the latest
    finally:
        db.close()
    _open_as(page, server, f"/model?model=upsell-propensity&week={older['week']}", "olivia", heading="Model")
    page.get_by_text(older["hash"]).first.wait_for(timeout=10_000)
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Fairness").click()
    page.get_by_role("heading", name="Fairness").wait_for(timeout=30_000)
    settled(page)
    assert "model=upsell-propensity" in page.url and f"week={older['week']}" in page.url, page.url
    shown = {name: page.get_by_role("combobox", name=name).input_value() for name in ("Model", "Snapshot")}
    assert shown == {"Model": "Upsell propensity",
                     "Snapshot": f"{older['week']} · version {older['version']} · {older['hash'][:12]}"}
