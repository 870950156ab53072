import hashlib
import json

import lightgbm
import numpy as np
import pytest
import xgboost

from ethics import artifacts, registry
from ethics.errors import NotFound
from tests.conftest import EXAMPLE_MODEL, EXAMPLE_VERSION, manifest_with, training_frame


def test_register_records_manifest_and_artifact_hash(db, home, examples, registered):
    expected = hashlib.sha256((examples / "model.json").read_bytes()).hexdigest()
    assert registered["artifact_sha256"] == expected
    assert (home / registered["artifact_file"]).read_bytes() == (examples / "model.json").read_bytes()
    model = registry.get_model(db, EXAMPLE_MODEL)
    assert (model["team"], model["risk_tier"], model["purpose"]) == ("north", "medium", "lead_scoring")
    manifest = registered["manifest"]
    assert [f["name"] for f in manifest["features"]] == [
        "minutes_watched", "questions_asked", "company_employees", "region_code"]
    assert manifest["impact_assessment"]["legal_basis"].startswith("Legitimate interest")
    assert registered["threshold"] == 0.5


def test_registering_the_same_version_again_is_idempotent(db, home, examples, registered, now):
    again = registry.register_model(db, examples / "manifest.toml", home=home, actor="test", now=now)
    assert again["id"] == registered["id"]
    assert len(registry.list_versions(db, EXAMPLE_MODEL)) == 1


def test_linear_scorer_matches_the_formula(db, home, registered):
    scorer = registry.load_scorer(registered, home=home)
    spec = json.loads((home / registered["artifact_file"]).read_text())
    x, _ = training_frame(5)
    z = spec["intercept"] + sum(
        w * (x[n] - spec["scaling"][n]["mean"]) / spec["scaling"][n]["scale"]
        for n, w in spec["coefficients"].items())
    np.testing.assert_allclose(scorer.score(x), 1 / (1 + np.exp(-z)))


def test_lightgbm_text_artifact_scores_like_the_booster(db, home, examples, now):
    x, y = training_frame()
    model = lightgbm.LGBMClassifier(n_estimators=20, n_jobs=1, verbose=-1).fit(x, y)
    (examples / "model.txt").write_text(model.booster_.model_to_string())
    row = registry.register_model(db, manifest_with(examples, "lightgbm", "model.txt"), home=home,
                                  actor="t", now=now)
    scorer = registry.load_scorer(row, home=home)
    np.testing.assert_allclose(scorer.score(x), model.predict_proba(x)[:, 1], rtol=1e-9)


@pytest.mark.parametrize("fmt", ["json", "ubj"])
def test_xgboost_artifact_scores_like_the_booster(db, home, examples, now, fmt):
    x, y = training_frame()
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                            xgboost.DMatrix(x, y), num_boost_round=10)
    (examples / f"model.{fmt}").write_bytes(bytes(booster.save_raw(fmt)))
    row = registry.register_model(db, manifest_with(examples, "xgboost", f"model.{fmt}"), home=home,
                                  actor="t", now=now)
    scorer = registry.load_scorer(row, home=home)
    np.testing.assert_allclose(scorer.score(x), booster.predict(xgboost.DMatrix(x)), rtol=1e-6)


def test_scores_only_model_has_no_scorer(db, home, examples, now):
    text = (examples / "manifest.toml").read_text().replace('kind = "linear"', 'kind = "none"')
    text = text.replace('file = "model.json"', "")
    (examples / "vendor.toml").write_text(text)
    row = registry.register_model(db, examples / "vendor.toml", home=home, actor="t", now=now)
    assert row["artifact_kind"] == "none" and row["artifact_sha256"] is None
    assert registry.load_scorer(row, home=home) is None


def test_unknown_model_and_version(db, registered):
    with pytest.raises(NotFound, match="Unknown model 'nope'"):
        registry.get_model(db, "nope")
    with pytest.raises(NotFound, match="Unknown version '9' of model 'webinar-follow-up'"):
        registry.get_version(db, EXAMPLE_MODEL, "9")
    assert registry.get_version(db, EXAMPLE_MODEL)["version"] == EXAMPLE_VERSION


def test_list_models_reports_latest_version(db, registered):
    (model,) = registry.list_models(db)
    assert (model["id"], model["latest_version"], model["versions"]) == (EXAMPLE_MODEL, "1.0.0", 1)
    assert model["teams"] == ["north"]  # the owner team, registered with it
    assert [m["id"] for m in registry.list_models(db, scope="north")] == [EXAMPLE_MODEL]
    assert registry.list_models(db, scope="south") == []  # no south lead imported yet


def test_refuse_executable_names_the_format():
    with pytest.raises(artifacts.ArtifactRefused, match=r"Python pickle / joblib \(protocol 4\)"):
        artifacts.refuse_executable(b"\x80\x04\x95abc", file="m.pkl")
    artifacts.refuse_executable(b"tree\nversion=v4", file="m.txt")


def test_manifest_toml_round_trips(tmp_path, registered):
    from ethics.manifest import manifest_toml, read_manifest

    manifest = {k: v for k, v in registered["manifest"].items()}
    path = tmp_path / "again.toml"
    path.write_text(manifest_toml(manifest))
    assert read_manifest(path) == manifest


def test_a_category_feature_is_text_and_a_number_feature_hashes_as_before(tmp_path):
    from ethics.errors import ValidationError
    from ethics.manifest import category_features, stored_form, validate_manifest

    def manifest(features):
        return {"id": "m1", "name": "M", "version": "1", "purpose": "churn", "owner": "o", "team": "north",
                "risk_tier": "low", "threshold": 0.5, "consent_purpose": "ai_scoring", "features": features,
                "sensitive_attributes": [{"name": "sex", "label": "Sex"}], "artifact": {"kind": "none"},
                "impact_assessment": {"purpose": "p", "data_categories": ["c"], "legal_basis": "b",
                                      "affected": "a", "human_oversight": "h"}}

    typed = validate_manifest(manifest([{"name": "tenure", "label": "Tenure", "type": "number"},
                                        {"name": "contract", "label": "Contract", "type": "category"}]), file="m")
    assert category_features(typed) == ["contract"]
    assert "type" not in stored_form(typed)["features"][0]
    assert stored_form(typed)["features"][1]["type"] == "category"
    with pytest.raises(ValidationError, match=r"features\[0\]\.type must be one of number, category, got 'text'"):
        validate_manifest(manifest([{"name": "tenure", "label": "Tenure", "type": "text"}]), file="m")
