"""SHAP explanations against shap itself, plain formulas and scipy; the snapshot's explanations of the demo."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats.contingency import association

from ethics import datasets, explain, leads, policy_schema, registry, snapshots, store
from ethics.errors import CheckFailed, NotFound, ValidationError
from tests.conftest import EXAMPLE_MODEL


@pytest.fixture(scope="module")
def demo_db(demo_home):
    database = store.open_db(demo_home / "ethics.db")
    yield database
    database.close()


def _batch(db, home, model_id, week="2026-W48"):
    version = registry.get_version(db, model_id)
    found = datasets.find_dataset(db, model_id, version=version["version"], kind="scores", week=week)
    return registry.load_scorer(version, home=home), datasets.read_rows(found, home=home), version["manifest"]


def _booster(scorer):
    """The artifact loaded in the test process, for shap to read (the app loads it only in its worker)."""
    if scorer.kind == "lightgbm":
        import lightgbm

        return lightgbm.Booster(model_file=str(scorer.path))
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(scorer.path.read_bytes()))
    return booster


def _shap_tree(scorer, frame):
    """shap.TreeExplainer called directly: values and expected value (log-odds)."""
    import shap

    explainer = shap.TreeExplainer(_booster(scorer))
    values = np.asarray(explainer.shap_values(frame[scorer.features].to_numpy(dtype=np.float64)))
    values = values[-1] if values.ndim == 3 else values
    return values, float(np.ravel(explainer.expected_value)[-1])


@pytest.mark.parametrize("model_id,tolerance", [("lead-scoring", 1e-9), ("upsell-propensity", 1e-5)])
def test_tree_contributions_equal_shap_tree_explainer(demo_db, demo_home, model_id, tolerance):
    scorer, frame, _ = _batch(demo_db, demo_home, model_id)
    rows = frame.head(300)
    found = explain.explain_rows(scorer, rows)
    expected, base = _shap_tree(scorer, rows)
    assert found.explainer == "tree" and found.output_space == "log-odds"
    assert np.abs(found.values.to_numpy() - expected).max() < tolerance
    assert found.base_value == pytest.approx(base, abs=tolerance)
    # additivity in log-odds, and the logistic link gives back the stored score
    assert found.additivity_max_error < explain.ADDITIVITY_TOLERANCE
    margin = found.base_value + found.values.sum(axis=1).to_numpy()
    assert np.abs(1 / (1 + np.exp(-margin)) - rows["score"].to_numpy()).max() < 1e-5


def test_linear_explainer_is_the_coefficient_formula_in_log_odds(db, home, example_snapshot):
    version = registry.get_version(db, EXAMPLE_MODEL)
    scorer = registry.load_scorer(version, home=home)
    frame = datasets.read_rows(datasets.find_dataset(db, EXAMPLE_MODEL, version="1.0.0", kind="scores",
                                                     week="2026-W48"), home=home)
    found = explain.explain_rows(scorer, frame)
    spec = json.loads(scorer.path.read_text())
    for name in scorer.features:  # plain formula: w / scale * (x - mean)
        scale, mean = spec["scaling"][name]["scale"], spec["scaling"][name]["mean"]
        expected = spec["coefficients"][name] / scale * (frame[name] - mean)
        assert np.allclose(found.values[name], expected, atol=1e-12)
    assert found.base_value == pytest.approx(spec["intercept"])
    assert (found.explainer, found.output_space) == ("linear", "log-odds")
    probability = 1 / (1 + np.exp(-(found.base_value + found.values.sum(axis=1))))
    assert np.allclose(probability, frame["score"], atol=1e-12)


class _ForestPredictor:
    """A real scikit-learn model behind the Predictor protocol (no artifact kind: model-agnostic path)."""

    def __init__(self, frame, features):
        from sklearn.ensemble import RandomForestClassifier

        self.features = features
        labels = (frame[features[0]] > frame[features[0]].median()).astype(int)
        self.model = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0, n_jobs=1)
        self.model.fit(frame[features].to_numpy(), labels)

    def score(self, frame):
        return self.model.predict_proba(frame[self.features].to_numpy())[:, 1]


def test_kernel_explainer_for_any_model_is_additive_in_probability(db, home, example_snapshot):
    frame = datasets.read_rows(datasets.find_dataset(db, EXAMPLE_MODEL, version="1.0.0", kind="scores",
                                                     week="2026-W48"), home=home).head(40)
    model = _ForestPredictor(frame, ["minutes_watched", "questions_asked", "company_employees"])
    assert explain.explainer_for(model) == "kernel"
    found = explain.explain_rows(model, frame, max_evals=20)
    assert (found.explainer, found.output_space) == ("kernel", "probability")
    assert np.allclose(found.output, model.score(frame))
    assert np.allclose(found.base_value + found.values.sum(axis=1), model.score(frame), atol=1e-9)
    assert found.base_value == pytest.approx(model.score(frame).mean())  # 40 rows: all are the background
    exact = explain.explain_rows(model, frame.head(5), background=frame, max_evals=2 ** 3)  # every coalition
    for position in range(5):  # Shapley values by enumeration over the three features, from the definition
        assert exact.values.iloc[position].to_numpy() == pytest.approx(
            _shapley(model, frame.iloc[position], frame), abs=1e-9)


def _shapley(model, row, background):
    """Interventional Shapley values of one row by enumerating every coalition (background = ``background``)."""
    from itertools import combinations
    from math import factorial

    features = model.features
    n = len(features)

    def value(coalition):
        data = background[features].copy()
        for name in coalition:
            data[name] = row[name]
        return model.score(data).mean()

    result = []
    for name in features:
        others = [f for f in features if f != name]
        total = 0.0
        for size in range(n):
            for coalition in combinations(others, size):
                weight = factorial(size) * factorial(n - size - 1) / factorial(n)
                total += weight * (value([*coalition, name]) - value(coalition))
        result.append(total)
    return result


def test_additivity_failure_is_raised_naming_the_explainer_and_space(db, home, example_snapshot):
    scorer = registry.load_scorer(registry.get_version(db, EXAMPLE_MODEL), home=home)
    frame = datasets.read_rows(datasets.find_dataset(db, EXAMPLE_MODEL, version="1.0.0", kind="scores",
                                                     week="2026-W48"), home=home)
    found = explain.explain_rows(scorer, frame)
    broken = explain.Attribution(found.values + 0.01, found.base_value, found.output, found.explainer,
                                 found.output_space, 0.01 * len(scorer.features))
    with pytest.raises(CheckFailed, match="additivity check failed for the linear explainer.*log-odds.*0.04"):
        explain.check_additivity(broken)


def test_a_feature_missing_in_the_batch_is_named(db, home, example_snapshot):
    scorer = registry.load_scorer(registry.get_version(db, EXAMPLE_MODEL), home=home)
    frame = pd.DataFrame({"minutes_watched": [1.0], "questions_asked": [0.0], "company_employees": [5.0]})
    with pytest.raises(ValidationError, match="feature 'region_code' of the model is missing"):
        explain.explain_rows(scorer, frame, source="batch.csv")


def test_snapshot_stores_every_lead_and_the_hash_is_checked_on_read(demo_db, demo_home):
    snap = snapshots.latest_snapshot(demo_db, "lead-scoring")
    found = snap["results"]["explanations"]
    assert found["status"] == "available" and found["rows"] == found["leads"]["rows"] == 2000
    per_lead = explain.read_leads(found["leads"], home=demo_home)
    scorer, batch, _ = _batch(demo_db, demo_home, "lead-scoring")
    assert per_lead["lead_id"].tolist() == batch["lead_id"].tolist()
    expected, base = _shap_tree(scorer, batch)
    assert np.abs(per_lead[[f"shap__{n}" for n in scorer.features]].to_numpy() - expected).max() < 1e-9
    assert found["base_value"] == pytest.approx(base)
    means = np.abs(expected).mean(axis=0)
    by_rank = [scorer.features[i] for i in np.argsort(-means, kind="stable")]
    assert [row["feature"] for row in found["importance"]] == by_rank
    assert [row["mean_abs_shap"] for row in found["importance"]] == pytest.approx(sorted(means, reverse=True))


def test_rank_change_is_against_the_previous_weeks_snapshot(demo_db):
    latest = snapshots.latest_snapshot(demo_db, "lead-scoring", week="2026-W48")["results"]["explanations"]
    before = snapshots.latest_snapshot(demo_db, "lead-scoring", week="2026-W47")["results"]["explanations"]
    assert before["leads"] is None and before["rows"] == explain.GLOBAL_SAMPLE_ROWS  # the demo's older weeks
    previous = {row["feature"]: row["rank"] for row in before["importance"]}
    for row in latest["importance"]:
        assert row["previous_rank"] == previous[row["feature"]]
        assert row["change"] == previous[row["feature"]] - row["rank"]
    first = snapshots.latest_snapshot(demo_db, "lead-scoring", week="2026-W41")["results"]["explanations"]
    assert {row["previous_rank"] for row in first["importance"]} == {None}


def test_tampered_per_lead_file_is_refused(demo_home, tmp_path):
    import shutil

    home = tmp_path / "copy"
    shutil.copytree(demo_home, home)
    db = store.open_db(home / "ethics.db")
    ref = snapshots.latest_snapshot(db, "lead-scoring")["results"]["explanations"]["leads"]
    path = home / ref["file"]
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(NotFound, match="was changed after the snapshot"):
        explain.read_leads(ref, home=home)
    path.unlink()
    with pytest.raises(NotFound, match="are missing from the data home"):
        explain.read_leads(ref, home=home)
    db.close()


def test_scores_only_model_has_no_explanation_and_an_amber_light(demo_db):
    from ethics import portfolio

    snap = snapshots.latest_snapshot(demo_db, "discount-size")
    found = snap["results"]["explanations"]
    assert found["status"] == "unavailable" and found["reason"] == explain.UNAVAILABLE_SCORES_ONLY
    lights = {row["id"]: row["lights"]["explanations"] for row in portfolio.overview(demo_db)}
    assert lights["discount-size"]["status"] == "warn"
    assert "no explanation available: scores-only model" in lights["discount-size"]["reason"]
    assert lights["lead-scoring"]["status"] == "warn" and "proxy Postcode region ~ Age band" in \
        lights["lead-scoring"]["reason"]
    assert lights["churn-risk"]["status"] == lights["upsell-propensity"]["status"] == "pass"


def test_the_demos_injected_proxy_is_flagged_and_equals_scipys_cramers_v(demo_db, demo_home):
    _, batch, manifest = _batch(demo_db, demo_home, "lead-scoring")
    proxies = snapshots.latest_snapshot(demo_db, "lead-scoring")["results"]["explanations"]["proxies"]
    flagged = [(p["feature"], p["attribute"]) for p in proxies if p["flagged"]]
    assert flagged == [("postcode_region", "age_band")]
    region = next(p for p in proxies if (p["feature"], p["attribute"]) == ("postcode_region", "age_band"))
    table = pd.crosstab(batch["age_band"], batch["postcode_region"]).to_numpy()
    assert region["value"] == pytest.approx(association(table, method="cramer"))
    assert region["threshold"] == 0.3 and region["value"] > 0.5
    # a numeric feature with many values: five quantile bins
    employees = next(p for p in proxies if (p["feature"], p["attribute"]) == ("company_employees", "age_band"))
    bins = pd.qcut(batch["company_employees"], 5, labels=False, duplicates="drop")
    expected = association(pd.crosstab(batch["age_band"], bins).to_numpy(), method="cramer")
    assert employees["value"] == pytest.approx(expected, abs=0.02)  # qcut and our bins may split ties differently
    assert not employees["flagged"]


def test_reason_codes_follow_the_sign_and_order_of_shap(demo_db, demo_home):
    scorer, batch, manifest = _batch(demo_db, demo_home, "lead-scoring")
    values, _ = _shap_tree(scorer, batch.head(25))
    labels = {f["name"]: f["label"] for f in manifest["features"]}
    for position in range(25):
        lead_id = batch["lead_id"].iloc[position]
        (detail,) = leads.find_leads(demo_db, home=demo_home, model_id="lead-scoring", query=lead_id, team=None)
        reasons = detail["explanation"]["reasons"]
        contributions = dict(zip(scorer.features, values[position], strict=True))
        total = sum(abs(v) for v in contributions.values())
        ranked = sorted(contributions.items(), key=lambda kv: -abs(kv[1]))
        raising = [labels[n] for n, v in ranked if v > 0 and abs(v) >= 0.01 * total][:3]
        lowering = [labels[n] for n, v in ranked if v < 0 and abs(v) >= 0.01 * total][:3]
        assert [r["label"] for r in reasons["raising"]] == raising
        assert [r["label"] for r in reasons["lowering"]] == lowering
        for reason in reasons["raising"] + reasons["lowering"]:
            assert reason["shap"] == pytest.approx(contributions[reason["feature"]])
            assert reason["feature"] not in ("sex", "age_band")
            effect = "raises the score" if reason["direction"] == "raising" else "lowers the score"
            assert reason["text"].startswith(f"{reason['label']}: {reason['value_text']} — {effect}")
            assert bool(reason["proxy_for"]) == (reason["feature"] == "postcode_region")


def test_reason_text_uses_the_manifests_labels_values_and_units():
    manifest = {"features": [{"name": "emails", "label": "Opened emails in the last 30 days", "unit": "emails"},
                             {"name": "demo", "label": "Asked for a demo", "unit": "yes = 1"},
                             {"name": "region", "label": "Postcode region", "unit": ""}],
                "sensitive_attributes": [{"name": "age_band", "label": "Age band"}]}
    lead = {"emails": 7.0, "demo": 0.0, "region": 8.0, "shap__emails": 0.5, "shap__demo": -0.2, "shap__region": -0.6}
    proxies = [{"feature": "region", "attribute_label": "Age band", "flagged": True}]
    reasons = explain.reason_codes(lead, manifest=manifest, proxies=proxies)
    assert [r["text"] for r in reasons["raising"]] == ["Opened emails in the last 30 days: 7 emails — raises the score"]
    assert [r["text"] for r in reasons["lowering"]] == [
        "Postcode region: 8 — lowers the score (proxy: may stand in for Age band)",
        "Asked for a demo: no — lowers the score"]


def test_waterfall_chart_runs_from_the_base_value_to_the_lead_output(demo_db, demo_home):
    from ethics import charts

    batch = explain.read_leads(snapshots.latest_snapshot(demo_db, "churn-risk")["results"]["explanations"]["leads"],
                               home=demo_home)
    found = snapshots.latest_snapshot(demo_db, "churn-risk")["results"]["explanations"]
    manifest = registry.get_version(demo_db, "churn-risk")["manifest"]
    row = batch.iloc[0].to_dict()
    steps = pd.DataFrame(explain.waterfall(row, base_value=found["base_value"], manifest=manifest))
    assert steps["end"].iloc[-1] == pytest.approx(row["output"])
    figure = charts.shap_waterfall(steps, base_value=found["base_value"], output_space="log-odds")
    assert list(figure.data[0].x[1:-1]) == pytest.approx(steps["shap"].tolist())
    assert figure.data[0].x[0] == found["base_value"]


def test_policy_refuses_a_bad_proxy_threshold():
    with pytest.raises(ValidationError, match=r"\[policy.explanations\] proxy_threshold = 2: must be a number in"):
        policy_schema.validate_policy({"explanations": {"proxy_threshold": 2}}, file="ethics.toml")
    with pytest.raises(ValidationError, match="unknown key; use proxy_threshold"):
        policy_schema.validate_policy({"explanations": {"proxy": 0.3}}, file="ethics.toml")
    policy_schema.validate_policy({"explanations": {"proxy_threshold": 0.3}}, file="ethics.toml")


def test_light_is_red_when_additivity_fails_and_grey_without_a_batch():
    broken = {"status": "unavailable", "reason": "SHAP additivity check failed ...", "additivity_max_error": 0.2,
              "proxies": []}
    assert explain.explanations_light(broken)["status"] == "fail"
    empty = {"status": "unavailable", "reason": explain.NO_SCORING_BATCH, "proxies": []}
    assert explain.explanations_light(empty) == {"status": "not_evaluated", "reason": explain.NO_SCORING_BATCH}
    assert explain.explanations_light(None)["status"] == "not_evaluated"
