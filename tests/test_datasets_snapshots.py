import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, selection_rate
from sklearn.metrics import roc_auc_score

from ethics import datasets, snapshots
from ethics.errors import NotFound, ValidationError
from tests.conftest import EXAMPLE_MODEL, EXAMPLE_VERSION, WEEK, default_policy


def _expected_scores(frame, home, version_row):
    import json

    spec = json.loads((home / version_row["artifact_file"]).read_text())
    z = spec["intercept"] + sum(
        w * (frame[n] - spec["scaling"][n]["mean"]) / spec["scaling"][n]["scale"]
        for n, w in spec["coefficients"].items())
    return 1 / (1 + np.exp(-z))


def test_import_stores_parquet_named_by_hash_with_computed_scores(db, home, examples, registered, now):
    row = datasets.import_dataset(db, examples / "eval.csv", kind="eval", model_id=EXAMPLE_MODEL,
                                  version=EXAMPLE_VERSION, week=WEEK, home=home, actor="t", now=now)
    assert row["rows"] == 300
    assert row["parquet_file"] == f"datasets/{row['parquet_sha256']}.parquet"
    stored = datasets.read_rows(row, home=home)
    source = pd.read_csv(examples / "eval.csv")
    assert list(stored.columns) == ["lead_id", "customer_id", "team", "minutes_watched", "questions_asked",
                                    "company_employees", "region_code", "sex", "age_band", "label", "score"]
    assert stored["lead_id"].tolist() == source["lead_id"].tolist()
    np.testing.assert_allclose(stored["score"], _expected_scores(source, home, registered))


def test_parquet_and_csv_inputs_give_the_same_stored_rows(db, home, examples, registered, now):
    pd.read_csv(examples / "eval.csv", dtype={"lead_id": str, "customer_id": str}).to_parquet(
        examples / "eval.parquet")
    a = datasets.import_dataset(db, examples / "eval.csv", kind="eval", model_id=EXAMPLE_MODEL,
                                version=EXAMPLE_VERSION, week="2026-W47", home=home, actor="t", now=now)
    b = datasets.import_dataset(db, examples / "eval.parquet", kind="eval", model_id=EXAMPLE_MODEL,
                                version=EXAMPLE_VERSION, week=WEEK, home=home, actor="t", now=now)
    assert a["parquet_sha256"] == b["parquet_sha256"]
    assert a["source_sha256"] != b["source_sha256"]


def test_stored_dataset_that_was_changed_is_not_read(db, home, examples, registered, now):
    row = datasets.import_dataset(db, examples / "scores.csv", kind="scores", model_id=EXAMPLE_MODEL,
                                  version=EXAMPLE_VERSION, week=WEEK, home=home, actor="t", now=now)
    (home / row["parquet_file"]).write_bytes(b"tampered")
    with pytest.raises(NotFound, match="was changed after import"):
        datasets.read_rows(row, home=home)


def test_snapshot_results_match_independent_computations(db, example_snapshot, examples, home, registered):
    frame = pd.read_csv(examples / "eval.csv")
    # Near-ties make the AUC sensitive to the last bit, so it uses the stored scores,
    # which the import test checks against the formula.
    stored = datasets.find_dataset(db, EXAMPLE_MODEL, version=EXAMPLE_VERSION, kind="eval", week=WEEK)
    scores = datasets.read_rows(stored, home=home)["score"].to_numpy()
    np.testing.assert_allclose(scores, _expected_scores(frame, home, registered))
    y_pred = (scores >= 0.5).astype(int)
    perf = example_snapshot["results"]["performance"]
    assert perf["accuracy"] == pytest.approx((y_pred == frame["label"]).mean())
    assert perf["auc"] == pytest.approx(roc_auc_score(frame["label"], scores))
    assert perf["base_rate"] == pytest.approx(frame["label"].mean())
    expected = MetricFrame(metrics=selection_rate, y_true=frame["label"], y_pred=y_pred,
                           sensitive_features=frame["age_band"]).by_group
    got = {g["group"]: g["selection_rate"] for g in _grouping(example_snapshot, "eval", "age_band")["groups"]}
    assert got == pytest.approx(expected.to_dict())
    counts = {g["group"]: g["count"] for g in _grouping(example_snapshot, "eval", "sex")["groups"]}
    assert counts == frame["sex"].value_counts().to_dict()
    assert _grouping(example_snapshot, "scores", "sex × age_band")["disparities"]["demographic_parity_ratio"]
    assert example_snapshot["results"]["rows"] == {"eval": 300, "scores": 200}


def _grouping(snapshot, data, name):
    return next(g for g in snapshot["results"]["fairness"][data] if g["grouping"] == name)


def test_snapshot_records_inputs_packages_and_policy(db, example_snapshot):
    snap = snapshots.get_snapshot(db, example_snapshot["id"])
    assert set(snap["inputs"]) == {"artifact_sha256", "eval", "scores", "drift_reference", "consent_events"}
    assert snap["inputs"]["drift_reference"]["week"] == WEEK
    assert snap["results"]["drift"]["reference_week"] == WEEK
    assert {c["column"]: c["psi"] for c in snap["results"]["drift"]["columns"]}["score"] == 0.0
    assert snap["inputs"]["eval"]["rows"] == 300
    assert snap["packages"]["fairlearn"] and snap["packages"]["pandas"]
    assert snapshots.verify_snapshot(db, snap["id"])


def test_snapshot_is_computed_once_for_unchanged_inputs(db, home, example_snapshot, now):
    again = snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home, policy=default_policy(),
                                    actor="t", now=now)
    assert again["id"] == example_snapshot["id"] and again["hash"] == example_snapshot["hash"]
    other_policy = snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home,
                                           policy={**default_policy(), "min_group_size": 50}, actor="t", now=now)
    assert other_policy["hash"] != example_snapshot["hash"]
    assert [s["id"] for s in snapshots.list_snapshots(db, EXAMPLE_MODEL)] == [other_policy["id"],
                                                                            example_snapshot["id"]]


def test_missing_sensitive_values_form_their_own_group(db, home, examples, registered, now):
    frame = pd.read_csv(examples / "eval.csv")
    frame.loc[:9, "sex"] = None
    frame.to_csv(examples / "gaps.csv", index=False)
    datasets.import_dataset(db, examples / "gaps.csv", kind="eval", model_id=EXAMPLE_MODEL,
                            version=EXAMPLE_VERSION, week=WEEK, home=home, actor="t", now=now)
    snap = snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home, policy={},
                                   actor="t", now=now)
    groups = {g["group"]: g["count"] for g in _grouping(snap, "eval", "sex")["groups"]}
    assert groups["(missing)"] == 10


def test_snapshot_without_data_for_the_week(db, home, registered):
    with pytest.raises(ValidationError, match="no evaluation set or scoring batch for week 2026-W10"):
        snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week="2026-W10", home=home, policy={}, actor="t")


def test_performance_trend_has_one_row_per_week(db, home, examples, example_snapshot, now):
    datasets.import_dataset(db, examples / "eval.csv", kind="eval", model_id=EXAMPLE_MODEL,
                            version=EXAMPLE_VERSION, week="2026-W47", home=home, actor="t", now=now)
    snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week="2026-W47", home=home, policy={}, actor="t")
    trend = snapshots.performance_trend(db, EXAMPLE_MODEL)
    assert [t["week"] for t in trend] == ["2026-W47", WEEK]
    assert trend[1]["accuracy"] == example_snapshot["results"]["performance"]["accuracy"]
    assert trend[0]["scored_leads"] is None and trend[1]["scored_leads"] == 200
