"""The Fairness page of an amount model, served by `streamlit run` and read in Debian's Chromium."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests import outcome_home
from tests.conftest import PASSWORD, REPO

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXCEPTION_BOX = '[data-testid="stException"]'
#: Streamlit marks its app root with the script's run state; "notRunning" once a run has finished.
RUN_FINISHED = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _served(home):
    port = _free_port()
    log = open(home.parent / "streamlit.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=REPO, env={**os.environ, "ETHICS_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.3)  # polling the health endpoint until the server answers
    else:
        process.kill()
        pytest.fail("streamlit did not start: " + (home.parent / "streamlit.log").read_text())
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("outcomes-served") / "home"
    latest = outcome_home.build(home)
    with _served(home) as url:
        yield {"url": url, "latest": latest}


@pytest.fixture
def page():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        yield page
        browser.close()


def _settled(page):
    """Wait for Streamlit's own run-finished state, then assert no exception box."""
    page.wait_for_selector(RUN_FINISHED, timeout=30_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000)
    assert page.locator(EXCEPTION_BOX).count() == 0, page.locator(EXCEPTION_BOX).first.inner_text()


def test_fairness_page_of_the_amount_model_states_its_verdict_in_its_unit(server, page):
    results = server["latest"]["continuous"]["results"]
    verdict = next(v for v in results["verdicts"] if v["metric"] == "mean_difference" and v["status"] == "fail")
    assert "% discount" in verdict["sentence"]
    page.goto(f"{server['url']}/fairness?model={outcome_home.MODELS['continuous']}")
    page.get_by_role("textbox", name="Username").fill("olivia")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Verdicts against the policy").wait_for(timeout=30_000)
    _settled(page)
    finding = page.get_by_text(verdict["sentence"], exact=False).first
    finding.wait_for(timeout=30_000)
    assert "% discount less than" in finding.inner_text()
    page.get_by_text("Conditioned on deal_band").first.wait_for(timeout=30_000)
    assert page.locator(EXCEPTION_BOX).count() == 0
