"""Helpers the engine tests share: random sensitive attributes, groups as ethics spells them, oracle checks.

tests/test_fairness.py, test_multiclass.py, test_ranking.py and test_continuous.py make
their rows the same way (string-valued attributes ``<name>-00`` …, some missing) and
compare ethics's numbers with an oracle's the same way (NaN is None, else equal within a
tolerance); each keeps its own tolerance and oracle name.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ethics import fairness


def attribute_columns(rows: int, attributes: dict[str, int], rng: np.random.Generator, *,
                      missing: float = 0.0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Random values ``<name>-00`` … of each attribute, a share ``missing`` of them None, and their codes.

    Draws, per attribute in order, the codes and then (with ``missing``) which values are missing.
    """
    data: dict[str, np.ndarray] = {}
    codes: dict[str, np.ndarray] = {}
    for name, size in attributes.items():
        codes[name] = rng.integers(0, size, rows)
        values = np.array([f"{name}-{i:02d}" for i in range(size)], dtype=object)[codes[name]]
        if missing:
            values[rng.random(rows) < missing] = None
        data[name] = values
    return data, codes


def sensitive(frame: pd.DataFrame, attributes) -> pd.DataFrame:
    """Sensitive features for fairlearn: a missing value is its own group, "(missing)"."""
    return frame[list(attributes)].astype(object).fillna(fairness.MISSING_GROUP)


def group_label(index) -> str:
    """A fairlearn group index as ethics labels it: the values of an intersection joined by " × "."""
    return fairness.JOIN.join(str(v) for v in index) if isinstance(index, tuple) else str(index)


def row_groups(frame: pd.DataFrame, attributes) -> np.ndarray:
    """Each row's group as ethics spells it: values joined by " × ", missing as "(missing)"."""
    return sensitive(frame, attributes).astype(str).agg(fairness.JOIN.join, axis=1).to_numpy()


def assert_same(ours, theirs, what: str, *, tolerance: float, oracle: str = "oracle") -> None:
    """The oracle's NaN (or None) is ethics's None; everything else equal within ``tolerance``."""
    if theirs is None or (isinstance(theirs, float) and math.isnan(theirs)):
        assert ours is None, f"{what}: ours {ours!r}, {oracle} NaN"
    else:
        assert ours is not None, f"{what}: ours None, {oracle} {theirs!r}"
        assert ours == pytest.approx(float(theirs), abs=tolerance), f"{what}: ours {ours!r}, {oracle} {theirs!r}"
