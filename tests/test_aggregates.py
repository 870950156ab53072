"""Sufficient statistics: three engines give one table, and aggregates give the verdicts rows give.

The oracle for the engines is each other (pandas in memory, DuckDB over Parquet, Spark
in local mode run the same rendered SQL); the oracle for the verdicts is the row-level
assessment, itself checked against fairlearn in tests/test_fairness.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ethics import aggregates, datasets, fairness, snapshots, warehouse
from ethics.errors import ValidationError
from ethics.manifest import read_manifest
from tests.conftest import EXAMPLE_MODEL, EXAMPLE_VERSION, EXAMPLES, WEEK, default_policy

ATTRIBUTES = ["sex", "age_band", "age"]
EDGES = [25, 35, 45, 55]


@pytest.fixture(scope="module")
def manifest():
    manifest = read_manifest(EXAMPLES / "manifest.toml")
    manifest["sensitive_attributes"].append({"name": "age", "label": "Age", "bands": EDGES})
    return manifest


def make_rows(rows: int, *, seed: int, labelled: bool = True, consent: bool = True) -> pd.DataFrame:
    """Scored leads with text, banded numeric and missing attributes, edge scores and consent states."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male", "non-binary", None], rows, p=[0.45, 0.45, 0.06, 0.04])
    band = rng.choice(["18-34", "35-54", "55+"], rows)
    age = np.where(rng.random(rows) < 0.05, np.nan, rng.integers(18, 80, rows).astype(float))
    scores = np.clip(rng.beta(2, 3, rows) + (sex == "male") * 0.05, 0, 1).round(4)
    scores[:4] = [0.0, 1.0, 0.5, 0.49999]  # the ends of the bins and both sides of the threshold
    frame = pd.DataFrame({"sex": sex, "age_band": band, "age": age, "score": scores,
                          "team": rng.choice(["north", "south", "west", None], rows, p=[0.4, 0.3, 0.28, 0.02])})
    if labelled:
        frame["label"] = (rng.random(rows) < scores).astype(np.int64)
    if consent:
        frame["consent_status"] = rng.choice(["granted", "none", "withdrawn", "objected", None], rows)
    return frame


@pytest.fixture(scope="module")
def parquet_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rows")
    paths = {"eval": folder / "eval.parquet", "scores": folder / "scores.parquet"}
    make_rows(3000, seed=1).to_parquet(paths["eval"])
    make_rows(2000, seed=2, labelled=False).to_parquet(paths["scores"])
    return paths


def spark_statistics(spark, paths, manifest) -> pd.DataFrame:
    frames = []
    for dataset, path in paths.items():
        spark.read.parquet(str(path)).createOrReplaceTempView("scored_leads")
        sql = warehouse.render_sql(manifest, dataset=dataset, consent=True, team=True)
        # pyspark's toPandas() warns on pandas 3: collect() the few thousand cells instead.
        frames.append(pd.DataFrame([row.asDict() for row in spark.sql(sql).collect()]))
    return aggregates.normalize(pd.concat(frames, ignore_index=True), attributes=ATTRIBUTES)


def assert_same_statistics(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left.drop(columns="score_sum"), right.drop(columns="score_sum"))
    # Sums of floats depend on the order of addition, which differs between engines.
    np.testing.assert_allclose(left["score_sum"], right["score_sum"], rtol=1e-12)


def test_pandas_duckdb_and_spark_compute_the_same_statistics(parquet_files, manifest, spark):
    by_pandas = warehouse.compute_statistics(parquet_files, manifest=manifest, engine="pandas")
    by_duckdb = warehouse.compute_statistics(parquet_files, manifest=manifest, engine="duckdb",
                                             memory_limit="256MB", threads=1)
    by_spark = spark_statistics(spark, parquet_files, manifest)
    assert list(by_pandas.columns) == aggregates.columns(ATTRIBUTES)
    assert_same_statistics(by_pandas, by_duckdb)
    assert_same_statistics(by_pandas, by_spark)
    # An independent count with a plain pandas groupby on the rows.
    rows = pd.read_parquet(parquet_files["eval"])
    plain = rows.assign(age=fairness.band(rows["age"], EDGES), selected=(rows["score"] >= 0.5).astype(int),
                        score_bin=np.minimum(np.floor(rows["score"] * 100), 99).astype(int))
    plain = plain.fillna({"sex": "(missing)", "age": "(missing)", "team": "?", "consent_status": "?"})
    expected = plain.groupby([*ATTRIBUTES, "team", "consent_status", "label", "selected", "score_bin"]).size()
    got = by_pandas[by_pandas["dataset"] == "eval"].fillna({"team": "?", "consent_status": "?"})
    got = got.set_index([*ATTRIBUTES, "team", "consent_status", "label", "selected", "score_bin"])["leads"]
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()
    assert by_pandas.loc[by_pandas["score_bin"] == 99, "leads"].sum() >= 1  # the score of 1.0
    assert set(by_pandas["dataset_leads"]) == {3000, 2000}


def without_auc(results):
    """Assessments with the per-group AUC taken out (exact from rows, binned from aggregates)."""
    stripped = []
    for grouping in results:
        groups = [{k: v for k, v in row.items() if k != "auc"} for row in grouping["groups"]]
        stripped.append({**grouping, "groups": groups})
    return stripped


@pytest.mark.parametrize("labelled", [True, False], ids=["eval", "scores"])
def test_assess_on_rows_equals_assess_on_aggregates_of_the_same_rows(parquet_files, manifest, labelled):
    kind = "eval" if labelled else "scores"
    rows = pd.read_parquet(parquet_files[kind]).drop(columns="consent_status")
    options = {"attributes": ATTRIBUTES, "min_group_size": 30, "resamples": 200, "confidence": 0.9, "seed": 7}
    on_rows = fairness.assess(rows, threshold=0.5, bands={"age": EDGES}, **options)
    statistics = warehouse.compute_statistics({kind: parquet_files[kind]}, manifest=manifest, engine="duckdb")
    on_aggregates = fairness.assess_statistics(statistics, **options)
    assert without_auc(on_rows) == without_auc(on_aggregates)  # every value and interval, same seed
    assert [g["grouping"] for g in on_rows] == ["sex", "age_band", "age", "sex × age_band", "sex × age",
                                                "age_band × age", "sex × age_band × age"]
    interval = on_rows[0]["disparities"]["demographic_parity_ratio"]["interval"]
    assert interval[0] < interval[1]
    if not labelled:
        assert "auc" not in on_aggregates[0]["groups"][0]
        return
    # The exact AUC of the rows lies within the bounds from the histograms, and the estimate is close.
    for grouping in on_rows:
        codes = {g.name: g for g in fairness.groupings(rows, attributes=ATTRIBUTES, bands={"age": EDGES})}
        coded = codes[grouping["grouping"]]
        for index, (exact_row, binned_row) in enumerate(zip(grouping["groups"],
                                                            on_aggregates[on_rows.index(grouping)]["groups"],
                                                            strict=True)):
            mask = coded.codes == index
            if rows["label"][mask].nunique() < 2:
                assert exact_row["auc"] is None and binned_row["auc"] is None
                continue
            exact = roc_auc_score(rows["label"][mask], rows["score"][mask])
            low, high = binned_row["auc_bounds"]
            assert exact_row["auc"] == pytest.approx(exact, abs=1e-9)
            assert low - 1e-12 <= exact <= high + 1e-12
            if exact_row["count"] >= 300:
                assert binned_row["auc"] == pytest.approx(exact, abs=0.01)


def test_performance_and_calibration_from_aggregates(parquet_files, manifest):
    statistics = warehouse.compute_statistics({"eval": parquet_files["eval"]}, manifest=manifest)
    result = aggregates.performance(statistics)
    rows = pd.read_parquet(parquet_files["eval"])
    selected = rows["score"] >= 0.5
    assert result["rows"] == 3000
    assert result["accuracy"] == pytest.approx((selected == rows["label"]).mean(), abs=1e-12)
    assert result["base_rate"] == pytest.approx(rows["label"].mean(), abs=1e-12)
    assert result["selection_rate"] == pytest.approx(selected.mean(), abs=1e-12)
    low, high = result["auc_bounds"]
    assert low <= roc_auc_score(rows["label"], rows["score"]) <= high and high - low < 0.02
    band = np.minimum(rows["score"] * 10, 9.999).astype(int)
    top = rows[band == 9]
    assert result["calibration"][-1] == {"band": "0.9-1.0", "rows": len(top),
                                         "mean_score": pytest.approx(top["score"].mean(), abs=1e-12),
                                         "observed_rate": pytest.approx(top["label"].mean(), abs=1e-12)}


def test_consent_counts_per_group(parquet_files, manifest):
    statistics = warehouse.compute_statistics({"scores": parquet_files["scores"]}, manifest=manifest)
    counts = aggregates.consent_counts(statistics, attributes=ATTRIBUTES)
    rows = pd.read_parquet(parquet_files["scores"])
    female = next(c for c in counts if c["attribute"] == "sex" and c["group"] == "female")
    expected = rows[rows["sex"] == "female"]["consent_status"].fillna("not_recorded").value_counts()
    assert female == {"attribute": "sex", "group": "female", **{k: int(expected.get(k, 0)) for k in
                                                                ("granted", "none", "withdrawn", "objected",
                                                                 "not_recorded")}}


def test_consent_coverage_from_statistics_counts_the_rows_consent_states(parquet_files, manifest):
    statistics = warehouse.compute_statistics({"scores": parquet_files["scores"]}, manifest=manifest)
    found = aggregates.consent_coverage(statistics, purpose="ai_scoring")
    states = pd.read_parquet(parquet_files["scores"])["consent_status"]
    assert (found["scored"], found["covered"]) == (len(states), int((states == "granted").sum()))
    assert found["coverage"] == pytest.approx((states == "granted").mean(), abs=1e-12)
    assert (found["without_consent"], found["after_withdrawal"], found["after_objection"]) == (
        int((states != "granted").sum()), int((states == "withdrawn").sum()), int((states == "objected").sum()))
    assert found["human_routing"] is None
    # Per team, against a plain loop over the rows (leads without a team come last, as team None).
    rows = pd.read_parquet(parquet_files["scores"])
    expected = []
    for team in [*sorted(rows["team"].dropna().unique()), None]:
        part = rows["consent_status"][rows["team"].isna() if team is None else rows["team"] == team]
        expected.append({"team": team, "scored": len(part), "covered": int((part == "granted").sum()),
                         "coverage": pytest.approx((part == "granted").mean(), abs=1e-12),
                         "without_consent": int((part != "granted").sum()),
                         "after_withdrawal": int((part == "withdrawn").sum()),
                         "after_objection": int((part == "objected").sum())})
    assert found["by_team"] == expected
    without_teams = aggregates.consent_coverage(statistics.assign(team=None), purpose="ai_scoring")
    assert without_teams["by_team"] == [] and without_teams["scored"] == found["scored"]
    stored_before_teams = aggregates.parts(statistics.drop(columns="team"))["scores"]
    assert aggregates.consent_coverage(stored_before_teams, purpose="ai_scoring") == without_teams
    no_states = statistics.assign(consent_status=None)
    assert aggregates.consent_coverage(no_states, purpose="ai_scoring") is None


# -- through the data home: import aggregates, snapshot --------------------------------------------------------------


def stored_rows(db, home, kind):
    found = datasets.find_dataset(db, EXAMPLE_MODEL, version=EXAMPLE_VERSION, kind=kind, week=WEEK)
    return home / found["parquet_file"]


@pytest.fixture
def scaled_snapshot(example_snapshot, db, home, tmp_path, now):
    """The example rows' aggregates (by DuckDB, through a CSV) imported for the next week, and its snapshot."""
    version = snapshots.registry.get_version(db, EXAMPLE_MODEL, EXAMPLE_VERSION)
    paths = {kind: stored_rows(db, home, kind) for kind in ("eval", "scores")}
    statistics = warehouse.compute_statistics(paths, manifest=version["manifest"], engine="duckdb")
    file = tmp_path / "statistics.csv"
    statistics.to_csv(file, index=False)
    row = aggregates.import_aggregates(db, file, model_id=EXAMPLE_MODEL, version=EXAMPLE_VERSION, week="2026-W49",
                                       home=home, actor="test", now=now)
    assert row["kind"] == "aggregates" and row["rows"] == 500
    return snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week="2026-W49", home=home,
                                   policy=default_policy(), actor="test", now=now)


def test_a_snapshot_from_aggregates_has_the_verdicts_of_the_rows(example_snapshot, scaled_snapshot):
    """Same fairness, verdicts and sampling from the aggregates as from the rows."""
    snap = scaled_snapshot
    by_rows, by_aggregates = example_snapshot["results"], snap["results"]
    assert by_rows["source"] == {"eval": "rows", "scores": "rows"}
    assert by_aggregates["source"] == {"eval": "aggregates", "scores": "aggregates"}
    assert by_aggregates["rows"] == by_rows["rows"] == {"eval": 300, "scores": 200}
    for kind in ("eval", "scores"):
        assert without_auc(by_aggregates["fairness"][kind]) == without_auc(by_rows["fairness"][kind])
    assert by_aggregates["verdicts"] == by_rows["verdicts"]
    assert by_aggregates["sampling"] == by_rows["sampling"]
    for key in ("accuracy", "base_rate", "selection_rate"):
        assert by_aggregates["performance"][key] == pytest.approx(by_rows["performance"][key], abs=1e-12)
    assert by_aggregates["scoring"] == pytest.approx(by_rows["scoring"], abs=1e-9)
    assert by_aggregates["explanations"]["reason"].startswith("not available at this scale")
    assert snap["inputs"]["aggregates"]["rows"] == 500
    drift = by_aggregates["drift"]
    assert drift["reference_week"] == WEEK and drift["columns"][0]["bins"] == "fixed"
    assert drift["columns"][0]["psi"] == 0.0  # the same scores as the reference week


def test_cli_aggregate_import_and_sql(tmp_path, home, monkeypatch, examples):
    from click.testing import CliRunner

    from ethics.cli import cli

    monkeypatch.setenv("ETHICS_HOME", str(home))
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)

    assert run("register", examples / "manifest.toml").exit_code == 0
    rows = make_rows(1000, seed=3).drop(columns="age")
    rows.to_parquet(tmp_path / "eval.parquet")
    out = tmp_path / "statistics.parquet"
    model = ("--model", EXAMPLE_MODEL, "--version", EXAMPLE_VERSION)
    result = run("aggregate", *model, "--eval", tmp_path / "eval.parquet", "--engine", "duckdb", "--out", out)
    assert result.exit_code == 0 and "describing 1,000 leads" in result.output, result.output
    result = run("import", "aggregates", *model, "--week", WEEK, out)
    assert result.exit_code == 0 and "imported aggregates of 1,000 leads" in result.output, result.output
    assert run("snapshot", "--model", EXAMPLE_MODEL, "--week", WEEK).exit_code == 0
    shown = run("fairness", "--model", EXAMPLE_MODEL, "--json").output
    assert json.loads(shown)["source"] == {"eval": "aggregates"}
    result = run("sql", *model, "--data", "scores", "--source", "crm.scored_leads", "--consent")
    assert "FROM crm.scored_leads" in result.output and "CAST(NULL AS INT) AS label" in result.output
    assert "CASE WHEN score >= CAST(0.5 AS DOUBLE) THEN 1 ELSE 0 END AS selected" in result.output


def test_pages_say_the_snapshot_comes_from_aggregates(scaled_snapshot, db, home, monkeypatch):
    from tests.apptest import clear_caches, open_app, open_page
    from tests.conftest import add_accounts

    add_accounts(db)
    monkeypatch.setenv("ETHICS_HOME", str(home))
    clear_caches()
    for page in ("pages/model.py", "pages/fairness.py"):
        at = open_page(open_app("olivia"), page, model=EXAMPLE_MODEL)
        assert not at.exception, [e.message for e in at.exception]
        notes = [i.value for i in at.info if "Computed from aggregates" in i.value]
        assert notes and "(evaluation set and scoring batch, 500 leads)" in notes[0], page
    clear_caches()


def test_aggregates_cover_the_population_and_a_sample_of_rows_is_kept_for_explanations(
        scaled_snapshot, db, home, examples, now):
    datasets.import_dataset(db, examples / "scores.csv", kind="scores", model_id=EXAMPLE_MODEL,
                            version=EXAMPLE_VERSION, week="2026-W49", home=home, actor="test", now=now)
    snap = snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week="2026-W49", home=home,
                                   policy=default_policy(), actor="test", now=now)
    assert snap["results"]["source"] == {"eval": "aggregates", "scores": "aggregates"}
    assert set(snap["inputs"]) >= {"scores", "aggregates"}  # the sample is an input, for explanations
    sample = snap["results"]["explanations"]  # explained from the sample of rows
    assert (sample["status"], sample["rows"]) == ("available", snap["inputs"]["scores"]["rows"])
    assert snap["results"]["fairness"] == scaled_snapshot["results"]["fairness"]


@pytest.mark.parametrize("name", ["team", "consent_status", "label", "leads"])
def test_an_attribute_named_like_a_statistics_column_is_refused(name):
    frame = pd.DataFrame({name: ["a", "b"], "score": [0.2, 0.8]})
    with pytest.raises(ValidationError, match=f"Sensitive attribute '{name}' has the name of a column of the "
                                              "statistics"):
        aggregates.from_rows(frame, attributes=[name], threshold=0.5)


def test_rows_and_their_statistics_give_identical_results(db, home, example_snapshot):
    """One path: rows are reduced to cells first, so the statistics of the same rows give the same results.

    Only what rows alone can give differs, and it is marked: the exact AUC (``auc_source``), the
    explanations, and where each kind came from.
    """
    manifest = snapshots.registry.get_version(db, EXAMPLE_MODEL, EXAMPLE_VERSION)["manifest"]
    frames = {kind: datasets.read_rows(datasets.find_dataset(db, EXAMPLE_MODEL, version=EXAMPLE_VERSION, kind=kind,
                                                             week=WEEK), home=home) for kind in ("eval", "scores")}
    states = ["granted", "none", "withdrawn", "objected"]
    frames["scores"] = frames["scores"].assign(consent_status=[states[i % 4] for i in range(len(frames["scores"]))])
    statistics = snapshots.week_cells(frames, manifest=manifest)
    by_rows = snapshots.evaluate(frames, manifest=manifest, policy=default_policy())
    by_cells = snapshots.evaluate({}, manifest=manifest, policy=default_policy(), statistics=statistics)
    rows_only = {"source", "explanations", "performance", "fairness"}
    assert {k: v for k, v in by_rows.items() if k not in rows_only} == (
        {k: v for k, v in by_cells.items() if k not in rows_only})
    for kind in ("eval", "scores"):  # each group's AUC: exact from rows, binned from cells
        assert without_auc(by_rows["fairness"][kind]) == without_auc(by_cells["fairness"][kind])
    marked = {"auc", "auc_source"}
    assert {k: v for k, v in by_rows["performance"].items() if k not in marked} == (
        {k: v for k, v in by_cells["performance"].items() if k not in marked})
    assert (by_rows["performance"]["auc_source"], by_cells["performance"]["auc_source"]) == ("rows", "cells")
    low, high = by_cells["performance"]["auc_bounds"]
    assert low <= by_rows["performance"]["auc"] <= high
    assert by_rows["consent_counts"] == by_cells["consent_counts"] and by_rows["consent_counts"]["scores"]
    assert aggregates.consent_coverage(statistics["scores"], purpose="ai_scoring")["without_consent"] == sum(
        s != "granted" for s in frames["scores"]["consent_status"])


def test_a_snapshot_from_rows_bins_the_score_drift_like_one_from_statistics(db, example_snapshot, scaled_snapshot):
    by_rows, by_cells = example_snapshot["results"]["drift"], scaled_snapshot["results"]["drift"]
    assert by_rows["columns"][0] == by_cells["columns"][0]  # the score on the same fixed bins, PSI 0 against itself
    assert by_rows["columns"][0]["bins"] == "fixed" and by_rows["columns"][0]["psi"] == 0.0
    features = snapshots.registry.get_version(db, EXAMPLE_MODEL, EXAMPLE_VERSION)["manifest"]["features"]
    assert [c["column"] for c in by_rows["columns"][1:]] == [f["name"] for f in features]  # from rows only
    assert "features on the reference's quantile bins, from rows" in by_rows["note"]


def test_counting_the_cells_in_place_gives_what_sorting_the_keys_gives(monkeypatch):
    # Few possible cells are counted with a bincount; many, by np.unique: the same table either way.
    rows = make_rows(600, seed=21)
    options = {"attributes": ATTRIBUTES, "bands": {"age": EDGES}, "threshold": 0.5, "by_team": True}
    counted = aggregates.from_rows(rows, **options)
    monkeypatch.setattr(aggregates, "_DENSE_KEYS", 0)  # 4 x 600 rows is fewer than the possible cells
    pd.testing.assert_frame_equal(aggregates.from_rows(rows, **options), counted, check_exact=True)


def test_assess_refuses_an_attribute_named_like_a_statistics_column_before_coding_it():
    frame = pd.DataFrame({"selected": ["a", "b"], "score": [0.2, 0.8]})
    with pytest.raises(ValidationError, match="has the name of a column of the statistics"):
        fairness.assess(frame, attributes=["selected"], threshold=0.5)
