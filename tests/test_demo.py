"""The demo portfolio, built small into temporary data homes with the real components.

Most tests read the session's demo (``conftest.demo_home``, built once); one builds a
second copy to check that the build is deterministic.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from ethics import datasets, demo, incidents, privacy, registry, snapshots, store
from ethics.errors import ValidationError

WEEKS = [f"2026-W{n}" for n in range(41, 49)]
EXPECTED_KINDS = {
    "lead-scoring": "lightgbm",
    "churn-risk": "linear",
    "upsell-propensity": "xgboost",
    "discount-size": "none",
    "next-best-offer": "none",
    "lead-call-list": "none",
}
EXPECTED_OUTCOMES = {
    "lead-scoring": "binary",
    "churn-risk": "binary",
    "upsell-propensity": "binary",
    "discount-size": "continuous",
    "next-best-offer": "multiclass",
    "lead-call-list": "ranking",
}
SMALL_ROWS = {
    "lead-scoring": 2_000,
    "churn-risk": 1_000,
    "upsell-propensity": 1_000,
    "discount-size": 800,
    "next-best-offer": 1_500,
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


def test_six_models_with_their_artifact_kinds_outcomes_and_teams(demo_db):
    models = registry.list_models(demo_db)
    assert [m["id"] for m in models] == sorted(demo.DEMO_MODEL_IDS)
    assert {m["team"] for m in models} == set(demo.DEMO_TEAMS)
    kinds = {m["id"]: registry.get_version(demo_db, m["id"])["artifact_kind"] for m in models}
    assert kinds == EXPECTED_KINDS
    outcomes = {m["id"]: registry.get_version(demo_db, m["id"])["manifest"].get("outcome", "binary") for m in models}
    assert outcomes == EXPECTED_OUTCOMES
    lead = registry.get_version(demo_db, "lead-scoring")["manifest"]
    assert lead["proxy_candidates"] == ["postcode_region"]
    assert (lead["purpose"], lead["risk_tier"], lead["team"]) == ("lead_scoring", "high", "north")
    visits = next(f for f in lead["features"] if f["name"] == "pricing_page_visits")
    assert (visits["label"], visits["unit"]) == ("Visited the pricing page", "visits")


def test_every_model_has_an_evaluation_set_and_scoring_batch_per_week(demo_db, demo_home):
    for model_id in demo.DEMO_MODEL_IDS:
        found = datasets.list_datasets(demo_db, model_id)
        assert sorted((d["kind"], d["week"]) for d in found) == [
            (kind, week) for kind in ("eval", "scores") for week in WEEKS
        ]
        if model_id in SMALL_ROWS:  # the call list's rows are the lead model's leads up to today
            assert {d["rows"] for d in found} == {SMALL_ROWS[model_id]}
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
    assert complaint["model_id"] == "discount-size" and "smaller" in complaint["title"]
    match = re.fullmatch(r"DS-(\d{4})W(\d{2})-\d{6}", complaint["lead_id"])
    assert match
    batch = _rows(demo_db, demo_home, "discount-size", kind="scores", week=f"{match[1]}-W{match[2]}")
    lead = batch.set_index("lead_id").loc[complaint["lead_id"]]
    younger = batch[(batch["age_band"] == "25-34") & (batch["deal_size_band"] == lead["deal_size_band"])]
    assert (lead["sex"], lead["age_band"], lead["team"]) == ("female", "55+", "south")
    assert lead["score"] < younger["score"].mean()  # a smaller discount than 25-34 got on deals of her size


def test_a_second_build_is_identical_and_reports_its_counts(demo_db, demo_home, tmp_path):
    lines: list[str] = []
    summary = demo.build_demo(tmp_path, size="small", progress=lines.append, reproducible=True)
    assert _hashes(tmp_path) == _hashes(demo_home)
    assert summary["weeks"] == WEEKS
    assert summary["models"] == 6
    assert summary["datasets"] == 6 * 8 * 2
    listed = sum(len(_rows(demo_db, demo_home, "lead-call-list", kind=kind, week=week))
                 for kind in ("eval", "scores") for week in WEEKS)
    assert summary["rows"] == sum(SMALL_ROWS.values()) * 8 * 2 + listed
    assert summary["snapshots"] == 48
    assert 5 <= summary["incidents"] <= 8
    assert summary["consent_events"] > 1_000
    assert any("lead-scoring: week 2026-W48" in line for line in lines)


def test_the_reproducible_build_pseudonymises_with_the_public_key(demo_home):
    assert bytes.fromhex((demo_home / privacy.KEY_FILE).read_text()) == demo.REPRODUCIBLE_PRIVACY_KEY


def test_a_second_build_into_the_same_home_is_refused(demo_home):
    before = _hashes(demo_home)
    with pytest.raises(ValidationError, match="already holds 6 registered model"):
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
    # Every model's drift is judged: scores, amounts, offers, and a call list's features (from its rows).
    assert {light["drift"]["status"] for light in lights.values()} <= {"pass", "warn", "fail"}


def _verdict(results, *, data, grouping, metric):
    (found,) = [v for v in results["verdicts"]
                if v["data"] == data and v["grouping"] == grouping and v["metric"] == metric]
    return found


def test_the_demo_writes_its_policy_once_and_the_snapshots_judge_by_it(demo_db, demo_home):
    assert (demo_home / "ethics.toml").read_text() == demo.DEMO_SETTINGS
    policy = snapshots.latest_snapshot(demo_db, "discount-size")["policy"]
    assert policy["continuous"]["mean_difference"] == {"warn_above": 0.5, "fail_above": 1.0}
    assert "mean_difference" not in snapshots.latest_snapshot(demo_db, "lead-call-list")["policy"]["continuous"]


def test_an_existing_ethics_toml_is_kept_and_its_policy_used(tmp_path):
    own = '[policy.models."discount-size".continuous]\nmean_difference = { warn_above = 4.0, fail_above = 5.0 }\n'
    (tmp_path / "ethics.toml").write_text(own)
    demo.build_demo(tmp_path, size="small", weeks=1)
    assert (tmp_path / "ethics.toml").read_text() == own
    database = store.open_db(tmp_path / "ethics.db")
    try:
        results = snapshots.latest_snapshot(database, "discount-size")["results"]
    finally:
        database.close()
    verdict = _verdict(results, data="scores", grouping="age_band", metric="mean_difference")
    assert verdict["status"] == "pass" and verdict["threshold"] == {"warn_above": 4.0, "fail_above": 5.0}


@pytest.mark.parametrize("kind", ["eval", "scores"])
def test_customers_aged_55_plus_get_two_points_less_discount_at_equal_deal_size(demo_db, demo_home, kind):
    frame = _rows(demo_db, demo_home, "discount-size", kind=kind, week="2026-W48")
    assert set(frame["deal_size_band"]) == {"small", "medium", "large"}
    assert (frame["score"] * 2 == (frame["score"] * 2).round()).all()  # half-point steps
    by_band = frame.groupby(["deal_size_band", "age_band"])["score"].mean().unstack()
    assert by_band.loc["small", "25-34"] < by_band.loc["medium", "25-34"] < by_band.loc["large", "25-34"]
    weights = frame[frame["age_band"] == "55+"]["deal_size_band"].value_counts(normalize=True)
    within = ((by_band["25-34"] - by_band["55+"]) * weights).sum()
    means = frame.groupby("age_band")["score"].mean()
    assert 1.5 < means["25-34"] - means["55+"] < 2.5 and 1.5 < within < 2.5
    if kind == "eval":  # what the deal desk finally granted, close to the proposal
        assert (frame["label"] - frame["score"]).abs().mean() < 1.5
    results = snapshots.latest_snapshot(demo_db, "discount-size")["results"]
    verdict = _verdict(results, data=kind, grouping="age_band", metric="mean_difference")
    assert verdict["status"] == "fail" and verdict["worst_group"] == "55+"
    assert verdict["value"] == pytest.approx(means.max() - means.min(), abs=1e-9)
    assert verdict["unit"] == "percentage points of discount"
    assert verdict["sentence"].startswith("Customers with Age band 55+ get on average ")
    assert "percentage points of discount less than customers with Age band " in verdict["sentence"]
    assert verdict["sentence"].endswith("; policy: at most 1.00, warn above 0.50.")


@pytest.mark.parametrize("kind", ["eval", "scores"])
def test_women_are_offered_the_premium_bundle_less_often(demo_db, demo_home, kind):
    frame = _rows(demo_db, demo_home, "next-best-offer", kind=kind, week="2026-W48")
    offers = registry.get_version(demo_db, "next-best-offer")["manifest"]["classes"]
    assert [o["name"] for o in offers] == sorted(set(frame["offer"]), key=[o["name"] for o in offers].index)
    shares = pd.crosstab(frame["sex"].fillna("(missing)"), frame["offer"], normalize="index")
    assert shares.loc["female", "premium_bundle"] / shares.loc["male", "premium_bundle"] < 0.8
    counts = frame["sex"].fillna("(missing)").value_counts()
    judged = shares.loc[counts[counts >= 30].index]
    ratios = judged.min() / judged.max()
    results = snapshots.latest_snapshot(demo_db, "next-best-offer")["results"]
    grouping = next(g for g in results["fairness"][kind] if g["grouping"] == "sex")
    premium = grouping["disparities"]["demographic_parity_ratio"]["by_class"]["premium_bundle"]
    assert premium["worst_group"] == "female"
    assert premium["judged_value"] == pytest.approx(ratios["premium_bundle"], abs=1e-9)
    verdict = _verdict(results, data=kind, grouping="sex", metric="demographic_parity_ratio")
    assert verdict["status"] == "fail" and verdict["value"] == pytest.approx(ratios.min(), abs=1e-9)


CALL_CAPACITY = {"north": 25, "south": 20, "west": 12}  # calls a day per team, small demo


@pytest.mark.parametrize("kind", ["eval", "scores"])
def test_the_call_list_honours_each_teams_daily_capacity_and_calls_55_plus_less_often(demo_db, demo_home, kind):
    frame = _rows(demo_db, demo_home, "lead-call-list", kind=kind, week="2026-W48")
    leads = _rows(demo_db, demo_home, "lead-scoring", kind=kind, week="2026-W48").set_index("lead_id")
    assert frame["score"].tolist() == leads.loc[frame["lead_id"], "score"].tolist()  # the lead model's scores
    assert sorted(set(frame["scored_on"])) == ["2026-11-23", "2026-11-24", "2026-11-25"]  # up to today
    called = pd.Series(False, index=frame.index)
    for (team, _day), part in frame.groupby(["team", "scored_on"]):
        (k,) = set(part["capacity"])
        assert k == CALL_CAPACITY[team]
        ordered = sorted(part.index, key=lambda i: (-part.loc[i, "score"], i))
        for rank, index in enumerate(ordered, start=1):
            called[index] = rank <= k
        assert called[part.index].sum() == min(k, len(part))
    rates = called.groupby(frame["age_band"]).mean()
    assert rates["55+"] / rates.max() < 0.8
    results = snapshots.latest_snapshot(demo_db, "lead-call-list")["results"]
    grouping = next(g for g in results["fairness"][kind] if g["grouping"] == "age_band")
    assert {g["group"]: g["selection_rate"] for g in grouping["groups"]} == pytest.approx(rates.to_dict(), abs=1e-12)
    verdict = _verdict(results, data=kind, grouping="age_band", metric="demographic_parity_ratio")
    assert verdict["status"] == "fail" and verdict["worst_group"] == "55+"
    assert verdict["value"] == pytest.approx(rates["55+"] / rates.max(), abs=1e-9)
    summary = results["performance" if kind == "eval" else "scoring"]
    assert summary["selection_rate"] == pytest.approx(called.mean(), abs=1e-12)
