"""Untrusted text shown as text: no Markdown, images, links, colours or LaTeX from data or URLs.

Streamlit renders Markdown in far more than ``st.markdown``: alerts, captions, headings,
metric labels and values, table cells, tab, expander, button and page-link labels, help
tooltips. Its renderer adds LaTeX (``$…$``), colour and other directives (``:red[…]``),
Material icons (``:material/…:``) and emoji shortcodes to GFM (images, links, autolinks,
tables). Plotly renders a little HTML (``<b>``, ``<a href>``) in every text of a chart.

:func:`markdown` makes a value literal for the first; :func:`figure` for the second.
Templates are ours: escape the interpolated values, never a whole template, so our own
bold stays bold. Plain sinks (``st.text``, ``st.dataframe``, select box options, input
values) take the raw value: escaped there, the backslashes would show.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import plotly.graph_objects as go

#: Backslash-escaped (CommonMark: any ASCII punctuation may be). Beyond GFM's own: ``$`` (LaTeX), ``:``
#: (directives, emoji shortcodes), ``/`` (``:material/``), ``&`` (entities), ``@`` and ``.`` (autolinks).
MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()<>#+-.!|~$:&/@")
# Every line break Markdown, or a browser, might start a new block at: a value stays on one line.
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x85\u2028\u2029]")
# GFM's autolink literals (http://, https://, www., e-mail) are found in the text *after* escapes are resolved,
# so a backslash does not stop them: a word joiner (U+2060, invisible, no line break) after "www", before "://"
# and after "@" does.
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?i)(?<=www)(?=\.)|(?=://)|(?<=@)")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Plotly keys whose strings are ours and are not shown as text (formats, templates with %{…}).
_PLOTLY_OWN = ("format", "template", "src")


def markdown(text: Any) -> str:
    """``text`` as Markdown that Streamlit shows literally, on one line.

    Every character of :data:`MARKDOWN_SPECIAL` gets a backslash, line breaks become spaces, and
    an autolink's "www.", "://" or "@" gets an invisible word joiner. ``None`` is the empty string.
    """
    value = _AUTOLINK.sub(WORD_JOINER, _LINE_BREAKS.sub(" ", "" if text is None else str(text)))
    return "".join(f"\\{c}" if c in MARKDOWN_SPECIAL else c for c in value)


def code(text: Any) -> str:
    """``text`` as an inline code span, shown literally: the fence is longer than any backtick run inside."""
    value = _LINE_BREAKS.sub(" ", "" if text is None else str(text))
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def unescape(source: str) -> str:
    """What a reader sees of :func:`markdown`'s output (the inverse, for tests and messages)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", source).replace(WORD_JOINER, "")


def html(text: str) -> str:
    """``text`` for Plotly: ``&``, ``<`` and ``>`` as entities, which Plotly shows as the characters."""
    return "".join(_HTML.get(c, c) for c in text)


def figure(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` whose every shown string is literal (trace data, names, titles, ticks, annotations).

    Strings under keys ending in ``format``, ``template`` or ``src`` are left alone (ours, not
    shown as such), and so is the layout's theme template.
    """
    spec = fig.to_plotly_json()
    layout = dict(spec.get("layout", {}))
    theme = layout.pop("template", None)
    layout = _literal(layout)
    if theme is not None:
        layout["template"] = theme
    return go.Figure({"data": [_literal(trace) for trace in spec.get("data", [])], "layout": layout})


def _literal(value: Any) -> Any:
    if isinstance(value, str):
        return html(value)
    if isinstance(value, dict):
        return {key: item if key.endswith(_PLOTLY_OWN) else _literal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_literal(item) for item in value]
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUS":
        return np.array([_literal(item) for item in value.tolist()], dtype=object).reshape(value.shape)
    return value
