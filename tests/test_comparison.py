"""ethics.comparison: the shared engine gives fairness.assess's numbers on confusion counts, intervals included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ethics import comparison, fairness
from ethics.presentation import VALUE, Presentation


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(1)
    rows = 3_000
    score = rng.random(rows)
    return pd.DataFrame({
        "sex": rng.choice(["a", "b", "c"], rows, p=[0.49, 0.49, 0.02]),
        "age": rng.choice(["x", "y"], rows),
        "score": score,
        "label": (rng.random(rows) < 0.2 + 0.6 * score).astype(int),
    })


def test_the_engine_reproduces_fairness_on_confusion_counts(frame):
    """Same statistics, same seed: fairness.assess's groups and disparities, interval for interval."""
    options = {"min_group_size": 100, "resamples": 300, "confidence": 0.9}
    expected = fairness.assess(frame, attributes=["sex", "age"], threshold=0.5, seed=7, **options)
    rng = np.random.default_rng(7)
    y_pred = (frame["score"].to_numpy() >= 0.5).astype(int)
    metrics = {name: (lambda s, f=spec.formula: f(fairness.Counts(s["cells"])))
               for name, spec in fairness.METRICS.items()}
    disparities = {name: (spec.kind, spec.metrics) for name, spec in fairness.DISPARITIES.items()}
    for grouping, theirs in zip(fairness.groupings(frame, attributes=["sex", "age"]), expected, strict=True):
        size = len(grouping.labels)
        cells = fairness.confusion_counts(grouping.codes, y_pred, frame["label"].to_numpy(), groups=size)
        boot = comparison.multinomial(cells, options["resamples"], rng)
        compared = comparison.assess_groups(
            labels=grouping.labels, stats={"cells": cells}, boot={"cells": boot}, metrics=metrics,
            disparities=disparities, judged=cells.sum(axis=1) >= options["min_group_size"],
            confidence=options["confidence"])
        assert compared.disparities == theirs["disparities"]
        for index, row in enumerate(theirs["groups"]):
            for name in fairness.METRICS:
                assert row[name] == pytest.approx(compared.values[name][index], abs=1e-12)
                if name != "count":
                    assert row[f"{name}_interval"] == compared.intervals[name][index]


def test_presentation():
    share = Presentation(comparison.SHARE, "{:.1%}", "lower", label="Offer rate")
    assert (share.text(0.1234), share.text(None)) == ("12.3%", "—")
    assert share.in_unit("EUR") is share
    value = Presentation(VALUE, "{:,.2f}", "lower", label="Expected value").in_unit("EUR")
    assert value.unit == "EUR"
    ratio = comparison.disparity_presentation("Offer-rate ratio", "ratio", unit=comparison.SHARE)
    assert (ratio.unit, ratio.worse, ratio.text(0.8)) == (comparison.RATIO, "lower", "0.80")
    difference = comparison.disparity_presentation("Value difference", "difference", unit=VALUE)
    assert (difference.unit, difference.worse, difference.text(1234.5)) == (VALUE, "higher", "1,234.50")


def test_occupied_cells_by_bincount_and_by_sort_agree(monkeypatch):
    rng = np.random.default_rng(2)
    parts = [(rng.integers(0, 7, 500), 7), (rng.integers(0, 3, 500), 3), (rng.integers(0, 2, 500), 2)]
    dense = comparison.occupied_cells(parts)
    monkeypatch.setattr(comparison, "_DENSE_CELLS", 1)
    sorted_ = comparison.occupied_cells(parts)
    for a, b in zip(dense[0], sorted_[0], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dense[1], sorted_[1])
    decoded, inverse = dense
    for (codes, _), cell_codes in zip(parts, decoded, strict=True):
        np.testing.assert_array_equal(cell_codes[inverse], codes)  # every row's cell holds its codes
    keys = list(zip(*decoded, strict=True))
    assert keys == sorted(set(keys))  # occupied cells, each once, in key order


def test_group_intervals_skip_undefined_samples():
    samples = np.array([[0.1, np.nan], [0.3, np.nan], [0.2, 0.5]])
    assert comparison.group_intervals(samples, 0.5) == [[0.15, 0.25], [0.5, 0.5]]
    assert comparison.interval(np.array([np.nan, np.inf]), 0.95) == [None, None]
