"""Each page in Streamlit's AppTest against a real data home."""

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import EXAMPLE_MODEL, REPO


@pytest.fixture
def app_home(home, example_snapshot, monkeypatch):
    monkeypatch.setenv("ETHICS_HOME", str(home))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield home
    st.cache_resource.clear()
    st.cache_data.clear()


def _run(page, **query):
    """Open the app, then the page (as a browser would: app.py first, page by switch_page)."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30)
    at.run()
    if page != "app.py":
        for key, value in query.items():
            at.query_params[key] = value
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_app_opens_the_overview(app_home):
    at = _run("app.py")
    assert at.title[0].value == "Portfolio overview"
    frame = at.dataframe[0].value
    assert frame["Model"].tolist() == ["Webinar follow-up priority"]
    assert frame["Latest week"].tolist() == ["2026-W48"]
    assert frame["Fairness"].tolist() == ["⚪ not evaluated"]
    assert frame["Incidents"].tolist() == ["🟢 pass"]


def test_model_page_shows_the_snapshot(app_home, example_snapshot):
    at = _run("pages/model.py", model=EXAMPLE_MODEL)
    assert at.selectbox[0].value == EXAMPLE_MODEL
    assert any(example_snapshot["hash"] in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    perf = example_snapshot["results"]["performance"]
    assert metrics["Accuracy"] == f"{perf['accuracy']:.1%}"
    assert metrics["AUC"] == f"{perf['auc']:.3f}"


def test_model_page_reached_by_switch_page(app_home):
    at = _run("app.py")
    at.switch_page("pages/model.py").run()
    assert not at.exception
    assert at.title[0].value == "Model"


def test_registry_page_shows_manifest_and_hash(app_home, registered):
    at = _run("pages/registry.py")
    versions = at.dataframe[1].value
    assert versions["artifact_sha256"].tolist() == [registered["artifact_sha256"]]
    features = at.dataframe[2].value
    assert "Watched the webinar" in features["label"].tolist()


def test_empty_home_shows_a_clear_empty_state(tmp_path, monkeypatch):
    monkeypatch.setenv("ETHICS_HOME", str(tmp_path / "empty"))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = _run("app.py")
    assert "No models are registered yet" in at.info[0].value
    at = _run("pages/model.py")
    assert "No models are registered yet" in at.info[0].value
