"""Hostile data and a hostile URL in the real app, in Debian's Chromium: no image, link or math from them.

The pages run against tests/hostile_home.py; every request the browser makes is recorded, and none
may reach the beacon address the hostile Markdown names.
"""

import urllib.parse

import pytest

from ethics import plain_text
from tests import hostile_home
from tests.browser import chromium, served, settled
from tests.conftest import PASSWORD
from tests.hostile_home import BEACON, HOSTILE, MODEL

pytestmark = pytest.mark.browser

_FROM_DATA = """() => ({
  images: [...document.querySelectorAll('img, image')].map(e => e.getAttribute('src') || e.getAttribute('href') || '')
            .filter(src => src.includes('127.0.0.1:9') || src.includes('beacon')),
  links: [...document.querySelectorAll('a')].map(a => a.getAttribute('href') || a.getAttribute('xlink:href') || '')
            .filter(href => href.includes('evil') || href.includes('127.0.0.1:9')),
  math: document.querySelectorAll('.katex').length,
  bold: [...document.querySelectorAll('b, strong')].map(e => e.textContent).filter(t => t === 'b' || t === 'bold'),
  text: document.body.innerText,
})"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-browser")
    (root / "home").mkdir()
    hostile_home.build(root / "home", root / "work")
    with served(root / "home") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as found:
        yield found


@pytest.mark.parametrize(("path", "heading"), [
    ("/", "Portfolio overview"), (f"/model?model={MODEL}", "Model"), (f"/fairness?model={MODEL}", "Fairness"),
    (f"/registry?model={MODEL}", "Model registry"), (f"/incidents?model={MODEL}", "Incidents"),
    ("/model?model=" + urllib.parse.quote(HOSTILE), "Model"),
])
def test_no_image_link_or_math_from_data_or_the_url(server, browser, path, heading):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(server + path)
        username = hostile_home.ACCOUNTS["ethics_officer"][0]
        page.get_by_role("textbox", name="Username").fill(username)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name=heading).wait_for(timeout=30_000)
        settled(page)
        found = page.evaluate(_FROM_DATA)
        found["text"] = found["text"].replace(plain_text.WORD_JOINER, "")  # invisible: it stops autolinks
    finally:
        context.close()
    assert found["images"] == [] and found["links"] == [] and found["math"] == 0 and found["bold"] == []
    hosts = {urllib.parse.urlsplit(url).netloc for url in requests}  # the page's own URL holds the hostile text
    assert hosts & {BEACON, "evil.example", "www.evil.example"} == set(), hosts
    assert "![x](http://127.0.0.1:9/beacon.png)" in found["text"]  # the reader sees the text itself
    assert ":red[red] $x^2$ <b>b</b> **bold**" in found["text"]
