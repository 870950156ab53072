"""Features as real sales data names and fills them (issue 19): names with spaces and capitals, text values, gaps.

A small LightGBM model trained here on ``Total Charges``, ``contract_month-to-month`` and
``MOSTYPE`` goes through registration, import, snapshot and the lead card; a scores-only
model carries a text feature ``contract`` through import, drift and the proxy check.
"""

import csv
import functools
import io
import json
import math
import tomllib

import duckdb
import lightgbm
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats.contingency import association

from ethics import datasets, drift, dsr, explain, leads, manifest, registry, snapshots, warehouse
from ethics.cli import cli
from ethics.errors import ArtifactRefused, ValidationError
from tests.conftest import NOW, add_accounts, default_policy, state_of

FEATURES = ["Total Charges", "contract_month-to-month", "MOSTYPE"]
LABELS = {"Total Charges": "Total charges", "contract_month-to-month": "Month-to-month contract",
          "MOSTYPE": "Customer subtype"}
WEEKS = ("2026-W47", "2026-W48")


def _document(model_id, *, kind, file=None, features=None):
    """A manifest document for :func:`ethics.manifest.manifest_toml`."""
    return {
        "id": model_id, "name": "Churn save offers", "version": "1.0.0", "purpose": "churn",
        "owner": "Ana Lima <ana@example.com>", "team": "north", "risk_tier": "medium", "threshold": 0.5,
        "consent_purpose": "ai_scoring",
        "artifact": {"kind": kind, **({"file": file} if file else {})},
        "features": features or [{"name": name, "label": LABELS[name], "unit": "EUR" if name == "Total Charges"
                                  else ""} for name in FEATURES],
        "sensitive_attributes": [{"name": "sex", "label": "Sex"}, {"name": "age_band", "label": "Age band"}],
        "impact_assessment": {"purpose": "Offer a save call.", "data_categories": ["billing"],
                              "legal_basis": "Legitimate interest", "affected": "Customers",
                              "human_oversight": "An agent decides."},
    }


def _rows(n, seed, *, label=True):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "lead_id": [f"L{seed}-{i:04d}" for i in range(n)], "customer_id": [f"C{seed}{i:05d}" for i in range(n)],
        "team": "north", "Total Charges": rng.gamma(2.0, 500.0, n).round(2),
        "contract_month-to-month": rng.integers(0, 2, n), "MOSTYPE": rng.integers(1, 42, n),
        "sex": rng.choice(["female", "male"], n), "age_band": rng.choice(["18-34", "35-54", "55+"], n),
    })
    if label:
        margin = 1.5 * frame["contract_month-to-month"] - frame["Total Charges"] / 1000 + rng.normal(0, 1, n)
        frame["label"] = (margin > 0).astype(int)
    return frame


@pytest.fixture
def lightgbm_model(db, home, tmp_path):
    """The LightGBM model registered from a manifest written by manifest_toml, and its booster."""
    train = _rows(400, 1)
    booster = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=7, n_jobs=1, verbose=-1).fit(
        train[FEATURES].astype(float), train["label"]).booster_
    (tmp_path / "model.txt").write_text(booster.model_to_string())
    path = tmp_path / "manifest.toml"
    path.write_text(manifest.manifest_toml(_document("churn-save", kind="lightgbm", file="model.txt")))
    version = registry.register_model(db, path, home=home, actor="t", now=NOW)
    return version, booster


def _import(db, home, frame, tmp_path, *, kind, model_id, week=WEEKS[1], name=None):
    path = tmp_path / (name or f"{kind}-{week}.csv")
    frame.to_csv(path, index=False)
    return datasets.import_dataset(db, path, kind=kind, model_id=model_id, version="1.0.0", week=week, home=home,
                                   actor="t", now=NOW)


def test_names_as_they_come_go_through_import_snapshot_and_the_lead_card(db, home, tmp_path, lightgbm_model):
    version, booster = lightgbm_model
    assert booster.feature_name()[0] == "Total_Charges"  # LightGBM's own spelling of the manifest's name
    assert manifest.feature_names(version["manifest"]) == FEATURES
    _import(db, home, _rows(200, 2), tmp_path, kind="eval", model_id="churn-save")
    scores = _rows(150, 3, label=False)
    batch = _import(db, home, scores, tmp_path, kind="scores", model_id="churn-save")
    stored = datasets.read_rows(batch, home=home)
    assert set(FEATURES) <= set(stored.columns)
    assert stored["score"].to_numpy() == pytest.approx(booster.predict(scores[FEATURES].astype(float)), abs=1e-12)
    snap = snapshots.take_snapshot(db, model_id="churn-save", week=WEEKS[1], home=home, policy=default_policy(),
                                   actor="t", now=NOW)
    found = snap["results"]["explanations"]
    assert found["status"] == "available"
    per_lead = explain.read_leads(found["leads"], home=home)
    assert explain.shap_columns(per_lead) == FEATURES
    contributions = booster.predict(scores[FEATURES].astype(float), pred_contrib=True)
    assert per_lead["shap__Total Charges"].to_numpy() == pytest.approx(contributions[:, 0], abs=1e-9)
    assert {row["feature"] for row in found["importance"]} == set(FEATURES)
    lead = leads.find_leads(db, home=home, model_id="churn-save", query="L3-0007", team=None)[0]
    texts = [reason["text"] for side in ("raising", "lowering") for reason in lead["explanation"]["reasons"][side]]
    assert texts and all(text.split(":")[0] in LABELS.values() for text in texts)
    charges = next(step for step in lead["explanation"]["waterfall"] if step["feature"] == "Total Charges")
    assert charges["value_text"] == explain.format_value(float(scores.loc[7, "Total Charges"]), "EUR")


def test_feature_names_never_enter_the_sql_and_duckdb_reads_the_stored_columns(db, home, tmp_path, lightgbm_model):
    """The statistics SQL names only the score, label, team and sensitive attributes; the Parquet keeps the names."""
    version, _ = lightgbm_model
    batch = _import(db, home, _rows(200, 2), tmp_path, kind="eval", model_id="churn-save")
    sql = warehouse.render_sql(version["manifest"], dataset="eval", source="rows")
    assert not any(name in sql for name in FEATURES)
    parquet = home / batch["parquet_file"]
    from_duckdb = warehouse.duckdb_statistics({"eval": parquet}, manifest=version["manifest"])
    from_pandas = warehouse.pandas_statistics({"eval": parquet}, manifest=version["manifest"])
    pd.testing.assert_frame_equal(from_duckdb.drop(columns="team", errors="ignore"),
                                  from_pandas.drop(columns="team", errors="ignore"), check_dtype=False)
    connection = duckdb.connect()
    columns = connection.execute(f"DESCRIBE SELECT * FROM read_parquet('{parquet}')").fetchall()
    assert set(FEATURES) <= {row[0] for row in columns}
    quoted = ", ".join(f"SUM(\"{name}\")" for name in FEATURES)  # none holds '"': no doubling needed here
    sums = connection.execute(f"SELECT {quoted} FROM read_parquet('{parquet}')").fetchone()
    assert list(sums) == pytest.approx(datasets.read_rows(batch, home=home)[FEATURES].sum().tolist())
    stored_columns = db.execute("select columns_json from datasets where id = ?", [batch["id"]]).fetchone()[0]
    assert all(name in stored_columns for name in FEATURES)


def test_names_survive_the_manifest_toml_round_trip(tmp_path):
    odd = [{"name": name, "label": name} for name in
           ["Total Charges", "MOSTYPE", "contract_month-to-month", "Größe", "客户 类型", "emoji 😀", 'say "hi"']]
    text = manifest.manifest_toml(_document("round-trip", kind="none", features=odd))
    assert [f["name"] for f in tomllib.loads(text)["features"]] == [f["name"] for f in odd]
    path = tmp_path / "manifest.toml"
    path.write_text(text, encoding="utf-8")
    assert manifest.feature_names(manifest.read_manifest(path)) == [f["name"] for f in odd]


def test_names_survive_the_csv_export(db, home, tmp_path, lightgbm_model):
    """The subject access export lists each per-lead value by its feature's name, formula-safe."""
    _import(db, home, _rows(150, 3, label=False), tmp_path, kind="scores", model_id="churn-save")
    snapshots.take_snapshot(db, model_id="churn-save", week=WEEKS[1], home=home, policy=default_policy(),
                            actor="t", now=NOW)
    export = dsr.export_subject(db, customer_id="C300007", home=home, actor="t", now=NOW)
    rows = list(csv.reader(io.StringIO(dsr.export_csv(export))))
    fields = {row[2] for row in rows if row[0] == "explanations"}
    assert {*FEATURES, *(f"shap__{name}" for name in FEATURES)} <= fields


REFUSED_NAMES = {
    "a zero-width space": ("MOS\u200bTYPE", "holds U+200B ZERO WIDTH SPACE; names may not hold control or "
                                            "invisible characters"),
    "a Cyrillic look-alike": ("MOSТYPE", "mixes Latin and Cyrillic letters (U+0422 CYRILLIC CAPITAL LETTER TE); a "
                                         "look-alike letter in a name is refused"),
    "a formula": ("=cmd|' /C calc'!A0", "starts with '=' and would run as a spreadsheet formula"),
    "a reserved column in capitals": ("Lead_ID", "is a column every dataset may carry"),
    "the SHAP prefix": ("shap__MOSTYPE", "starts with 'shap__', which names the per-lead SHAP columns"),
    "129 characters": ("x" * 129, "has 129 characters; at most 128"),
}


@pytest.mark.parametrize("case", sorted(REFUSED_NAMES))
def test_a_bad_feature_name_is_refused_naming_it(case, db, home, tmp_path):
    name, problem = REFUSED_NAMES[case]
    document = _document("bad-names", kind="none", features=[{"name": "MOSTYPE", "label": "Subtype"},
                                                              {"name": name, "label": "Odd"}])
    path = tmp_path / "manifest.toml"
    path.write_text(manifest.manifest_toml(document), encoding="utf-8")
    before = state_of(home)
    with pytest.raises(ValidationError) as raised:
        registry.register_model(db, path, home=home, actor="t", now=NOW)
    assert f"features[1].name {name!r} {problem}" in str(raised.value)
    assert state_of(home) == before


def test_a_control_character_in_a_feature_name_is_refused_as_in_all_text(db, home, tmp_path):
    document = _document("bad-names", kind="none", features=[{"name": "Total\u0007Charges", "label": "Odd"}])
    path = tmp_path / "manifest.toml"
    path.write_text(manifest.manifest_toml(document))
    with pytest.raises(ValidationError, match=r"features\[0\]: field 'name' holds U\+0007 \(a control character\)"):
        registry.register_model(db, path, home=home, actor="t", now=NOW)


def test_names_differing_only_in_case_are_refused_naming_both(db, home, tmp_path):
    document = _document("look-alike", kind="none", features=[{"name": "Age", "label": "Age"},
                                                               {"name": "age", "label": "Age again"}])
    path = tmp_path / "manifest.toml"
    path.write_text(manifest.manifest_toml(document))
    with pytest.raises(ValidationError, match="features 'Age' and 'age' differ only in case"):
        registry.register_model(db, path, home=home, actor="t", now=NOW)


# -- text (category) features ---------------------------------------------------------------------------------

CONTRACTS = ["month-to-month", "one year", "two year"]


def _contract_rows(n, seed, shares):
    rng = np.random.default_rng(seed)
    frame = _rows(n, seed, label=False).drop(columns=["contract_month-to-month", "MOSTYPE"])
    frame["contract"] = rng.choice(CONTRACTS, n, p=shares)
    frame["score"] = rng.random(n).round(6)
    return frame


@pytest.fixture
def contract_model(db, home, tmp_path):
    features = [{"name": "Total Charges", "label": "Total charges", "unit": "EUR"},
                {"name": "contract", "label": "Contract", "type": "category"}]
    path = tmp_path / "contract.toml"
    path.write_text(manifest.manifest_toml(_document("contract-scores", kind="none", features=features)))
    return registry.register_model(db, path, home=home, actor="t", now=NOW)


def _independent_psi(reference, current):
    """PSI from value counts, computed here: shares floored at 1e-6, unseen current values in one bin."""
    ref, cur = reference.value_counts(), current.value_counts()
    keys = list(ref.index)
    r = [ref[k] / ref.sum() for k in keys] + ([0.0] if set(cur.index) - set(keys) else [])
    c = [cur.get(k, 0) / cur.sum() for k in keys] + ([cur[~cur.index.isin(keys)].sum() / cur.sum()]
                                                     if set(cur.index) - set(keys) else [])
    return sum((max(b, 1e-6) - max(a, 1e-6)) * math.log(max(b, 1e-6) / max(a, 1e-6)) for a, b in zip(r, c, strict=True))


def test_a_text_feature_the_model_reads_as_a_number_is_refused_at_registration(db, home, tmp_path, lightgbm_model):
    document = _document("typed", kind="lightgbm", file="model.txt")
    document["features"][2]["type"] = "category"
    path = tmp_path / "typed.toml"
    path.write_text(manifest.manifest_toml(document))
    before = state_of(home)
    with pytest.raises(ArtifactRefused, match="the manifest gives 'MOSTYPE' as text but the model reads numbers"):
        registry.register_model(db, path, home=home, actor="t", now=NOW)
    assert state_of(home) == before


def test_a_text_feature_goes_through_import_drift_and_the_proxy_check(db, home, tmp_path, contract_model):
    reference = _contract_rows(300, 4, [0.5, 0.3, 0.2])
    current = _contract_rows(300, 5, [0.2, 0.3, 0.5])
    current.loc[current["sex"] == "female", "contract"] = "month-to-month"  # contract now stands in for sex
    _import(db, home, reference, tmp_path, kind="scores", model_id="contract-scores", week=WEEKS[0])
    batch = _import(db, home, current, tmp_path, kind="scores", model_id="contract-scores", week=WEEKS[1])
    stored = datasets.read_rows(batch, home=home)
    assert stored["contract"].tolist() == current["contract"].tolist()
    snap = snapshots.take_snapshot(db, model_id="contract-scores", week=WEEKS[1], home=home,
                                   policy=default_policy(), actor="t", now=NOW)
    row = next(r for r in snap["results"]["drift"]["columns"] if r["column"] == "contract")
    assert row["psi"] == pytest.approx(_independent_psi(reference["contract"], current["contract"]), abs=1e-12)
    assert row["reference_mean"] is None
    proxies = snap["results"]["explanations"]["proxies"]
    found = next(p for p in proxies if p["feature"] == "contract" and p["attribute"] == "sex")
    expected = association(pd.crosstab(current["contract"], current["sex"]).to_numpy(), method="cramer")
    assert found["value"] == pytest.approx(expected, abs=1e-12)
    assert found["flagged"]


def test_a_text_features_cell_follows_the_text_rules(db, home, tmp_path, contract_model):
    frame = _contract_rows(20, 6, [0.5, 0.3, 0.2])
    frame.loc[4, "contract"] = "=HYPERLINK(\"http://x\")"
    before = state_of(home)
    with pytest.raises(ValidationError, match=r"scores-2026-W48.csv, row 5, column 'contract': .* starts with '=' "
                                              "and would run as a spreadsheet formula"):
        _import(db, home, frame, tmp_path, kind="scores", model_id="contract-scores")
    frame.loc[4, "contract"] = ""
    with pytest.raises(ValidationError, match=r"row 5, column 'contract': the cell is empty, and the model does not "
                                              r"handle missing values for 'contract' \(a scores-only model"):
        _import(db, home, frame, tmp_path, kind="scores", model_id="contract-scores")
    assert state_of(home) == before


def test_the_per_lead_file_keeps_text_values_as_text(home, contract_model):
    scores = pd.DataFrame({"lead_id": ["a", "b", "c"], "customer_id": ["p1", "p2", "p3"], "team": "north",
                           "score": [0.2, 0.6, 0.4], "Total Charges": [10.0, np.nan, 30.0],
                           "contract": ["month-to-month", "two year", None]})
    values = pd.DataFrame({"Total Charges": [0.1, -0.2, 0.0], "contract": [0.5, -0.4, 0.0]})
    found = explain.Attribution(values, -0.3, np.array([0.3, -0.9, -0.3]), "tree", "log-odds", 0.0)
    per_lead = explain.read_leads(explain.write_leads(scores, found, home=home), home=home)
    assert per_lead["contract"][:2].tolist() == ["month-to-month", "two year"] and pd.isna(per_lead["contract"][2])
    assert explain.lead_value(per_lead["contract"][2]) is None
    assert np.isnan(per_lead["Total Charges"][1])
    reasons = explain.reason_codes(per_lead.iloc[1].to_dict(), manifest=contract_model["manifest"])
    assert [r["text"] for r in reasons["lowering"]] == ["Contract: two year — lowers the score",
                                                        "Total charges: not given — lowers the score"]


def test_a_category_reason_reads_as_its_text_and_a_missing_value_as_not_given(contract_model):
    lead = {"Total Charges": float("nan"), "contract": "month-to-month",
            "shap__Total Charges": -0.2, "shap__contract": 0.9}
    reasons = explain.reason_codes(lead, manifest=contract_model["manifest"])
    assert [r["text"] for r in reasons["raising"]] == ["Contract: month-to-month — raises the score"]
    assert [r["text"] for r in reasons["lowering"]] == ["Total charges: not given — lowers the score"]
    assert reasons["raising"][0]["value"] == "month-to-month" and reasons["lowering"][0]["value"] is None
    steps = explain.waterfall(lead, base_value=-1.0, manifest=contract_model["manifest"])
    assert [(s["label"], s["value_text"]) for s in steps] == [("Contract", "month-to-month"),
                                                               ("Total charges", "not given")]
    per_lead = pd.DataFrame({"lead_id": ["a", "b", "c", "d"], "contract": ["two year", "month-to-month", None,
                                                                           "two year"],
                             "shap__contract": [0.1, 0.5, -0.3, 0.3]})
    bands = explain.dependence(per_lead, feature="contract")
    assert bands.to_dict(orient="list") == {"lowest": ["month-to-month", "two year", "not given"],
                                            "highest": ["month-to-month", "two year", "not given"],
                                            "leads": [1, 2, 1], "mean_shap": [0.5, pytest.approx(0.2), -0.3]}
    points = explain.distribution(per_lead, manifest=contract_model["manifest"])
    assert points["value_text"].tolist() == ["two year", "month-to-month", "not given", "two year"]


# -- missing values where the model handles them ----------------------------------------------------------------


def test_an_empty_cell_is_missing_for_lightgbm_and_scores_as_lightgbm_does(db, home, tmp_path, lightgbm_model,
                                                                             monkeypatch):
    _, booster = lightgbm_model
    frame = _rows(120, 7, label=False)
    frame["Total Charges"] = frame["Total Charges"].astype(object)
    frame.loc[[3, 50], "Total Charges"] = ""
    batch = _import(db, home, frame, tmp_path, kind="scores", model_id="churn-save")
    stored = datasets.read_rows(batch, home=home)
    assert np.isnan(stored["Total Charges"].to_numpy()).sum() == 2
    x = frame[FEATURES].replace("", np.nan).astype(float)
    assert stored["score"].to_numpy() == pytest.approx(booster.predict(x), abs=1e-12)
    assert math.isnan(x.loc[3, "Total Charges"]) and stored["score"][3] == pytest.approx(booster.predict(x)[3])
    snap = snapshots.take_snapshot(db, model_id="churn-save", week=WEEKS[1], home=home, policy=default_policy(),
                                   actor="t", now=NOW)
    per_lead = explain.read_leads(snap["results"]["explanations"]["leads"], home=home)
    contributions = booster.predict(x, pred_contrib=True)
    assert per_lead["shap__Total Charges"].to_numpy() == pytest.approx(contributions[:, 0], abs=1e-9)
    lead = leads.find_leads(db, home=home, model_id="churn-save", query=frame.loc[3, "lead_id"], team=None)[0]
    step = next(s for s in lead["explanation"]["waterfall"] if s["feature"] == "Total Charges")
    assert step["value"] is None and step["value_text"] == "not given"
    monkeypatch.setenv("ETHICS_HOME", str(home))
    monkeypatch.setenv("ETHICS_ACTOR", "tester")
    invoke = functools.partial(CliRunner().invoke, cli, catch_exceptions=False)
    (shown,) = json.loads(invoke(["explain", "--model", "churn-save", "--lead", frame.loc[3, "lead_id"],
                                  "--json"]).output)
    assert shown["explanation"]["waterfall"] == lead["explanation"]["waterfall"]
    text = invoke(["explain", "--model", "churn-save", "--lead", frame.loc[3, "lead_id"]]).output
    reasons = lead["explanation"]["reasons"]["raising"] + lead["explanation"]["reasons"]["lowering"]
    assert reasons and all(reason["text"] in text for reason in reasons)
    assert "Total charges: not given — raises the score" in text


def test_missing_values_are_a_drift_bin_of_their_own(db, home, tmp_path, lightgbm_model):
    reference, current = _rows(200, 8, label=False), _rows(200, 9, label=False)
    current["Total Charges"] = current["Total Charges"].astype(object)
    current.loc[:39, "Total Charges"] = ""
    _import(db, home, reference, tmp_path, kind="scores", model_id="churn-save", week=WEEKS[0])
    _import(db, home, current, tmp_path, kind="scores", model_id="churn-save", week=WEEKS[1])
    snap = snapshots.take_snapshot(db, model_id="churn-save", week=WEEKS[1], home=home, policy=default_policy(),
                                   actor="t", now=NOW)
    row = next(r for r in snap["results"]["drift"]["columns"] if r["column"] == "Total Charges")
    ref = reference["Total Charges"].to_numpy(dtype=float)
    cur = pd.to_numeric(current["Total Charges"].replace("", np.nan)).to_numpy(dtype=float)
    inner = np.unique(np.quantile(ref, np.linspace(0, 1, 11)))[1:-1]
    bins = [np.bincount(np.searchsorted(inner, v[~np.isnan(v)], side="right"), minlength=inner.size + 1)
            for v in (ref, cur)]
    ref_counts, cur_counts = np.append(bins[0], 0), np.append(bins[1], 40)  # the last bin: missing values
    r, c = (np.maximum(counts / counts.sum(), drift.EPSILON) for counts in (ref_counts, cur_counts))
    assert row["psi"] == pytest.approx(float(np.sum((c - r) * np.log(c / r))), abs=1e-12)
    assert row["current_mean"] == pytest.approx(np.nanmean(cur))
    proxy = next(p for p in snap["results"]["explanations"]["proxies"]
                 if p["feature"] == "Total Charges" and p["attribute"] == "sex")
    groups = pd.Series(explain.categories(current["Total Charges"].replace("", np.nan).astype(float)))
    assert groups[:40].nunique() == 1 and not groups[:40].isin(groups[40:]).any()  # the gaps: a group of their own
    expected = association(pd.crosstab(groups.to_numpy(), current["sex"].to_numpy()).to_numpy(), method="cramer")
    assert proxy["value"] == pytest.approx(expected, abs=1e-12)


def test_an_empty_cell_is_refused_for_a_linear_model_naming_row_and_column(db, home, examples, registered):
    frame = pd.read_csv(examples / "scores.csv", dtype=str, keep_default_na=False)
    frame.loc[6, "company_employees"] = ""
    path = examples / "gap.csv"
    frame.to_csv(path, index=False)
    before = state_of(home)
    with pytest.raises(ValidationError) as raised:
        datasets.import_dataset(db, path, kind="scores", model_id="webinar-follow-up", version="1.0.0",
                                week=WEEKS[1], home=home, actor="t", now=NOW)
    assert str(raised.value) == (
        "gap.csv, row 7, column 'company_employees': the cell is empty, and the model does not handle missing "
        "values for 'company_employees' (it handles them for no feature); give a value in every row.")
    assert state_of(home) == before


def test_a_snapshot_refuses_a_stored_gap_the_model_does_not_handle(db, home, examples, registered):
    """Rows stored by another path with a NaN feature of the linear model: the snapshot names row and column."""
    frame = datasets.validate_rows(pd.read_csv(examples / "scores.csv"), manifest=registered["manifest"],
                                   kind="scores", file="scores.csv", scored=False)
    frame.loc[2, "minutes_watched"] = np.nan
    frame["score"] = 0.5
    found = datasets.store_frame(db, frame, file="scores.csv", source_sha=None, kind="scores",
                                 version_row=registered, week=WEEKS[1], home=home, actor="t", now=NOW,
                                 rows=len(frame))
    with pytest.raises(ValidationError, match=rf"Dataset {found['id']} \(scores.csv\), row 3, column "
                                              r"'minutes_watched': nan is not a finite number"):
        snapshots.take_snapshot(db, model_id="webinar-follow-up", week=WEEKS[1], home=home,
                                policy=default_policy(), actor="t", now=NOW)


def test_model_columns_reads_lightgbm_spelling_only_for_lightgbm():
    from ethics.artifacts import model_columns

    assert model_columns(["Total_Charges", "MOSTYPE"], ["MOSTYPE", "Total Charges"], kind="lightgbm") == [
        "Total Charges", "MOSTYPE"]
    assert model_columns(["Total_Charges"], ["Total Charges"], kind="xgboost") == ["Total_Charges"]
    assert model_columns(["a_b"], ["a b", "a_b"], kind="lightgbm") == ["a_b"]



def test_the_lead_and_model_pages_show_names_and_gaps_as_people_read_them(db, home, tmp_path, lightgbm_model,
                                                                        monkeypatch):
    from tests.apptest import app_on, open_app, open_page, shown

    frame = _rows(120, 7, label=False)
    frame["Total Charges"] = frame["Total Charges"].astype(object)
    frame.loc[3, "Total Charges"] = ""
    _import(db, home, frame, tmp_path, kind="scores", model_id="churn-save")
    snapshots.take_snapshot(db, model_id="churn-save", week=WEEKS[1], home=home, policy=default_policy(),
                            actor="t", now=NOW)
    add_accounts(db)
    with app_on(home, monkeypatch):
        at = open_page(open_app("olivia"), "pages/leads.py", model="churn-save")
        next(t for t in at.text_input if t.label == "Lead id, customer id or name").input(frame.loc[3, "lead_id"])
        at.run()
        assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
        assert "Total charges: not given — raises the score" in "\n".join(shown(m.value) for m in at.markdown)
        steps = next(t.value for t in at.dataframe if "label" in t.value.columns)
        assert steps.set_index("label").loc["Total charges", "value"] == "not given"
        model = open_page(open_app("olivia"), "pages/model.py", model="churn-save")
        assert not model.exception and not model.error, [e.value for e in [*model.exception, *model.error]]
