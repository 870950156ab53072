"""Containers a caller may hand us for a 1-d column: list, ndarray, (n, 1) ndarray, Series, DataFrame.

Modelled on fairlearn's ``test/unit/input_convertors.py``: tests stack two
``pytest.mark.parametrize`` decorators over :data:`conversions_for_1d`, one for
``y_true`` and one for ``y_pred``, so every combination of containers runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest


def ensure_list(values: Any) -> list:
    assert values is not None
    if isinstance(values, list):
        return values
    if isinstance(values, pd.DataFrame):
        return values.iloc[:, 0].tolist()
    return np.asarray(values).ravel().tolist()


def ensure_ndarray(values: Any) -> np.ndarray:
    assert values is not None
    return np.asarray(values)


def ensure_ndarray_2d(values: Any) -> np.ndarray:
    """A column vector of shape (n, 1)."""
    array = ensure_ndarray(values)
    if array.ndim == 1:
        return array[:, np.newaxis]
    if array.ndim == 2:
        return array
    raise ValueError("Requires a 1-d or 2-d array")


def ensure_series(values: Any) -> pd.Series:
    assert values is not None
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, pd.DataFrame):
        return values.iloc[:, 0]
    return pd.Series(np.asarray(values).ravel())


def ensure_dataframe(values: Any) -> pd.DataFrame:
    assert values is not None
    if isinstance(values, pd.DataFrame):
        return values
    return pd.DataFrame(ensure_series(values))


conversions_for_1d = [
    ensure_list,
    ensure_ndarray,
    ensure_ndarray_2d,
    ensure_series,
    ensure_dataframe,
]


def containers() -> list:
    """:data:`conversions_for_1d` as pytest parameters named after each conversion."""
    return [pytest.param(convert, id=convert.__name__) for convert in conversions_for_1d]


def plainly(function: Callable, *args, **kwargs):
    """Call ``function``; an exception fails the test with its message only (no long traceback)."""
    try:
        return function(*args, **kwargs)
    except Exception as error:
        pytest.fail(f"{type(error).__name__}: {error}", pytrace=False)
