"""Untrusted text is shown as text: no Markdown, images, links, colours or LaTeX from data or URLs (issue 18.5).

The helper (``plain_text``, ``ui.escape``) on its own, then every page for each role against a
data home whose every free-text field is hostile (tests/hostile_home.py): every string of every
element Streamlit renders as Markdown holds the hostile text only escaped, every chart only with
its HTML as entities, and the plain sinks (tables, select boxes, ``st.text``) hold it unchanged.
"""

import re

import pandas as pd
import plotly.graph_objects as go
import pytest
from google.protobuf.message import Message

from ethics import charts, plain_text, registry, ui
from tests import hostile_home
from tests.apptest import app_on, open_app, open_page, shown
from tests.hostile_home import HOSTILE, HTML_MARKERS, LEAD, MODEL, RAW_MARKERS

# Fields Streamlit shows as plain text or never shows; every other string field of an element is Markdown.
_PLAIN = ("Text.body",)
_PLAIN_FIELDS = ("options", "default", "value", "spec", "icon", "id", "form_id", "placeholder")
# Streamlit's own test for "load remark-emoji" (StreamlitMarkdown's hm()): a shortcode anywhere in the source.
_EMOJI = re.compile(r":(?!material/|streamlit:)[\w+-][\w_+-]*:")


# -- the helper ----------------------------------------------------------------------------------------


def test_every_markdown_character_is_escaped_and_nothing_else():
    for char in plain_text.MARKDOWN_SPECIAL - {"@"}:
        assert plain_text.markdown(f"a{char}b") == f"a\\{char}b"
    assert plain_text.markdown("Priya Raman, 42 % sure?") == "Priya Raman, 42 % sure?"
    assert plain_text.markdown(None) == ""


def test_autolink_literals_get_a_word_joiner_which_a_backslash_alone_does_not_stop():
    joiner = plain_text.WORD_JOINER
    assert plain_text.markdown("see https://x.example") == f"see https{joiner}\\:\\/\\/x\\.example"
    assert plain_text.markdown("WWW.x.example") == f"WWW{joiner}\\.x\\.example"
    assert plain_text.markdown("a@b.example") == f"a\\@{joiner}b\\.example"
    assert plain_text.markdown("10:30 // wwwx.example") == "10\\:30 \\/\\/ wwwx\\.example"  # no autolink, no joiner


def test_escaped_text_reads_as_the_original_on_one_line():
    text = "1. first\n- second\r\n# third\u2028+ fourth"
    escaped = plain_text.markdown(text)
    assert "\n" not in escaped and "\r" not in escaped and "\u2028" not in escaped
    assert plain_text.unescape(escaped) == "1. first - second # third + fourth"
    assert plain_text.unescape(plain_text.markdown(HOSTILE)) == HOSTILE


def test_escaped_hostile_text_has_no_link_image_directive_math_or_shortcode():
    escaped = plain_text.markdown(HOSTILE)
    assert not any(marker in escaped for marker in RAW_MARKERS)
    assert not _EMOJI.search(escaped)  # so Streamlit does not even load its emoji plugin for it
    assert not re.search(r"(?<!\\)[$:\[\]()<>!*`]", escaped)  # every such character has its backslash


def test_code_spans_hold_any_backticks():
    assert plain_text.code("a`b") == "``a`b``"
    assert plain_text.code("`x`") == "`` `x` ``"
    assert plain_text.code("plain") == "`plain`"


def test_a_figure_shows_html_from_data_as_text_and_keeps_its_own_formats():
    groups = pd.DataFrame({"group": [HOSTILE, "male"], "judged": [True, True], "rate": [0.2, 0.3],
                           "rate_interval": [[0.1, 0.3], [0.2, 0.4]]})
    figure = charts.group_metric(groups, metric="rate", label=f"rate of {HOSTILE}")
    figure.update_traces(hovertemplate="<b>%{x}</b>: %{y}<extra></extra>")
    safe = plain_text.figure(figure)
    assert list(safe.data[0].x) == [plain_text.html(HOSTILE), "male"]
    assert safe.layout.yaxis.title.text == f"rate of {plain_text.html(HOSTILE)}"
    assert safe.data[0].hovertemplate == "<b>%{x}</b>: %{y}<extra></extra>"  # ours: left alone
    assert safe.layout.yaxis.tickformat == figure.layout.yaxis.tickformat
    spec = safe.to_json().replace("\\u002f", "/")  # Plotly's JSON writes / as \\u002f
    assert "<a href" not in spec and "&lt;a href" in spec and "&lt;b&gt;b&lt;/b&gt;" in spec
    assert isinstance(safe, go.Figure) and safe.layout.template == figure.layout.template


# -- every page, every role ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    (root / "home").mkdir()
    return hostile_home.build(root / "home", root / "work")


@pytest.fixture
def app(hostile, monkeypatch):
    with app_on(hostile["home"], monkeypatch):
        yield hostile


def _strings(message, path):
    for field, value in message.ListFields():
        values = list(value) if type(value).__name__.startswith("Repeated") else [value]
        for item in values:
            if isinstance(item, Message):
                yield from _strings(item, f"{path}.{field.name}")
            elif isinstance(item, str):
                yield f"{path}.{field.name}", item


def _fields(at):
    """(element.field, text) for every string field of every element and block the page sent."""
    for node in at._tree:
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message):
            yield from _strings(proto, type(node).__name__)


def _markdown_fields(at):
    return [(path, text) for path, text in _fields(at)
            if path not in _PLAIN and path.rsplit(".", 1)[-1] not in _PLAIN_FIELDS]


def _cells(frame):
    """Every header and cell of a table as text."""
    return [str(c) for c in frame.columns] + [str(v) for v in frame.to_numpy().ravel()]


def _visit(at, page):
    """The page as a reader would use it: the lead page with the hostile lead typed in."""
    at = open_page(at, page, model=MODEL)
    if page == "pages/leads.py":
        next(t for t in at.text_input if t.label.startswith("Lead id")).input(LEAD).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _check(at, page):
    """Assert the page sent hostile text only as text; return the element fields that carried it escaped."""
    raw = [(path, text[:80]) for path, text in _markdown_fields(at) if any(m in text for m in RAW_MARKERS)]
    assert raw == [], f"{page}: Markdown from data rendered in {raw}"
    specs = [text for path, text in _fields(at) if path.endswith(".spec")]
    assert not any(m in spec for spec in specs for m in HTML_MARKERS), f"{page}: HTML from data in a chart"
    tables = [_cells(table.value) for table in at.table]  # st.table renders Markdown in cells and headers
    assert not any(m in cell for cells in tables for cell in cells for m in RAW_MARKERS), f"{page}: st.table"
    frames = [_cells(frame.value) for frame in at.dataframe]  # st.dataframe does not: raw text, no backslashes
    escaped = plain_text.markdown(HOSTILE)
    assert not any(escaped in cell for cells in frames for cell in cells), f"{page}: escaped in a dataframe"
    carried = {path for path, text in _markdown_fields(at) if escaped in text}
    carried |= {"Table.cell" for cells in tables if any(escaped in cell for cell in cells)}
    carried |= {"DataFrame.cell" for cells in frames if any(HOSTILE in cell for cell in cells)}
    return carried


#: Where each role's walk must have met the hostile text (so a walk that saw none cannot pass).
_EXPECTED = {
    "ethics_officer": {"Caption.body", "Markdown.body", "Info.body", "PageLink.label", "Subheader.body",
                       "Table.cell", "DataFrame.cell"},
    "auditor": {"Caption.body", "Markdown.body", "PageLink.label", "Table.cell", "DataFrame.cell"},
    "sales_manager": {"Caption.body", "Markdown.body", "Info.body", "PageLink.label", "DataFrame.cell"},
}


@pytest.mark.parametrize("role", sorted(hostile_home.ACCOUNTS))
def test_every_page_shows_hostile_data_as_text(app, role):
    username, _ = hostile_home.ACCOUNTS[role]
    carried = set()
    for spec in ui.PAGES:
        at = _visit(open_app(username), spec.path)
        carried |= _check(at, spec.path)
        signed_in = f"Signed in as **{plain_text.markdown(username + ' ' + HOSTILE)}"  # the display name, escaped
        assert any(c.value.startswith(signed_in) for c in at.caption), spec.path
    assert _EXPECTED[role] <= carried, f"never met the hostile text in {_EXPECTED[role] - carried}"


@pytest.mark.parametrize("role", sorted(hostile_home.ACCOUNTS))
@pytest.mark.parametrize("page", ["pages/model.py", "pages/fairness.py", "pages/consent.py"])
def test_a_url_with_markdown_is_echoed_as_text_in_the_error_box(app, role, page):
    username, team = hostile_home.ACCOUNTS[role]
    at = open_page(open_app(username), page, model=HOSTILE)
    expected = registry.hidden_model(HOSTILE, scope=team)
    assert shown(at.error) == [str(expected)]
    assert [e.value for e in at.error] == [ui.escape(str(expected))]
    assert not any(m in e.value for e in [*at.error, *at.info] for m in RAW_MARKERS)
