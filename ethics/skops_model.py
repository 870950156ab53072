"""The worker's loader of skops files: scikit-learn pipelines, checked against ethics' list first.

Runs inside the artifact worker only (:data:`ethics.worker.LOADERS` imports it when a
skops file is loaded).  The order matters:

1. read the archive's ``schema.json`` ourselves (size- and depth-limited) and walk
   every node that names a type or function; refuse the file, naming the first
   one, when it is not on :data:`ethics.allowed_types.ALLOWED_TYPES`;
2. only then let ``skops.io.loads`` build it, trusting exactly the names found (all
   allowed);
3. refuse what is not a fitted binary classifier with ``feature_names_in_``, and
   trace its preprocessing's columns to the raw features (:mod:`ethics.pipeline_columns`).

Scores are ``predict_proba(...)[:, 1]`` of the live object on a DataFrame of the rows;
SHAP values are found on the transformed matrix (TreeSHAP or the linear explainer) and
summed into the raw features.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
import pandas as pd

from ethics.allowed_types import ALLOWED_NODES, ALLOWED_TYPES, ALLOWED_TYPES_VERSION
from ethics.errors import (
    SKOPS_CANNOT_LOAD,
    SKOPS_ESTIMATOR,
    SKOPS_GB_LOSS,
    SKOPS_NO_FEATURE_NAMES,
    SKOPS_NODE,
    SKOPS_NOT_BINARY,
    SKOPS_NOT_ZIP,
    SKOPS_SCHEMA,
    SKOPS_TYPE,
)
from ethics.pipeline_columns import column_map
from ethics.worker import NotAllowed, Refused, Rows

SCHEMA_MEMBER = "schema.json"
MAX_SCHEMA_BYTES = 32 * 1024**2
# A fitted pipeline of the listed estimators nests about 30 levels deep; skops recurses over the nodes.
MAX_SCHEMA_DEPTH = 200
_LOGISTIC = ("LogisticRegression", "GradientBoostingClassifier", "HistGradientBoostingClassifier")
_IDENTITY = ("RandomForestClassifier", "ExtraTreesClassifier", "DecisionTreeClassifier")


def read_schema(data: bytes) -> Any:
    """The parsed ``schema.json`` of a skops archive, without building anything.

    Raises
    ------
    Refused
        Not a zip with one ``schema.json``, larger than :data:`MAX_SCHEMA_BYTES`, not
        JSON, or nested deeper than :data:`MAX_SCHEMA_DEPTH`.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise Refused(SKOPS_NOT_ZIP.format(reason=exc)) from None
    if names.count(SCHEMA_MEMBER) != 1 or len(set(names)) != len(names):
        raise Refused(SKOPS_NOT_ZIP.format(reason=f"{names.count(SCHEMA_MEMBER)} {SCHEMA_MEMBER}, or a name twice"))
    info = archive.getinfo(SCHEMA_MEMBER)
    if info.file_size > MAX_SCHEMA_BYTES:
        raise Refused(SKOPS_SCHEMA.format(reason=f"declares {info.file_size} bytes (limit {MAX_SCHEMA_BYTES})"))
    try:
        with archive.open(info) as member:
            raw = member.read(MAX_SCHEMA_BYTES + 1)  # the declared size may lie
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as exc:
        raise Refused(SKOPS_NOT_ZIP.format(reason=exc)) from None
    if len(raw) > MAX_SCHEMA_BYTES:
        raise Refused(SKOPS_SCHEMA.format(reason=f"is larger than {MAX_SCHEMA_BYTES} bytes"))
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(SKOPS_SCHEMA.format(reason=f"is not JSON ({exc})")) from None
    except RecursionError:
        raise Refused(SKOPS_SCHEMA.format(reason=f"is nested deeper than {MAX_SCHEMA_DEPTH} levels")) from None


def named_types(schema: Any) -> set[str]:
    """Every type or function the schema names, each checked against ethics' list.

    A node naming one has ``__module__`` and ``__class__`` (a function node names the
    function there; a method node adds the method's name).

    Raises
    ------
    NotAllowed
        Naming the first type outside :data:`~ethics.allowed_types.ALLOWED_TYPES`, or a
        node kind outside :data:`~ethics.allowed_types.ALLOWED_NODES`.
    Refused
        The schema nests deeper than :data:`MAX_SCHEMA_DEPTH` or a name is not text.
    """
    found: set[str] = set()
    stack: list[tuple[Any, int]] = [(schema, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_SCHEMA_DEPTH:
            raise Refused(SKOPS_SCHEMA.format(reason=f"is nested deeper than {MAX_SCHEMA_DEPTH} levels"))
        if isinstance(node, list):
            children = node
        elif isinstance(node, dict):
            if "__module__" in node or "__class__" in node or "__loader__" in node:
                found.add(_checked_name(node))
            children = list(node.values())
        else:
            continue
        # Reversed, so the walk is in document order: an estimator is named before what it holds.
        stack.extend((child, depth + 1) for child in reversed(children))
    return found


def _checked_name(node: dict[str, Any]) -> str:
    module, name, kind = node.get("__module__"), node.get("__class__"), node.get("__loader__")
    if not all(isinstance(part, str) for part in (module, name, kind)):
        raise Refused(SKOPS_SCHEMA.format(reason="has a node without text __module__, __class__ and __loader__"))
    full = f"{module}.{name}"
    if kind == "MethodNode":
        content = node.get("content")
        full += "." + str(content.get("func") if isinstance(content, dict) else content)
    if full not in ALLOWED_TYPES:
        raise NotAllowed(SKOPS_TYPE.format(type=full, version=ALLOWED_TYPES_VERSION))
    if kind not in ALLOWED_NODES:
        raise NotAllowed(SKOPS_NODE.format(type=full, node=kind, version=ALLOWED_TYPES_VERSION))
    return full


class SkopsModel:
    """A fitted scikit-learn binary classifier (pipeline or estimator) from a skops file."""

    reads_text = True

    def __init__(self, data: bytes) -> None:
        trusted = named_types(read_schema(data))
        import skops.io

        try:
            model = skops.io.loads(data, trusted=sorted(trusted))
        except MemoryError:
            raise
        except Exception as exc:  # skops or scikit-learn refusing the content: its text, for the message
            text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise Refused(SKOPS_CANNOT_LOAD.format(reason=f"{type(exc).__name__}: {text}")) from None
        from sklearn.pipeline import Pipeline

        self.model = model
        self.estimator = model[-1] if isinstance(model, Pipeline) else model
        self.preprocessing = model[:-1] if isinstance(model, Pipeline) and len(model) > 1 else None
        self._check(model)
        self.features = [str(name) for name in model.feature_names_in_]
        self.columns = column_map(self.preprocessing, features=self.features, estimator=self.estimator)
        kind = type(self.estimator).__name__
        self.link = "logistic" if kind in _LOGISTIC else "identity"
        self.explainer = "linear" if kind == "LogisticRegression" else "tree"
        self._tree_explainer: Any = None
        self._last: tuple[Rows, np.ndarray] | None = None

    def _check(self, model: Any) -> None:
        estimator, kind = self.estimator, type(self.estimator).__name__
        classes = getattr(estimator, "classes_", None)
        if not hasattr(model, "predict_proba") or classes is None or len(classes) != 2:
            raise Refused(SKOPS_NOT_BINARY.format(type=type(model).__name__))
        if kind not in _LOGISTIC + _IDENTITY:
            raise Refused(SKOPS_ESTIMATOR.format(type=kind))
        if kind == "GradientBoostingClassifier" and estimator.loss != "log_loss":
            raise Refused(SKOPS_GB_LOSS.format(loss=estimator.loss))
        if getattr(model, "feature_names_in_", None) is None:
            raise Refused(SKOPS_NO_FEATURE_NAMES.format(type=type(model).__name__))

    def facts(self) -> dict[str, Any]:
        """What the worker replies to ``load`` (see :mod:`ethics.worker`); ``margin_is_probability`` for forests."""
        return {"features": self.features, "objective": "binary", "num_class": 1, "outputs": 1, "link": self.link,
                "margin_is_probability": self.link == "identity", "nonfinite": _nonfinite(self.estimator),
                "categorical": self.columns.categorical, "missing": self.columns.missing,
                "explainer": self.explainer}

    def _frame(self, rows: Rows) -> pd.DataFrame:
        """The rows as the DataFrame the pipeline was fitted on: numbers as float64, text as str (NaN missing)."""
        columns = {}
        for name in self.features:
            values = rows.column(name)
            if values.dtype == object:
                values = values.copy()
                values[pd.isna(values)] = np.nan
            columns[name] = values
        return pd.DataFrame(columns, columns=self.features)

    def score(self, rows: Rows) -> np.ndarray:
        """``predict_proba(...)[:, 1]`` of the live object."""
        return np.asarray(self.model.predict_proba(self._frame(rows))[:, 1], dtype=np.float64)

    def margin(self, rows: Rows) -> np.ndarray:
        """``decision_function`` (log-odds), or the probability for a forest or tree (identity link).

        The final estimator's, on :meth:`transformed` rows: what ``Pipeline.decision_function``
        computes, without transforming the batch :meth:`explain` just transformed again.
        """
        z = self.transformed(rows)
        if self.link == "identity":  # the probability itself: what the trees' SHAP values add up to
            return np.asarray(self.estimator.predict_proba(z)[:, 1], dtype=np.float64)
        return np.asarray(self.estimator.decision_function(z), dtype=np.float64).reshape(-1)

    def transformed(self, rows: Rows) -> np.ndarray:
        """The matrix the final estimator reads, dense float64 (the last batch's is kept for its margin)."""
        if self._last is not None and self._last[0] is rows:
            return self._last[1]
        frame = self._frame(rows)
        if self.preprocessing is None:
            z = frame.to_numpy(dtype=np.float64)
        else:
            z = self.preprocessing.transform(frame)
            z = np.asarray(z.toarray() if hasattr(z, "toarray") else z, dtype=np.float64)
        self._last = (rows, z)
        return z

    def explain(self, rows: Rows, *, threads: int) -> tuple[np.ndarray, float]:
        """SHAP values per raw feature: the final estimator's, on the transformed columns, summed per feature.

        ``threads`` is not used: shap's TreeSHAP for scikit-learn trees takes no thread count.
        """
        z = self.transformed(rows)
        if self.explainer == "linear":
            values, base = _linear_shap(self.estimator, z)
        else:
            values, base = self._tree_shap(z)
        return self.columns.to_raw(values), base

    def _tree_shap(self, z: np.ndarray) -> tuple[np.ndarray, float]:
        if self._tree_explainer is None:
            import shap

            self._tree_explainer = shap.TreeExplainer(self.estimator)
        values = np.asarray(self._tree_explainer.shap_values(z, check_additivity=False), dtype=np.float64)
        base = np.atleast_1d(np.asarray(self._tree_explainer.expected_value, dtype=np.float64))
        if values.ndim == 3:  # one slice per class (random forests, trees): the positive class
            return values[:, :, 1], float(base[-1])
        return values, float(base[0])


def _linear_shap(estimator: Any, z: np.ndarray) -> tuple[np.ndarray, float]:
    """``c * (z - mean)``, the background being the batch's mean (``shap.LinearExplainer`` with that background)."""
    coefficients = np.asarray(estimator.coef_, dtype=np.float64).reshape(-1)
    background = z.mean(axis=0) if len(z) else np.zeros(z.shape[1])
    base = float(np.asarray(estimator.intercept_, dtype=np.float64).reshape(-1)[0] + coefficients @ background)
    return coefficients * (z - background), base


def _nonfinite(estimator: Any) -> str | None:
    """Where a coefficient or leaf value of the final estimator is not finite, or None."""
    kind = type(estimator).__name__
    if kind == "LogisticRegression":
        finite = np.isfinite(estimator.coef_).all() and np.isfinite(estimator.intercept_).all()
        return None if finite else "a coefficient or the intercept is not finite"
    if kind == "HistGradientBoostingClassifier":
        if not np.isfinite(estimator._baseline_prediction).all():
            return "the baseline prediction is not finite"
        trees = [predictor.nodes["value"] for iteration in estimator._predictors for predictor in iteration]
    elif kind == "GradientBoostingClassifier":
        trees = [tree.tree_.value for tree in np.asarray(estimator.estimators_).reshape(-1)]
    elif kind == "DecisionTreeClassifier":
        trees = [estimator.tree_.value]
    else:
        trees = [tree.tree_.value for tree in estimator.estimators_]
    for number, values in enumerate(trees):
        if not np.isfinite(values).all():
            return f"tree {number} has a leaf value that is not finite"
    return None
