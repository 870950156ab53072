"""The types and functions a skops file may name: ethics' list, reviewed like code.

A skops file is a zip whose ``schema.json`` names, for every object it holds, the
module and class (or function) to rebuild it from.  ``skops.io.loads`` builds only what
its ``trusted`` argument allows, so the list of what is trusted is the whole defence.
It lives here, in the package, and never comes from the artifact, its manifest or a
command-line flag: the worker (:mod:`ethics.skops_model`) refuses a file that names
anything outside :data:`ALLOWED_TYPES` before skops reads it.

The entries are what ``skops.io.dumps`` 0.16 writes for fitted scikit-learn 1.9
pipelines of the estimators and transformers below (read from each file's
``schema.json``): the estimators, their fitted internals (tree structures, the
histogram-gradient-boosting predictor, loss objects, the ``DummyClassifier`` that
initialises gradient boosting) and the numpy arrays, dtypes and random states they
hold.  Adding an entry is a reviewed change: raise :data:`ALLOWED_TYPES_VERSION`
with it, so a registration can say which list admitted it.
"""

from __future__ import annotations

#: Raised with every change of :data:`ALLOWED_TYPES`; messages say ``allowed-types v1``.
ALLOWED_TYPES_VERSION = 1

_SKLEARN_ESTIMATORS = (
    "sklearn.pipeline.Pipeline",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.RobustScaler",
    "sklearn.preprocessing._polynomial.SplineTransformer",
    "sklearn.preprocessing._discretization.KBinsDiscretizer",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
)

# What those estimators hold once fitted.  FunctionTransformer is here because
# ColumnTransformer(remainder="passthrough") stores one without a function; a file whose
# FunctionTransformer names a function is refused by that function's name, which is not listed.
_SKLEARN_INTERNALS = (
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.impute._base.MissingIndicator",
    "sklearn.tree._tree.Tree",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.dummy.DummyClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "scipy.interpolate._bsplines.BSpline",  # SplineTransformer.bsplines_
    "scipy._lib.array_api_compat.numpy._aliases.asarray",  # a BSpline's _asarray (a function node)
)

_CONTAINERS_AND_ARRAYS = (
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.slice",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.NoneType",
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.float64",
    "numpy.float32",
    "numpy.int64",
    "numpy.int32",
    "numpy.uint64",
    "numpy.uint32",
    "numpy.uint8",
    "numpy.bool_",
    "numpy.object_",
    "numpy.str_",
    "numpy.random.mtrand.RandomState",
    "numpy.random._generator.Generator",
)

#: Every type or function a skops file may name, as ``module.QualName``.
ALLOWED_TYPES: frozenset[str] = frozenset(_SKLEARN_ESTIMATORS + _SKLEARN_INTERNALS + _CONTAINERS_AND_ARRAYS)

#: The skops node kinds (``__loader__``) those types are written with; any other kind is refused.
ALLOWED_NODES: frozenset[str] = frozenset({
    "DictNode", "ListNode", "TupleNode", "SliceNode", "JsonNode", "TypeNode", "DTypeNode", "NdArrayNode",
    "ObjectNode", "FunctionNode", "TreeNode", "LossNode", "RandomStateNode", "RandomGeneratorNode",
})
