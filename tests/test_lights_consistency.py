"""The six lights agree on every surface: Overview, Model page, Weekly review, both PDFs, model card and CLI.

A copy of the small demo gets signed reviews and new incidents, so that the incidents and
review lights take several states across the six models.  The lights are computed once with
``lights.model_lights`` (their one producer) at one fixed moment in ISO week 2026-W49, for the
officer and for the north sales manager (whose consent light and incidents are the team's),
and every surface must print the same light and the same reason.

Surfaces that take a moment (services, PDFs, model card) get :data:`AT`.  The app (AppTest) and
the CLI use the real clock, so their expectations are computed at "now" just before and just
after they run; the page must match one of the two.

PDF text is read with pdftotext when it is installed, with pypdf otherwise, and compared with
whitespace removed (long lines wrap).  Each PDF is made once per reader and shared by the tests.

The case of the issue: the officer signs the 2026-W48 snapshot in 2026-W49 and an incident is
opened in 2026-W49; the W48 report must then say the snapshot was signed and count the
incidents as the Overview does ("3 open, 2 overdue", not "2 open").
"""

import io
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from ethics import (
    auth,
    chart_images,
    incidents,
    lights,
    model_card,
    portfolio,
    registry,
    reports,
    reviews,
    snapshots,
    store,
    ui,
)
from ethics.cli import cli
from ethics.lights import AREAS
from ethics.weeks import iso, utcnow
from tests.apptest import app_on, open_app, open_page
from tests.conftest import WEEK, copy_demo

USERS = ("olivia", "sm.north")
SCOPES = {"olivia": None, "sm.north": "north"}
# The demo's latest snapshots are of 2026-W48 (taken on Monday 2026-11-23).
REVIEWED_LAST_WEEK = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # Thursday of 2026-W48
SIGNED_NEXT_WEEK = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday of 2026-W49
OPENED_LONG_AGO = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # a high incident due 2026-11-23: overdue at AT
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # Tuesday of 2026-W49, after every write
AT_TEXT = "lights as of 2026-12-01 12:00 UTC (ISO week 2026-W49)"
SIGNED_TEXT = ("The snapshot of 2026-W48 shown here was signed: approve with conditions by olivia on 2026-11-30 "
               "(review cycle 2026-W49).")
CHECKED = dict.fromkeys(reviews.CHECKLIST, True)
_LINE = re.compile(r"^(?P<light>.+) · \*\*(?P<area>[a-z]+)\*\*: (?P<reason>.*)$", re.DOTALL)


# --- the scenario ------------------------------------------------------------------------------------------------


def _sign(db, model_id, decision, now, **text):
    latest = snapshots.latest_snapshot(db, model_id)
    assert latest["week"] == WEEK
    return reviews.sign_review(db, model_id=model_id, snapshot_hash=latest["hash"], decision=decision,
                               checklist=CHECKED, reviewer="olivia", now=now, **text)


@pytest.fixture(scope="module")
def governed(demo_home, tmp_path_factory):
    """A copy of the demo after a week of governance: (home, db)."""
    home = copy_demo(demo_home, tmp_path_factory.mktemp("lights") / "home")
    db = store.open_db(home / "ethics.db")
    # Reviews: signed last cycle (due again: warn), signed this cycle (pass), suspended (fail), never (fail).
    _sign(db, "churn-risk", "approve", REVIEWED_LAST_WEEK,
          comment="The failing fairness and drift lights are tracked in incidents.")
    _sign(db, "lead-scoring", "approve_with_conditions", SIGNED_NEXT_WEEK,
          conditions="Route leads aged 55+ to a human until the postcode proxy is removed.")
    _sign(db, "upsell-propensity", "suspend", SIGNED_NEXT_WEEK,
          comment="Scores drift away from the offers customers accept.")
    # Incidents: one opened in 2026-W49 (after the W48 snapshot), a critical one, an old overdue one,
    # and the discount model's whole-model incident closed (the north manager then sees none open).
    incidents.open_incident(db, model_id="lead-scoring", severity="low", category="explainability",
                            title="Help text of the web-visits feature is out of date", reporter="olivia",
                            now=SIGNED_NEXT_WEEK)
    incidents.open_incident(db, model_id="churn-risk", severity="critical", category="privacy",
                            title="Retention export holds customers who objected", reporter="olivia",
                            now=SIGNED_NEXT_WEEK)
    incidents.open_incident(db, model_id="upsell-propensity", severity="high", category="accuracy",
                            title="Seat usage feed lags by a week", reporter="olivia", now=OPENED_LONG_AGO)
    (vendor,) = [i for i in incidents.list_incidents(db, model_id="discount-size", open_only=True)
                 if i["team"] is None]
    incidents.update_incident(db, vendor["id"], actor="olivia", status="closed", now=SIGNED_NEXT_WEEK)
    yield home, db
    db.close()


def _expected(db, scope, at):
    """Each visible model's six lights for the reader at ``at``, from their one producer."""
    return {
        model["id"]: lights.model_lights(db, model, snapshots.latest_snapshot(db, model["id"]), scope=scope, at=at)
        for model in registry.list_models(db, scope=scope)
    }


def _models(db, scope):
    return {model["id"]: model for model in registry.list_models(db, scope=scope)}


@pytest.fixture(scope="module")
def expected(governed):
    """{username: {model_id: lights}} at :data:`AT`."""
    _, db = governed
    return {user: _expected(db, SCOPES[user], AT) for user in USERS}


def _actor(db, username):
    return auth.get_actor(db, username)


def test_the_scenario_gives_the_lights_several_states(expected):
    officer, north = expected["olivia"], expected["sm.north"]
    assert sorted(officer) == sorted(north) == ["churn-risk", "discount-size", "lead-call-list", "lead-scoring",
                                                 "next-best-offer", "upsell-propensity"]
    assert {m: officer[m]["review"] for m in officer} == {
        "churn-risk": {"status": "warn", "reason": "due this week (2026-W49)"},
        "discount-size": {"status": "fail", "reason": "overdue: last signed never"},
        "lead-call-list": {"status": "fail", "reason": "overdue: last signed never"},
        "lead-scoring": {"status": "pass", "reason": "signed 2026-11-30 by olivia (snapshot 2026-W48)"},
        "next-best-offer": {"status": "fail", "reason": "overdue: last signed never"},
        "upsell-propensity": {"status": "fail", "reason": "suspended at the last review"},
    }
    assert {m: officer[m]["incidents"] for m in officer} == {
        "churn-risk": {"status": "fail", "reason": "2 open, 1 critical"},
        "discount-size": {"status": "warn", "reason": "1 open"},  # the south lead's contest
        "lead-call-list": {"status": "pass", "reason": "no open incidents"},
        "lead-scoring": {"status": "fail", "reason": "3 open, 2 overdue"},
        "next-best-offer": {"status": "pass", "reason": "no open incidents"},
        "upsell-propensity": {"status": "fail", "reason": "2 open, 1 overdue"},
    }
    assert north["discount-size"]["incidents"] == {"status": "pass", "reason": "no open incidents"}
    for user, found in expected.items():
        for area in ("incidents", "review"):
            assert len({found[m][area]["status"] for m in found}) >= 2, (user, area)
        assert {light["status"] for model in found.values() for light in model.values()} >= {"pass", "warn", "fail"}
    # The consent light is the team's for the sales manager; the other snapshot lights are the model's.
    for model_id in officer:
        assert north[model_id]["consent"] != officer[model_id]["consent"], model_id
        for area in ("fairness", "drift", "explanations", "review"):
            assert north[model_id][area] == officer[model_id][area], (model_id, area)


# --- Overview (service and page) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("username", USERS)
def test_overview_rows_carry_the_lights(governed, expected, username):
    _, db = governed
    rows = portfolio.overview(db, scope=SCOPES[username], now=AT)
    assert {row["id"]: row["lights"] for row in rows} == expected[username]
    assert {row["at"] for row in rows} == {iso(AT)}


@pytest.fixture
def app_home(governed, monkeypatch):
    home, _ = governed
    with app_on(home, monkeypatch):
        yield home


def _around_now(db, scope, run):
    """Run ``run`` and return its result with the expected lights just before and just after."""
    before = _expected(db, scope, utcnow())
    result = run()
    after = _expected(db, scope, utcnow())
    return result, [before] if after == before else [before, after]


def _one_matches(problems_per_moment):
    """Assert that the surface matched the lights of one of the moments (show the first moment's mismatches)."""
    assert any(not problems for problems in problems_per_moment), problems_per_moment[0]


def _shown_name(model):
    return f"⛔ {model['name']} (suspended)" if model["status"] == "suspended" else model["name"]


def _overview_problems(frame, models, found):
    problems = []
    shown = {row["Model"]: row for row in frame.to_dict("records")}
    if sorted(shown) != sorted(_shown_name(m) for m in models.values()):
        return [f"models shown {sorted(shown)}"]
    for model_id, model_lights in found.items():
        row = shown[_shown_name(models[model_id])]
        for area in AREAS:
            if row[area.capitalize()] != ui.light(model_lights[area]):
                problems.append(f"{model_id} {area}: page {row[area.capitalize()]!r}, "
                                f"lights {ui.light(model_lights[area])!r}")
        attention = row["Needs attention"]
        for area, light in model_lights.items():
            said = f"{area}: {light['reason']}"
            if light["status"] in ("warn", "fail") and said not in attention:
                problems.append(f"{model_id}: {said!r} missing from Needs attention {attention!r}")
            if light["status"] not in ("warn", "fail") and f"{area}: " in attention:
                problems.append(f"{model_id}: {area} ({light['status']}) in Needs attention {attention!r}")
    return problems


@pytest.mark.parametrize("username", USERS)
def test_overview_page_shows_the_lights(app_home, governed, username):
    _, db = governed
    scope = SCOPES[username]
    page, moments = _around_now(db, scope, lambda: open_app(username))
    assert not page.exception, [e.message for e in page.exception]
    assert page.title[0].value == "Portfolio overview"
    frame = page.dataframe[0].value
    models = _models(db, scope)
    _one_matches([_overview_problems(frame, models, found) for found in moments])


# --- Model page ----------------------------------------------------------------------------------------------------


def _page_lines(page):
    """The Model page's "At a glance" lines, by area."""
    lines = {}
    for element in page.markdown:
        match = _LINE.match(element.value)
        if match and match["area"] in AREAS:
            assert match["area"] not in lines, f"two lines for {match['area']}"
            lines[match["area"]] = element.value
    return lines


def _line(area, light):
    return f"{ui.light(light)} · **{area}**: {ui.escape(light['reason'])}"


@pytest.mark.parametrize("username", USERS)
def test_model_page_shows_the_lights(app_home, governed, username):
    _, db = governed
    scope = SCOPES[username]
    page = open_app(username)
    for model_id in _models(db, scope):
        page, moments = _around_now(db, scope, lambda m=model_id, p=page: open_page(p, "pages/model.py", model=m))
        assert not page.exception, [e.message for e in page.exception]
        assert page.selectbox[0].value == model_id
        assert "At a glance: the six lights" in [e.label for e in page.expander]
        shown = _page_lines(page)
        _one_matches([
            [f"{model_id} {area}: page {shown.get(area)!r}, lights {_line(area, found[model_id][area])!r}"
             for area in AREAS if shown.get(area) != _line(area, found[model_id][area])]
            for found in moments
        ])


# --- Weekly review page (officer) -----------------------------------------------------------------------------------


def test_weekly_review_page_shows_the_review_lights(app_home, governed):
    _, db = governed
    page, moments = _around_now(db, None, lambda: open_page(open_app("olivia"), "pages/review.py"))
    assert not page.exception, [e.message for e in page.exception]
    names = {model_id: model["name"] for model_id, model in _models(db, None).items()}
    queue = {row["Model"]: (row["Review"], row["Why"]) for row in page.dataframe[0].value.to_dict("records")}
    chosen = page.selectbox[0].value  # the first model to sign: its six lines follow the queue
    shown = _page_lines(page)
    _one_matches([
        [f"{model_id} review: queue {queue.get(names[model_id])!r}"
         for model_id in found if queue.get(names[model_id]) != (ui.light(found[model_id]["review"]),
                                                                  found[model_id]["review"]["reason"])]
        + [f"{chosen} {area}: page {shown.get(area)!r}" for area in AREAS
           if shown.get(area) != _line(area, found[chosen][area])]
        for found in moments
    ])


# --- PDFs ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_browser():
    """One Chromium for the module's PDFs."""
    with chart_images.renderer():
        yield


def _pdf_text(pdf, tmp_dir):
    assert pdf.startswith(b"%PDF-")
    if shutil.which("pdftotext"):
        path = tmp_dir / "report.pdf"
        path.write_bytes(pdf)
        return subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], check=True,
                              capture_output=True, text=True).stdout
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _flat(text):
    """Text without any whitespace (long lines wrap)."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def model_pdfs(governed, one_browser, tmp_path_factory):
    """{(username, model_id): text of the model's 2026-W48 PDF at AT}, each made once."""
    _, db = governed
    tmp_dir = tmp_path_factory.mktemp("model-pdfs")
    return {
        (user, model_id): _pdf_text(reports.model_report_pdf(db, model_id=model_id, actor=_actor(db, user),
                                                             week=WEEK, now=AT), tmp_dir)
        for user in USERS for model_id in _models(db, SCOPES[user])
    }


@pytest.fixture(scope="module")
def portfolio_pdfs(governed, one_browser, tmp_path_factory):
    """{username: text of the portfolio PDF at AT}."""
    _, db = governed
    tmp_dir = tmp_path_factory.mktemp("portfolio-pdfs")
    return {user: _pdf_text(reports.portfolio_report_pdf(db, actor=_actor(db, user), now=AT), tmp_dir)
            for user in USERS}


def _word(status):
    """A status as the PDF's status line prints it (``Document.status_line``)."""
    return status.replace("_", " ").upper()


def _glance_lines(model_lights):
    """The six status lines as a PDF prints them (status word, area, reason), without whitespace."""
    return [_flat(f"{_word(model_lights[area]['status'])} {area.capitalize()}: {model_lights[area]['reason']}")
            for area in AREAS]


_WORDS = "(?:PASS|WARN|FAIL|NOTEVALUATED)"
_PDF_LINE = re.compile(_WORDS + "(?:" + "|".join(area.capitalize() for area in AREAS) + "):")
_PDF_FIRST = re.compile(_WORDS + "Fairness:")
_PDF_MOMENT = _flat(f"Incidents and review: {AT_TEXT}.")


def _pdf_glance(flat):
    """The status lines of the first block of six lights in flat PDF text, and the text just before and after."""
    first = _PDF_FIRST.search(flat)
    assert first, "no fairness status line"
    end = flat.index("Incidentsandreview:", first.start())
    block = flat[first.start():end]
    starts = [m.start() for m in _PDF_LINE.finditer(block)]
    lines = [block[a:b] for a, b in zip(starts, [*starts[1:], len(block)], strict=True)]
    return flat[:first.start()], lines, flat[end:end + len(_PDF_MOMENT)]


@pytest.mark.parametrize("username", USERS)
def test_model_pdf_prints_the_lights(expected, model_pdfs, username):
    for model_id, model_lights in expected[username].items():
        before, lines, moment = _pdf_glance(_flat(model_pdfs[username, model_id]))
        assert before.endswith("Ataglance"), model_id
        assert lines == _glance_lines(model_lights), model_id
        assert moment == _PDF_MOMENT, model_id


def _portfolio_pages(text, models):
    """The portfolio report's cover, and each model's page from its heading to the next model's."""
    flat = _flat(text)
    starts = [flat.index(_flat(f"{model['name']} ({model_id})")) for model_id, model in models.items()]
    assert starts == sorted(starts)
    cover = flat[:starts[0]]
    ends = [*starts[1:], len(flat)]
    return cover, {model_id: flat[start:end] for model_id, start, end in zip(models, starts, ends, strict=True)}


def _table_row(model, model_lights):
    suspended = " (suspended)" if model["status"] == "suspended" else ""
    words = " ".join(model_lights[area]["status"].replace("_", " ") for area in AREAS)
    return _flat(f"{model['name']}{suspended} {model['team']} {model['risk_tier']} {WEEK} {words}")


@pytest.mark.parametrize("username", USERS)
def test_portfolio_pdf_prints_the_lights(governed, expected, portfolio_pdfs, username):
    _, db = governed
    models = _models(db, SCOPES[username])
    cover, pages = _portfolio_pages(portfolio_pdfs[username], models)
    assert _flat(f"Lights {AT_TEXT}") in cover
    found = expected[username]
    heading = "ModelTeamRiskWeekFairnessDriftExplanationsConsentIncidentsReview"
    assert heading in cover, cover
    table = cover[cover.index(heading) + len(heading):cover.index("Portfoliotransparencyreport·page1of")]
    rows = [_table_row(model, found[model_id]) for model_id, model in models.items()]
    assert table == "".join(rows), (rows, table)
    for model_id, page in pages.items():
        _, lines, moment = _pdf_glance(page)
        assert lines == _glance_lines(found[model_id]), model_id
        assert moment == _PDF_MOMENT, model_id


# --- Model card ----------------------------------------------------------------------------------------------------


def _card_glance(markdown):
    lines = markdown.splitlines()
    start = lines.index("## At a glance") + 2
    return lines[start:lines.index("", start)], lines[lines.index("", start) + 1]


@pytest.mark.parametrize("username", USERS)
def test_model_card_carries_the_lights(governed, expected, username):
    _, db = governed
    e = model_card.escape_markdown
    for model_id, model_lights in expected[username].items():
        facts = reports.model_facts(db, model_id=model_id, actor=_actor(db, username), week=WEEK, now=AT)
        card = json.loads(model_card.card_json(facts))
        assert card["lights"] == model_lights, model_id
        assert card["lights_at"] == iso(AT)
        table, moment = _card_glance(model_card.card_markdown(facts))
        assert table == ["| Area | Light | Reason |", "|---|---|---|", *(
            f"| {area.capitalize()} | {model_lights[area]['status'].replace('_', ' ')} | "
            f"{e(model_lights[area]['reason'])} |" for area in AREAS)], model_id
        assert moment == f"_Incidents and review: {e(AT_TEXT)}._"


# --- CLI -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", USERS)
def test_cli_models_prints_the_lights(governed, expected, monkeypatch, username):
    home, db = governed
    scope = SCOPES[username]
    monkeypatch.setenv("ETHICS_HOME", str(home))
    runner = CliRunner()
    result = runner.invoke(cli, ["--as", username, "models", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["id"] for row in rows] == list(expected[username])
    for row in rows:
        # The CLI's lights are of "now" and say which moment: exactly the lights of that moment.
        assert row["lights"] == _expected(db, scope, datetime.fromisoformat(row["at"]))[row["id"]], row["id"]
        for area in lights.SNAPSHOT_AREAS:
            assert row["lights"][area] == expected[username][row["id"]][area], (row["id"], area)

    def text():
        result = runner.invoke(cli, ["--as", username, "models"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output.splitlines()

    printed, moments = _around_now(db, scope, text)
    _one_matches([
        [f"{model_id} {area}: {line!r} not printed" for model_id, model_lights in found.items() for area in AREAS
         if (line := f"    {area:<13} {model_lights[area]['status'].upper():<14} {model_lights[area]['reason']}")
         not in _cli_block(printed, model_id)]
        for found in moments
    ])


def _cli_block(printed, model_id):
    """The six light lines printed under a model's line."""
    start = next(n for n, line in enumerate(printed) if line.startswith(f"{model_id} "))
    return printed[start + 1:start + 1 + len(AREAS)]


# --- The model PDF's incident section -------------------------------------------------------------------------------


def test_model_pdf_incident_section_states_the_moment_of_its_count(expected, model_pdfs):
    """The section counts the incidents open at the lights' moment; its sentence must not name an earlier cutoff.

    The report lists (and counts, like the incidents light) every incident opened up to the moment of the
    lights, here 2026-12-01 in 2026-W49, but says "Incidents opened up to the end of 2026-W48", the
    snapshot's week, above a table that holds an incident opened on 2026-11-30.
    """
    text = model_pdfs["olivia", "lead-scoring"]
    section = text[text.index("\nIncidents\n"):text.index("\nReview history\n")]
    assert expected["olivia"]["lead-scoring"]["incidents"]["reason"].startswith("3 open")
    assert "3 open" in section
    listed = re.findall(r"\b(\d{4}-\d{2}-\d{2}) \d{4}-\d{2}-\d{2}\n", section + "\n")
    assert "2026-11-30" in listed, section  # the incident opened in 2026-W49 is in the table
    assert _flat("Incidents opened up to the moment of the lights on the cover: 3 open, 0 closed.") in _flat(section)
    stated = re.search(r"Incidents opened up to the end of (\d{4}-W\d{2})", section)
    assert stated is None or stated[1] >= "2026-W49", (
        f"the section says incidents opened up to the end of {stated[1]} but lists one opened on 2026-11-30 "
        f"and counts them as of the lights' moment ({AT_TEXT}): {section.splitlines()[2]!r}")


# --- The case: a 2026-W48 snapshot signed in 2026-W49 --------------------------------------------------------


def test_w48_snapshot_signed_in_w49_reads_signed_and_the_pdf_counts_incidents_as_the_overview(
    governed, model_pdfs
):
    _, db = governed
    officer = _actor(db, "olivia")
    (row,) = [r for r in portfolio.overview(db, now=AT) if r["id"] == "lead-scoring"]
    assert row["latest_week"] == WEEK
    assert row["lights"]["incidents"] == {"status": "fail", "reason": "3 open, 2 overdue"}
    assert row["lights"]["review"] == {"status": "pass", "reason": "signed 2026-11-30 by olivia (snapshot 2026-W48)"}
    flat = _flat(model_pdfs["olivia", "lead-scoring"])
    assert _flat("FAIL Incidents: 3 open, 2 overdue") in flat
    assert _flat("WARN Incidents:") not in flat
    assert _flat("PASS Review: signed 2026-11-30 by olivia (snapshot 2026-W48)") in flat
    assert _flat(SIGNED_TEXT) in flat
    facts = reports.model_facts(db, model_id="lead-scoring", actor=officer, week=WEEK, now=AT)
    assert facts["lights"]["incidents"] == row["lights"]["incidents"]
    assert [(r["week"], r["snapshot_week"], r["decision"]) for r in facts["review_of_snapshot"]] == [
        ("2026-W49", WEEK, "approve_with_conditions")]
    card = json.loads(model_card.card_json(facts))
    assert card["review_of_snapshot"][0]["signed_at"] == iso(SIGNED_NEXT_WEEK)
    assert model_card.escape_markdown(SIGNED_TEXT) in model_card.card_markdown(facts)
    # The report's incident table lists the incident opened in 2026-W49 beside the two of the demo.
    assert sum(i["status"] != "closed" for i in facts["incidents"]) == 3
