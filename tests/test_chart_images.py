"""Chart images from the kept-open Chromium: a reused tab draws exactly what a fresh one draws."""

import io
from concurrent.futures import ThreadPoolExecutor

import kaleido
import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from ethics import chart_images


def _reference() -> go.Figure:
    return go.Figure(go.Bar(x=["north", "south", "west"], y=[0.31, 0.27, 0.35], name="selection rate"),
                     layout={"title": "Reference", "yaxis": {"range": [0, 0.5]}})


def _others() -> list[go.Figure]:
    """Figures that change what a page could keep: templates, log axes, colour bars, annotations, shapes."""
    rng = np.random.default_rng(2)
    return [
        go.Figure(go.Scatter(x=np.arange(40), y=rng.random(40) * 1000), layout={"yaxis_type": "log",
                                                                               "template": "plotly_dark"}),
        go.Figure(go.Heatmap(z=rng.random((12, 12)), colorscale="Viridis")),
        go.Figure(go.Box(y=rng.normal(size=200)), layout={"font": {"family": "serif", "size": 22}}),
        go.Figure(go.Pie(labels=["a", "b", "c"], values=[3, 2, 1]),
                  layout={"annotations": [{"text": "Σ ≥ — Zoë", "x": 0.5, "y": 0.5, "showarrow": False}]}),
        go.Figure(go.Scatter(x=[0, 1], y=[0, 1]), layout={"shapes": [{"type": "rect", "x0": 0, "x1": 1, "y0": 0,
                                                                     "y1": 1, "fillcolor": "red"}]}),
        go.Figure(go.Bar(x=["x"], y=[1]), layout={"paper_bgcolor": "black", "showlegend": True}),
    ]


def _pixels(png: bytes) -> bytes:
    image = Image.open(io.BytesIO(png))
    assert image.size == (chart_images.WIDTH * chart_images.SCALE, 300 * chart_images.SCALE)
    return image.convert("RGBA").tobytes()


def test_a_chart_after_many_others_in_a_reused_tab_is_identical(monkeypatch):
    monkeypatch.setattr(chart_images, "RELOAD_EVERY", 4)  # the periodic reload happens too
    with chart_images.renderer():
        browser = chart_images._ready.result()
        before = browser.drawn  # the app's kept-open browser may have drawn charts already
        first = chart_images.to_png(_reference(), height=300)
        others = _others() * 2
        with chart_images.drawing_ahead([(figure, 300) for figure in others]):
            drawn = [chart_images.to_png(figure, height=300) for figure in others]
        again = chart_images.to_png(_reference(), height=300)
        # kaleido handed every tab back through our override (so 3 reloads instead of 14).
        assert browser.drawn - before == 2 + len(others)
    assert hasattr(kaleido.Kaleido, "_return_kaleido_tab")
    assert _pixels(again) == _pixels(first)
    assert drawn[:len(others) // 2] == drawn[len(others) // 2:]  # each other figure the same both times
    assert len({_pixels(png) for png in drawn}) == len(others) // 2  # and different from one another
    with chart_images.renderer():  # a browser started afresh draws the same reference
        assert _pixels(chart_images.to_png(_reference(), height=300)) == _pixels(first)


def test_a_failed_drawing_reloads_its_tab_and_the_next_chart_is_right():
    with chart_images.renderer():
        first = chart_images.to_png(_reference(), height=300)
        browser = chart_images._ready.result()
        reloads, timeout = browser.reloads, browser._timeout
        browser._timeout = 1e-6  # kaleido's own per-chart time limit: the drawing fails for real
        try:
            with pytest.raises(chart_images.EthicsError, match="Chromium could not draw a chart"):
                chart_images.to_png(_others()[1], height=300)
        finally:
            browser._timeout = timeout
        assert browser.reloads == reloads + 1
        assert _pixels(chart_images.to_png(_reference(), height=300)) == _pixels(first)


def test_charts_drawn_from_several_threads_each_get_their_own_image():
    figures = _others()
    with chart_images.renderer():
        alone = [chart_images.to_png(figure, height=300) for figure in figures]
        with ThreadPoolExecutor(max_workers=4) as pool:
            together = list(pool.map(lambda figure: chart_images.to_png(figure, height=300), figures * 2))
    assert together == alone * 2


def test_drawing_outside_a_renderer_starts_one_for_the_chart():
    users = chart_images._depth  # the app's kept-open renderer may be one of them
    assert _pixels(chart_images.to_png(_reference(), height=300))
    assert chart_images._depth == users
    assert (chart_images._ready is None) == (users == 0)  # closed again unless someone else holds it


def test_missing_chromium_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(chart_images, "CHROMIUM", tmp_path / "chromium")
    with pytest.raises(chart_images.EthicsError, match="install Debian's chromium"):
        with chart_images.renderer():
            pass
