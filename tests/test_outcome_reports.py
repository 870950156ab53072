"""Reports of amounts, offers and call lists: the PDF, the model card, the CSV exports and the CLI print the
snapshot's figures in each outcome type's own terms, read back from the real outputs."""

import csv
import io
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from scipy.stats import chi2_contingency

from ethics import auth, chart_images, datasets, model_card, outcomes, registry, reports, snapshots
from ethics.cli import cli
from ethics.manifest import manifest_toml
from ethics.model_card import escape_markdown
from ethics.spreadsheet import FORMULA_PREFIXES, safe_cell
from tests.conftest import WEEK
from tests.outcome_rows import DOCUMENTS, OFFERS, document, policy, rows, snapshot_of

__all__ = ["policy", "snapshot_of"]  # the fixtures, shared with the snapshot tests

OFFICER = auth.Actor("olivia", "Olivia Ørsted", "ethics_officer")
HOSTILE_OFFER = '=HYPERLINK("http://evil.example","x") <b>**Gift**</b>'
HOSTILE_GROUP = '<i>Zoë</i> **x** [y](z)'  # a formula prefix is refused at import already


@pytest.fixture(scope="module", autouse=True)
def one_browser():
    """One Chromium for the module's PDFs."""
    with chart_images.renderer():
        yield


def _flat(text):
    """Text without whitespace: table cells and sentences wrap over lines in the PDF."""
    return re.sub(r"\s+", "", text)


FOOTER = re.compile(r"^Transparency report · .*·\s+page \d+ of \d+$", re.MULTILINE)


def _pdf_text(pdf, tmp_path):
    """The PDF's text as pypdf reads it, without the page footers (a finding may run on to the next page).

    ``tmp_path`` keeps a copy of the PDF to look at when a test fails.
    """
    (tmp_path / "report.pdf").write_bytes(pdf)
    return FOOTER.sub("", "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def _csv(facts, table):
    return list(csv.DictReader(io.StringIO(model_card.table_csv(facts, table))))


def _md(text):
    """A cell as the card prints it (escaped Markdown)."""
    return escape_markdown(text)


OUTCOMES = list(DOCUMENTS)


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_pdf_prints_the_verdicts_and_the_headline_figures_of_each_outcome_type(db, snapshot_of, tmp_path, outcome,
                                                                                now):
    snap = snapshot_of(outcome)
    results = snap["results"]
    text = _pdf_text(reports.model_report_pdf(db, model_id=f"{outcome}-model", actor=OFFICER, now=now), tmp_path)
    flat = _flat(text)
    for kind in ("eval", "scores"):
        figures = outcomes.headline(results, kind)
        assert figures
        for figure in figures:
            assert _flat(f"{figure['label']} {figure['value']}") in flat, figure
    printed = [v for v in results["verdicts"] if v["status"] in ("fail", "warn")]
    assert printed
    for verdict in printed:
        assert _flat(verdict["sentence"]) in flat, verdict["sentence"]
    unit = outcomes.results_unit(results)
    for verdict in results["verdicts"]:  # the verdict table: groups, metric, value and its unit
        view = outcomes.disparity_view(outcome, verdict["metric"], unit=unit)
        assert _flat(f"{verdict['grouping']} {verdict['label']} {view.shown.text(verdict['value'])}") in flat
    assert "computed for binary models only" in text
    assert "Accuracy" not in text and "AUC 0" not in text


def test_pdf_of_an_amount_shows_its_unit_and_the_gap_within_each_control_value(db, snapshot_of, tmp_path, now):
    results = snapshot_of("continuous")["results"]
    text = _pdf_text(reports.model_report_pdf(db, model_id="continuous-model", actor=OFFICER, now=now), tmp_path)
    flat = _flat(text)
    verdict = next(v for v in results["verdicts"] if (v["data"], v["grouping"], v["metric"])
                   == ("scores", "age_band", "mean_difference"))
    assert verdict["status"] == "fail"
    assert _flat(f"age_band Difference of means {verdict['value']:.2f} % discount") in flat
    assert "Within each deal_band: age_band" in text
    # Within each deal band, the gap between the age bands of the evaluation set, computed here from the rows.
    frame = rows("continuous", "eval")
    for band, part in frame.groupby("deal_band"):
        means = part.groupby("age_band")["score"].mean()
        assert _flat(f"{band} Difference of means {means.max() - means.min():.2f} % discount") in flat, band
    assert "Mean (% discount) per group" in text


def test_pdf_of_offers_has_one_column_per_offer_and_the_offer_frequencies(db, snapshot_of, tmp_path, now):
    snapshot_of("multiclass")
    text = _pdf_text(reports.model_report_pdf(db, model_id="multiclass-model", actor=OFFICER, now=now), tmp_path)
    flat = _flat(text)
    assert "Offer rate per offer" in text and "Recall of the offer per offer" in text
    for offer in OFFERS:
        assert _flat(f"Offer rate: {offer['label']}") in flat
    frame = rows("multiclass", "eval")
    counts = pd.crosstab(frame["age_band"], frame["offer"])[[o["name"] for o in OFFERS]]
    for group, row in counts.iterrows():
        assert _flat(f"{group} {row.sum()} yes " + " ".join(str(n) for n in row)) in flat, group
    chi2, p, dof, _ = chi2_contingency(counts.to_numpy())
    assert p < 1e-12  # stored rounded to 12 decimals: printed as a bound, not as 0
    assert _flat(f"over 5 groups: chi-square statistic (offer against group) {chi2:.1f}; p-value of "
                 f"independence < 1e-12; degrees of freedom {dof}") in flat
    assert _flat("Bundle (120 EUR), Upgrade (80 EUR), Free trial (20 EUR), No offer (0 EUR)") in flat


def test_pdf_of_call_lists_names_the_capacity_of_each_teams_list(db, snapshot_of, tmp_path, now):
    snapshot_of("ranking")
    text = _pdf_text(reports.model_report_pdf(db, model_id="ranking-model", actor=OFFICER, now=now), tmp_path)
    assert "Capacity per list" in text and "north 40, south 25 leads called per list" in text
    north = auth.Actor("nina", "Nina", "sales_manager", team="north")
    facts = reports.model_facts(db, model_id="ranking-model", actor=north, now=now)
    assert facts["capacity"] == {"north": 40}


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_card_and_csv_print_the_same_figures_as_the_pdf(db, snapshot_of, outcome, now):
    results = snapshot_of(outcome)["results"]
    facts = reports.model_facts(db, model_id=f"{outcome}-model", actor=OFFICER, now=now)
    markdown = model_card.card_markdown(facts)
    performance = _csv(facts, "performance")
    expected = [{"Data": data, "Figure": f["label"], "Value": safe_cell(f["value"])}
                for kind, data in (("eval", "Evaluation set"), ("scores", "Scoring batch"))
                for f in outcomes.headline(results, kind)]
    assert performance == expected
    for kind, data in (("eval", "Evaluation set"), ("scores", "Scoring batch")):
        for figure in outcomes.headline(results, kind):
            assert f"| {data} | {_md(figure['label'])} | {_md(figure['value'])} |" in markdown
    unit = outcomes.results_unit(results)
    verdicts = _csv(facts, "verdicts")
    assert len(verdicts) == len(results["verdicts"])
    for row, verdict in zip(verdicts, sorted(results["verdicts"], key=lambda v: ("fail", "warn", "too_few",
                                                                              "pass").index(v["status"])),
                            strict=True):
        view = outcomes.disparity_view(outcome, verdict["metric"], unit=unit)
        assert (row["Groups"], row["Metric"], row["Value"]) == (verdict["grouping"], verdict["label"],
                                                                safe_cell(view.shown.text(verdict["value"])))
        assert f"| {_md(view.shown.text(verdict['value']))} | {_md(row['Unit'])} |" in markdown
    assert "AUC" not in markdown


def test_csv_of_an_amount_states_the_unit_and_the_strata(db, snapshot_of, now):
    snapshot_of("continuous")
    facts = reports.model_facts(db, model_id="continuous-model", actor=OFFICER, now=now)
    verdict = next(row for row in _csv(facts, "verdicts") if row["Metric"] == "Difference of means"
                   and row["Groups"] == "age_band" and row["Data"] == "scoring batch")
    frame = rows("continuous", "scores")
    means = frame.groupby("age_band")["score"].mean()
    assert (verdict["Value"], verdict["Unit"], verdict["Status"]) == (f"{means.max() - means.min():.2f}",
                                                                      "% discount", "fail")
    evaluation = rows("continuous", "eval")
    strata = _csv(facts, "strata")
    by_cell = evaluation.groupby(["deal_band", "age_band"])["score"].agg(["mean", "size"])
    found = {(r["Stratum"], r["Group"]): r for r in strata if r["Grouping"] == "age_band"}
    assert set(found) == set(by_cell.index)
    for (band, age), cell in by_cell.iterrows():
        row = found[band, age]
        assert row["Control"] == "deal_band" and int(row["n"]) == cell["size"]
        assert row["Mean (% discount)"].startswith(f"{cell['mean']:.2f} (")


def test_csv_of_offers_has_a_column_per_offer_and_the_chi_square_test(db, snapshot_of, now):
    results = snapshot_of("multiclass")["results"]
    facts = reports.model_facts(db, model_id="multiclass-model", actor=OFFICER, now=now)
    groups = [r for r in _csv(facts, "groups") if r["Grouping"] == "age_band"]
    assert [r["Data"] for r in groups] == ["eval"] * 5
    grouping = next(g for g in results["fairness"]["eval"] if g["grouping"] == "age_band")
    for row, group in zip(groups, grouping["groups"], strict=True):
        for offer in OFFERS:
            rate, (low, high) = group["selection_rate"][offer["name"]], group["selection_rate_interval"][offer["name"]]
            assert row[f"Offer rate: {offer['label']}"] == f"{rate:.1%} ({low:.1%}–{high:.1%})"
        assert row["Expected offer value (EUR)"].startswith(f"{group['expected_value']:,.2f} (")
    frame = rows("multiclass", "eval")
    counts = pd.crosstab(frame["age_band"], frame["offer"])
    offered = [r for r in _csv(facts, "offers") if r["Grouping"] == "age_band"]
    for row in offered:
        assert [int(row[o["label"]]) for o in OFFERS] == [counts.loc[row["Group"], o["name"]] for o in OFFERS]
        assert row["p-value of independence"] == "< 1e-12"
        assert row["Chi-square statistic (offer against group)"] == f"{chi2_contingency(counts.to_numpy())[0]:.1f}"


def _cli(home, monkeypatch, *args):
    monkeypatch.setenv("ETHICS_HOME", str(home))
    monkeypatch.setenv("ETHICS_ACTOR", "tester")
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_cli_fairness_prints_each_sentence_and_the_groups_in_their_unit(home, snapshot_of, monkeypatch, outcome):
    results = snapshot_of(outcome)["results"]
    result = _cli(home, monkeypatch, "fairness", "--model", f"{outcome}-model")
    assert result.exit_code == 1  # the generated rows fail for the oldest customers, in every type
    unit = outcomes.results_unit(results)
    for verdict in results["verdicts"]:
        assert verdict["sentence"] in result.output
        view = outcomes.disparity_view(outcome, verdict["metric"], unit=unit)
        assert f"{view.label}: {view.shown.text(verdict['value'])}" in result.output
    group = next(g for g in results["fairness"]["eval"] if g["grouping"] == "age_band")["groups"][-1]
    line = next(line for line in result.output.splitlines() if line.startswith(f"  {group['group']} "))
    if outcome == "continuous":
        assert f"mean (% discount) {group['mean']:.2f}" in line
    elif outcome == "multiclass":
        assert f"offer rate: Bundle {group['selection_rate']['bundle']:.1%}" in line
        assert "Chi-square test of offer against group over 5 groups" in result.output
    else:
        assert f"called at capacity {group['selection_rate']:.1%}" in line
        assert f"exposure {group['exposure']:.3f}" in line


def test_cli_continuous_fails_only_on_the_per_model_threshold(home, db, snapshot_of, monkeypatch):
    results = snapshot_of("continuous")["results"]
    failing = [v for v in results["verdicts"] if v["status"] == "fail"]
    assert {v["metric"] for v in failing} >= {"mean_difference"}
    result = _cli(home, monkeypatch, "fairness", "--model", "continuous-model")
    assert result.exit_code == 1
    mean_gap = next(v for v in failing if v["metric"] == "mean_difference")
    assert f"FAIL     {mean_gap['data']:<7} {mean_gap['grouping']:<24} mean_difference" in result.output
    assert f"Difference of means: {mean_gap['value']:.2f} (% discount)" in result.output
    assert "within deal_band small: difference of means" in result.output


def test_cli_snapshot_prints_the_headline_figures(home, db, tmp_path, snapshot_of, monkeypatch):
    results = snapshot_of("ranking")["results"]
    result = _cli(home, monkeypatch, "snapshot", "--model", "ranking-model", "--week", WEEK)
    assert result.exit_code == 0, result.output
    for kind, name in (("eval", "evaluation set"), ("scores", "scoring batch")):
        figures = ", ".join(f"{f['label']} {f['value']}" for f in outcomes.headline(results, kind))
        assert f"  {name}: {figures}" in result.output


def test_untrusted_offer_and_group_labels_stay_literal_in_pdf_and_neutral_in_csv(db, home, tmp_path, policy, now):
    offers = [dict(OFFERS[0], label=HOSTILE_OFFER), *OFFERS[1:]]
    path = tmp_path / "hostile.toml"
    path.write_text(manifest_toml(document("multiclass", classes=offers, value_unit="EUR")))
    model = registry.register_model(db, path, home=home, actor="t", now=now)
    for kind in ("eval", "scores"):
        frame = rows("multiclass", kind)
        frame["sex"] = np.where(frame["sex"] == "female", HOSTILE_GROUP, frame["sex"])
        frame.to_csv(tmp_path / f"{kind}.csv", index=False)
        datasets.import_dataset(db, tmp_path / f"{kind}.csv", kind=kind, model_id=model["model_id"],
                                version=model["version"], week=WEEK, home=home, actor="t", now=now)
    snapshots.take_snapshot(db, model_id=model["model_id"], week=WEEK, home=home, policy=policy,
                            actor="t", now=now)
    facts = reports.model_facts(db, model_id=model["model_id"], actor=OFFICER, now=now)
    flat = _flat(_pdf_text(reports.model_report_pdf(db, model_id=model["model_id"], actor=OFFICER, now=now),
                           tmp_path))
    assert _flat(f"Offer rate: {HOSTILE_OFFER}") in flat and _flat(f"{HOSTILE_GROUP} ") in flat
    for table in model_card.TABLES:
        text = model_card.table_csv(facts, table)
        for row in csv.reader(io.StringIO(text)):
            assert not [cell for cell in row if cell.startswith(FORMULA_PREFIXES)], (table, row)
    header = next(csv.reader(io.StringIO(model_card.table_csv(facts, "offers"))))
    assert "'" + HOSTILE_OFFER in header
    groups = _csv(facts, "groups")
    assert HOSTILE_GROUP in {row["Group"] for row in groups}
    markdown = model_card.card_markdown(facts)
    assert "<b>" not in markdown and escape_markdown(HOSTILE_OFFER) in markdown


@pytest.mark.parametrize("outcome, extra", [("binary", set()), ("continuous", {"strata"}),
                                            ("multiclass", {"offers"}), ("ranking", set())])
def test_the_reports_page_offers_only_the_tables_a_type_has(outcome, extra):
    assert set(model_card.tables_for(outcome)) == set(model_card.TABLES) - {"strata", "offers"} | extra
