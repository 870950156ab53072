"""The Fairness page of an amount model, served by `streamlit run` and read in Debian's Chromium."""

import pytest

from tests import outcome_home
from tests.browser import EXCEPTION_BOX, chromium, served, settled
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("outcomes-served") / "home"
    latest = outcome_home.build(home)
    with served(home) as url:
        yield {"url": url, "latest": latest}


@pytest.fixture
def page():
    with chromium() as browser:
        yield browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()


def test_fairness_page_of_the_amount_model_states_its_verdict_in_its_unit(server, page):
    results = server["latest"]["continuous"]["results"]
    verdict = next(v for v in results["verdicts"] if v["metric"] == "mean_difference" and v["status"] == "fail")
    assert "% discount" in verdict["sentence"]
    page.goto(f"{server['url']}/fairness?model={outcome_home.MODELS['continuous']}")
    page.get_by_role("textbox", name="Username").fill("olivia")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Verdicts against the policy").wait_for(timeout=30_000)
    settled(page)
    finding = page.get_by_text(verdict["sentence"], exact=False).first
    finding.wait_for(timeout=30_000)
    assert "% discount less than" in finding.inner_text()
    page.get_by_text("Conditioned on deal_band").first.wait_for(timeout=30_000)
    assert page.locator(EXCEPTION_BOX).count() == 0
