"""Plotly figures to PNG with kaleido 1.x and Debian's Chromium, one browser per report.

kaleido starts a browser for every call unless its sync server runs (about 3 s each
time); :func:`renderer` keeps one open for a whole report (about 0.25 s a chart).
kaleido's server is one per process, so a lock makes concurrent reports (two
downloads in the app at once) take turns instead of closing each other's browser.
Every drawing goes through one worker thread, so a report can start its charts with
:func:`draw_ahead` and lay out text while Chromium draws them (the wait for Chromium
releases the GIL).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import plotly.graph_objects as go

from ethics.errors import EthicsError

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = "Chart images need Chromium at {path}: install Debian's chromium (`make setup` does it)."
WIDTH, HEIGHT, SCALE = 900, 380, 2
_LOCK = threading.RLock()
_depth = 0
_kept = False
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chart-images")
_AHEAD: dict[str, Future[bytes]] = {}


@contextmanager
def renderer() -> Iterator[None]:
    """Keep one headless Chromium open while the block renders charts (re-entrant).

    Raises
    ------
    EthicsError
        When Chromium is not installed.
    """
    global _depth
    import kaleido

    if not CHROMIUM.is_file():
        raise EthicsError(CHROMIUM_MISSING.format(path=CHROMIUM))
    with _LOCK:
        if _depth == 0:
            # The path is set here, not left to choreographer's search of PATH (or its own download).
            kaleido.start_sync_server(path=str(CHROMIUM), silence_warnings=True)
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
            if _depth == 0:
                kaleido.stop_sync_server(silence_warnings=True)


def keep_open() -> None:
    """Start the renderer once and keep it for the life of the process (idempotent).

    The app calls this so that a download does not wait for Chromium to start (about
    3 s); a command-line report starts and stops its own.
    """
    global _depth, _kept
    import kaleido

    with _LOCK:
        if _kept:
            return
        if not CHROMIUM.is_file():
            raise EthicsError(CHROMIUM_MISSING.format(path=CHROMIUM))
        if _depth == 0:
            kaleido.start_sync_server(path=str(CHROMIUM), silence_warnings=True)
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
            _AHEAD[key] = _WORKER.submit(_draw, figure, WIDTH, height)
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
        return _WORKER.submit(_draw, figure, width, height).result()


def _key(figure: go.Figure, width: int, height: int) -> str:
    return f"{width}x{height}:{figure.to_json()}"


def _draw(figure: go.Figure, width: int, height: int) -> bytes:
    import kaleido

    printed = go.Figure(figure)  # the app's figure, sized and with margins for paper; the original is untouched
    printed.update_layout(width=width, height=height, margin={"t": 30, "b": 50, "l": 70, "r": 30})
    return kaleido.calc_fig_sync(printed, opts={"format": "png", "width": width, "height": height, "scale": SCALE})
