"""scikit-learn pipelines saved with skops: registered, scored like the live object, explained on raw features.

And refused before anything is built when the file names a type outside ethics' list.
"""

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shap
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    OneHotEncoder,
    PolynomialFeatures,
    SplineTransformer,
    StandardScaler,
)
from sklearn.svm import SVC

from ethics import artifacts, explain, pipeline_columns, registry
from ethics.allowed_types import ALLOWED_TYPES
from ethics.errors import ArtifactRefused
from ethics.worker import Refused
from tests.conftest import state_of

NUMBERS = ["minutes_watched", "questions_asked", "company_employees", "region_code"]
TEXT = ["contract", "channel"]
CATEGORY_FEATURES = """[[features]]
name = "contract"
label = "Contract"
type = "category"

[[features]]
name = "channel"
label = "Channel"
type = "category"

"""
MARKER_ENV = "ETHICS_TEST_SKOPS_MARKER"


def leads(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """The example model's numbers and two text columns, with a label that follows both."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "minutes_watched": rng.integers(0, 60, n).astype(float), "questions_asked": rng.poisson(1, n).astype(float),
        "company_employees": rng.integers(5, 1000, n).astype(float), "region_code": rng.integers(1, 6, n).astype(float),
        "contract": rng.choice(["month-to-month", "one year", "two year"], n).astype(object),
        "channel": rng.choice(["webinar", "referral"], n).astype(object),
    })
    signal = (frame["minutes_watched"] / 10 + (frame["contract"] == "month-to-month") * 2
              - (frame["channel"] == "referral"))
    return frame, (signal + rng.normal(0, 1, n) > 3).astype(int).to_numpy()


def pipeline_of(estimator) -> Pipeline:
    pre = ColumnTransformer([("num", StandardScaler(), NUMBERS), ("cat", OneHotEncoder(handle_unknown="ignore"), TEXT)])
    return Pipeline([("pre", pre), ("model", estimator)])


def manifest_for(examples: Path, file: str) -> Path:
    text = (examples / "manifest.toml").read_text()
    text = text.replace('kind = "linear"', 'kind = "skops"').replace('file = "model.json"', f'file = "{file}"')
    text = text.replace("[[sensitive_attributes]]", CATEGORY_FEATURES + "[[sensitive_attributes]]", 1)
    path = examples / f"manifest-{file}.toml"
    path.write_text(text)
    return path


def expected_contributions(pipe: Pipeline, frame: pd.DataFrame) -> tuple[np.ndarray, float]:
    """shap on the transformed matrix, each raw feature the sum of the columns named after it."""
    z = pipe[:-1].transform(frame)
    z = np.asarray(z.toarray() if hasattr(z, "toarray") else z, dtype=np.float64)
    estimator = pipe[-1]
    if isinstance(estimator, LogisticRegression):
        explainer = shap.LinearExplainer(estimator, shap.maskers.Independent(z, max_samples=len(z)))
        values, base = explainer.shap_values(z), float(np.atleast_1d(explainer.expected_value)[0])
    else:
        explainer = shap.TreeExplainer(estimator)
        values, base = explainer.shap_values(z), np.atleast_1d(explainer.expected_value)
        if values.ndim == 3:
            values, base = values[:, :, 1], base[1]
        base = float(base[0] if np.ndim(base) else base)
    names = list(pipe[:-1].get_feature_names_out())
    raw = np.column_stack([
        values[:, [j for j, n in enumerate(names) if n == f"num__{f}" or n.startswith(f"cat__{f}_")]].sum(axis=1)
        for f in NUMBERS + TEXT])
    return raw, base


ESTIMATORS = {
    "logistic": lambda: LogisticRegression(C=0.5, max_iter=500),
    "gradient-boosting": lambda: GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
    "hist-gradient-boosting": lambda: HistGradientBoostingClassifier(max_iter=30, random_state=0),
    "random-forest": lambda: RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0),
}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_pipeline_round_trip_scores_like_the_live_object_and_explains_raw_features(db, home, examples, now, name):
    frame, y = leads()
    pipe = pipeline_of(ESTIMATORS[name]()).fit(frame, y)
    (examples / "model.skops").write_bytes(skops.io.dumps(pipe))
    row = registry.register_model(db, manifest_for(examples, "model.skops"), home=home, actor="t", now=now,
                                  reference=frame.assign(score=pipe.predict_proba(frame)[:, 1]))
    assert row["artifact_kind"] == "skops" and row["artifact_file"].endswith(".skops")

    with registry.load_scorer(row, home=home) as scorer:
        facts = scorer.facts
        scores = scorer.score(frame)
        # The explainer the facts name, through explain.py's additivity check.
        found = explain.explain_rows(scorer, frame, method=facts["explainer"], threads=2)
    values, base, margin = found.values.to_numpy(), found.base_value, found.output

    forest = name == "random-forest"
    assert facts["features"] == NUMBERS + TEXT
    assert facts["categorical"] == TEXT
    assert (facts["link"], facts["explainer"]) == ("identity" if forest else "logistic",
                                                    "linear" if name == "logistic" else "tree")
    assert (facts["objective"], facts["num_class"], facts["outputs"], facts["nonfinite"]) == ("binary", 1, 1, None)
    assert np.abs(scores - pipe.predict_proba(frame)[:, 1]).max() <= 1e-12
    live_margin = pipe.predict_proba(frame)[:, 1] if forest else pipe.decision_function(frame)
    np.testing.assert_allclose(margin, live_margin, rtol=0, atol=1e-12)

    expected, expected_base = expected_contributions(pipe, frame)
    assert list(found.values.columns) == NUMBERS + TEXT
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-9)
    assert base == pytest.approx(expected_base, abs=1e-9)
    assert np.abs(values.sum(axis=1) + base - margin).max() <= 1e-6


def test_missing_values_are_handled_where_the_pipeline_handles_them(db, home, examples, now):
    frame, y = leads()
    frame.loc[frame.index[:20], "company_employees"] = np.nan
    frame.loc[frame.index[20:30], "contract"] = np.nan
    pre = ColumnTransformer([("imputed", make_pipeline(SimpleImputer(), StandardScaler()), ["company_employees"]),
                             ("num", StandardScaler(), ["minutes_watched", "questions_asked", "region_code"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), TEXT)])
    pipe = Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=500))]).fit(frame, y)
    (examples / "imputed.skops").write_bytes(skops.io.dumps(pipe))
    complete = frame.iloc[30:]  # reference cells follow the import rules, which refuse a missing cell
    row = registry.register_model(db, manifest_for(examples, "imputed.skops"), home=home, actor="t", now=now,
                                  reference=complete.assign(score=pipe.predict_proba(complete)[:, 1]))
    with registry.load_scorer(row, home=home) as scorer:
        assert scorer.facts["missing"] == ["company_employees", "contract", "channel"]
        assert np.abs(scorer.score(frame) - pipe.predict_proba(frame)[:, 1]).max() <= 1e-12


def test_column_map_traces_splines_bins_dropped_one_hot_indicators_and_the_remainder():
    frame, y = leads()
    frame.loc[frame.index[:5], "company_employees"] = np.nan
    pre = ColumnTransformer([
        ("spline", SplineTransformer(n_knots=4), ["questions_asked"]),
        ("bins", KBinsDiscretizer(n_bins=3, encode="onehot-dense", quantile_method="averaged_inverted_cdf"),
         ["minutes_watched"]),
        ("imputed", SimpleImputer(add_indicator=True), ["company_employees"]),
        ("cat", OneHotEncoder(drop="first", sparse_output=False), TEXT),
    ], remainder="passthrough")
    pipe = Pipeline([("pre", pre), ("model", HistGradientBoostingClassifier(max_iter=5))]).fit(frame, y)
    found = pipeline_columns.column_map(pipe[:-1], features=list(frame.columns), estimator=pipe[-1])
    prefixes = {"spline": "questions_asked", "bins": "minutes_watched", "imputed": "company_employees",
                "remainder": "region_code"}
    expected = []
    for name in pipe[:-1].get_feature_names_out():
        step, _, column = name.partition("__")
        expected.append(next(f for f in TEXT if column.startswith(f + "_")) if step == "cat" else prefixes[step])
    assert [found.features[i] for i in found.origin] == expected
    assert found.categorical == TEXT
    # Imputed, or passed through to the gradient boosting, which routes NaN itself; splines, bins and a one-hot
    # encoder that has not seen NaN would raise.
    assert found.missing == ["company_employees", "region_code"]


@pytest.mark.parametrize(("name", "missing"), [("gradient-boosting", TEXT), ("logistic", TEXT),
                                              ("random-forest", NUMBERS + TEXT),
                                              ("hist-gradient-boosting", NUMBERS + TEXT)])
def test_missing_follows_whether_the_final_estimator_routes_nan_itself(name, missing):
    frame, y = leads(200)
    pipe = pipeline_of(ESTIMATORS[name]()).fit(frame, y)
    found = pipeline_columns.column_map(pipe[:-1], features=list(frame.columns), estimator=pipe[-1])
    assert found.missing == missing  # text: the one-hot encoder ignores what it has not seen, NaN too


def test_a_transformer_that_mixes_raw_columns_is_refused_by_name():
    frame, y = leads()
    pre = ColumnTransformer([("poly", PolynomialFeatures(2), NUMBERS), ("cat", OneHotEncoder(), TEXT)])
    pipe = Pipeline([("pre", pre), ("model", HistGradientBoostingClassifier(max_iter=5))]).fit(frame, y)
    with pytest.raises(Refused, match=r"transformer PolynomialFeatures \('poly'\) mixes raw columns"):
        pipeline_columns.column_map(pipe[:-1], features=list(frame.columns), estimator=pipe[-1])


# -- refused before loading ------------------------------------------------------------


def _touch_marker(x):
    """Run only if a FunctionTransformer around it were built and called: leaves the marker."""
    if MARKER_ENV in os.environ:
        Path(os.environ[MARKER_ENV]).touch()
    return x


def _with_schema(data: bytes, change) -> bytes:
    """The skops archive ``data`` with its schema.json changed by ``change(schema)``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    change(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, json.dumps(schema) if name == "schema.json" else source.read(name))
    return out.getvalue()


def _small_pipeline(transformer=None) -> Pipeline:
    frame, y = leads(120)
    steps = [("pre", ColumnTransformer([("num", transformer or StandardScaler(), NUMBERS),
                                         ("cat", OneHotEncoder(handle_unknown="ignore"), TEXT)])),
             ("model", LogisticRegression(max_iter=500))]
    return Pipeline(steps).fit(frame, y)


def _named_eval(schema):
    schema["content"]["content"]["memory"] = {"__class__": "eval", "__module__": "builtins",
                                              "__loader__": "FunctionNode", "__id__": 1}


def _named_system(marker: Path):
    def change(schema):
        schema["content"]["content"]["memory"] = {
            "__class__": "system", "__module__": "os", "__loader__": "ObjectNode", "__id__": 2,
            "content": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "__id__": 3,
                        "content": [{"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
                                     "content": json.dumps(f"touch {marker}"), "is_json": True, "__id__": 4}]}}
    return change


DANGEROUS = {
    "builtins.eval": lambda marker: _with_schema(skops.io.dumps(_small_pipeline()), _named_eval),
    "os.system": lambda marker: _with_schema(skops.io.dumps(_small_pipeline()), _named_system(marker)),
    f"{__name__}.<lambda>": lambda marker: skops.io.dumps(_small_pipeline(FunctionTransformer(lambda x: x))),
    f"{__name__}._touch_marker": lambda marker: skops.io.dumps(_small_pipeline(FunctionTransformer(_touch_marker))),
    "numpy.log1p": lambda marker: skops.io.dumps(_small_pipeline(FunctionTransformer(np.log1p))),
    "sklearn.svm._classes.SVC": lambda marker: skops.io.dumps(
        Pipeline([("pre", _small_pipeline()[:-1]), ("model", SVC())]).fit(*leads(120))),
}


@pytest.mark.parametrize("type_name", list(DANGEROUS))
def test_a_file_naming_a_type_off_the_list_is_refused_before_loading(db, home, examples, now, tmp_path,
                                                                     monkeypatch, type_name):
    marker = tmp_path / "marker"
    assert type_name not in ALLOWED_TYPES
    path = examples / "model.skops"
    path.write_bytes(DANGEROUS[type_name](marker))
    monkeypatch.setenv(MARKER_ENV, str(marker))  # the worker inherits it
    before = state_of(home)
    message = (f"{path}: type {type_name} is not on ethics' list of allowed types (allowed-types v1); "
               "nothing was registered.")
    with pytest.raises(ArtifactRefused) as refused:
        registry.register_model(db, manifest_for(examples, "model.skops"), home=home, actor="t", now=now)
    assert str(refused.value) == message
    assert not marker.exists()
    assert state_of(home) == before


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """A version 1.0 .npy header that declares ``shape`` float64, with no data after it."""
    text = repr({"descr": "<f8", "fortran_order": False, "shape": shape}).encode()
    text += b" " * (63 - (10 + len(text)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def test_an_array_declaring_ten_gib_is_stopped_by_the_worker_memory_limit(db, home, examples, now):
    data = skops.io.dumps(_small_pipeline())
    source = zipfile.ZipFile(io.BytesIO(data))
    arrays = [name for name in source.namelist() if name.endswith(".npy")]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            huge = name in arrays
            target.writestr(name, _npy_header((10 * 1024**3 // 8,)) if huge else source.read(name))
    path = examples / "model.skops"
    path.write_bytes(out.getvalue())
    before = state_of(home)
    with pytest.raises(ArtifactRefused, match=r"model\.skops: the artifact needed more memory than the worker's "
                                              r"limit \(2 GiB\) while loading; nothing was registered\."):
        registry.register_model(db, manifest_for(examples, "model.skops"), home=home, actor="t", now=now)
    assert state_of(home) == before


def test_a_pipeline_fitted_without_column_names_is_refused(db, home, examples, now):
    frame, y = leads(120)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(frame[NUMBERS].to_numpy(), y)
    (examples / "model.skops").write_bytes(skops.io.dumps(pipe))
    with pytest.raises(ArtifactRefused, match="fit it on a pandas DataFrame with named columns"):
        registry.register_model(db, manifest_for(examples, "model.skops"), home=home, actor="t", now=now)


def test_zip_archives_are_refused_for_every_kind_but_skops_and_pickle_for_skops_too():
    data = skops.io.dumps(StandardScaler())
    artifacts.refuse_executable(data, file="m.skops", kind="skops")
    for kind in ("lightgbm", "xgboost", "linear", None):
        with pytest.raises(ArtifactRefused, match="zip archive"):
            artifacts.refuse_executable(data, file="m.zip", kind=kind)
    for magic in (b"\x80\x04\x95", b"\x1f\x8b\x08", b"x\x9c"):
        with pytest.raises(ArtifactRefused, match="m.skops: refused"):
            artifacts.refuse_executable(magic + b"abc", file="m.skops", kind="skops")


def test_identity_link_is_a_classifier_only_when_the_margin_is_a_probability():
    facts = {"objective": "binary", "num_class": 1, "outputs": 1, "link": "identity", "nonfinite": None}
    artifacts.check_classifier({**facts, "margin_is_probability": True}, kind="skops", outcome="binary", file="m")
    with pytest.raises(ArtifactRefused, match="its link is 'identity'"):
        artifacts.check_classifier(facts, kind="skops", outcome="binary", file="m")


def _archive(schema: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        target.writestr("schema.json", schema)
    return out.getvalue()


def test_the_schema_is_read_within_limits_and_every_node_kind_is_checked():
    from ethics import skops_model
    from ethics.worker import NotAllowed

    with pytest.raises(Refused, match="nested deeper than 200 levels"):
        skops_model.named_types(skops_model.read_schema(_archive(b"[" * 300 + b"]" * 300)))
    with pytest.raises(Refused, match=r"its schema.json declares 33554433 bytes \(limit 33554432\)"):
        skops_model.read_schema(_archive(b" " * (skops_model.MAX_SCHEMA_BYTES + 1)))
    with pytest.raises(Refused, match="not a zip archive"):
        skops_model.read_schema(b"PK\x03\x04 not really a zip")
    method = {"__class__": "StandardScaler", "__module__": "sklearn.preprocessing._data", "__loader__": "MethodNode",
              "content": {"func": "fit", "obj": {}}}
    with pytest.raises(NotAllowed, match=r"type sklearn\.preprocessing\._data\.StandardScaler\.fit is not on"):
        skops_model.named_types(method)
    reduce = {"__class__": "StandardScaler", "__module__": "sklearn.preprocessing._data", "__loader__": "ReduceNode"}
    with pytest.raises(NotAllowed, match="written as a skops ReduceNode, a kind of node ethics' list does not allow"):
        skops_model.named_types(reduce)
    real = json.loads(zipfile.ZipFile(io.BytesIO(skops.io.dumps(_small_pipeline()))).read("schema.json"))
    assert "sklearn.pipeline.Pipeline" in skops_model.named_types(real) <= ALLOWED_TYPES
