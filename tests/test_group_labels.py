"""Values as people read them (issue 19): 0/1 attributes by their manifest labels, else as "0"/"1", bands by edges.

A real data home (tests/sensitive_home.py) with sex stored as 0/1 numbers and age in bands; every surface
that lists groups (the snapshot's results, the Fairness page, the PDF, the CSV export, the CLI) is read.
"""

import io
import random

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from ethics import fairness, model_card, reports, store
from ethics.auth import Actor
from ethics.cli import cli
from ethics.errors import MANIFEST_VALUE_LABEL, MANIFEST_VALUE_LABEL_REPEATED, MANIFEST_VALUE_LABELS, ValidationError
from ethics.group_values import value_order, value_text
from ethics.manifest import validate_manifest, value_labels
from tests.apptest import app_on, open_app, open_page, texts
from tests.conftest import NOW, WEEK
from tests.sensitive_home import MODEL, build_home, manifest_document

OFFICER = Actor("olivia", "Olivia", "ethics_officer")
BANDS = ["<25", "25-34", "35-44", "45-54", "55-64", "65+"]


@pytest.fixture(scope="module", params=[True, False], ids=["labelled", "unlabelled"])
def built(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("labels")
    found = build_home(root / "home", root / "inputs", labels=request.param)
    found["sexes"] = ["Male", "Female"] if request.param else ["0", "1"]
    return found


def _sex_counts(built) -> list[int]:
    typed = pd.read_csv(built["files"]["eval"])
    return [int((typed["sex"] == value).sum()) for value in (0, 1)]


# -- the manifest ----------------------------------------------------------------------------


def test_labels_are_stored_only_when_given():
    labelled = validate_manifest(manifest_document(labels=True), file="m.toml")
    plain = validate_manifest(manifest_document(labels=False), file="m.toml")
    assert labelled["sensitive_attributes"][1] == {"name": "sex", "label": "Sex", "unit": "", "description": "",
                                                   "labels": {"0": "Male", "1": "Female"}}
    assert "labels" not in plain["sensitive_attributes"][1]  # so old manifests hash as before
    assert value_labels(labelled) == {"sex": {"0": "Male", "1": "Female"}} and value_labels(plain) == {}


@pytest.mark.parametrize("labels,message", [
    ("Male", MANIFEST_VALUE_LABELS.format(where="sensitive_attributes[1]", got="Male")),
    ({}, MANIFEST_VALUE_LABELS.format(where="sensitive_attributes[1]", got={})),
    ({"0": 1}, MANIFEST_VALUE_LABEL.format(where="sensitive_attributes[1]", value="0", got=1)),
    ({"0": " "}, MANIFEST_VALUE_LABEL.format(where="sensitive_attributes[1]", value="0", got=" ")),
    ({" ": "Male"}, MANIFEST_VALUE_LABEL.format(where="sensitive_attributes[1]", value=" ", got="Male")),
    ({0: "Male"}, MANIFEST_VALUE_LABEL.format(where="sensitive_attributes[1]", value=0, got="Male")),
    ({"0": "Male", "1": "Male"}, MANIFEST_VALUE_LABEL_REPEATED.format(where="sensitive_attributes[1]",
                                                                      labels="Male")),
    ({"0": "1", "1": "0"}, MANIFEST_VALUE_LABEL_REPEATED.format(where="sensitive_attributes[1]", labels="0, 1")),
])
def test_bad_labels_are_refused_with_the_rule(labels, message):
    document = manifest_document(labels=True)
    document["sensitive_attributes"][1]["labels"] = labels
    with pytest.raises(ValidationError) as caught:
        validate_manifest(document, file="m.toml")
    assert str(caught.value) == f"m.toml: {message}."


def test_a_label_may_not_hide_a_control_character():
    document = manifest_document(labels=True)
    document["sensitive_attributes"][1]["labels"] = {"0": "Ma\u202ele"}
    with pytest.raises(ValidationError, match="sensitive_attributes\\[1\\].labels.0"):
        validate_manifest(document, file="m.toml")


def test_features_take_no_value_labels():
    document = manifest_document(labels=False)
    document["features"][0]["labels"] = {"0": "none"}
    with pytest.raises(ValidationError, match=r"features\[0\].labels is for sensitive attributes"):
        validate_manifest(document, file="m.toml")


# -- the one producer ------------------------------------------------------------------------


def test_values_read_as_typed_and_bands_sort_by_their_edges():
    assert [value_text(v) for v in (0.0, 1.0, np.float64(2.0), 2.5, np.int64(3), True, "1.0", "-4.00", "a")] == [
        "0", "1", "2", "2.5", "3", "True", "1", "-4", "a"]
    shuffled = [*BANDS]
    random.Random(4).shuffle(shuffled)
    assert sorted(shuffled, key=value_order) == BANDS
    assert sorted(["10", "9", "b", "a", "-1"], key=value_order) == ["-1", "9", "10", "a", "b"]


def test_groupings_name_numbers_without_a_decimal_point_and_by_their_labels():
    frame = pd.DataFrame({"sex": [1.0, 0.0, 1.0, np.nan], "flag": [True, False, True, True]})
    sex, flag = fairness.groupings(frame, attributes=["sex", "flag"], intersections=False)
    assert sex.labels == ["0", "1", "(missing)"] and flag.labels == ["False", "True"]
    (named,) = fairness.groupings(frame, attributes=["sex"], group_names={"sex": {"0": "Male", "1": "Female"}})
    assert named.labels == ["Male", "Female", "(missing)"]
    assert [named.labels[c] for c in named.codes] == ["Female", "Male", "Female", "(missing)"]


# -- every surface ---------------------------------------------------------------------------


def test_the_snapshot_names_groups_by_label_or_as_typed(built):
    results = built["snapshot"]["results"]
    sex = next(g for g in results["fairness"]["eval"] if g["grouping"] == "sex")
    assert [g["group"] for g in sex["groups"]] == built["sexes"]
    assert [g["count"] for g in sex["groups"]] == _sex_counts(built)
    age = next(g for g in results["fairness"]["eval"] if g["grouping"] == "age")
    assert [g["group"] for g in age["groups"]] == BANDS
    assert [s["group"] for s in results["sampling"] if s["attribute"] == "age"] == BANDS
    sentences = " ".join(v["sentence"] for v in results["verdicts"] if v["grouping"] == "sex")
    assert f"Sex {built['sexes'][0]}" in sentences or f"Sex {built['sexes'][1]}" in sentences
    assert "0.0" not in str([g["group"] for g in sex["groups"]]) and "Sex 0.0" not in sentences


def test_the_fairness_page_shows_the_groups_by_label_in_band_order(built, monkeypatch):
    with app_on(built["home"], monkeypatch):
        at = open_page(open_app("olivia"), "pages/fairness.py", model=MODEL)
        assert not at.exception, [e.message for e in at.exception]
        assert at.dataframe[1].value["group"].tolist() == BANDS  # age, the first grouping
        next(box for box in at.selectbox if box.label == "Groups").set_value("sex").run()
        assert not at.exception, [e.message for e in at.exception]
        groups = at.dataframe[1].value
        assert groups["group"].tolist() == built["sexes"]
        assert groups["count"].tolist() == _sex_counts(built)


def test_the_model_page_names_the_groups_of_its_findings_by_label(built, monkeypatch):
    with app_on(built["home"], monkeypatch):
        at = open_page(open_app("olivia"), "pages/model.py", model=MODEL)
        assert not at.exception, [e.message for e in at.exception]
        text = texts(at)
    first, second = built["sexes"]
    assert f"leads with Sex {first}" in text or f"leads with Sex {second}" in text
    assert "Sex 0.0" not in text and "Sex 1.0" not in text


def test_the_pdf_lists_groups_by_label_and_bands_by_their_edges(built):
    db = store.open_db(built["home"] / "ethics.db")
    try:
        data = reports.model_report_pdf(db, model_id=MODEL, actor=OFFICER, week=WEEK, now=NOW)
    finally:
        db.close()
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages)
    table = text[text.index("Groups: age (evaluation set)"):]
    positions = [table.index(f" {band} ") for band in BANDS]
    assert positions == sorted(positions)
    sex = text[text.index("Groups: sex (evaluation set)"):]
    first, second = built["sexes"]
    assert f" {first} " in sex and f" {second} " in sex and sex.index(f" {first} ") < sex.index(f" {second} ")
    assert " 0.0 " not in sex[:400]


def test_the_csv_and_the_cli_name_groups_by_label(built, monkeypatch):
    db = store.open_db(built["home"] / "ethics.db")
    try:
        facts = reports.model_facts(db, model_id=MODEL, actor=OFFICER, week=WEEK, now=NOW)
    finally:
        db.close()
    rows = model_card.table_rows(facts, "groups")
    sex = [r["Group"] for r in rows if r["Grouping"] == "sex" and r["Data"] == "eval"]
    assert sex == built["sexes"]
    assert [r["Group"] for r in rows if r["Grouping"] == "age" and r["Data"] == "eval"] == BANDS
    csv = pd.read_csv(io.StringIO(model_card.table_csv(facts, "groups")), dtype=str)
    assert csv[(csv["Grouping"] == "sex") & (csv["Data"] == "eval")]["Group"].tolist() == built["sexes"]
    monkeypatch.setenv("ETHICS_HOME", str(built["home"]))
    monkeypatch.setenv("ETHICS_ACTOR", "olivia")
    output = CliRunner().invoke(cli, ["fairness", "--model", MODEL], catch_exceptions=False).output
    lines = [line.split()[0] for line in output.splitlines() if line.startswith("  ") and "n=" in line]
    assert lines[:len(BANDS)] == BANDS
    assert [name for name in lines if name in built["sexes"]] == built["sexes"]
    assert " 0.0 " not in output and " 1.0 " not in output
