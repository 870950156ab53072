"""The Model and Fairness pages of amounts, offers and call lists, in AppTest, checked against the stored rows."""

import pandas as pd
import pytest

from ethics import datasets, lights, outcomes, report_rows, snapshots, store, ui
from tests import outcome_home
from tests.apptest import app_on, open_app, open_page, shown
from tests.conftest import WEEK

MODELS = outcome_home.MODELS


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The three models' home, built once for the module (the tests only read it)."""
    home = tmp_path_factory.mktemp("outcomes") / "home"
    return home, outcome_home.build(home)


@pytest.fixture
def served(built, monkeypatch):
    home, latest = built
    with app_on(home, monkeypatch):
        yield home, latest


def _ok(at):
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _page(page, outcome):
    return _ok(open_page(open_app("olivia"), page, model=MODELS[outcome]))


def _frame(at, column):
    """The one table on the page with this column."""
    found = [f.value for f in at.dataframe if column in f.value.columns]
    assert len(found) == 1, [list(f.value.columns) for f in at.dataframe]
    return found[0]


def _stored_rows(home, snap, kind):
    db = store.open_db(home / "ethics.db")
    try:
        return datasets.read_rows(db[store.DATASETS].get(snap["inputs"][kind]["dataset_id"]), home=home)
    finally:
        db.close()


def _choose(at, label, value):
    next(s for s in at.selectbox if s.label == label).set_value(value).run()
    return _ok(at)


@pytest.mark.parametrize("outcome", outcome_home.OUTCOMES)
def test_model_page_shows_the_headline_figures_of_each_type(served, outcome):
    _, latest = served
    results = latest[outcome]["results"]
    at = _page("pages/model.py", outcome)
    expected = [(f["label"], f["value"]) for kind in ("eval", "scores") for f in outcomes.headline(results, kind)]
    figures = [(shown(m.label), m.value) for m in at.metric][:len(expected)]  # the Performance tab's, not Consent's
    assert figures == expected and figures
    weeks = _frame(at, "Figure")
    assert list(weeks.columns) == ["Figure", *outcome_home.WEEKS]
    assert weeks.set_index("Figure")[WEEK].drop("Version").to_dict() == dict(
        (f["label"], f["value"]) for f in outcomes.headline(results, "eval"))
    assert not at.get("plotly_chart")  # the binary performance chart is not drawn for these
    drift = next(m.value for m in at.markdown if "**drift**" in m.value).replace("\\", "")  # Markdown escapes
    assert lights.summarize(results)["lights"]["drift"]["reason"] in drift
    assert "since 2026-W" in drift  # drift of the amount or offer (and features) against the first week


def test_model_page_continuous_mae_is_the_stored_rows_mae(served):
    home, latest = served
    rows = _stored_rows(home, latest["continuous"], "eval")
    at = _page("pages/model.py", "continuous")
    metrics = {shown(m.label): m.value for m in at.metric}
    assert metrics["Mean absolute error (% discount)"] == f"{(rows['score'] - rows['label']).abs().mean():.2f}"
    assert metrics["Rows with a realised value"] == f"{len(rows):,}"


@pytest.mark.parametrize("outcome", outcome_home.OUTCOMES)
def test_fairness_page_shows_every_verdict_in_its_presentation(served, outcome):
    _, latest = served
    results = latest[outcome]["results"]
    at = _page("pages/fairness.py", outcome)
    table = _frame(at, "Finding")
    assert sorted(table["Finding"]) == sorted(v["sentence"] for v in results["verdicts"])
    unit = outcomes.results_unit(results)
    expected = {v["sentence"]: outcomes.disparity_view(outcome, v["metric"], unit=unit).shown.text(v["value"])
                for v in results["verdicts"]}
    assert dict(zip(table["Finding"], table["Value"], strict=True)) == expected
    captions = "\n".join(c.value for c in at.caption)
    assert f"not for this {outcome} model" in captions  # sampling bias
    assert f"this {outcome} model has no threshold" in captions  # what-if
    assert f"against the reference week {results['drift']['reference_week']}" in captions
    assert not [b for b in at.button if b.label == "Run the what-if"]


def test_fairness_page_continuous_verdict_reads_the_unit(served):
    _, latest = served
    at = _page("pages/fairness.py", "continuous")
    found = next(v for v in latest["continuous"]["results"]["verdicts"]
                 if v["metric"] == "mean_difference" and v["status"] == "fail")
    assert "% discount less than" in found["sentence"]
    assert any(ui.escape(found["sentence"]) in m.value for m in at.markdown)  # the finding, with its incident button
    assert found["sentence"] in _frame(at, "Finding")["Finding"].tolist()


def test_fairness_page_continuous_groups_and_strata_match_pandas(served):
    home, latest = served
    rows = _stored_rows(home, latest["continuous"], "eval")
    at = _page("pages/fairness.py", "continuous")
    groups = _frame(at, "Mean")
    means = rows.groupby("sex")["score"].mean()
    assert groups.set_index("Group")["Mean"].to_dict() == {sex: f"{mean:.2f}" for sex, mean in means.items()}
    assert groups["Rows"].tolist() == rows["sex"].value_counts().sort_index().tolist()
    at = _choose(at, "Disparity within each stratum", "mean_difference")
    strata = _frame(at, "deal_band").set_index("deal_band")
    for band, part in rows.groupby("deal_band"):
        means = part.groupby("sex")["score"].mean()
        assert strata.loc[band, "Value"] == f"{means.max() - means.min():.2f}"
        assert strata.loc[band, "Worst group, against"] == f"{means.idxmin()} against {means.idxmax()}"
    pooled = rows.groupby("sex")["score"].mean()
    assert strata.loc["all, pooled", "Value"] == f"{pooled.max() - pooled.min():.2f}"


def test_fairness_page_multiclass_offer_table_is_the_rows_crosstab(served):
    home, latest = served
    results = latest["multiclass"]["results"]
    rows = _stored_rows(home, latest["multiclass"], "eval")
    at = _page("pages/fairness.py", "multiclass")
    labels = {offer["name"]: offer["label"] for offer in results["offers"]}
    shown = _frame(at, "Free trial").set_index("Group")
    crosstab = pd.crosstab(rows["sex"], rows["offer"]).rename(columns=labels)
    assert shown[list(labels.values())].to_dict() == crosstab[list(labels.values())].to_dict()
    assert shown["n"].to_dict() == rows["sex"].value_counts().to_dict()
    sex = next(g for g in results["fairness"]["eval"] if g["grouping"] == "sex")
    assert ui.escape(report_rows.independence_text(sex)) in [c.value for c in at.caption]  # the PDF's and card's line
    at = _choose(at, "Metric", "selection_rate:bundle")
    rates = _frame(at, "Offer rate: Bundle").set_index("Group")["Offer rate: Bundle"]
    assert rates.to_dict() == {sex: f"{share:.1%}" for sex, share in (rows["offer"] == "bundle").groupby(
        rows["sex"]).mean().items()}
    assert not [c for c in _frame(at, "Offer rate: Bundle").columns if ":" in c and c != "Offer rate: Bundle"]


def test_fairness_page_multiclass_trend_reads_the_outcome_policy(served):
    home, latest = served
    at = _page("pages/fairness.py", "multiclass")
    trend = _frame(at, "Week")
    db = store.open_db(home / "ethics.db")
    try:
        stored = snapshots.disparity_trend(db, MODELS["multiclass"], data="eval", grouping="sex",
                                           metric="demographic_parity_ratio")
    finally:
        db.close()
    assert trend["Week"].tolist() == list(outcome_home.WEEKS) == [row["week"] for row in stored]
    assert trend["Offer-rate ratio"].tolist() == [f"{row['value']:.2f}" for row in stored]


def test_fairness_page_ranking_shows_capacity_per_team(served):
    at = _page("pages/fairness.py", "ranking")
    capacity = _frame(at, "Capacity (leads called)")
    expected = outcome_home.DOCUMENTS["ranking"]["ranking"]["capacity"]
    assert dict(zip(capacity["Call list (team)"], capacity["Capacity (leads called)"], strict=True)) == expected


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/review.py"])
def test_portfolio_pages_show_the_three_types(served, page):
    at = _ok(open_page(open_app("olivia"), page))
    text = "\n".join(f.value.to_csv() for f in at.dataframe)
    for name, _ in outcome_home.NAMES.values():
        assert name in text


@pytest.mark.parametrize("outcome, decides", [
    ("continuous", "an amount in % discount per customer (higher is favourable to the customer)"),
    ("multiclass", "one of 4 offers per lead"),
    ("ranking", "a call list per team, worked from the highest score down to its capacity"),
])
def test_registry_page_says_what_each_model_decides_instead_of_a_threshold(served, outcome, decides):
    at = _page("pages/registry.py", outcome)
    text = "\n".join(m.value for m in at.markdown).replace("\\", "")
    assert f"**Decides** {decides}" in text and "None" not in text
