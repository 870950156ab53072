"""Getting a model in (issue 19): equivalence with production at registration, feature mismatches in words."""

import hashlib
import json
import re
import sqlite3

import lightgbm
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ethics import audit, registry, store
from ethics.cli import cli
from ethics.errors import ArtifactRefused, ValidationError
from tests.conftest import EXAMPLE_MODEL, manifest_with, state_of, training_frame


@pytest.fixture
def lgbm(examples):
    """A LightGBM model of the example's features, its manifest, and its own scores of the training rows."""
    x, y = training_frame()
    model = lightgbm.LGBMClassifier(n_estimators=20, n_jobs=1, verbose=-1).fit(x, y)
    (examples / "model.txt").write_text(model.booster_.model_to_string())
    return manifest_with(examples, "lightgbm", "model.txt"), x, model.predict_proba(x)[:, 1]


def reference_csv(examples, x, scores, name="reference.csv"):
    path = examples / name
    x.assign(score=scores).to_csv(path, index=False)
    return path


def test_reference_rows_are_recomputed_and_the_largest_difference_stored(db, home, examples, lgbm, now):
    manifest, x, scores = lgbm
    production = scores.copy()
    production[16] += 2e-8  # production's float32 arithmetic, say
    row = registry.register_model(db, manifest, home=home, reference=reference_csv(examples, x, production),
                                  actor="t", now=now)
    assert row["reference_rows"] == 300
    np.testing.assert_allclose(row["reference_max_difference"], np.abs(production - scores).max(), atol=1e-12)
    assert row["reference_tolerance"] == 1e-6
    assert len(row["reference_sha256"]) == 64
    assert registry.equivalence_text(row) == (
        "The model governed here reproduces production scores to 2e-08 on 300 rows (tolerance 1e-06).")
    assert registry.list_models(db)[0]["equivalence"] == registry.equivalence_text(row)


def test_scores_beyond_the_tolerance_refuse_and_change_nothing(db, home, examples, lgbm, now):
    manifest, x, scores = lgbm
    production = scores.copy()
    production[41] += 1e-3
    production[7] += 1e-4
    path = reference_csv(examples, x, production)
    before = state_of(home)
    with pytest.raises(ValidationError) as refused:
        registry.register_model(db, manifest, home=home, reference=path, actor="t", now=now)
    message = refused.value.message
    assert message.startswith("reference.csv, row 42, column 'score': the artifact computes ")
    assert f"computes {float(scores[41])!r} where production scored {float(production[41])!r};" in message
    assert "the difference 0.001 is above the tolerance 1e-06 ([policy.equivalence] tolerance)" in message
    assert message.endswith("nothing was registered.")
    assert state_of(home) == before


def test_the_policy_sets_the_tolerance(db, home, examples, lgbm, now):
    manifest, x, scores = lgbm
    production = scores + 1e-3
    row = registry.register_model(db, manifest, home=home, reference=reference_csv(examples, x, production),
                                  policy={"equivalence": {"tolerance": 0.01}}, actor="t", now=now)
    assert row["reference_tolerance"] == 0.01
    np.testing.assert_allclose(row["reference_max_difference"], 1e-3, rtol=1e-6)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda f: f.astype({"minutes_watched": object}).assign(
        minutes_watched=lambda g: g["minutes_watched"].where(g.index != 4, "many")),
     "reference.csv, row 5, column 'minutes_watched': 'many' is not a number"),
    (lambda f: f.assign(score=f["score"].where(f.index != 9, 1.5)),
     "reference.csv, row 10, column 'score': '1.5' is outside [0, 1]"),
    (lambda f: f.drop(columns="score"), "reference.csv: required column 'score' is missing"),
    (lambda f: f.assign(sex="female"), "reference.csv: column 'sex' is neither a feature"),
    (lambda f: f.iloc[:0], "reference.csv: the reference rows hold no row"),
])
def test_bad_reference_rows_are_refused_naming_the_cell(db, home, examples, lgbm, now, change, expected):
    manifest, x, scores = lgbm
    path = examples / "reference.csv"
    change(x.assign(score=scores)).to_csv(path, index=False)
    before = state_of(home)
    with pytest.raises(ValidationError, match="^" + expected.replace("[", r"\[").replace("(", r"\(")):
        registry.register_model(db, manifest, home=home, reference=path, actor="t", now=now)
    assert state_of(home) == before


def test_a_frame_is_checked_like_a_file(db, home, lgbm, now):
    manifest, x, scores = lgbm
    with pytest.raises(ValidationError, match="^reference rows, row 3, column 'score': '-0.5' is outside"):
        registry.register_model(db, manifest, home=home, reference=x.assign(score=np.where(x.index == 2, -0.5, scores)),
                                actor="t", now=now)
    row = registry.register_model(db, manifest, home=home, reference=x.assign(score=scores), actor="t", now=now)
    assert row["reference_rows"] == 300 and row["reference_max_difference"] < 1e-12


def test_without_reference_rows_the_text_says_it_was_not_checked(db, home, registered, examples, now):
    assert registered["reference_rows"] is None
    assert registry.equivalence_text(registered) == (
        "No reference scores were given at registration: equivalence with production was not checked.")
    text = (examples / "manifest.toml").read_text().replace('kind = "linear"', 'kind = "none"')
    (examples / "vendor.toml").write_text(text.replace('file = "model.json"', "").replace(EXAMPLE_MODEL, "vendor"))
    with pytest.raises(ValidationError, match="scores-only model .kind 'none'. has none"):
        registry.register_model(db, examples / "vendor.toml", home=home, reference=examples / "scores.csv",
                                actor="t", now=now)
    vendor = registry.register_model(db, examples / "vendor.toml", home=home, actor="t", now=now)
    assert registry.equivalence_text(vendor).startswith("Scores only")


def test_the_audit_entry_covers_the_stored_difference(db, home, examples, lgbm, now):
    manifest, x, scores = lgbm
    registry.register_model(db, manifest, home=home, reference=reference_csv(examples, x, scores), actor="t", now=now)
    assert audit.verify(db).ok
    with pytest.raises(sqlite3.IntegrityError, match="model versions are immutable"):
        db.execute(f"update {store.VERSIONS} set reference_max_difference = 0.5")
    db.execute(f"drop trigger {store.VERSIONS}_no_update")
    db.execute(f"update {store.VERSIONS} set reference_max_difference = 0.5")
    found = audit.verify(db)
    assert not found.ok
    assert any("reference_max_difference" in problem for problem in found.mismatches)


def test_a_changed_reference_on_re_registration_is_refused(db, home, examples, lgbm, now):
    manifest, x, scores = lgbm
    registry.register_model(db, manifest, home=home, reference=reference_csv(examples, x, scores), actor="t", now=now)
    again = registry.register_model(db, manifest, home=home, reference=reference_csv(examples, x, scores),
                                    actor="t", now=now)
    assert again["reference_rows"] == 300
    with pytest.raises(ValidationError, match="already registered with a different reference rows"):
        registry.register_model(db, manifest, home=home, reference=reference_csv(examples, x.iloc[:50], scores[:50]),
                                actor="t", now=now)


def test_cli_register_with_reference_prints_the_sentence(home, examples, lgbm, monkeypatch):
    manifest, x, scores = lgbm
    monkeypatch.setenv("ETHICS_HOME", str(home))
    path = reference_csv(examples, x, scores)
    result = CliRunner().invoke(cli, ["register", str(manifest), "--reference", str(path)])
    assert result.exit_code == 0, result.output
    assert "The model governed here reproduces production scores to " in result.output
    assert "on 300 rows (tolerance 1e-06)." in result.output
    listed = CliRunner().invoke(cli, ["models"])
    assert "on 300 rows (tolerance 1e-06)." in listed.output


def test_a_feature_mismatch_names_only_the_differences(db, home, examples, now):
    x, y = training_frame()
    x = x.rename(columns={"minutes_watched": "Minutes_Watched", "region_code": "region"})
    x["extra_1"] = 0.0
    model = lightgbm.LGBMClassifier(n_estimators=5, n_jobs=1, verbose=-1).fit(x, y)
    (examples / "model.txt").write_text(model.booster_.model_to_string())
    before = state_of(home)
    with pytest.raises(ArtifactRefused) as refused:
        registry.register_model(db, manifest_with(examples, "lightgbm", "model.txt"), home=home, actor="t", now=now)
    assert refused.value.message.endswith(
        "the artifact's features do not match the manifest's: missing from the artifact: 'region_code'; "
        "not in the manifest: 'region', 'extra_1'; 'Minutes_Watched' in the artifact is 'minutes_watched' in the "
        "manifest.")
    assert "company_employees" not in refused.value.message
    assert state_of(home) == before


def test_a_long_mismatch_is_capped():
    from ethics.artifacts import feature_differences

    text = feature_differences([f"F{i}" for i in range(83)], [f"f{i}" for i in range(83)])
    assert text.count(" in the artifact is ") == 10 and text.endswith(" and 73 more")
    assert len(text) < 500
    text = feature_differences(["a", *(f"x{i}" for i in range(30))], ["a", *(f"y{i}" for i in range(30))])
    assert text == ("missing from the artifact: " + ", ".join(f"'y{i}'" for i in range(10)) + " and 20 more; "
                    "not in the manifest: 'x0' and 29 more")


def linear_scores(examples, x):
    """The example linear artifact's scores, from its coefficients (not through ethics)."""
    spec = json.loads((examples / "model.json").read_text())
    z = spec["intercept"] + sum(w * (x[n] - spec["scaling"][n]["mean"]) / spec["scaling"][n]["scale"]
                                for n, w in spec["coefficients"].items())
    return 1 / (1 + np.exp(-z))


def test_the_sentence_reaches_page_report_and_model_card(db, home, examples, now, monkeypatch):
    from ethics import chart_images, datasets, model_card, reports, snapshots
    from ethics.pdf import Document
    from ethics.report_pdf import write_model_report
    from tests.apptest import app_on, open_app, open_page, texts
    from tests.conftest import EXAMPLE_VERSION, WEEK, add_accounts, default_policy
    from tests.test_reports import OFFICER, _flat, _text

    x, _ = training_frame(500, seed=3)
    row = registry.register_model(db, examples / "manifest.toml", home=home,
                                  reference=x.assign(score=linear_scores(examples, x)), actor="t", now=now)
    sentence = registry.equivalence_text(row)
    assert sentence.startswith("The model governed here reproduces production scores to ")
    assert sentence.endswith(" on 500 rows (tolerance 1e-06).")
    for kind, name in (("eval", "eval.csv"), ("scores", "scores.csv")):
        datasets.import_dataset(db, examples / name, kind=kind, model_id=EXAMPLE_MODEL, version=EXAMPLE_VERSION,
                                week=WEEK, home=home, actor="t", now=now)
    snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home, policy=default_policy(), actor="t",
                            now=now)
    facts = reports.model_facts(db, model_id=EXAMPLE_MODEL, actor=OFFICER, now=now)
    assert facts["artifact"]["equivalence"] == sentence
    assert model_card.escape_markdown(sentence) in model_card.card_markdown(facts)
    document = Document(title="test", created=now)
    with chart_images.renderer():
        write_model_report(document, facts)
    assert _flat(sentence) in _flat(_text(document.render()))
    add_accounts(db)
    with app_on(home, monkeypatch):
        at = open_page(open_app("olivia"), "pages/model.py", model=EXAMPLE_MODEL)
        assert sentence in texts(at)


# -- manifest init ---------------------------------------------------------------------------------------------

FILLED = {
    "name": "Churn risk", "purpose": "churn", "owner": "Ada Lovelace <ada@example.com>", "team": "north",
    "risk_tier": "medium", "consent_purpose": "ai_scoring",
}


def fill_todos(text: str) -> str:
    """A starting manifest with every TODO replaced as a person would (and the candidates left commented)."""
    lines = []
    for line in text.splitlines():
        key = line.split(" = ")[0]
        if "TODO:" in line and not line.lstrip().startswith("#"):
            value = FILLED.get(key, "Filled in by the owner")
            line = f'{key} = ["customer contract data"]' if key == "data_categories" else f'{key} = "{value}"'
        lines.append(line)
    return "\n".join(lines) + "\n"


def init(tmp_path, *args):
    result = CliRunner().invoke(cli, ["manifest", "init", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def test_init_writes_83_features_in_the_model_order_and_the_filled_file_registers(db, home, tmp_path, now,
                                                                                  monkeypatch):
    monkeypatch.setenv("ETHICS_HOME", str(home))
    rng = np.random.default_rng(0)
    names = [f"mostype_{i}" if i % 2 else f"total_charges_{i}" for i in range(83)]
    x = pd.DataFrame(rng.normal(size=(400, 83)), columns=names)
    y = (x.iloc[:, 0] + rng.normal(size=400) > 0).astype(int)
    model = lightgbm.LGBMClassifier(n_estimators=5, n_jobs=1, verbose=-1).fit(x, y)
    (tmp_path / "churn.txt").write_text(model.booster_.model_to_string())
    x.to_csv(tmp_path / "sample.csv", index=False)
    out = tmp_path / "model" / "manifest.toml"
    result = init(tmp_path, "--artifact", tmp_path / "churn.txt", "--kind", "lightgbm", "--data",
                  tmp_path / "sample.csv", "--out", out)
    assert "replace its 11 TODOs" in result.output
    text = out.read_text()
    assert re.findall(r'^name = "(.*)"$', text, flags=re.M)[1:] == names
    assert 'label = "Total charges 0"' in text and 'label = "Mostype 1"' in text
    assert 'file = "../churn.txt"' in text
    with pytest.raises(ValidationError, match=r"manifest.toml: field 'name' still holds the placeholder \"TODO: "):
        registry.register_model(db, out, home=home, actor="t", now=now)
    out.write_text(fill_todos(text).replace("sensitive_attributes = [", 'sensitive_attributes = [\n'
                                            '    {name = "sex", label = "Sex"},'))
    row = registry.register_model(db, out, home=home, actor="t", now=now)
    assert [f["name"] for f in row["manifest"]["features"]] == names
    assert row["manifest"]["id"] == "churn"


def test_a_todo_anywhere_is_refused_naming_the_field(tmp_path, examples):
    from ethics.manifest import read_manifest

    text = (examples / "manifest.toml").read_text()
    path = tmp_path / "m.toml"
    path.write_text(text.replace('data_categories = ["webinar engagement",', 'data_categories = ["TODO: fill",'))
    with pytest.raises(ValidationError, match=r"field 'impact_assessment.data_categories\[0\]' still holds"):
        read_manifest(path)
    path.write_text(text.replace('label = "Company size"', 'label = "  TODO: a label"'))
    with pytest.raises(ValidationError, match=r"field 'features\[2\].label' still holds"):
        read_manifest(path)


def test_init_proposes_sensitive_attributes_and_proxies_to_confirm(tmp_path, home, monkeypatch):
    from scipy.stats.contingency import association

    monkeypatch.setenv("ETHICS_HOME", str(home))
    x, y = training_frame(400)
    rng = np.random.default_rng(1)
    sex = np.where((x["region_code"] > 3) ^ (rng.random(400) < 0.1), "female", "male")
    model = lightgbm.LGBMClassifier(n_estimators=5, n_jobs=1, verbose=-1).fit(x, y)
    (tmp_path / "model.txt").write_text(model.booster_.model_to_string())
    sample = x.assign(Gender=sex, age=rng.integers(18, 80, 400), marital_status=rng.choice(["single", "married"], 400),
                      page_views=1.0, lead_id=[f"L{i}" for i in range(400)])
    sample.to_csv(tmp_path / "sample.csv", index=False)
    out = tmp_path / "manifest.toml"
    init(tmp_path, "--artifact", tmp_path / "model.txt", "--kind", "lightgbm", "--data", tmp_path / "sample.csv",
         "--out", out)
    text = out.read_text()
    expected = association(pd.crosstab(x["region_code"], sex).to_numpy(), method="cramer")
    assert f'    # "region_code",  # Cramér\'s V {expected:.2f} with Gender (proxy threshold 0.3)' in text
    assert '    # {name = "Gender", label = "Gender"},  # sample column; values seen: "female", "male"' in text
    edges = np.unique(np.round(np.quantile(sample["age"], [0.2, 0.4, 0.6, 0.8]))).astype(int).tolist()
    assert f'    # {{name = "age", label = "Age", bands = {edges}}},  # sample column, banded' in text
    assert '{name = "marital_status", label = "Marital status"}' in text
    assert "page_views" not in text and "lead_id" not in text
    assert "minutes_watched" not in text.split("[artifact]")[0]  # not a proxy of anything here


def test_init_for_scores_only_types_features_from_the_sample(tmp_path, home, monkeypatch):
    monkeypatch.setenv("ETHICS_HOME", str(home))
    sample = pd.DataFrame({"lead_id": ["a", "b", "c"], "tenure_months": [1, 20, 3],
                           "contract_month-to-month": [1, 0, 1], "contract": ["Two year", "Month-to-month", None]})
    sample.to_csv(tmp_path / "sample.csv", index=False)
    out = tmp_path / "manifest.toml"
    init(tmp_path, "--kind", "none", "--data", tmp_path / "sample.csv", "--out", out)
    text = out.read_text()
    assert ('# values seen in the sample: "Month-to-month", "Two year"\n[[features]]\nname = "contract"\n'
            'label = "Contract"\ntype = "category"') in text
    assert 'name = "contract_month-to-month"\nlabel = "Contract month-to-month"\n' in text
    assert 'name = "tenure_months"\nlabel = "Tenure months"\n\n' in text
    result = CliRunner().invoke(cli, ["manifest", "init", "--kind", "none", "--data", tmp_path / "sample.csv",
                                      "--out", out])
    assert result.exit_code == 2 and "already exists" in result.output


# -- the notebook API ----------------------------------------------------------------------------------------------

def skops_pipeline():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x, y = training_frame(400)
    rng = np.random.default_rng(2)
    x["contract"] = rng.choice(["month-to-month", "one year", "two year"], len(x)).astype(object)
    pre = ColumnTransformer([("num", StandardScaler(), list(x.columns[:4])),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["contract"])])
    return Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=500))]).fit(x, y), x


def skops_manifest(examples):
    import tomllib

    document = tomllib.loads((examples / "manifest.toml").read_text())
    document["features"].append({"name": "contract", "label": "Contract", "type": "category"})
    document["artifact"] = {"kind": "skops"}
    return document


def test_ethics_register_serialises_with_skops_and_meets_the_cli_checks(db, home, examples, now, monkeypatch):
    import skops.io

    import ethics

    pipe, x = skops_pipeline()
    document = skops_manifest(examples)
    reference = x.assign(score=pipe.predict_proba(x)[:, 1])
    before = state_of(home)
    with pytest.raises(ValidationError, match="skops artifacts are registered only with reference rows"):
        ethics.register(pipe, manifest=document, home=home, actor="ada")
    wrong = reference.assign(score=np.where(x.index == 11, 0.5, reference["score"]))
    with pytest.raises(ValidationError, match="^reference rows, row 12, column 'score': the artifact computes"):
        ethics.register(pipe, manifest=document, reference=wrong, home=home, actor="ada")
    assert state_of(home) == before

    row = ethics.register(pipe, manifest=document, reference=reference, home=home, actor="ada")
    assert row["artifact_kind"] == "skops" and row["registered_by"] == "ada"
    stored = (home / row["artifact_file"]).read_bytes()
    assert row["artifact_sha256"] == hashlib.sha256(stored).hexdigest() and stored.startswith(b"PK\x03\x04")
    assert skops.io.get_untrusted_types(data=stored) == []  # plain sklearn types only: skops itself trusts them
    assert row["reference_rows"] == 400 and row["reference_max_difference"] <= 1e-12
    with registry.load_scorer(row, home=home) as scorer:
        np.testing.assert_allclose(scorer.score(x), pipe.predict_proba(x)[:, 1], rtol=0, atol=1e-12)
    # The same file and rows through the CLI are the same version.
    (examples / "model.skops").write_bytes(stored)
    (examples / "reference.csv").write_text(reference.to_csv(index=False))
    path = examples / "skops.toml"
    from ethics.manifest import manifest_toml

    path.write_text(manifest_toml(document))
    monkeypatch.setenv("ETHICS_HOME", str(home))
    result = CliRunner().invoke(cli, ["register", str(path), "--artifact", str(examples / "model.skops"),
                                      "--reference", str(examples / "reference.csv")])
    assert result.exit_code == 0, result.output
    assert registry.equivalence_text(row) in result.output
    assert [v["id"] for v in registry.list_versions(db, EXAMPLE_MODEL)] == [row["id"]]


def test_ethics_register_takes_a_manifest_file_and_refuses_another_kind(home, examples):
    import ethics

    pipe, x = skops_pipeline()
    with pytest.raises(ValidationError, match=r"manifest.toml: ethics.register saves the model with skops, but the "
                                              r"manifest's \[artifact\] kind is 'linear'"):
        ethics.register(pipe, manifest=examples / "manifest.toml", reference=x, home=home)
    from ethics.manifest import manifest_toml

    (examples / "skops.toml").write_text(manifest_toml(skops_manifest(examples)))
    row = ethics.register(pipe, manifest=str(examples / "skops.toml"), home=home,
                          reference=x.assign(score=pipe.predict_proba(x)[:, 1]))
    assert row["registered_by"].startswith("notebook:")


def test_import_ethics_does_not_import_the_model_libraries():
    import subprocess
    import sys

    code = ("import sys, ethics; heavy = [m for m in ('skops', 'sklearn', 'pandas', 'ethics.notebook') "
            "if m in sys.modules]; print(heavy, callable(ethics.register), 'ethics.notebook' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True True"


def test_a_second_version_of_a_model_registers(db, home, examples, registered, now):
    """The model row is updated, not upserted: sqlite-utils 4's upsert failed NOT NULL on the status."""
    text = (examples / "manifest.toml").read_text().replace('version = "1.0.0"', 'version = "1.1.0"')
    (examples / "v2.toml").write_text(text.replace('risk_tier = "medium"', 'risk_tier = "high"'))
    row = registry.register_model(db, examples / "v2.toml", home=home, actor="t", now=now)
    assert [v["version"] for v in registry.list_versions(db, EXAMPLE_MODEL)] == ["1.0.0", "1.1.0"]
    model = registry.get_model(db, EXAMPLE_MODEL)
    assert (model["risk_tier"], model["status"], model["created_at"]) == ("high", "active", registered["registered_at"])
    assert row["version"] == "1.1.0" and audit.verify(db).ok


def test_init_refuses_a_pickle_and_a_sample_without_a_feature_writing_nothing(tmp_path, home, monkeypatch):
    import pickle

    monkeypatch.setenv("ETHICS_HOME", str(home))
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"coef": [1, 2]}))
    out = tmp_path / "manifest.toml"
    result = CliRunner().invoke(cli, ["manifest", "init", "--artifact", tmp_path / "model.pkl", "--kind", "lightgbm",
                                      "--out", out])
    assert result.exit_code == 2 and "Python pickle" in result.output and not out.exists()
    x, y = training_frame()
    model = lightgbm.LGBMClassifier(n_estimators=5, n_jobs=1, verbose=-1).fit(x, y)
    (tmp_path / "model.txt").write_text(model.booster_.model_to_string())
    x.drop(columns="region_code").to_csv(tmp_path / "sample.csv", index=False)
    result = CliRunner().invoke(cli, ["manifest", "init", "--artifact", tmp_path / "model.txt", "--kind", "lightgbm",
                                      "--data", tmp_path / "sample.csv", "--out", out])
    assert result.exit_code == 2 and not out.exists()
    assert "sample.csv: column 'region_code' of the model is not in the sample" in result.output
