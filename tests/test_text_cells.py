"""Issue 18, point 9: the id and text rules hold for every import, not only for rows.

Customer details (``customers import``) take the dataset imports' id rule and refuse formulas,
control and bidirectional characters in every column; a consent event's ``source`` is free text
with a bounded length; the imported cells of continuous, multiclass and ranking models hold their
text (teams, groups, offers) to the rule of a yes/no model's statistics, teams to the team rule.
Every refusal names file, row and column exactly and leaves the data home byte-identical.
"""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from ethics import aggregates, consent, datasets, outcomes, privacy, store
from ethics.cli import cli
from ethics.errors import ValidationError
from tests.conftest import EXAMPLE_MODEL, EXAMPLE_VERSION, WEEK, state_of
from tests.outcome_rows import register, rows

IDS_HIDDEN = "ids may not hold control or invisible characters"
TEXT_HIDDEN = "text may not hold control characters or bidirectional overrides"
FORMULA = "would run as a spreadsheet formula; such cells are refused"
TEAM = "is not a team name: 1-40 lower-case letters, digits, '-' or '_', starting with a letter"

BAD_IDS = {
    "right-to-left override": ("C\u202e1", f"'C\\u202e1' holds U+202E RIGHT-TO-LEFT OVERRIDE; {IDS_HIDDEN}."),
    "zero-width space": ("C\u200b1", f"'C\\u200b1' holds U+200B ZERO WIDTH SPACE; {IDS_HIDDEN}."),
    "escape": ("C\x1b1", f"'C\\x1b1' holds U+001B (a control character); {IDS_HIDDEN}."),
    "full-width letter": ("Ｃ1", "'Ｃ1' is not in Unicode NFKC form (it would read 'C1'); write the id in that form."),
    "Cyrillic look-alike": ("WB-0000а", "'WB-0000а' mixes Latin and Cyrillic letters (U+0430 CYRILLIC SMALL LETTER A); "
                                        "a look-alike letter in an id is refused."),
    "formula": ("@SUM(A1)", f"'@SUM(A1)' starts with '@' and {FORMULA}."),
}


@pytest.fixture
def run(home, monkeypatch):
    monkeypatch.setenv("ETHICS_HOME", str(home))
    monkeypatch.setenv("ETHICS_ACTOR", "tester")
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, [str(a) for a in args])


def _refused_by_cli(run, home, *args) -> str:
    """Run a command that must be refused (exit 2, no traceback) and leave the data home byte-identical."""
    before = state_of(home)
    result = run(*args)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert state_of(home) == before
    return result.output


def _customers(path, *rows) -> None:
    pd.DataFrame([{"customer_id": "C1", "name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0958"},
                  *rows]).to_csv(path, index=False)


# -- customer details ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", BAD_IDS, ids=list(BAD_IDS))
def test_customer_ids_follow_the_id_rule_of_dataset_imports(case, run, home, examples, db, registered, now):
    value, problem = BAD_IDS[case]
    good = examples / "ok.csv"
    _customers(good)
    assert run("customers", "import", good).exit_code == 0  # a data home with one customer already
    path = examples / "crm.csv"
    _customers(path, {"customer_id": value, "name": "Bo", "email": "bo@example.com"})
    output = _refused_by_cli(run, home, "customers", "import", path)
    assert f"crm.csv, row 2, column 'customer_id': {problem}" in output
    # The same id in a dataset is refused with the same words.
    frame = pd.read_csv(examples / "eval.csv", dtype=str, keep_default_na=False)
    frame.loc[1, "customer_id"] = value
    frame.to_csv(examples / "bad.csv", index=False)
    with pytest.raises(ValidationError) as caught:
        datasets.import_dataset(db, examples / "bad.csv", kind="eval", model_id=EXAMPLE_MODEL,
                                version=EXAMPLE_VERSION, week=WEEK, home=home, actor="t", now=now)
    assert str(caught.value) == f"bad.csv, row 2, column 'customer_id': {problem}"


TEXT_CASES = {
    "formula name": ({"name": '=HYPERLINK("http://x")'}, "name",
                     f"'=HYPERLINK(\"http://x\")' starts with '=' and {FORMULA}."),
    "formula after spaces": ({"email": "  -2+3"}, "email", f"'-2+3' starts with '-' and {FORMULA}."),
    "right-to-left override in the name": ({"name": "Bo \u202eeL"}, "name",
                                           f"'Bo \\u202eeL' holds U+202E RIGHT-TO-LEFT OVERRIDE; {TEXT_HIDDEN}."),
    "bell in the e-mail": ({"email": "bo\x07@example.com"}, "email",
                           f"'bo\\x07@example.com' holds U+0007 (a control character); {TEXT_HIDDEN}."),
    "isolate in the phone": ({"phone": "\u2066+1 555 0100"}, "phone",
                             f"'\\u2066+1 555 0100' holds U+2066 LEFT-TO-RIGHT ISOLATE; {TEXT_HIDDEN}."),
}


@pytest.mark.parametrize("case", TEXT_CASES, ids=list(TEXT_CASES))
def test_every_text_column_of_customer_details_is_checked(case, run, home, examples):
    good = examples / "ok.csv"
    _customers(good)
    assert run("customers", "import", good).exit_code == 0
    change, column, problem = TEXT_CASES[case]
    path = examples / "crm.csv"
    _customers(path, {"customer_id": "C2", "name": "Bo", "email": "bo@example.com", **change})
    output = _refused_by_cli(run, home, "customers", "import", path)
    assert f"crm.csv, row 2, column '{column}': {problem}" in output


def test_good_customer_details_are_stored_with_their_phone_numbers(db, home, now):
    rows_in = [{"customer_id": "C1", "name": "Zoë Ångström", "email": "zoe@example.com", "phone": "+44 20 7946 0958"},
               {"customer_id": "Кирилл-7", "name": "Кирилл", "phone": "-1042"}]  # one script per id is fine
    assert privacy.record_customers(db, rows_in, source_name="crm.csv", actor="t", now=now) == 2
    stored = {row["customer_ref"]: row for row in store.list_rows(db, store.CUSTOMERS)}
    assert stored["C1"]["phone"] == "+44 20 7946 0958" and stored["Кирилл-7"]["name"] == "Кирилл"


# -- consent sources -----------------------------------------------------------------------------


SOURCES = {
    "formula": ("=cmd|' /C calc'!A0", f"\"=cmd|' /C calc'!A0\" starts with '=' and {FORMULA}."),
    "right-to-left override": ("web\u202emrof",
                               f"'web\\u202emrof' holds U+202E RIGHT-TO-LEFT OVERRIDE; {TEXT_HIDDEN}."),
    "control character": ("ca\x07ll", f"'ca\\x07ll' holds U+0007 (a control character); {TEXT_HIDDEN}."),
    "too long": ("x" * 201, f"'{'x' * 201}' is 201 characters long; at most 200 are allowed."),
}


def _events(path, source: str) -> None:
    path.write_text("event_id,customer_id,purpose,status,source,occurred_at\n"
                    "E1,C1,ai_scoring,granted,web_form,2026-10-01T09:00:00Z\n"
                    f'E2,C2,ai_scoring,objected,"{source}",2026-10-02T09:00:00Z\n', encoding="utf-8")


@pytest.mark.parametrize("case", SOURCES, ids=list(SOURCES))
def test_a_consent_source_is_checked_like_other_free_text(case, run, home, examples):
    value, problem = SOURCES[case]
    good = examples / "first.csv"
    good.write_text("event_id,customer_id,purpose,status,source,occurred_at\n"
                    "E0,C0,ai_scoring,granted,web_form,2026-10-01T09:00:00Z\n")
    assert run("consent", "import", good).exit_code == 0
    path = examples / "events.csv"
    _events(path, value)
    output = _refused_by_cli(run, home, "consent", "import", path)
    assert f"events.csv, row 2, column 'source': {problem}" in output


def test_a_phone_number_or_a_long_enough_source_is_imported(db, home, examples, now):
    path = examples / "events.csv"
    _events(path, "+44 20 7946 0958")
    assert consent.import_events(db, path, actor="t", now=now) == 2
    path = examples / "more.csv"
    path.write_text("event_id,customer_id,purpose,status,source,occurred_at\n"
                    f"E3,C3,ai_scoring,granted,{'y' * 200},2026-10-01T09:00:00Z\n")
    assert consent.import_events(db, path, actor="t", now=now) == 1
    assert sorted(r["source"] for r in store.list_rows(db, store.CONSENT_EVENTS)) == [
        "+44 20 7946 0958", "web_form", "y" * 200]


# -- imported cells of continuous, multiclass and ranking models ---------------------------------------


CELLS = {
    "formula team": ("ranking", 3, "team", "@SUM(A1)", f"'@SUM(A1)' starts with '@' and {FORMULA}."),
    "team against the rule": ("continuous", 3, "team", "North Team", f"'North Team' {TEAM}."),
    "bidi group": ("multiclass", 2, "sex", "fe\u202emale",
                   f"'fe\\u202emale' holds U+202E RIGHT-TO-LEFT OVERRIDE; {TEXT_HIDDEN}."),
    "formula offer": ("multiclass", 4, "offer", "=1+1", f"'=1+1' starts with '=' and {FORMULA}."),
    "control character in a group": ("continuous", 5, "age_band", "18\x0024",
                                     f"'18\\x0024' holds U+0000 (a control character); {TEXT_HIDDEN}."),
}


@pytest.mark.parametrize("case", CELLS, ids=list(CELLS))
def test_text_cells_of_non_binary_models_follow_the_rules_of_yes_no_statistics(case, db, home, tmp_path, now):
    outcome, row, column, value, problem = CELLS[case]
    model = register(db, home, tmp_path, outcome, now)
    frame = datasets.validate_rows(rows(outcome, "eval"), manifest=model["manifest"], kind="eval", file="x",
                                   scored=True)
    cells = outcomes.row_cells(frame, manifest=model["manifest"], kind="eval").astype({column: object})
    cells.loc[row - 1, column] = value
    path = tmp_path / "cells.parquet"
    cells.to_parquet(path, index=False)
    before = state_of(home)
    with pytest.raises(ValidationError) as caught:
        aggregates.import_aggregates(db, path, model_id=model["model_id"], version=model["version"], week=WEEK,
                                     home=home, actor="t", now=now)
    assert str(caught.value) == f"cells.parquet, row {row}, column '{column}': {problem}"
    assert state_of(home) == before


def test_good_cells_of_each_non_binary_model_are_imported(db, home, tmp_path, now):
    for outcome in ("continuous", "multiclass", "ranking"):
        model = register(db, home, tmp_path, outcome, now)
        frame = datasets.validate_rows(rows(outcome, "eval"), manifest=model["manifest"], kind="eval", file="x",
                                       scored=True)
        path = tmp_path / f"{outcome}.parquet"
        outcomes.row_cells(frame, manifest=model["manifest"], kind="eval").to_parquet(path, index=False)
        row = aggregates.import_aggregates(db, path, model_id=model["model_id"], version=model["version"],
                                           week=WEEK, home=home, actor="t", now=now)
        assert row["rows"] == 1200
