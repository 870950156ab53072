"""Outcome types in the manifest and on import: each refusal names the file, row, column or field and writes nothing."""

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from ethics import datasets, registry
from ethics.errors import ValidationError
from ethics.manifest import manifest_toml, read_manifest, validate_manifest
from tests.conftest import EXAMPLES, WEEK, state_of

BASE = tomllib.loads((EXAMPLES / "manifest.toml").read_text())
SCORES_ONLY = {"artifact": {"kind": "none"}}


def document(outcome: str | None, **fields) -> dict:
    """The example manifest as another outcome type (scores only, no threshold unless given)."""
    doc = {key: value for key, value in BASE.items() if key not in ("threshold", "artifact")}
    doc["id"] = f"{outcome or 'binary'}-model"
    if outcome is not None:
        doc["outcome"] = outcome
    doc.update(SCORES_ONLY, **fields)
    return doc


CONTINUOUS = document("continuous", unit="% discount")
MULTICLASS = document("multiclass", classes=[{"name": n, "label": n.title()} for n in ("basic", "plus", "premium")])
RANKING = document("ranking", ranking={"capacity": 3})


def write(tmp_path: Path, doc: dict, name: str = "m.toml") -> Path:
    path = tmp_path / name
    path.write_text(manifest_toml(doc))
    return path


def test_existing_manifest_reads_as_binary_and_stores_as_before(db, home, now):
    manifest = read_manifest(EXAMPLES / "manifest.toml")
    assert manifest["outcome"] == "binary" and manifest["threshold"] == 0.5
    assert not {"unit", "classes", "ranking"} & set(manifest)
    row = registry.register_model(db, EXAMPLES / "manifest.toml", home=home, actor="t", now=now)
    assert '"outcome"' not in row["manifest_json"]  # hashes as before outcomes existed
    assert row["manifest"] == manifest


@pytest.mark.parametrize(
    "doc, expected",
    [
        (CONTINUOUS, {"unit": "% discount", "favourable": "higher", "resolution": None, "control": None,
                      "threshold": None}),
        (document("continuous", unit="EUR", favourable="lower", resolution=5, control="deal_band"),
         {"unit": "EUR", "favourable": "lower", "resolution": 5.0, "control": "deal_band"}),
        (MULTICLASS, {"value_unit": None, "threshold": None,
                      "classes": [{"name": "basic", "label": "Basic"}, {"name": "plus", "label": "Plus"},
                                  {"name": "premium", "label": "Premium"}]}),
        (document("multiclass", value_unit="EUR", classes=[{"name": "a", "label": "A", "value": 10},
                                                          {"name": "b", "label": "B", "value": 20.5}]),
         {"value_unit": "EUR", "classes": [{"name": "a", "label": "A", "value": 10.0},
                                           {"name": "b", "label": "B", "value": 20.5}]}),
        (RANKING, {"ranking": {"capacity": 3, "lists": ["team"]}, "threshold": None}),
        (document("ranking", threshold=0.4), {"ranking": {"capacity": None, "lists": ["team"]}, "threshold": 0.4}),
        (document("ranking", ranking={"capacity": {"north": 2, "south": 4}}),
         {"ranking": {"capacity": {"north": 2, "south": 4}, "lists": ["team"]}}),
        (document("ranking", ranking={"capacity": 5, "lists": ["team", "scored_on"]}),
         {"ranking": {"capacity": 5, "lists": ["team", "scored_on"]}}),
    ],
)
def test_manifest_per_outcome_reads_with_defaults_and_round_trips(tmp_path, doc, expected):
    manifest = read_manifest(write(tmp_path, doc))
    assert manifest["outcome"] == doc["outcome"]
    assert {key: manifest[key] for key in expected} == expected
    assert read_manifest(write(tmp_path, manifest, name="again.toml")) == manifest


F = "m.toml"


@pytest.mark.parametrize(
    "doc, message",
    [
        (document("scoring"), f"{F}: field 'outcome' is 'scoring'; allowed: binary, continuous, multiclass, ranking."),
        (document(None, threshold=0.5, unit="EUR"),
         f"{F}: field 'unit' belongs to outcome 'continuous'; this model's outcome is 'binary'."),
        (document("ranking", classes=[]),
         f"{F}: field 'classes' belongs to outcome 'multiclass'; this model's outcome is 'ranking'."),
        (document(None), f"{F}: required field 'threshold' is missing."),
        (document("continuous"), f"{F}: required field 'unit' is missing."),
        (document("continuous", unit=3), f"{F}: field 'unit' must be text, got 3."),
        (document("continuous", unit="EUR", threshold=0.5),
         f"{F}: field 'threshold' is not used by outcome 'continuous': its decision is not a score cut at a "
         "threshold; remove it."),
        (document("continuous", unit="EUR", favourable="more"),
         f"{F}: field 'favourable' is 'more'; allowed: higher, lower."),
        (document("continuous", unit="EUR", resolution=0),
         f"{F}: resolution 0 must be a positive number (amounts are rounded to its multiples)."),
        (document("continuous", unit="EUR", control="sex"),
         f"{F}: control 'sex' must be lower-case letters, digits and '_' and not a feature, a sensitive attribute "
         "or one of lead_id, customer_id, team, label, score."),
        (document("continuous", unit="EUR", **{"artifact": {"kind": "linear", "file": "model.json"}}),
         f"{F}: outcome 'continuous' takes artifact kind 'none' (scores only) in this version, got 'linear': "
         "import the model's outputs with the data."),
        (document("multiclass"), f"{F}: required field 'classes' is missing."),
        (document("multiclass", classes=[{"name": "a", "label": "A"}]),
         f"{F}: classes must list at least two offers."),
        (document("multiclass", classes=[{"name": "Gold", "label": "A"}, {"name": "b", "label": "B"}]),
         f"{F}: classes[0].name 'Gold' must be lower-case letters, digits and '_'."),
        (document("multiclass", classes=[{"name": "a", "label": "A"}, {"name": "a", "label": "B"}]),
         f"{F}: classes names must be unique; repeated: a."),
        (document("multiclass", classes=[{"name": "a", "label": "A", "value": 1}, {"name": "b", "label": "B"}]),
         f"{F}: classes b have no value but a do: give every offer a value, or none."),
        (document("multiclass", classes=[{"name": "a", "label": "A", "value": "x"}, {"name": "b", "label": "B"}]),
         f"{F}: field 'classes[0].value' must be a number, got 'x'."),
        (document("multiclass", value_unit="EUR", classes=[{"name": "a", "label": "A"}, {"name": "b", "label": "B"}]),
         f"{F}: value_unit is given but no class has a value."),
        (document("multiclass", threshold=0.5, classes=[{"name": "a", "label": "A"}, {"name": "b", "label": "B"}]),
         f"{F}: field 'threshold' is not used by outcome 'multiclass': its decision is not a score cut at a "
         "threshold; remove it."),
        (document("ranking", ranking={"capacity": 0}),
         f"{F}: [ranking] capacity must be a whole number of at least 1 or a table team = k of such numbers, got 0."),
        (document("ranking", ranking={"capacity": {"north": 2.5}}),
         f"{F}: [ranking] capacity must be a whole number of at least 1 or a table team = k of such numbers, "
         "got {'north': 2.5}."),
        (document("ranking", ranking={"lists": ["region"]}),
         f"{F}: [ranking] lists ['region'] must be distinct columns out of team, scored_on."),
        (document("ranking", ranking={"capacity": {"north": 2}, "lists": ["scored_on"]}),
         f"{F}: [ranking] capacity per team needs lists = [\"team\"]; give one k for lists keyed by other columns."),
        (document("ranking", threshold=1.5), f"{F}: threshold 1.5 must lie strictly between 0 and 1."),
    ],
)
def test_refused_manifest_fields(doc, message):
    with pytest.raises(ValidationError) as caught:
        validate_manifest(doc, file=F)
    assert str(caught.value) == message


def test_refused_manifest_writes_nothing(db, home, tmp_path, now):
    before = state_of(home)
    with pytest.raises(ValidationError):
        registry.register_model(db, write(tmp_path, document("continuous")), home=home, actor="t", now=now)
    assert state_of(home) == before


def rows(kind: str = "eval") -> pd.DataFrame:
    frame = pd.read_csv(EXAMPLES / "eval.csv", dtype=str).head(6)
    return frame if kind == "eval" else frame.drop(columns="label")


@pytest.fixture
def register(db, home, tmp_path, now):
    def run(doc):
        return registry.register_model(db, write(tmp_path, doc), home=home, actor="t", now=now)
    return run


@pytest.fixture
def load(db, home, tmp_path, now):
    """Import a changed copy of the example rows as ``bad.csv`` for a registered model."""
    def run(model, change, kind="eval"):
        path = tmp_path / "bad.csv"
        change(rows(kind)).to_csv(path, index=False)
        return datasets.import_dataset(db, path, kind=kind, model_id=model["model_id"], version=model["version"],
                                       week=WEEK, home=home, actor="t", now=now)
    return run


def _cell(row, column, value, **columns):
    def change(frame):
        frame = frame.assign(**columns)
        frame.loc[row - 1, column] = value
        return frame
    return change


MONEY = {"score": "12.5", "label": "-3"}
OFFERS = {"offer": "plus", "label": "basic"}


@pytest.mark.parametrize(
    "doc, change, message",
    [
        (CONTINUOUS, _cell(3, "score", "a lot", **MONEY), "bad.csv, row 3, column 'score': 'a lot' is not a number."),
        (CONTINUOUS, _cell(2, "score", "", **MONEY), "bad.csv, row 2, column 'score': value is missing."),
        # Only the empty cell is missing in a CSV; a typed NaN is a word where a number belongs (issue 18, point 9).
        (CONTINUOUS, _cell(4, "score", "NaN", **MONEY),
         "bad.csv, row 4, column 'score': 'NaN' is not a number; only an empty cell counts as missing, and this "
         "column needs a number in every row."),
        (CONTINUOUS, _cell(5, "label", "some", **MONEY), "bad.csv, row 5, column 'label': 'some' is not a number."),
        (CONTINUOUS, lambda f: f.assign(label="1"), "bad.csv: required column 'score' is missing."),
        (document("continuous", unit="EUR", control="deal_band"), _cell(1, "score", "1", **MONEY),
         "bad.csv: required column 'deal_band' is missing."),
        (MULTICLASS, _cell(6, "offer", "gold", **OFFERS),
         "bad.csv, row 6, column 'offer': 'gold' is not one of the model's offers (basic, plus, premium)."),
        (MULTICLASS, _cell(2, "label", "Plus", **OFFERS),
         "bad.csv, row 2, column 'label': 'Plus' is not one of the model's offers (basic, plus, premium)."),
        (MULTICLASS, _cell(3, "offer", "", **OFFERS), "bad.csv, row 3, column 'offer': value is missing."),
        (MULTICLASS, _cell(1, "score", "0.3", **OFFERS),
         "bad.csv: column 'score' is not a feature, sensitive attribute or known column of multiclass-model 1.0.0; "
         "remove it (unexpected columns may hold personal data)."),
        (document("ranking"), lambda f: f.assign(score="0.5"),
         "bad.csv: the model's manifest gives no [ranking] capacity and column 'capacity' is missing: give k per "
         "list."),
        (document("ranking"), _cell(4, "capacity", "0", score="0.5", capacity="3"),
         "bad.csv, row 4, column 'capacity': '0' is not a whole number of at least 1."),
        (document("ranking"), _cell(2, "capacity", "2.5", score="0.5", capacity="3"),
         "bad.csv, row 2, column 'capacity': '2.5' is not a whole number of at least 1."),
        (document("ranking"), _cell(5, "capacity", "", score="0.5", capacity="3"),
         "bad.csv, row 5, column 'capacity': value is missing."),
        (document("ranking"), _cell(4, "capacity", "5", score="0.5", capacity="3", team="north"),
         "bad.csv, rows 1, 2, 3, 4, 5, column 'capacity': list 'north' has capacities 3, 5: give one k per list."),
        (document("ranking", ranking={"capacity": {"north": 2}}), _cell(3, "team", "west", score="0.5", team="north"),
         "bad.csv, row 3, column 'team': team 'west' has no [ranking] capacity in the manifest (it gives north) "
         "and column 'capacity' is missing."),
        (RANKING, _cell(1, "score", "7", score="0.5"), "bad.csv, row 1, column 'score': '7' is outside [0, 1]."),
        (document("ranking", ranking={"capacity": 2, "lists": ["team", "scored_on"]}),
         _cell(3, "scored_on", "yesterday", score="0.5", scored_on="2026-11-24"),
         "bad.csv, row 3, column 'scored_on': 'yesterday' is not a date such as 2026-11-20."),
    ],
)
def test_refused_outcome_import_names_the_cell_and_writes_nothing(register, load, home, doc, change, message):
    model = register(doc)
    before = state_of(home)
    with pytest.raises(ValidationError) as caught:
        load(model, change)
    assert str(caught.value) == message
    assert state_of(home) == before


@pytest.mark.parametrize(
    "doc, columns, kind, stored",
    [
        (CONTINUOUS, MONEY, "eval", {"score": 12.5, "label": -3.0}),
        (CONTINUOUS, {"score": "-1e3"}, "scores", {"score": -1000.0}),
        (document("continuous", unit="EUR", control="deal_band"), {**MONEY, "deal_band": "large"}, "eval",
         {"deal_band": "large"}),
        (MULTICLASS, OFFERS, "eval", {"offer": "plus", "label": "basic"}),
        (MULTICLASS, {"offer": "premium"}, "scores", {"offer": "premium"}),
        (RANKING, {"score": "0.25"}, "scores", {"score": 0.25}),
        (document("ranking", ranking={"capacity": {"north": 2}}), {"score": "0.25", "team": "north"}, "scores",
         {"team": "north"}),
        (document("ranking"), {"score": "0.25", "capacity": "4"}, "eval", {"capacity": 4, "label": 0}),
        (document("ranking", ranking={"capacity": 2, "lists": ["team", "scored_on"]}),
         {"score": "0.25", "scored_on": "2026-11-24"}, "scores", {"scored_on": "2026-11-24"}),
    ],
)
def test_good_outcome_import_stores_the_rows(register, load, home, doc, columns, kind, stored):
    model = register(doc)
    dataset = load(model, lambda f: f.assign(**columns), kind=kind)
    frame = datasets.read_rows(dataset, home=home)
    assert dataset["rows"] == len(frame) == 6
    assert {key: frame[key].iloc[0] for key in stored} == stored

