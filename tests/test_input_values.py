"""Values read as they were typed (issue 18, point 9): null words, phone numbers, typed manifest fields, ids.

Every refusal names the file, row, column or rule exactly and leaves the data home as it was.
"""

from pathlib import Path

import pandas as pd
import pytest

from ethics import consent, datasets, dsr, privacy, registry, spreadsheet
from ethics.errors import ValidationError
from tests.conftest import EXAMPLE_MODEL, EXAMPLE_VERSION, WEEK, state_of

NULL_WORDS = ["NA", "null", "NaN", "None", "n/a"]


def _csv(examples: Path, source: str, changes: dict[tuple[int, str], str], name: str = "bad.csv") -> Path:
    """``source`` with cells changed, keyed by (row counted from 1, column)."""
    frame = pd.read_csv(examples / source, dtype=str, keep_default_na=False)
    for (row, column), value in changes.items():
        frame.loc[row - 1, column] = value
    path = examples / name
    frame.to_csv(path, index=False)
    return path


def _load(db, home, path, now, *, kind="eval", model=EXAMPLE_MODEL):
    return datasets.import_dataset(db, path, kind=kind, model_id=model, version=EXAMPLE_VERSION, week=WEEK,
                                   home=home, actor="t", now=now)


def _refused(home, action) -> str:
    """Run ``action``, which must be refused, and check that it changed nothing in the data home."""
    before = state_of(home)
    with pytest.raises(ValidationError) as caught:
        action()
    assert state_of(home) == before
    return str(caught.value)


# -- 1. only the empty cell is missing ---------------------------------------------------------


def test_null_words_in_ids_and_sensitive_values_are_kept_as_typed(db, home, examples, registered, now):
    path = _csv(examples, "eval.csv", {(1, "lead_id"): "NA", (2, "customer_id"): "null", (3, "sex"): "NA",
                                       (4, "age_band"): "None", (5, "customer_id"): "n/a"})
    dataset = _load(db, home, path, now)
    rows = datasets.read_rows(dataset, home=home)
    assert rows["lead_id"][0] == "NA"
    assert rows["sex"][2] == "NA"
    assert rows["age_band"][3] == "None"
    assert rows["customer_id"][1] == privacy.pseudonymise(db, "null")
    assert rows["customer_id"][4] == privacy.pseudonymise(db, "n/a")
    assert rows[["lead_id", "customer_id", "sex", "age_band"]].notna().all().all()


@pytest.mark.parametrize("word", NULL_WORDS)
def test_a_null_word_where_a_number_belongs_is_refused(word, db, home, examples, registered, now):
    path = _csv(examples, "eval.csv", {(3, "questions_asked"): word})
    message = _refused(home, lambda: _load(db, home, path, now))
    assert message == (f"bad.csv, row 3, column 'questions_asked': {word!r} is not a number; only an empty cell "
                       "counts as missing, and this column needs a number in every row.")


def test_an_empty_cell_is_still_missing(db, home, examples, registered, now):
    path = _csv(examples, "eval.csv", {(3, "questions_asked"): ""})
    assert _refused(home, lambda: _load(db, home, path, now)) == (
        "bad.csv, row 3, column 'questions_asked': the cell is empty, and the model does not handle missing values "
        "for 'questions_asked' (it handles them for no feature); give a value in every row.")


def test_parquet_nulls_stay_missing(db, home, examples, registered, now):
    frame = pd.read_csv(examples / "eval.csv", dtype=str, keep_default_na=False)
    frame.loc[1, "lead_id"] = None
    path = examples / "nulls.parquet"
    frame.to_parquet(path)
    assert _refused(home, lambda: _load(db, home, path, now)) == "nulls.parquet, row 2, column 'lead_id': value " \
                                                                  "is missing."


@pytest.fixture
def banded(db, home, examples, now):
    """The example model with sex and a numeric age with band edges (instead of the age band)."""
    text = (examples / "manifest.toml").read_text()
    text = text.replace('id = "webinar-follow-up"', 'id = "banded"').replace(
        'name = "age_band"\nlabel = "Age band"', 'name = "age"\nlabel = "Age"\nbands = [25, 35, 45, 55]')
    (examples / "banded.toml").write_text(text)
    registry.register_model(db, examples / "banded.toml", home=home, actor="t", now=now)
    frame = pd.read_csv(examples / "eval.csv", dtype=str, keep_default_na=False).drop(columns="age_band")
    frame["age"] = [str(20 + i % 50) for i in range(len(frame))]
    frame.to_csv(examples / "banded.csv", index=False)
    return examples / "banded.csv"


@pytest.mark.parametrize("word", ["NA", "NaN", "unknown"])
def test_a_banded_attribute_takes_numbers_or_an_empty_cell(word, banded, db, home, examples, now):
    frame = pd.read_csv(banded, dtype=str, keep_default_na=False)
    frame.loc[3, "age"] = word
    frame.to_csv(banded, index=False)
    message = _refused(home, lambda: _load(db, home, banded, now, model="banded"))
    assert message == (f"banded.csv, row 4, column 'age': {word!r} is not a number, and the manifest gives 'age' "
                       "band edges; leave the cell empty when the value is missing.")


def test_a_banded_attribute_with_an_empty_cell_is_imported(banded, db, home, examples, now):
    frame = pd.read_csv(banded, dtype=str, keep_default_na=False)
    frame.loc[3, "age"] = ""
    frame.to_csv(banded, index=False)
    rows = datasets.read_rows(_load(db, home, banded, now, model="banded"), home=home)
    assert pd.isna(rows["age"][3]) and rows["age"][4] == 24


EVENT = {"event_id": "E1", "customer_id": "C000455", "purpose": "ai_scoring", "status": "granted",
         "source": "web_form", "occurred_at": "2026-10-01T09:00:00Z"}


def _events(examples, *changes: dict[str, str], name="events.csv") -> Path:
    rows = [{**EVENT, "event_id": f"E{number}", **change} for number, change in enumerate(changes, start=1)]
    path = examples / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_consent_events_of_customer_na_and_null_are_their_own(db, examples, now):
    path = _events(examples, {"customer_id": "NA"}, {"customer_id": "null", "source": "None"})
    assert consent.import_events(db, path, actor="t", now=now) == 2
    stored = db.execute("select customer_id, source from consent_events order by event_id").fetchall()
    assert stored == [(privacy.pseudonymise(db, "NA"), "web_form"), (privacy.pseudonymise(db, "null"), "None")]


# -- 2. phone numbers are data, formulas are not ---------------------------------------------


@pytest.mark.parametrize("text, start", [
    ("+44 20 7946 0958", None), ("+1-555-0100", None), ("+1 (555) 0100", None), ("-12.5", None), ("-1042", None),
    ("=1+1", "="), ("@SUM(A1)", "@"), ("+cmd|' /C calc'!A0", "+"), ("-2+3", "-"), ("+1e5", "+"), ("-", "-"),
    ("+", "+"), ("-abc", "-"), ("\t=1", "\t"), ("\r1", "\r"), ("north", None), ("", None),
])
def test_formula_start_refuses_formulas_not_phone_numbers(text, start):
    assert spreadsheet.formula_start(text) == start


def test_phone_numbers_are_imported_and_neutralised_on_export(db, home, examples, now):
    path = examples / "customers.csv"
    pd.DataFrame([{"customer_id": "C1", "name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0958"},
                  {"customer_id": "-1042", "name": "Bo", "email": "bo@example.com", "phone": "+1-555-0100"}]
                 ).to_csv(path, index=False)
    rows = datasets.read_table(path).astype(object).to_dict(orient="records")  # as `customers import` reads it
    assert privacy.record_customers(db, rows, source_name=path.name, actor="t", now=now) == 2
    export = dsr.export_subject(db, customer_id="C1", home=home, actor="t", now=now)
    assert export["details"]["phone"] == "+44 20 7946 0958"
    assert "details,1,phone,'+44 20 7946 0958" in dsr.export_csv(export).splitlines()
    assert spreadsheet.to_csv([{"phone": "+1-555-0100"}]) == "phone\n'+1-555-0100\n"


def test_a_negative_number_like_lead_id_is_imported(db, home, examples, registered, now):
    rows = datasets.read_rows(_load(db, home, _csv(examples, "eval.csv", {(2, "lead_id"): "-1042"}), now), home=home)
    assert rows["lead_id"][1] == "-1042"


@pytest.mark.parametrize("value", ["+cmd|' /C calc'!A0", "-2+3", "=1", "@SUM(A1)"])
def test_a_formula_in_a_dataset_is_still_refused(value, db, home, examples, registered, now):
    path = _csv(examples, "eval.csv", {(6, "customer_id"): value})
    assert _refused(home, lambda: _load(db, home, path, now)) == (
        f"bad.csv, row 6, column 'customer_id': {value!r} starts with {value[0]!r} and would run as a spreadsheet "
        "formula; such cells are refused.")


def test_a_formula_in_customer_details_is_still_refused(db, home, now):
    rows = [{"customer_id": "C1", "phone": "+44 20 7946 0958"}, {"customer_id": "C2", "phone": "+1+cmd|calc"}]
    message = _refused(home, lambda: privacy.record_customers(db, rows, source_name="crm.csv", actor="t", now=now))
    assert message == "crm.csv, row 2, column 'phone': '+1+cmd|calc' starts with '+' and would run as a spreadsheet " \
                      "formula; such cells are refused."


# -- 3. manifest fields have types; ids hold no hidden or look-alike characters ----------------


MANIFEST_CASES = {
    "data categories that are numbers": (
        'data_categories = ["webinar engagement", "firmographics", "sales region"]', "data_categories = [1, 2.5]",
        ": [impact_assessment]: field 'data_categories[0]' must be non-empty text, got 1."),
    "no data categories": (
        'data_categories = ["webinar engagement", "firmographics", "sales region"]', "data_categories = []",
        ": [impact_assessment]: data_categories must name at least one entry."),
    "empty data category": (
        'data_categories = ["webinar engagement", "firmographics", "sales region"]', 'data_categories = ["a", " "]',
        ": [impact_assessment]: field 'data_categories[1]' must be non-empty text, got ' '."),
    "description that is a number": (
        'description = "Ranks webinar attendees for a call by an account executive within two days."',
        "description = 5", ": field 'description' must be text, got 5."),
    "contact that is a list": (
        'contact = "ai-governance@example.com"', 'contact = ["ai-governance@example.com"]',
        ": field 'contact' must be text, got ['ai-governance@example.com']."),
    "unit that is a number": (
        'unit = "minutes"', "unit = 60", ": features[0]: field 'unit' must be text, got 60."),
    "NaN band edge": (
        'name = "age_band"\nlabel = "Age band"', 'name = "age_band"\nlabel = "Age band"\nbands = [nan]',
        ": sensitive_attributes[1].bands must be increasing numbers, each finite (band edges such as "
        "[25, 35, 45, 55]), got [nan]."),
    "infinite band edge": (
        'name = "age_band"\nlabel = "Age band"', 'name = "age_band"\nlabel = "Age band"\nbands = [25, inf]',
        ": sensitive_attributes[1].bands must be increasing numbers, each finite (band edges such as "
        "[25, 35, 45, 55]), got [25, inf]."),
    "unknown consent purpose": (
        'consent_purpose = "ai_scoring"', 'consent_purpose = "astrology"',
        ": field 'consent_purpose' is 'astrology'; allowed: ai_scoring, marketing, profiling."),
    "model id ending in a line break": (
        'id = "webinar-follow-up"', 'id = "webinar-follow-up\\n"',
        ": id 'webinar-follow-up\\n' must be 2-63 lower-case letters, digits, '-' or '_'."),
    "model id with a Cyrillic letter": (
        'id = "webinar-follow-up"', 'id = "w\u0435binar-follow-up"',
        ": id 'w\u0435binar-follow-up' must be 2-63 lower-case letters, digits, '-' or '_'."),
    "version with NUL": (
        'version = "1.0.0"', 'version = "1.0.0\\u0000"',
        ": field 'version' holds U+0000 (a control character); text may not hold control characters or "
        "bidirectional overrides."),
    "version with a right-to-left override": (
        'version = "1.0.0"', 'version = "1.0.0\\u202e"',
        ": field 'version' holds U+202E RIGHT-TO-LEFT OVERRIDE; text may not hold control characters or "
        "bidirectional overrides."),
    "version with a space": (
        'version = "1.0.0"', 'version = "1.0 final"',
        ": version '1.0 final' must be 1-40 ASCII letters, digits, '.', '-', '_' or '+', starting with a letter "
        "or digit."),
    "team with a Cyrillic letter": (
        'team = "north"', 'team = "n\u043erth"',
        ": team 'n\u043erth' must be a team name: 1-40 lower-case letters, digits, '-' or '_', starting with a "
        "letter."),
    "feature name ending in a line break": (
        'name = "minutes_watched"', 'name = "minutes_watched\\n"',
        ": features[0].name 'minutes_watched\\n' starts or ends with white space."),
    "name with a right-to-left override": (
        'name = "Webinar follow-up priority"', 'name = "Webinar \\u202eytiroirp"',
        ": field 'name' holds U+202E RIGHT-TO-LEFT OVERRIDE; text may not hold control characters or "
        "bidirectional overrides."),
    "label with NUL": (
        'label = "Watched the webinar"', 'label = "Watched\\u0000"',
        ": features[0]: field 'label' holds U+0000 (a control character); text may not hold control characters "
        "or bidirectional overrides."),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_CASES))
def test_a_mistyped_manifest_is_refused(case, db, home, examples, now):
    old, new, rule = MANIFEST_CASES[case]
    text = (examples / "manifest.toml").read_text()
    assert text.count(old) == 1
    path = examples / "bad.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    message = _refused(home, lambda: registry.register_model(db, path, home=home, actor="t", now=now))
    assert message == f"{path}{rule}"


def test_a_manifest_with_a_multi_line_description_registers(db, home, examples, now):
    text = (examples / "manifest.toml").read_text().replace(
        'description = "Ranks', 'description = "Two lines,\\n\\tindented: ranks')
    (examples / "manifest.toml").write_text(text)
    version = registry.register_model(db, examples / "manifest.toml", home=home, actor="t", now=now)
    assert version["manifest"]["description"].startswith("Two lines,\n\tindented")


ID_CASES = {
    "NUL in a lead id": ((2, "lead_id"), "WB-\x0000001",
                         "'WB-\\x0000001' holds U+0000 (a control character); ids may not hold control or invisible "
                         "characters"),
    "right-to-left override in a lead id": (
        (3, "lead_id"), "WB-\u202e10000", "'WB-\\u202e10000' holds U+202E RIGHT-TO-LEFT OVERRIDE; ids may not hold "
                                          "control or invisible characters"),
    "zero-width space in a customer id": (
        (4, "customer_id"), "C000\u200b850", "'C000\\u200b850' holds U+200B ZERO WIDTH SPACE; ids may not hold "
                                             "control or invisible characters"),
    "Cyrillic letter in a lead id": (
        (5, "lead_id"), "WB-0000\u0430", "'WB-0000\u0430' mixes Latin and Cyrillic letters (U+0430 CYRILLIC SMALL "
                                         "LETTER A); a look-alike letter in an id is refused"),
    "full-width letter in a customer id": (
        (6, "customer_id"), "\uff23000850", "'\uff23000850' is not in Unicode NFKC form (it would read 'C000850'); "
                                            "write the id in that form"),
}


@pytest.mark.parametrize("case", sorted(ID_CASES))
def test_an_id_with_a_hidden_or_look_alike_character_is_refused(case, db, home, examples, registered, now):
    (row, column), value, problem = ID_CASES[case]
    path = _csv(examples, "eval.csv", {(row, column): value})
    assert _refused(home, lambda: _load(db, home, path, now)) == f"bad.csv, row {row}, column {column!r}: {problem}."


@pytest.mark.parametrize("team, problem", [
    ("North", "is not a team name: 1-40 lower-case letters, digits, '-' or '_', starting with a letter"),
    ("nord-\u00f6st", "is not a team name: 1-40 lower-case letters, digits, '-' or '_', starting with a letter"),
    ("n\u043erth", "mixes Latin and Cyrillic letters (U+043E CYRILLIC SMALL LETTER O); a look-alike letter in an id "
                   "is refused"),
    ("north\u200b", "holds U+200B ZERO WIDTH SPACE; ids may not hold control or invisible characters"),
])
def test_a_team_in_the_rows_must_be_a_team_name(team, problem, db, home, examples, registered, now):
    path = _csv(examples, "eval.csv", {(7, "team"): team})
    assert _refused(home, lambda: _load(db, home, path, now)) == f"bad.csv, row 7, column 'team': {team!r} {problem}."


def test_an_id_in_one_non_latin_script_is_imported(db, home, examples, registered, now):
    path = _csv(examples, "eval.csv", {(2, "customer_id"): "\u0418\u0432\u0430\u043d\u043e\u0432-42"})
    rows = datasets.read_rows(_load(db, home, path, now), home=home)
    assert rows["customer_id"][1] == privacy.pseudonymise(db, "\u0418\u0432\u0430\u043d\u043e\u0432-42")


@pytest.mark.parametrize("change, message", [
    ({"purpose": "astrology"}, "events.csv, row 2, column 'purpose': 'astrology' is not one of ai_scoring, marketing, "
                               "profiling."),
    ({"customer_id": "C000\u202e455"}, "events.csv, row 2, column 'customer_id': 'C000\\u202e455' holds U+202E "
                                       "RIGHT-TO-LEFT OVERRIDE; ids may not hold control or invisible characters."),
    ({"event_id": "E\x002"}, "events.csv, row 2, column 'event_id': 'E\\x002' holds U+0000 (a control character); "
                             "ids may not hold control or invisible characters."),
])
def test_a_bad_consent_event_is_refused(change, message, db, home, examples, now):
    path = _events(examples, {}, change)
    assert _refused(home, lambda: consent.import_events(db, path, actor="t", now=now)) == message
