"""Bad aggregates: a clear message naming file, row and column, and nothing written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ethics import aggregates, registry
from ethics.errors import ValidationError
from tests.conftest import WEEK, state_of

MODEL = "banded"


@pytest.fixture
def banded(db, home, examples, now):
    """A scores-only variant of the example model whose second attribute is a banded age."""
    text = (examples / "manifest.toml").read_text()
    for old, new in (('id = "webinar-follow-up"', f'id = "{MODEL}"'), ('kind = "linear"', 'kind = "none"'),
                     ('file = "model.json"', ""),
                     ('name = "age_band"\nlabel = "Age band"',
                      'name = "age"\nlabel = "Age"\nbands = [25, 35, 45, 55]')):
        assert old in text
        text = text.replace(old, new)
    path = examples / "banded.toml"
    path.write_text(text)
    return registry.register_model(db, path, home=home, actor="t", now=now)


@pytest.fixture
def good(banded, tmp_path):
    """Valid statistics of an evaluation set and a scoring batch, as a data frame in file order."""
    rng = np.random.default_rng(5)
    frames = []
    for dataset, rows in (("eval", 400), ("scores", 300)):
        frame = pd.DataFrame({"sex": rng.choice(["female", "male"], rows),
                              "age": rng.integers(18, 80, rows).astype(float), "score": rng.random(rows).round(3)})
        if dataset == "eval":
            frame["label"] = rng.integers(0, 2, rows)
        frames.append(aggregates.from_rows(frame, attributes=["sex", "age"], bands={"age": [25, 35, 45, 55]},
                                           threshold=0.5, dataset=dataset))
    return pd.concat(frames, ignore_index=True)


def load(db, home, now, path):
    return aggregates.import_aggregates(db, path, model_id=MODEL, version="1.0.0", week=WEEK, home=home,
                                        actor="t", now=now)


def test_good_statistics_are_imported(good, db, home, now, tmp_path):
    path = tmp_path / "stats.csv"
    good.to_csv(path, index=False)
    row = load(db, home, now, path)
    assert row["rows"] == 700 and row["kind"] == "aggregates"


def _set(row, column, value):
    def change(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[row - 1, column] = value
        return frame
    return change


def _all(column, value, dataset="eval"):
    def change(frame):
        frame.loc[frame["dataset"] == dataset, column] = value
        return frame
    return change


def _selected_in_a_low_bin(frame):
    row = int(np.flatnonzero((frame["score_bin"] < 40).to_numpy())[0])
    frame.loc[row, "selected"] = 1
    return frame


def _duplicate(frame):
    return pd.concat([frame, frame.iloc[[2]]], ignore_index=True)


CASES = {
    "negative count": (_set(3, "leads", -4), "stats.csv, row 3, column 'leads': -4 is not a count"),
    "counts do not add up": (_all("dataset_leads", 401),
                             "the cells of dataset 'eval' add up to 400 leads but column 'dataset_leads' says 401"),
    "unknown group": (_set(2, "age", "30-39"), "stats.csv, row 2, column 'age': unknown group '30-39'"),
    "missing group": (_set(4, "sex", None), "stats.csv, row 4, column 'sex': group is missing"),
    "formula group": (_set(4, "sex", "=HYPERLINK(1)"), "would run as a spreadsheet formula"),
    "missing bin": (_set(5, "score_bin", None), "stats.csv, row 5, column 'score_bin': score bin is missing"),
    "bin out of range": (_set(5, "score_bin", 100), "row 5, column 'score_bin': 100 is not a bin between 0 and 99"),
    "other bins": (_all("bins", 10), "stats.csv, row 1, column 'bins': 10 score bins"),
    "other threshold": (_all("threshold", 0.6, "scores"),
                        "column 'threshold': 0.6 differs from the registered threshold 0.5 of banded 1.0.0"),
    "selected below the threshold": (_selected_in_a_low_bin, "cannot be selected at threshold 0.5"),
    "unknown dataset": (_set(1, "dataset", "train"), "row 1, column 'dataset': 'train' is not eval or scores"),
    "label on scores": (_all("label", 1, "scores"), "column 'label': a scoring batch has no labels"),
    "bad consent": (_set(2, "consent_status", "maybe"), "column 'consent_status': 'maybe' is not one of granted"),
    "formula team": (_set(3, "team", "@SUM(A1)"), "stats.csv, row 3, column 'team': '@SUM(A1)' starts with '@' and "
                                                  "would run as a spreadsheet formula; such cells are refused."),
    "team against the rule": (_set(3, "team", "North"), "stats.csv, row 3, column 'team': 'North' is not a team name: "
                                                        "1-40 lower-case letters, digits, '-' or '_', starting with a "
                                                        "letter."),
    "bidi group": (_set(2, "sex", "fe\u202emale"), "stats.csv, row 2, column 'sex': 'fe\\u202emale' holds U+202E "
                                                   "RIGHT-TO-LEFT OVERRIDE; text may not hold control characters or "
                                                   "bidirectional overrides."),
    "duplicate cell": (_duplicate, "stats.csv, rows 3, {last}: the same cell appears twice (dataset=eval, sex="),
    "extra column": (lambda f: f.assign(email="a@b.c"), "column 'email' is not a column of the statistics"),
    "missing column": (lambda f: f.drop(columns="leads"), "stats.csv: required column 'leads' is missing"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_statistics_are_refused_and_nothing_is_written(case, good, db, home, now, tmp_path):
    change, message = CASES[case]
    path = tmp_path / "stats.csv"
    change(good.copy()).to_csv(path, index=False)
    before = state_of(home)
    with pytest.raises(ValidationError) as caught:
        load(db, home, now, path)
    assert message.format(last=len(good) + 1) in str(caught.value)
    assert state_of(home) == before


def test_a_week_takes_one_set_of_aggregates(good, db, home, now, tmp_path):
    path = tmp_path / "stats.parquet"
    aggregates.write_parquet(good, path)
    load(db, home, now, path)
    with pytest.raises(ValidationError, match="the aggregates of banded 1.0.0 for week 2026-W48 is already imported"):
        load(db, home, now, path)


def test_engines_name_the_missing_rows_file_and_column(banded, tmp_path):
    from ethics import warehouse

    manifest = banded["manifest"]
    with pytest.raises(ValidationError, match=r"nope.parquet: cannot read the rows \(IO Error"):
        warehouse.compute_statistics({"eval": tmp_path / "nope.parquet"}, manifest=manifest, engine="duckdb")
    pd.DataFrame({"sex": ["female"], "age": [30.0], "label": [1]}).to_parquet(tmp_path / "rows.parquet")
    for engine in warehouse.ENGINES:
        with pytest.raises(ValidationError, match="rows.parquet: required column 'score' is missing"):
            warehouse.compute_statistics({"eval": tmp_path / "rows.parquet"}, manifest=manifest, engine=engine)
    with pytest.raises(ValidationError, match="Engine 'polars' is unknown; use pandas, duckdb"):
        warehouse.compute_statistics({"eval": tmp_path / "rows.parquet"}, manifest=manifest, engine="polars")
