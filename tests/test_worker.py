"""Issue 18, points 1 and 6: artifacts run in a limited worker; only classifiers register; scores are checked.

Every refused artifact leaves the data home byte-identical (``state_of``) and, from the CLI,
exits 2 with one line naming the file and what happened.
"""

import json
import math

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from click.testing import CliRunner

from ethics import artifacts, datasets, registry, snapshots, worker
from ethics.artifacts import Scorer
from ethics.cli import cli
from ethics.errors import ArtifactRefused, ValidationError
from tests.conftest import EXAMPLE_MODEL, EXAMPLE_VERSION, WEEK, default_policy, manifest_with, state_of, training_frame

FEATURES = ["minutes_watched", "questions_asked", "company_employees", "region_code"]


def _lightgbm_text(objective="binary", rounds=5):
    x, y = training_frame()
    target = y if objective != "regression" else 700 + 400 * y + x["minutes_watched"]
    params = {"objective": objective, "num_leaves": 4, "verbose": -1, "num_threads": 1}
    if objective == "multiclass":
        params["num_class"] = 3
        target = (x["region_code"] % 3).astype(int)
    booster = lightgbm.train(params, lightgbm.Dataset(x, target), num_boost_round=rounds)
    return booster.model_to_string()


def _xgboost_json(objective="binary:logistic"):
    x, y = training_frame()
    target = y if objective.startswith("binary") else 355 + 846 * y
    booster = xgboost.train({"objective": objective, "max_depth": 2, "nthread": 1}, xgboost.DMatrix(x, target),
                            num_boost_round=5)
    return json.loads(bytes(booster.save_raw("json")))


def _linear(examples, **changes):
    spec = json.loads((examples / "model.json").read_text())
    for key, value in changes.items():
        if key == "scale":
            spec["scaling"]["minutes_watched"]["scale"] = value
        else:
            spec[key] = value
    return json.dumps(spec)


@pytest.fixture
def refused(db, home, examples, now):
    """Register an artifact that must be refused; the message, after checking nothing changed."""

    def register(kind, name, content, match):
        path = examples / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        before = state_of(home)
        with pytest.raises(ValidationError, match=match) as caught:
            registry.register_model(db, manifest_with(examples, kind, name), home=home, actor="t", now=now)
        assert state_of(home) == before
        assert str(path) in str(caught.value)
        return str(caught.value)

    return register


# -- point 1: only classifiers of the outcome type register ------------------------------


def test_xgboost_artifact_with_nan_leaves_is_refused(refused):
    model = _xgboost_json()
    tree = model["learner"]["gradient_booster"]["model"]["trees"][0]
    leaves = [i for i, left in enumerate(tree["left_children"]) if left == -1]
    for leaf in leaves:
        tree["split_conditions"][leaf] = float("nan")
        tree["base_weights"][leaf] = float("nan")
    message = refused("xgboost", "nan.json", json.dumps(model), r"tree 0 has a split_conditions value that is "
                      r"not finite \(scores would be NaN or infinite\); nothing was registered")
    assert "must give probabilities in [0, 1]" in message


def test_lightgbm_regression_objective_is_refused(refused):
    refused("lightgbm", "regression.txt", _lightgbm_text("regression"),
            r"its objective is 'regression', which does not give a probability \(lightgbm objective 'binary' or "
            r"'cross_entropy'\)")


def test_lightgbm_multiclass_is_refused(refused):
    refused("lightgbm", "multi.txt", _lightgbm_text("multiclass"), r"its objective is 'multiclass'")


def test_lightgbm_cross_entropy_registers(db, home, examples, now):
    (examples / "xent.txt").write_text(_lightgbm_text("cross_entropy"))
    row = registry.register_model(db, manifest_with(examples, "lightgbm", "xent.txt"), home=home, actor="t", now=now)
    assert row["artifact_kind"] == "lightgbm"


@pytest.mark.parametrize("objective", ["reg:squarederror", "multi:softprob", "binary:hinge"])
def test_xgboost_objectives_that_are_not_probabilities_are_refused(refused, objective):
    model = _xgboost_json("reg:squarederror" if objective != "binary:hinge" else "binary:hinge")
    model["learner"]["objective"]["name"] = objective
    if objective == "multi:softprob":
        model["learner"]["objective"]["softmax_multiclass_param"] = {"num_class": "3"}
        model["learner"]["learner_model_param"]["num_class"] = "3"
        model["learner"]["gradient_booster"]["model"]["tree_info"] = [
            i % 3 for i in range(len(model["learner"]["gradient_booster"]["model"]["tree_info"]))]
    message = refused("xgboost", "other.json", json.dumps(model), r"does not give a probability|cannot parse")
    assert "Traceback" not in message


def test_xgboost_logitraw_scores_are_the_sigmoid_of_the_margin(db, home, examples, now):
    x, y = training_frame()
    booster = xgboost.train({"objective": "binary:logitraw", "max_depth": 2, "nthread": 1},
                            xgboost.DMatrix(x, y), num_boost_round=5)
    (examples / "raw.json").write_bytes(bytes(booster.save_raw("json")))
    row = registry.register_model(db, manifest_with(examples, "xgboost", "raw.json"), home=home, actor="t", now=now)
    with registry.scorer_for(row, home=home) as scorer:
        margin = booster.predict(xgboost.DMatrix(x), output_margin=True)
        np.testing.assert_allclose(scorer.score(x), 1 / (1 + np.exp(-margin)), rtol=1e-6)
        assert ((scorer.score(x) > 0) & (scorer.score(x) < 1)).all()


def test_linear_identity_link_is_refused(refused, examples):
    refused("linear", "identity.json", _linear(examples, link="identity"),
            r"its link is 'identity': a linear score is a probability only through link = 'logistic'")


def test_linear_scale_zero_is_refused(refused, examples):
    refused("linear", "zero.json", _linear(examples, scale=0),
            r"scaling scale of 'minutes_watched' is 0, which divides by zero \(every score would be NaN\)")


@pytest.mark.parametrize("scale", ["15", None, [1]])
def test_linear_scale_that_is_not_a_number_is_refused(refused, examples, scale):
    refused("linear", "text.json", _linear(examples, scale=scale),
            r"scaling scale of 'minutes_watched' is .*, not a finite number")


def test_linear_json_with_nan_constants_is_refused(refused, examples):
    refused("linear", "nan.json", _linear(examples).replace('"intercept": ', '"intercept": NaN, "x": '),
            r"it is not JSON \(NaN is not a JSON number\)")


def test_a_computed_score_outside_0_1_refuses_the_import(db, home, examples, now, monkeypatch):
    """A version registered before these checks (identity link) computes 2.1-8.5: the import names row and column."""
    (examples / "identity.json").write_text(_linear(examples, link="identity", intercept=5.0))
    with monkeypatch.context() as patch:
        patch.setattr(artifacts, "check_classifier", lambda *a, **k: None)
        version = registry.register_model(db, manifest_with(examples, "linear", "identity.json"), home=home,
                                          actor="t", now=now)
    before = state_of(home)
    with pytest.raises(ValidationError, match=r"eval.csv, row 1, column 'score': the registered artifact of "
                       r"webinar-follow-up 1.0.0 computed .*, which is not a probability in \[0, 1\]; nothing was "
                       r"imported"):
        datasets.import_dataset(db, examples / "eval.csv", kind="eval", model_id=EXAMPLE_MODEL,
                                version=version["version"], week=WEEK, home=home, actor="t", now=now)
    assert state_of(home) == before


def test_a_snapshot_refuses_stored_rows_that_are_not_finite(db, home, examples, registered, now):
    """Rows stored before imports checked computed scores (200 NaN scores): the snapshot says which."""
    frame = datasets.validate_rows(pd.read_csv(examples / "scores.csv"), manifest=registered["manifest"],
                                   kind="scores", file="scores.csv", scored=False)
    frame["score"] = np.nan
    found = datasets.store_frame(db, frame, file="scores.csv", source_sha=None, kind="scores",
                                 version_row=registered, week=WEEK, home=home, actor="t", now=now, rows=len(frame))
    before = state_of(home)
    with pytest.raises(ValidationError, match=rf"Dataset {found['id']} \(scores.csv\), row 1, column 'score': nan "
                       r"is not a finite number; no snapshot was taken"):
        snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home, policy=default_policy(),
                                actor="t", now=now)
    assert state_of(home) == before


# -- point 6: native crashes become messages, exit 2, nothing written --------------------


def _good_lightgbm():
    return _lightgbm_text(rounds=3)


def _truncated(text):
    return text[: text.index("leaf_value", text.index("Tree=1")) + 30]


def _num_leaves(text):
    return text.replace("num_leaves=4", "num_leaves=400", 1)


def _tree_sizes(text):
    start = text.index("tree_sizes=")
    return text[:start] + "tree_sizes=99999 x -3" + text[text.index("\n", start):]


def _left_child(text):
    start = text.index("left_child=")
    return text[:start] + "left_child=900 -2 -3" + text[text.index("\n", start):]


def _trees_per_iteration(text):
    return text.replace("num_tree_per_iteration=1", "num_tree_per_iteration=0")


CRASHES = {  # what each does to the process today when LightGBM parses it in-process
    "truncated.txt": (_truncated, "SIGABRT"),
    "num_leaves.txt": (_num_leaves, "SIGABRT"),
    "tree_sizes.txt": (_tree_sizes, "SIGABRT"),
    "left_child.txt": (_left_child, "SIGABRT"),
    "per_iteration.txt": (_trees_per_iteration, "SIGFPE"),
}


@pytest.fixture
def register_cli(home, examples, monkeypatch):
    monkeypatch.setenv("ETHICS_HOME", str(home))
    monkeypatch.setenv("ETHICS_ACTOR", "tester")
    runner = CliRunner()
    runner.invoke(cli, ["migrate"], catch_exceptions=False)

    def register(kind, name, content):
        path = examples / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        before = state_of(home)
        result = runner.invoke(cli, ["register", str(manifest_with(examples, kind, name)), "--artifact", str(path)],
                               catch_exceptions=False)
        assert state_of(home) == before
        assert "Traceback" not in result.output
        return result

    return register


@pytest.mark.parametrize("name", list(CRASHES))
def test_a_lightgbm_file_that_aborts_the_library_is_a_message_and_exit_2(register_cli, examples, name):
    change, signal_name = CRASHES[name]
    result = register_cli("lightgbm", name, change(_good_lightgbm()))
    assert result.exit_code == 2, result.output
    number = {"SIGABRT": 6, "SIGFPE": 8}[signal_name]
    assert (f"{examples / name}: the artifact crashed the model library while loading (signal {number}, "
            f"{signal_name}); nothing was registered.") in result.output


def test_a_huge_max_feature_idx_is_refused_by_lightgbm_with_its_message(register_cli, examples):
    text = _good_lightgbm().replace("max_feature_idx=3", "max_feature_idx=2000000000")
    result = register_cli("lightgbm", "features.txt", text)
    assert result.exit_code == 2
    assert "features.txt: the manifest says artifact kind 'lightgbm', but LightGBM cannot parse it" in result.output


def test_deeply_nested_xgboost_json_segfault_is_a_message_and_exit_2(register_cli, examples):
    nested = '{"learner": ' + "[" * 100_000 + "]" * 100_000 + "}"
    result = register_cli("xgboost", "nested.json", nested)
    assert result.exit_code == 2, result.output
    assert (f"{examples / 'nested.json'}: the artifact crashed the model library while loading (signal 11, "
            "SIGSEGV); nothing was registered.") in result.output


def test_deeply_nested_linear_json_is_refused(register_cli):
    result = register_cli("linear", "nested-linear.json", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert result.exit_code == 2 and "nested too deeply" in result.output


def test_dev_zero_as_artifact_is_refused_before_it_is_read(home, examples, monkeypatch):
    monkeypatch.setenv("ETHICS_HOME", str(home))
    result = CliRunner().invoke(cli, ["register", str(manifest_with(examples, "lightgbm", "x.txt")),
                                      "--artifact", "/dev/zero"], catch_exceptions=False)
    assert result.exit_code == 2 and "/dev/zero: the artifact is not a regular file." in result.output


def test_a_changed_registered_artifact_is_refused_by_the_worker(db, home, examples, registered, now):
    path = home / registered["artifact_file"]
    path.write_text(path.read_text().replace("-0.4", "-0.5"))
    before = state_of(home)
    with pytest.raises(ArtifactRefused, match=r"was changed after registration and will not be loaded"):
        datasets.import_dataset(db, examples / "eval.csv", kind="eval", model_id=EXAMPLE_MODEL,
                                version=EXAMPLE_VERSION, week=WEEK, home=home, actor="t", now=now)
    assert state_of(home) == before


# -- the worker's limits ------------------------------------------------------------------


def _limited(**limits):
    return worker.Worker(limits=worker.Limits(**limits), allow_test_requests=True)


def test_the_memory_limit_stops_a_request_that_allocates_too_much():
    with _limited(memory_bytes=512 * 1024**2) as process:
        reply, _ = process.request({"op": "test-allocate", "bytes": 64 * 1024**2})
        assert reply == {"ok": True, "allocated": 64 * 1024**2}
        reply, _ = process.request({"op": "test-allocate", "bytes": 4 * 1024**3})
        assert reply == {"ok": False, "error": "memory"}


def test_the_wall_clock_limit_stops_a_request_that_hangs():
    with _limited(wall_seconds=1.0) as process:
        process.request({"op": "test-hang", "seconds": 0})  # started and answering
        with pytest.raises(worker.WorkerDied) as died:
            process.request({"op": "test-hang"})
        assert died.value.reason == "timeout"


def test_the_cpu_limit_stops_a_request_that_spins():
    with _limited(cpu_seconds=1, wall_seconds=30) as process:
        with pytest.raises(worker.WorkerDied) as died:
            process.request({"op": "test-spin"})
        assert (died.value.reason, died.value.signal_number) == ("cpu", 24)


def test_production_workers_do_not_answer_test_requests():
    with worker.Worker() as process:
        reply, _ = process.request({"op": "test-hang"})
        assert reply == {"ok": False, "error": "failed", "reason": "unknown request 'test-hang'"}


def test_a_heavy_artifact_under_a_lowered_memory_limit_is_a_message(db, home, examples, now, monkeypatch):
    """A legitimate linear model with a million coefficients needs more than 200 MiB to parse."""
    coefficients = ", ".join(f'"f{i}": 0.1' for i in range(1_000_000))
    (examples / "heavy.json").write_text(
        f'{{"format": "ethics-linear-v1", "intercept": 0, "coefficients": {{{coefficients}}}}}')
    monkeypatch.setenv(worker.ENV_MEMORY_MB, "200")
    before = state_of(home)
    with pytest.raises(ArtifactRefused, match=r"heavy.json: the artifact needed more memory than the worker's "
                       r"limit \(200 MiB\) while loading; nothing was registered") as caught:
        registry.register_model(db, manifest_with(examples, "linear", "heavy.json"), home=home, actor="t", now=now)
    assert "ETHICS_WORKER_MEMORY_MB" in caught.value.hint
    assert state_of(home) == before


def test_a_lowered_wall_clock_limit_stops_a_slow_load_with_a_message(register_cli, examples, monkeypatch):
    monkeypatch.setenv(worker.ENV_WALL_SECONDS, "0.05")  # starting Python and LightGBM takes longer
    result = register_cli("lightgbm", "slow.txt", _good_lightgbm())
    assert result.exit_code == 2
    assert ("slow.txt: the model library did not finish loading within the worker's time limit (0.05 s); "
            "nothing was registered.") in result.output


def test_limits_have_defaults_and_environment_overrides():
    assert worker.Limits.from_environ({}) == worker.Limits(2 * 1024**3, 60, 120)
    assert worker.Limits.from_environ({worker.ENV_MEMORY_MB: "300", worker.ENV_CPU_SECONDS: "5",
                                       worker.ENV_WALL_SECONDS: "1.5"}) == worker.Limits(300 * 1024**2, 5, 1.5)
    assert worker.Limits().memory_text() == "2 GiB"


# -- one worker serves scores and SHAP of one artifact; only numbers come back -------------


def test_one_worker_serves_facts_scores_and_contributions(db, home, examples, now):
    x, y = training_frame()
    (examples / "model.txt").write_text(_lightgbm_text(rounds=10))
    row = registry.register_model(db, manifest_with(examples, "lightgbm", "model.txt"), home=home, actor="t", now=now)
    booster = lightgbm.Booster(model_file=str(home / row["artifact_file"]))
    with registry.scorer_for(row, home=home) as scorer:
        assert isinstance(scorer, Scorer)
        assert scorer.facts == {"features": FEATURES, "objective": "binary", "num_class": 1, "outputs": 1,
                                "link": "logistic", "nonfinite": None, "categorical": [], "missing": FEATURES,
                                "explainer": "tree"}
        process = scorer._worker._process
        np.testing.assert_allclose(scorer.score(x), booster.predict(x.to_numpy()), rtol=1e-12)
        values, base, margin = scorer.contributions(x, threads=1)
        expected = booster.predict(x.to_numpy(), pred_contrib=True)
        np.testing.assert_allclose(values, expected[:, :-1], rtol=1e-12)
        assert base == pytest.approx(expected[0, -1]) and isinstance(base, float)
        assert np.abs(base + values.sum(axis=1) - margin).max() < 1e-9
        assert scorer._worker._process is process  # the same process throughout
    assert process.poll() is not None  # stopped with the block


def test_linear_contributions_equal_shap_linear_explainer(db, home, examples, registered):
    import shap

    spec = json.loads((examples / "model.json").read_text())
    x, _ = training_frame(50)
    scale = np.array([spec["scaling"][n]["scale"] for n in FEATURES])
    mean = np.array([spec["scaling"][n]["mean"] for n in FEATURES])
    coefficients = np.array([spec["coefficients"][n] for n in FEATURES]) / scale
    intercept = spec["intercept"] - coefficients @ mean
    explainer = shap.LinearExplainer((coefficients, intercept), (mean, np.eye(len(mean))))
    with registry.scorer_for(registered, home=home) as scorer:
        values, base, margin = scorer.contributions(x, threads=1)
    np.testing.assert_allclose(values, explainer.shap_values(x[FEATURES].to_numpy()), atol=1e-12)
    assert base == pytest.approx(float(np.ravel(explainer.expected_value)[-1]))
    assert math.isclose(base, spec["intercept"])


def test_rows_decode_text_codes_and_missing_values():
    rows = worker.Rows(np.array([[1.0, 0.0], [np.nan, 1.0], [2.5, np.nan]]), ["tenure", "contract"],
                       {"contract": ["month-to-month", "one-year"]})
    assert rows.column("contract").tolist() == ["month-to-month", "one-year", None]
    np.testing.assert_array_equal(rows.column("tenure"), [1.0, np.nan, 2.5])
