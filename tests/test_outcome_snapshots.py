"""Snapshots of amounts, offers and call lists: rows and imported cells give the same results, checked independently."""

import numpy as np
import pandas as pd
import pytest

from ethics import aggregates, datasets, drift, outcomes, snapshots, warehouse
from ethics.errors import ValidationError
from ethics.policy import for_model
from tests.conftest import WEEK, state_of
from tests.outcome_rows import (
    BASE,
    DOCUMENTS,
    FEATURES,
    OFFERS,
    N,
    import_rows,
    policy,
    register,
    rows,
    snapshot_from_cells,
    snapshot_from_rows,
    snapshot_of,
)

__all__ = ["policy", "snapshot_of"]  # the fixtures, imported so pytest finds them here


@pytest.mark.parametrize("outcome", list(DOCUMENTS))
def test_rows_and_imported_cells_give_identical_results(tmp_path, outcome, policy, now):
    model, from_rows = snapshot_from_rows(tmp_path, outcome, policy=policy, now=now)
    # The same rows reduced where the data lives: cells with the consent state each lead had (none here).
    manifest = model["manifest"]
    cells = pd.concat([outcomes.row_cells(datasets.validate_rows(rows(outcome, kind), manifest=manifest, kind=kind,
                                                                 file="x", scored=True).assign(consent_status="none"),
                                          manifest=manifest, kind=kind) for kind in ("eval", "scores")])
    from_cells = snapshot_from_cells(tmp_path, outcome, cells, policy=policy, now=now)
    assert from_rows["outcome"] == from_cells["outcome"] == outcome
    assert from_rows["source"] == {"eval": "rows", "scores": "rows"}
    assert from_cells["source"] == {"eval": "aggregates", "scores": "aggregates"}
    for section in ("fairness", "verdicts", "performance", "scoring", "rows", "consent_counts"):
        assert from_rows[section] == from_cells[section], section
    only_rows = ("human_routing", "source", "fairness_consented")  # customers and consented rows: rows only
    assert {k: v for k, v in from_rows["consent"].items() if k not in only_rows} == \
        {k: v for k, v in from_cells["consent"].items() if k not in only_rows}
    assert from_rows["consent"]["fairness_consented"]["rows"] == {"eval": 0, "scores": 0}  # no consent events here
    assert from_rows["verdicts"] and all(v["sentence"] for v in from_rows["verdicts"])


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("outcome", list(DOCUMENTS))
def test_cells_computed_where_the_rows_live_import_and_judge_as_the_rows_do(tmp_path, outcome, engine, policy, now):
    model, from_rows = snapshot_from_rows(tmp_path, outcome, policy=policy, now=now)
    paths = {}
    for kind in ("eval", "scores"):
        frame = rows(outcome, kind).assign(row_number=np.arange(N))
        if outcome == "ranking":  # the SQL knows no team table: k per list travels with the rows
            frame["capacity"] = frame["team"].map(DOCUMENTS["ranking"]["ranking"]["capacity"])
        paths[kind] = tmp_path / f"{kind}.parquet"
        frame.to_parquet(paths[kind], index=False)
    cells = warehouse.outcome_cells(paths, manifest=model["manifest"], engine=engine)
    from_cells = snapshot_from_cells(tmp_path, outcome, cells, policy=policy, now=now)
    for section in ("fairness", "verdicts", "performance", "scoring", "rows"):
        assert from_rows[section] == from_cells[section], section


def test_printed_cells_sql_runs_on_duckdb_and_names_its_dataset(tmp_path):
    import duckdb

    manifest = {**DOCUMENTS["multiclass"], "sensitive_attributes": BASE["sensitive_attributes"]}
    rows("multiclass", "scores").to_parquet(tmp_path / "s.parquet", index=False)
    sql = warehouse.render_outcome_sql(manifest, dataset="scores", source=f"read_parquet('{tmp_path / 's.parquet'}')")
    found = duckdb.connect().execute(sql).df()
    assert set(found["dataset"]) == {"scores"} and found["leads"].sum() == N


def _grouping(results, data, name):
    return next(g for g in results["fairness"][data] if g["grouping"] == name)


def test_continuous_snapshot_matches_pandas_and_judges_the_gap_in_its_unit(db, snapshot_of):
    snap = snapshot_of("continuous")
    results = snap["results"]
    frame = rows("continuous", "scores")
    means = frame.groupby("age_band")["score"].mean()
    grouping = _grouping(results, "scores", "age_band")
    assert {g["group"]: g["mean"] for g in grouping["groups"]} == pytest.approx(means.to_dict(), abs=1e-12)
    entry = grouping["disparities"]["mean_difference"]
    assert entry["judged_value"] == pytest.approx(means.max() - means.min(), abs=1e-12)
    assert entry["worst_group"] == "55+"
    verdict = next(v for v in results["verdicts"]
                   if v["data"] == "scores" and v["grouping"] == "age_band" and v["metric"] == "mean_difference")
    assert verdict["status"] == "fail" and verdict["unit"] == "% discount"
    assert verdict["sentence"].startswith("Customers with Age band 55+ get on average ")
    assert "% discount less than customers with Age band" in verdict["sentence"]
    assert verdict["sentence"].endswith("; policy: at most 1.00, warn above 0.50.")
    assert snap["policy"]["continuous"]["mean_difference"] == {"warn_above": 0.5, "fail_above": 1.0}
    assert "models" not in snap["policy"]
    evaluation = rows("continuous", "eval")
    assert results["performance"]["mae"] == pytest.approx(
        (evaluation["score"] - evaluation["label"]).abs().mean(), abs=1e-12)
    assert results["unit"] == "% discount" and results["control"] == "deal_band"
    assert {s["stratum"] for s in grouping["strata"]} == {"small", "large"}
    assert results["explanations"]["status"] == "unavailable"
    assert snapshots.verify_snapshot(db, snap["id"])


def test_multiclass_snapshot_matches_a_crosstab(snapshot_of):
    results = snapshot_of("multiclass")["results"]
    frame = rows("multiclass", "scores")
    shares = pd.crosstab(frame["age_band"], frame["offer"], normalize="index")
    grouping = _grouping(results, "scores", "age_band")
    for group in grouping["groups"]:
        assert group["selection_rate"] == pytest.approx(shares.loc[group["group"]].to_dict(), abs=1e-12)
    values = {o["name"]: o["value"] for o in OFFERS}
    expected = (shares * pd.Series(values)).sum(axis=1)
    assert {g["group"]: g["expected_value"] for g in grouping["groups"]} == pytest.approx(expected.to_dict(),
                                                                                           abs=1e-9)
    assert results["performance"]["accuracy"] == pytest.approx(
        (rows("multiclass", "eval")["offer"] == rows("multiclass", "eval")["label"]).mean(), abs=1e-12)
    fails = [v for v in results["verdicts"] if v["grouping"] == "age_band" and v["data"] == "scores"]
    assert fails and fails[0]["status"] == "fail" and fails[0]["sentence"].startswith("Leads with Age band 55+: ")


def test_ranking_snapshot_matches_a_plain_loop_over_each_teams_list(snapshot_of):
    results = snapshot_of("ranking")["results"]
    frame = rows("ranking", "scores")
    capacity = {"north": 40, "south": 25}
    called = pd.Series(False, index=frame.index)
    exposure = pd.Series(0.0, index=frame.index)
    for team, part in frame.groupby("team"):
        ordered = sorted(part.index, key=lambda i: (-part.loc[i, "score"], i))
        for rank, index in enumerate(ordered, start=1):
            called[index] = rank <= capacity[team]
            exposure[index] = 1 / np.log2(1 + rank)
    grouping = _grouping(results, "scores", "age_band")
    rates = called.groupby(frame["age_band"]).mean()
    exposures = exposure.groupby(frame["age_band"]).mean()
    for group in grouping["groups"]:
        assert group["selection_rate"] == pytest.approx(rates[group["group"]], abs=1e-12)
        assert group["exposure"] == pytest.approx(exposures[group["group"]], abs=1e-12)
    assert results["scoring"]["called"] == 65 and results["capacity"] == capacity


def test_policy_of_a_model_overrides_the_global_table_only_for_that_model(policy):
    assert for_model(policy, "continuous-model")["continuous"] == {
        **policy["continuous"], "mean_difference": {"warn_above": 0.5, "fail_above": 1.0}}
    assert for_model(policy, "other")["continuous"] == policy["continuous"]


@pytest.mark.parametrize(
    "outcome, change, message",
    [
        ("continuous", lambda c: c.assign(value="a lot"), "cells.csv (evaluation set): column 'value', row 1: "),
        ("multiclass", lambda c: c.assign(offer="gold"),
         "cells.csv (evaluation set): column 'offer', row 1: 'gold' is not one of the model's offers"),
        ("ranking", lambda c: c.drop(columns=["selected"]), "cells.csv (evaluation set): "),
        ("ranking", lambda c: c.assign(dataset="train"),
         "cells.csv, row 1, column 'dataset': 'train' is not eval or scores."),
    ],
)
def test_bad_imported_cells_are_refused_with_the_file_and_write_nothing(db, home, tmp_path, now, outcome, change,
                                                                       message):
    model = register(db, home, tmp_path, outcome, now)
    frame = datasets.validate_rows(rows(outcome, "eval"), manifest=model["manifest"], kind="eval", file="x",
                                   scored=True)
    path = tmp_path / "cells.csv"
    change(outcomes.row_cells(frame, manifest=model["manifest"], kind="eval")).to_csv(path, index=False)
    before = state_of(home)
    with pytest.raises(ValidationError) as caught:
        aggregates.import_aggregates(db, path, model_id=model["model_id"], version=model["version"], week=WEEK,
                                     home=home, actor="t", now=now)
    assert str(caught.value).startswith(message)
    assert state_of(home) == before


@pytest.mark.parametrize("outcome, column", [("continuous", "score"), ("multiclass", "offer")])
def test_drift_of_the_decision_against_the_first_week_equals_psi_on_the_rows(db, home, tmp_path, policy, now,
                                                                             outcome, column):
    model = register(db, home, tmp_path, outcome, now)
    weeks = {"2026-W47": rows(outcome, "scores", seed=5), "2026-W48": rows(outcome, "scores", seed=6)}
    if outcome == "continuous":
        weeks["2026-W48"]["score"] += 1.5  # a week of bigger discounts
    else:
        weeks["2026-W48"]["offer"] = weeks["2026-W48"]["offer"].replace({"trial": "bundle"})
    for week, frame in weeks.items():
        path = tmp_path / f"{week}.csv"
        frame.to_csv(path, index=False)
        datasets.import_dataset(db, path, kind="scores", model_id=model["model_id"], version=model["version"],
                                week=week, home=home, actor="t", now=now)
    found = snapshots.take_snapshot(db, model_id=model["model_id"], week="2026-W48", home=home, policy=policy,
                                    actor="t", now=now)["results"]["drift"]
    expected = drift.psi(weeks["2026-W47"][column].to_numpy(), weeks["2026-W48"][column].to_numpy())
    first = found["columns"][0]
    assert found["reference_week"] == "2026-W47"
    assert first["column"] == ("amount" if outcome == "continuous" else "offer")
    assert first["psi"] == pytest.approx(expected, abs=1e-12) and first["status"] == "fail"
    assert {c["column"] for c in found["columns"][1:]} == set(FEATURES)  # features from rows, as for binary


def test_lead_lookup_says_it_explains_yes_no_scores_only(db, home, snapshot_of):
    from ethics import leads

    snap = snapshot_of("multiclass")
    with pytest.raises(ValidationError) as caught:
        leads.find_leads(db, home=home, model_id=snap["model_id"], query="s00001", team=None)
    assert str(caught.value) == (
        "Model 'multiclass-model' decides an offer, not a yes/no score: the lead lookup explains scores cut at a "
        "threshold. Its decisions per group are on the Fairness page.")


def test_fairness_on_consented_rows_is_judged_for_amounts_too(db, home, tmp_path, policy, now):
    from ethics import consent

    granted = [f"C{i:05d}" for i in range(400)]
    consent.record_events(db, [{"event_id": f"E{i}", "customer_id": c, "purpose": "ai_scoring", "status": "granted",
                                "source": "crm", "occurred_at": "2026-01-05T09:00:00Z"}
                               for i, c in enumerate(granted)], source_name="events.csv", actor="t", now=now)
    model = register(db, home, tmp_path, "continuous", now)
    import_rows(db, home, tmp_path, model, "continuous", now)
    results = snapshots.take_snapshot(db, model_id=model["model_id"], week=WEEK, home=home, policy=policy,
                                      actor="t", now=now)["results"]
    frame = rows("continuous", "scores")
    kept = frame[frame["customer_id"].isin(granted)]
    fair = results["consent"]["fairness_consented"]
    assert fair["rows"]["scores"] == len(kept) == results["consent"]["covered"]
    verdict = next(v for v in fair["verdicts"]
                   if v["data"] == "scores" and v["grouping"] == "age_band" and v["metric"] == "mean_difference")
    means = kept.groupby("age_band")["score"].mean()
    assert verdict["value"] == pytest.approx(means.max() - means.min(), abs=1e-12)
    assert {(v["data"], v["grouping"], v["metric"]) for v in fair["verdicts"]} == \
        {(v["data"], v["grouping"], v["metric"]) for v in results["verdicts"]}
