"""Which raw feature each column of a fitted scikit-learn preprocessing comes from.

A pipeline's final estimator reads the columns its preprocessing makes: one-hot
indicators, spline bases, bins, scaled or imputed copies.  Its SHAP values are found on
those columns and added back into the raw feature each came from, so a reason speaks
of "Contract: month-to-month", never of ``cat__contract_month-to-month``.  The map is
read from the fitted structure (``ColumnTransformer.transformers_``,
``OneHotEncoder.categories_`` and ``drop_idx_``, ``SplineTransformer.n_features_out_``,
...); a transformer whose output columns mix raw columns, or one not known here, is
refused rather than guessed.

The same walk says which raw features an encoder reads as text and which features'
missing values the pipeline handles (an imputer fills them, an encoder maps them to a
column, or they reach an estimator that routes them itself: histogram gradient boosting,
and scikit-learn's trees and forests, whose ``allow_nan`` tag says so; shap's TreeSHAP
routes them the same way).
Only :mod:`ethics.skops_model` imports this module, inside the artifact worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    SplineTransformer,
    StandardScaler,
)
from sklearn.utils import get_tags

from ethics.errors import SKOPS_TRANSFORMER, SKOPS_WIDTH
from ethics.worker import Refused

_ONE_TO_ONE = (StandardScaler, MinMaxScaler, RobustScaler)


@dataclass(frozen=True)
class Column:
    """One column between two steps: the raw feature it comes from, and whether it may hold NaN here."""

    feature: str
    nan: bool


@dataclass
class Trace:
    """What the walk found besides the columns.

    Attributes
    ----------
    broken : set of str
        Raw features whose missing value some step cannot take (it would raise).
    text : set of str
        Raw features an encoder reads as text (its categories are strings).
    """

    broken: set[str] = field(default_factory=set)
    text: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ColumnMap:
    """The output columns of a fitted preprocessing, traced back to the raw features.

    Attributes
    ----------
    features : list of str
        The raw features, in the model's order.
    origin : ndarray of int
        Per column the final estimator reads, the index of its raw feature.
    categorical : list of str
        Raw features read as text.
    missing : list of str
        Raw features whose missing values the pipeline handles.
    """

    features: list[str]
    origin: np.ndarray
    categorical: list[str]
    missing: list[str]

    def to_raw(self, values: np.ndarray) -> np.ndarray:
        """Per-column values (rows × columns) summed into their raw features (rows × features)."""
        out = np.zeros((values.shape[0], len(self.features)), dtype=np.float64)
        np.add.at(out.T, self.origin, values.T)
        return out


def column_map(preprocessing: Any, *, features: list[str], estimator: Any) -> ColumnMap:
    """Trace the columns ``estimator`` reads back to ``features`` through ``preprocessing``.

    Parameters
    ----------
    preprocessing : Pipeline or None
        ``pipeline[:-1]``, fitted; None for a bare estimator.
    features : list of str
        The raw features (``feature_names_in_``).
    estimator : estimator
        The final estimator (its ``allow_nan`` tag says whether it routes NaN itself).

    Raises
    ------
    Refused
        A transformer mixes raw columns or is unknown, or the widths disagree.
    """
    trace = Trace()
    columns = [Column(name, True) for name in features]
    if preprocessing is not None:
        columns = _step(preprocessing, columns, trace, step="preprocessing")
    if len(columns) != estimator.n_features_in_:
        raise Refused(SKOPS_WIDTH.format(columns=len(columns), expected=estimator.n_features_in_))
    if not get_tags(estimator).input_tags.allow_nan:  # LogisticRegression, GradientBoosting: they raise
        trace.broken.update(c.feature for c in columns if c.nan)
    index = {name: i for i, name in enumerate(features)}
    return ColumnMap(features=list(features), origin=np.array([index[c.feature] for c in columns], dtype=np.intp),
                     categorical=[f for f in features if f in trace.text],
                     missing=[f for f in features if f not in trace.broken])


def _step(transformer: Any, columns: list[Column], trace: Trace, *, step: str) -> list[Column]:
    """The columns ``transformer`` makes from ``columns``."""
    if isinstance(transformer, str) and transformer == "passthrough" or transformer is None:
        return columns
    if isinstance(transformer, str) and transformer == "drop":
        return []
    if isinstance(transformer, Pipeline):
        for name, inner in transformer.steps:
            columns = _step(inner, columns, trace, step=name)
        return columns
    if isinstance(transformer, ColumnTransformer):
        return _column_transformer(transformer, columns, trace)
    if isinstance(transformer, _ONE_TO_ONE) or (isinstance(transformer, FunctionTransformer)
                                               and transformer.func is None):
        return list(columns)
    if isinstance(transformer, SimpleImputer):
        return _imputer(transformer, columns, trace)
    if isinstance(transformer, OneHotEncoder):
        return _one_hot(transformer, columns, trace)
    if isinstance(transformer, OrdinalEncoder):
        return _ordinal(transformer, columns, trace)
    if isinstance(transformer, SplineTransformer):
        _no_nan(columns, trace)
        per = transformer.n_features_out_ // transformer.n_features_in_
        return [Column(c.feature, False) for c in columns for _ in range(per)]
    if isinstance(transformer, KBinsDiscretizer):
        _no_nan(columns, trace)
        if transformer.encode == "ordinal":
            return [Column(c.feature, False) for c in columns]
        return [Column(c.feature, False)
                for c, bins in zip(columns, transformer.n_bins_, strict=True) for _ in range(int(bins))]
    raise Refused(SKOPS_TRANSFORMER.format(type=type(transformer).__name__, step=step))


def _column_transformer(transformer: ColumnTransformer, columns: list[Column], trace: Trace) -> list[Column]:
    """Each transformer's columns, in ``transformers_`` order (how ``transform`` stacks them)."""
    out: list[Column] = []
    for name, inner, _ in transformer.transformers_:
        indices = list(transformer._transformer_to_input_indices[name])
        if not indices or (isinstance(inner, str) and inner == "drop"):
            continue
        out += _step(inner, [columns[i] for i in indices], trace, step=name)
    return out


def _imputer(imputer: SimpleImputer, columns: list[Column], trace: Trace) -> list[Column]:
    """Kept columns (an all-missing one is dropped unless ``keep_empty_features``), then the indicators."""
    imputes_nan = _is_missing(imputer.missing_values)
    if not imputes_nan:
        _no_nan(columns, trace)
    kept = [c for c, s in zip(columns, imputer.statistics_, strict=True)
            if imputer.keep_empty_features or not _is_missing(s)]
    out = [Column(c.feature, c.nan and not imputes_nan) for c in kept]
    if imputer.indicator_ is not None:
        out += [Column(columns[i].feature, False) for i in imputer.indicator_.features_]
    return out


def _one_hot(encoder: OneHotEncoder, columns: list[Column], trace: Trace) -> list[Column]:
    """``len(categories_[i])`` columns per input, less the infrequent ones grouped into one, less a dropped one."""
    infrequent = getattr(encoder, "infrequent_categories_", None) if encoder._infrequent_enabled else None
    out = []
    for i, (column, categories) in enumerate(zip(columns, encoder.categories_, strict=True)):
        _read_as_text(column, categories, trace)
        if column.nan and not _has_missing(categories) and encoder.handle_unknown == "error":
            trace.broken.add(column.feature)
        width = len(categories)
        if infrequent is not None and infrequent[i] is not None:
            width -= len(infrequent[i]) - 1
        if encoder.drop_idx_ is not None and encoder.drop_idx_[i] is not None:
            width -= 1
        out += [Column(column.feature, False)] * width
    return out


def _ordinal(encoder: OrdinalEncoder, columns: list[Column], trace: Trace) -> list[Column]:
    """One code per input; a missing value becomes ``encoded_missing_value`` (or the unknown value)."""
    out = []
    for column, categories in zip(columns, encoder.categories_, strict=True):
        _read_as_text(column, categories, trace)
        nan = False
        if column.nan:
            if _has_missing(categories):
                nan = _is_missing(encoder.encoded_missing_value)
            elif encoder.handle_unknown == "use_encoded_value":
                nan = _is_missing(encoder.unknown_value)
            else:
                trace.broken.add(column.feature)
        out.append(Column(column.feature, nan))
    return out


def _no_nan(columns: list[Column], trace: Trace) -> None:
    trace.broken.update(c.feature for c in columns if c.nan)


def _read_as_text(column: Column, categories: np.ndarray, trace: Trace) -> None:
    if categories.dtype == object and any(isinstance(v, str) for v in categories):
        trace.text.add(column.feature)


def _has_missing(values: np.ndarray) -> bool:
    return bool(pd.isna(np.asarray(values, dtype=object)).any())


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
