"""Plotly figures to PNG with kaleido 1.x and Debian's Chromium, one browser per report.

Starting Chromium takes about 3 s, so :func:`renderer` keeps one open for a whole
report and the app keeps one for its life (:func:`keep_open`).  The browser lives on
one event-loop thread of ours, so a report submits all its charts at once
(:func:`drawing_ahead`) and lays out its text while they are drawn (waiting for
Chromium releases the GIL).  One tab (:data:`TABS`): a second drew a report no faster
here and added 2 s to every start.

kaleido 1.5 reloads a tab after every chart, which re-parses plotly.js: about 0.27 s
a chart here, three times the drawing itself.  ``Plotly.toImage`` draws each figure
into a fresh element and purges it, so nothing carries over from one chart to the
next; :class:`_Browser` reloads a tab only every :data:`RELOAD_EVERY` charts, to
bound what a long-lived page might accumulate.
"""

from __future__ import annotations

import asyncio
import atexit
import sys
import threading
from collections.abc import Coroutine, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kaleido
import plotly.graph_objects as go

from ethics.errors import EthicsError

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = "Chart images need Chromium at {path}: install Debian's chromium (`make setup` does it)."
CHART_FAILED = "Chromium could not draw a chart ({error}); nothing was written. Try again."
WIDTH, HEIGHT, SCALE = 900, 380, 2
TABS = 1
RELOAD_EVERY = 50
_LOCK = threading.RLock()
_depth = 0
_kept = False
_loop: asyncio.AbstractEventLoop | None = None
_ready: Future[_Browser] | None = None
_AHEAD: dict[str, Future[bytes]] = {}


class _Browser(kaleido.Kaleido):
    """kaleido's browser, reloading a tab after every :data:`RELOAD_EVERY` charts, or a failed one, not after each."""

    drawn = reloads = 0

    async def _return_kaleido_tab(self, tab: Any) -> None:
        # kaleido hands the tab back in a ``finally``: an exception in flight means the drawing failed.
        failed = sys.exc_info()[0] is not None
        self.drawn += 1
        if failed or self.drawn % RELOAD_EVERY == 0:
            self.reloads += 1
            await super()._return_kaleido_tab(tab)
        else:
            await self.tabs_ready.put(tab)


@contextmanager
def renderer() -> Iterator[None]:
    """Keep one headless Chromium open while the block renders charts (re-entrant).

    Raises
    ------
    EthicsError
        When Chromium is not installed.
    """
    global _depth
    with _LOCK:
        if _depth == 0:
            _start()
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0:
                _stop()


def keep_open() -> None:
    """Start the renderer once and keep it for the life of the process (idempotent).

    The app calls this so that a download does not wait for Chromium to start (about
    3 s); a command-line report starts and stops its own.
    """
    global _depth, _kept
    with _LOCK:
        if _kept:
            return
        if _depth == 0:
            _start()
        _depth += 1
        _kept = True


@contextmanager
def drawing_ahead(figures: Iterable[tuple[go.Figure, int]]) -> Iterator[None]:
    """Draw ``(figure, height)`` pairs in the background while the block runs; :func:`to_png` of one waits for it.

    Use inside :func:`renderer`.  Drawings the block did not ask for are waited for (the
    browser must not close under them) and dropped at its end.
    """
    keys = []
    for figure, height in figures:
        key = _key(figure, WIDTH, height)
        if key not in _AHEAD:
            _AHEAD[key] = _submit(figure, WIDTH, height)
            keys.append(key)
    try:
        yield
    finally:
        for key in keys:
            left = _AHEAD.pop(key, None)
            if left is not None:
                left.exception()


def to_png(figure: go.Figure, *, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """One figure as PNG bytes; call inside :func:`renderer` (outside it works, but starts a browser)."""
    ahead = _AHEAD.pop(_key(figure, width, height), None)
    if ahead is not None:
        return ahead.result()
    with renderer():
        return _submit(figure, width, height).result()


def _key(figure: go.Figure, width: int, height: int) -> str:
    return f"{width}x{height}:{figure.to_json()}"


def _submit(figure: go.Figure, width: int, height: int) -> Future[bytes]:
    # The app's figure, sized and with margins for paper; a dict copy (re-validating a go.Figure costs more).
    printed = figure.to_dict()
    printed["layout"] = {**printed.get("layout", {}), "width": width, "height": height,
                         "margin": {"t": 30, "b": 50, "l": 70, "r": 30}}
    return _on_loop(_draw(printed, {"format": "png", "width": width, "height": height, "scale": SCALE}))


async def _draw(figure: dict[str, Any], options: dict[str, Any]) -> bytes:
    if _ready is None:
        raise EthicsError("Chart images are drawn inside chart_images.renderer().")
    browser = await asyncio.wrap_future(_ready)
    try:
        return await browser.calc_fig(figure, opts=options)
    except Exception as error:  # kaleido's time limit surfaces as choreographer's closed channel
        raise EthicsError(CHART_FAILED.format(error=f"{type(error).__name__}: {error}")) from error


async def _open() -> _Browser:
    # The path is set here, not left to choreographer's search of PATH (or its own download); no
    # MathJax, which kaleido would otherwise fetch from a CDN this machine cannot reach.
    browser = _Browser(n=TABS, path=str(CHROMIUM), mathjax=False)
    await browser.open()
    return browser


def _on_loop(coroutine: Coroutine[Any, Any, Any]) -> Future[Any]:
    """Run ``coroutine`` on the charts' event-loop thread (started at the first call)."""
    global _loop
    with _LOCK:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="chart-images", daemon=True).start()
            atexit.register(_close_at_exit)
    return asyncio.run_coroutine_threadsafe(coroutine, _loop)


def _start() -> None:
    """Open the browser in the background: the first drawing waits for it, the caller does not."""
    global _ready
    if not CHROMIUM.is_file():
        raise EthicsError(CHROMIUM_MISSING.format(path=CHROMIUM))
    _ready = _on_loop(_open())


def _stop() -> None:
    global _ready
    ready, _ready = _ready, None
    if ready is not None and ready.exception() is None:
        _on_loop(ready.result().close()).result()


def _close_at_exit() -> None:
    with _LOCK:
        _stop()
