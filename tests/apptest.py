"""Drive the app in Streamlit's AppTest the way a browser does."""

from contextlib import contextmanager

import streamlit as st
from streamlit.testing.v1 import AppTest

from ethics import plain_text
from tests.conftest import PASSWORD, REPO


def clear_caches():
    st.cache_resource.clear()
    st.cache_data.clear()


@contextmanager
def app_on(home, monkeypatch):
    """The app reads ``home`` (caches cleared before and after, so no other home's reads survive)."""
    monkeypatch.setenv("ETHICS_HOME", str(home))
    clear_caches()
    try:
        yield home
    finally:
        clear_caches()


def open_app(username=None):
    """Run app.py and, if a username is given, sign in through the real form."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30)
    at.run()
    if username is not None:
        at.text_input[0].input(username)
        at.text_input[1].input(PASSWORD)
        button(at, "Sign in").click()
        at.run()
        assert not at.exception, [e.message for e in at.exception]
    return at


def button(at, label):
    """The button with this label (main area first, then the sidebar)."""
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} among {[b.label for b in at.button]}"
    return matches[0]


def open_page(at, page, **query):
    """Switch to a page as a link would (query parameters first)."""
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(page).run()
    return at


def texts(at):
    """Everything the page sent, as a reader sees it: text elements, table cells, select box options."""
    parts = [shown(el) for kind in ("title", "markdown", "caption", "info", "error", "warning", "success")
             for el in getattr(at, kind)]
    parts += [str(box.options) for box in at.selectbox]
    parts += [frame.value.to_csv() for frame in at.dataframe]
    parts += [shown(str(m.value)) for m in at.metric] + [shown(m.label) for m in at.metric]
    return "\n".join(str(p) for p in parts)


def shown(element):
    """What a reader sees of an element (or a list of them) whose data the page escaped (``ui.escape``)."""
    if isinstance(element, str):
        return plain_text.unescape(element)
    if hasattr(element, "value"):
        return plain_text.unescape(element.value)
    return [shown(e) for e in element]
