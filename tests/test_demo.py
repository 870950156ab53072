"""The demo portfolio, built small into temporary data homes with the real components.

Most tests read the session's demo (``conftest.demo_home``, built once); one builds a
second copy to check that the build is deterministic.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from ethics import datasets, demo, incidents, registry, snapshots, store
from ethics.errors import ValidationError

WEEKS = [f"2026-W{n}" for n in range(41, 49)]
EXPECTED_KINDS = {
    "lead-scoring": "lightgbm",
    "churn-risk": "linear",
    "upsell-propensity": "xgboost",
    "discount-approval": "none",
}
SMALL_ROWS = {
    "lead-scoring": 2_000,
    "churn-risk": 1_000,
    "upsell-propensity": 1_000,
    "discount-approval": 800,
}


@pytest.fixture(scope="module")
def demo_db(demo_home: Path):
    database = store.open_db(demo_home / "ethics.db")
    yield database
    database.close()


def _hashes(home: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Every snapshot hash and dataset Parquet hash of a data home, sorted."""
    database = store.open_db(home / "ethics.db")
    try:
        snaps = [
            (row["model_id"], row["week"], row["hash"])
            for model_id in demo.DEMO_MODEL_IDS
            for row in snapshots.list_snapshots(database, model_id)
        ]
        files = [
            (row["model_id"], row["kind"], row["week"], row["parquet_sha256"])
            for model_id in demo.DEMO_MODEL_IDS
            for row in datasets.list_datasets(database, model_id)
        ]
    finally:
        database.close()
    return sorted(snaps), sorted(files)


def _rows(db, home: Path, model_id: str, *, kind: str, week: str) -> pd.DataFrame:
    version = registry.get_version(db, model_id)["version"]
    found = datasets.find_dataset(db, model_id, version=version, kind=kind, week=week)
    return datasets.read_rows(found, home=home)


def test_four_models_with_their_artifact_kinds_and_teams(demo_db):
    models = registry.list_models(demo_db)
    assert [m["id"] for m in models] == sorted(demo.DEMO_MODEL_IDS)
    assert {m["team"] for m in models} == set(demo.DEMO_TEAMS)
    kinds = {m["id"]: registry.get_version(demo_db, m["id"])["artifact_kind"] for m in models}
    assert kinds == EXPECTED_KINDS
    lead = registry.get_version(demo_db, "lead-scoring")["manifest"]
    assert lead["proxy_candidates"] == ["postcode_region"]
    assert (lead["purpose"], lead["risk_tier"], lead["team"]) == ("lead_scoring", "high", "north")
    visits = next(f for f in lead["features"] if f["name"] == "pricing_page_visits")
    assert (visits["label"], visits["unit"]) == ("Visited the pricing page", "visits")


def test_every_model_has_an_evaluation_set_and_scoring_batch_per_week(demo_db, demo_home):
    for model_id, rows in SMALL_ROWS.items():
        found = datasets.list_datasets(demo_db, model_id)
        assert sorted((d["kind"], d["week"]) for d in found) == [
            (kind, week) for kind in ("eval", "scores") for week in WEEKS
        ]
        assert {d["rows"] for d in found} == {rows}
    frame = _rows(demo_db, demo_home, "lead-scoring", kind="scores", week="2026-W48")
    assert "label" not in frame.columns
    assert frame["lead_id"].iloc[0] == "LS-2026W48-000001"
    assert frame["lead_id"].is_unique
    assert frame["customer_id"].str.fullmatch(r"p-[0-9a-f]{32}").all()  # pseudonymised
    assert set(frame["team"]) == set(demo.DEMO_TEAMS)
    assert set(frame["age_band"]) == set(demo.AGE_BANDS)
    assert frame["sex"].isna().any() and set(frame["sex"].dropna()) == {"female", "male"}
    assert frame["postcode_region"].between(1, 9).all()
    labelled = _rows(demo_db, demo_home, "churn-risk", kind="eval", week="2026-W41")
    assert set(labelled["label"]) == {0, 1}


def test_lead_scoring_data_drifts_week_by_week(demo_db, demo_home):
    first = _rows(demo_db, demo_home, "lead-scoring", kind="scores", week="2026-W41")
    last = _rows(demo_db, demo_home, "lead-scoring", kind="scores", week="2026-W48")
    assert last["pricing_page_visits"].mean() > first["pricing_page_visits"].mean() * 1.1


def test_a_snapshot_per_model_and_week_that_verifies(demo_db):
    for model_id in demo.DEMO_MODEL_IDS:
        found = snapshots.list_snapshots(demo_db, model_id)
        assert sorted(s["week"] for s in found) == WEEKS
        assert all(snapshots.verify_snapshot(demo_db, s["id"]) for s in found)
        assert found[0]["created_at"].startswith("2026-11-23T07:")


def test_lead_scoring_selects_older_leads_far_less_often(demo_db):
    results = snapshots.latest_snapshot(demo_db, "lead-scoring")["results"]
    for kind in ("eval", "scores"):
        ages = next(g for g in results["fairness"][kind] if g["grouping"] == "age_band")
        rates = {g["group"]: g["selection_rate"] for g in ages["groups"]}
        assert set(rates) == set(demo.AGE_BANDS)
        assert rates["55+"] / max(rates.values()) < 0.8, (kind, rates)


def test_the_injected_bias_fails_the_four_fifths_rule_for_the_oldest_leads(demo_db):
    verdicts = snapshots.latest_snapshot(demo_db, "lead-scoring")["results"]["verdicts"]
    (age,) = [v for v in verdicts if v["data"] == "scores" and v["grouping"] == "age_band"
              and v["metric"] == "demographic_parity_ratio"]
    assert age["status"] == "fail" and age["worst_group"] == "55+" and age["value"] < 0.8
    assert age["interval"][1] < 0.8 and not age["interval_crosses"]
    assert age["sentence"].startswith("Leads with Age band 55+ are selected 0.")
    sex = [v for v in verdicts if v["grouping"] == "sex" and v["metric"] == "demographic_parity_ratio"]
    assert {v["status"] for v in sex} <= {"pass", "warn"}


def test_postcode_region_is_a_strong_proxy_for_age(demo_db, demo_home):
    frame = _rows(demo_db, demo_home, "lead-scoring", kind="scores", week="2026-W48")
    means = frame.groupby("age_band")["postcode_region"].mean()
    assert means["55+"] - means["18-24"] > 4


def test_consent_has_gaps_withdrawals_and_objections(demo_db, demo_home):
    events = pd.DataFrame(store.list_rows(demo_db, store.CONSENT_EVENTS))
    assert events["event_id"].is_unique
    assert events["event_id"].str.fullmatch(r"EV\d{7}").all()
    assert set(events["purpose"]) == {"ai_scoring", "marketing", "profiling"}
    assert set(events["source"]) == {"web_form", "crm", "call"}
    ai = events[events["purpose"] == "ai_scoring"]
    assert {"granted", "withdrawn", "objected"} <= set(ai["status"])
    changes = ai[ai["status"] != "granted"]["occurred_at"]
    assert (changes >= "2026-10-05").all() and (changes < "2026-11-25").all()
    scored: set[str] = set()
    for model_id in demo.DEMO_MODEL_IDS:
        for week in WEEKS:
            scored.update(_rows(demo_db, demo_home, model_id, kind="scores", week=week)["customer_id"])
    assert set(events["customer_id"]) <= scored
    never_granted = scored - set(ai[ai["status"] == "granted"]["customer_id"])
    assert 0.01 < len(never_granted) / len(scored) < 0.06


def test_incidents_cover_several_models_severities_and_categories(demo_db, demo_home):
    found = incidents.list_incidents(demo_db)
    assert 5 <= len(found) <= 8
    assert len({i["model_id"] for i in found}) >= 3
    assert len({i["severity"] for i in found}) >= 3
    assert {"bias", "privacy", "customer_complaint"} <= {i["category"] for i in found}
    assert all(i["opened_at"] < "2026-11-25" and i["status"] == "open" for i in found)
    bias = next(i for i in found if i["category"] == "bias")
    assert bias["model_id"] == "lead-scoring" and "55+" in bias["title"]
    evidence = snapshots.get_snapshot(demo_db, bias["snapshot_id"])
    assert evidence["model_id"] == "lead-scoring"
    assert evidence["created_at"] <= bias["opened_at"]
    complaint = next(i for i in found if i["category"] == "customer_complaint")
    match = re.fullmatch(r"DA-(\d{4})W(\d{2})-\d{6}", complaint["lead_id"])
    assert match
    batch = _rows(demo_db, demo_home, "discount-approval", kind="scores", week=f"{match[1]}-W{match[2]}")
    lead = batch.set_index("lead_id").loc[complaint["lead_id"]]
    assert lead["sex"] == "female" and lead["score"] < 0.5


def test_a_second_build_is_identical_and_reports_its_counts(demo_home, tmp_path):
    lines: list[str] = []
    summary = demo.build_demo(tmp_path, size="small", progress=lines.append)
    assert _hashes(tmp_path) == _hashes(demo_home)
    assert summary["weeks"] == WEEKS
    assert summary["models"] == 4
    assert summary["datasets"] == 4 * 8 * 2
    assert summary["rows"] == sum(SMALL_ROWS.values()) * 8 * 2
    assert summary["snapshots"] == 32
    assert 5 <= summary["incidents"] <= 8
    assert summary["consent_events"] > 1_000
    assert any("lead-scoring: week 2026-W48" in line for line in lines)


def test_a_second_build_into_the_same_home_is_refused(demo_home):
    before = _hashes(demo_home)
    with pytest.raises(ValidationError, match="already holds 4 registered model"):
        demo.build_demo(demo_home, size="small")
    assert _hashes(demo_home) == before


@pytest.mark.parametrize(
    ("arguments", "message"), [({"weeks": 0}, "at least one week"), ({"size": "huge"}, "huge")]
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, arguments, message):
    with pytest.raises(ValidationError, match=message):
        demo.build_demo(tmp_path, **arguments)
    assert not (tmp_path / "ethics.db").exists()


def test_overview_lights_fairness_red_for_the_biased_model(demo_db):
    from ethics import portfolio

    lights = {row["id"]: row["lights"] for row in portfolio.overview(demo_db)}
    assert lights["lead-scoring"]["fairness"]["status"] == "fail"
    assert "selection-rate ratio" in lights["lead-scoring"]["fairness"]["reason"]
    assert {light["drift"]["status"] for light in lights.values()} <= {"pass", "warn", "fail"}
