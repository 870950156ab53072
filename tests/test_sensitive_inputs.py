"""A sensitive attribute that is also a model input (issue 19): age, read by the model and grouped for fairness.

Registered, imported and snapshotted through the real registry, datasets and snapshots with a LightGBM
artifact; SHAP values are checked against shap's TreeExplainer on the booster, computed here.
"""

import io

import lightgbm
import numpy as np
import pandas as pd
import pytest
import shap
from click.testing import CliRunner
from pypdf import PdfReader

from ethics import datasets, explain, leads, model_card, registry, reports, snapshots, store
from ethics.auth import Actor
from ethics.cli import cli
from ethics.errors import COLUMN_MISSING, MANIFEST_INPUT_BANDS, ValidationError
from ethics.manifest import input_attributes, manifest_toml, validate_manifest
from tests.apptest import app_on, open_app, open_page, texts
from tests.conftest import NOW, WEEK, default_policy, state_of
from tests.sensitive_home import AGE_BANDS, FEATURES, MODEL, VERSION, build_home, manifest_document

OFFICER = Actor("olivia", "Olivia", "ethics_officer")
MARKED = "Age (sensitive attribute, also a model input)"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("sensitive")
    return build_home(root / "home", root / "inputs", labels=True)


@pytest.fixture
def sdb(built):
    db = store.open_db(built["home"] / "ethics.db")
    yield db
    db.close()


def _shap_of_scores(built) -> pd.DataFrame:
    """shap's own TreeExplainer on the booster, over the scoring batch as typed in the CSV."""
    booster = lightgbm.Booster(model_file=str(built["files"]["model"]))
    scores = pd.read_csv(built["files"]["scores"])
    values = shap.TreeExplainer(booster).shap_values(scores[FEATURES].astype(float))
    values = values[1] if isinstance(values, list) else values
    return pd.DataFrame(values, columns=FEATURES, index=scores["lead_id"])


# -- registration ----------------------------------------------------------------------------


def test_a_sensitive_attribute_may_be_a_feature_and_is_registered_as_both(sdb, built):
    (version,) = registry.list_versions(sdb, MODEL)
    manifest = version["manifest"]
    assert input_attributes(manifest) == ["age"]
    assert [f["name"] for f in manifest["features"]] == FEATURES
    assert [a["name"] for a in manifest["sensitive_attributes"]] == ["age", "sex"]
    assert manifest["sensitive_attributes"][0]["bands"] == AGE_BANDS


def test_a_text_feature_cannot_be_banded_as_an_attribute(db, home, tmp_path):
    document = manifest_document(labels=False)
    document["features"][2]["type"] = "category"
    with pytest.raises(ValidationError) as caught:
        validate_manifest(document, file="m.toml")
    assert str(caught.value) == f"m.toml: {MANIFEST_INPUT_BANDS.format(name='age')}."
    # Registering the file refuses it the same way and writes nothing.
    (tmp_path / "model.txt").write_text("not read")
    (tmp_path / "bad.toml").write_text(manifest_toml(document))
    before = state_of(home)
    with pytest.raises(ValidationError, match="bands group numbers"):
        registry.register_model(db, tmp_path / "bad.toml", home=home, actor="t", now=NOW)
    assert state_of(home) == before


# -- import ----------------------------------------------------------------------------------


def test_the_column_is_required_once_and_stored_once_as_the_feature(sdb, built):
    snap = snapshots.latest_snapshot(sdb, MODEL)
    typed = pd.read_csv(built["files"]["eval"])
    dataset = store.get_row(sdb, store.DATASETS, snap["inputs"]["eval"]["dataset_id"], message="x")
    stored = datasets.read_rows(dataset, home=built["home"])
    assert list(stored.columns).count("age") == 1
    assert stored["age"].dtype == np.float64  # the model's form: a number
    np.testing.assert_array_equal(stored["age"].to_numpy(), typed["age"].to_numpy(dtype=float))


def test_a_missing_age_column_is_refused_and_an_empty_age_follows_the_feature_rule(sdb, built, tmp_path):
    home = built["home"]
    manifest = registry.list_versions(sdb, MODEL)[0]["manifest"]
    typed = pd.read_csv(built["files"]["scores"])
    with pytest.raises(ValidationError) as caught:
        datasets.validate_rows(typed.drop(columns="age"), manifest=manifest, kind="scores", file="s.csv",
                               scored=False)
    assert str(caught.value) == COLUMN_MISSING.format(file="s.csv", column="age")
    # The column is the feature: LightGBM handles a missing age, so the cell is stored as missing (and the
    # attribute's group is "not recorded"), as for any feature the model handles.
    empty = typed.astype({"age": "float64"})
    empty.loc[4, "age"] = np.nan
    empty.to_csv(tmp_path / "empty.csv", index=False)
    batch = datasets.import_dataset(sdb, tmp_path / "empty.csv", kind="scores", model_id=MODEL, version=VERSION,
                                    week="2026-W49", home=home, actor="t", now=NOW)
    stored = datasets.read_rows(batch, home=home)
    assert np.isnan(stored["age"].iloc[4]) and stored["age"].drop(index=4).notna().all()


def test_a_text_feature_that_is_an_attribute_is_stored_as_text_and_grouped_by_its_values(db, home, tmp_path):
    document = manifest_document(labels=False)
    document |= {"id": "text-attribute", "artifact": {"kind": "none"}}
    document["features"].append({"name": "nationality", "label": "Nationality", "type": "category"})
    document["sensitive_attributes"].append({"name": "nationality", "label": "Nationality"})
    (tmp_path / "manifest.toml").write_text(manifest_toml(document))
    registry.register_model(db, tmp_path / "manifest.toml", home=home, actor="t", now=NOW)
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"lead_id": [f"T{i}" for i in range(90)], "customer_id": [f"C{i}" for i in range(90)],
                          "team": "north", "minutes_watched": 10, "questions_asked": 1, "age": 40, "sex": "f",
                          "nationality": rng.choice(["NL", "DE", "FR"], 90), "score": rng.random(90)})
    frame.to_csv(tmp_path / "scores.csv", index=False)
    dataset = datasets.import_dataset(db, tmp_path / "scores.csv", kind="scores", model_id="text-attribute",
                                      version=VERSION, week=WEEK, home=home, actor="t", now=NOW)
    stored = datasets.read_rows(dataset, home=home)
    assert list(stored.columns).count("nationality") == 1
    assert stored["nationality"].tolist() == frame["nationality"].tolist()  # text, as the feature reads it
    snap = snapshots.take_snapshot(db, model_id="text-attribute", week=WEEK, home=home, actor="t", now=NOW,
                                   policy=default_policy())
    (grouping,) = [g for g in snap["results"]["fairness"]["scores"] if g["grouping"] == "nationality"]
    counts = frame["nationality"].value_counts()
    assert [(g["group"], g["count"]) for g in grouping["groups"]] == [(v, counts[v]) for v in ("DE", "FR", "NL")]


# -- snapshot --------------------------------------------------------------------------------


def test_the_snapshot_groups_age_in_its_bands_and_explains_it_as_shap_does(built):
    results = built["snapshot"]["results"]
    typed = pd.read_csv(built["files"]["eval"])
    age = next(g for g in results["fairness"]["eval"] if g["grouping"] == "age")
    names = ["<25", "25-34", "35-44", "45-54", "55-64", "65+"]
    assert [g["group"] for g in age["groups"]] == names  # by the edges
    expected = pd.cut(typed["age"], [-np.inf, *AGE_BANDS, np.inf], right=False, labels=names).value_counts()
    assert [g["count"] for g in age["groups"]] == [expected[name] for name in names]
    found = results["explanations"]
    truth = _shap_of_scores(built)
    importance = {row["feature"]: row for row in found["importance"]}
    assert importance["age"]["label"] == MARKED  # the officer sees it, marked
    for name in FEATURES:
        assert importance[name]["mean_abs_shap"] == pytest.approx(truth[name].abs().mean(), rel=1e-6)


def test_the_proxy_check_says_age_is_the_attribute_not_a_proxy(built):
    proxies = built["snapshot"]["results"]["explanations"]["proxies"]
    (itself,) = [p for p in proxies if p["feature"] == "age" and p["attribute"] == "age"]
    assert itself == {
        "feature": "age", "label": "Age", "attribute": "age", "attribute_label": "Age", "measure": "same column",
        "value": None, "threshold": 0.3, "flagged": False,
        "note": "Age is the sensitive attribute itself (also a model input), not a proxy for it",
    }
    assert (proxies[0]["feature"], proxies[0]["attribute"]) == ("age", "age")  # listed first
    # age against sex is still measured: a feature that is not the attribute
    assert any(p["feature"] == "age" and p["attribute"] == "sex" and p["measure"] == "cramers_v" for p in proxies)


# -- the lead card a manager reads -------------------------------------------------------------


def test_no_reason_a_manager_reads_names_age_for_any_lead(sdb, built):
    truth = _shap_of_scores(built)
    scores = pd.read_csv(built["files"]["scores"])
    named_age = 0
    for row in scores.itertuples():
        (found,) = leads.find_leads(sdb, home=built["home"], model_id=MODEL, query=row.lead_id, team=row.team)
        card = found["explanation"]
        assert card["available"]
        reasons = [r for direction in ("raising", "lowering") for r in card["reasons"][direction]]
        assert reasons, row.lead_id
        for reason in reasons:
            assert reason["feature"] != "age" and "Age" not in reason["text"] and "age" not in reason["label"]
            assert reason["shap"] == pytest.approx(truth.loc[row.lead_id, reason["feature"]], rel=1e-6, abs=1e-9)
        steps = card["waterfall"]
        assert all(step["feature"] != "age" and "Age" not in step["label"] for step in steps)
        (hidden,) = [s for s in steps if s["label"] == explain.SENSITIVE_STEP]
        assert hidden["feature"] is None and hidden["value"] is None  # no age value either
        assert hidden["shap"] == pytest.approx(truth.loc[row.lead_id, "age"], rel=1e-6, abs=1e-9)
        assert card["base_value"] + sum(s["shap"] for s in steps) == pytest.approx(card["output"], abs=1e-9)
        # age is a large contribution: without the rule it would be among the reasons of most leads
        top = max(FEATURES, key=lambda name: abs(truth.loc[row.lead_id, name]))
        named_age += top == "age"
    assert named_age > len(scores) // 4


def test_the_lead_page_a_manager_reads_never_names_age(built, monkeypatch):
    scores = pd.read_csv(built["files"]["scores"])
    lead = scores[scores["team"] == "north"]["lead_id"].iloc[0]
    with app_on(built["home"], monkeypatch):
        at = open_page(open_app("sm.north"), "pages/leads.py", model=MODEL)
        next(t for t in at.text_input if t.label == "Lead id, customer id or name").input(lead).run()
        assert not at.exception, [e.message for e in at.exception]
        assert {m.label: m.value for m in at.metric}["Team"] == "north"
        shown = texts(at)
        chart = at.get("plotly_chart")[0].proto.spec
    assert "Watched the webinar" in shown and explain.SENSITIVE_STEP in shown
    assert "Age" not in shown.replace(explain.SENSITIVE_STEP, "")
    assert explain.SENSITIVE_STEP in chart and "Age" not in chart.replace(explain.SENSITIVE_STEP, "")


# -- registry page and reports -----------------------------------------------------------------


def test_the_registry_page_says_age_is_also_a_model_input(built, monkeypatch):
    with app_on(built["home"], monkeypatch):
        at = open_page(open_app("olivia"), "pages/registry.py")
        assert not at.exception, [e.message for e in at.exception]
        attributes = at.dataframe[-1].value
        assert attributes["Use"].tolist() == ["Age — sensitive attribute, also a model input",
                                              "Sex — sensitive attribute, used for fairness only, not a model input"]
        assert "Age — sensitive attribute, also a model input" in texts(at)


def _cli(built, *args: str) -> str:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ETHICS_HOME", str(built["home"]))
        patch.setenv("ETHICS_ACTOR", "olivia")
        return CliRunner().invoke(cli, list(args), catch_exceptions=False).output


def _pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages)


def test_the_pdf_card_csv_and_cli_say_age_is_also_a_model_input(sdb, built):
    text = _pdf_text(reports.model_report_pdf(sdb, model_id=MODEL, actor=OFFICER, week=WEEK, now=NOW))
    assert "Age — sensitive attribute, also a model input" in text
    assert "Age is the sensitive attribute itself (also a model input), not a proxy for it." in text
    assert MARKED in text
    facts = reports.model_facts(sdb, model_id=MODEL, actor=OFFICER, week=WEEK, now=NOW)
    card = model_card.card_markdown(facts)
    assert "Age — sensitive attribute, also a model input" in card
    features = model_card.table_csv(facts, "features")
    assert MARKED in features
    printed = _cli(built, "explain", "--model", MODEL, "--global")
    assert "Age (sensitive attribute, also a model input)" in printed
    assert "INPUT Age is the sensitive attribute itself (also a model input), not a proxy for it" in printed
    proxies = model_card.table_rows(facts, "proxies")
    assert proxies[0] == {"Feature": "Age", "Sensitive attribute": "Age", "Measure": "same column", "Value": "—",
                          "Threshold": "0.30", "Flagged": "is the attribute"}
