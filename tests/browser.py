"""What the browser tests share: a `streamlit run` of a data home, Debian's Chromium, and waiting on Streamlit."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXCEPTION_BOX = '[data-testid="stException"]'
#: Streamlit marks its app root with the script's run state; "notRunning" once a run has finished.
RUN_FINISHED = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def served(home: Path) -> Iterator[str]:
    """A fresh `streamlit run app.py` on a free port against ``home``; yields its URL."""
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


@contextlib.contextmanager
def chromium() -> Iterator:
    """Debian's Chromium through Playwright (never `playwright install`)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def settled(page) -> None:
    """Wait for Streamlit's own run-finished state and no running indicator, then assert no exception box."""
    page.wait_for_selector(RUN_FINISHED, timeout=30_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000)
    assert page.locator(EXCEPTION_BOX).count() == 0, page.locator(EXCEPTION_BOX).first.inner_text()
