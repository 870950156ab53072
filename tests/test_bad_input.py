"""Malformed inputs: each gets a message naming file/row/column/rule and changes nothing."""

import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from ethics import datasets, registry
from ethics.errors import EthicsError, NotFound, ValidationError
from tests.conftest import EXAMPLE_MODEL, EXAMPLE_VERSION, WEEK, state_of


@dataclass
class Ctx:
    db: object
    home: Path
    examples: Path
    now: object

    def csv(self, source: str, change, name: str = "bad.csv") -> Path:
        frame = pd.read_csv(self.examples / source, dtype=str)
        frame = change(frame) if change else frame
        path = self.examples / name
        frame.to_csv(path, index=False)
        return path

    def write(self, name: str, data: bytes) -> Path:
        path = self.examples / name
        path.write_bytes(data)
        return path

    def manifest(self, old: str, new: str, name: str = "bad.toml") -> Path:
        text = (self.examples / "manifest.toml").read_text()
        assert old in text
        path = self.examples / name
        path.write_text(text.replace(old, new))
        return path

    def register(self, manifest: Path, artifact: Path | None = None):
        return registry.register_model(self.db, manifest, home=self.home, artifact_path=artifact,
                                       actor="t", now=self.now)

    def load(self, path: Path, kind: str = "eval", model=EXAMPLE_MODEL, version=EXAMPLE_VERSION, week=WEEK):
        return datasets.import_dataset(self.db, path, kind=kind, model_id=model, version=version, week=week,
                                       home=self.home, actor="t", now=self.now)


def _set(row, column, value):
    def change(frame):
        frame.loc[row - 1, column] = value
        return frame
    return change


def _vendor(ctx):
    path = ctx.manifest('kind = "linear"', 'kind = "none"', name="vendor.toml")
    path.write_text(path.read_text().replace('id = "webinar-follow-up"', 'id = "vendor"')
                    .replace('file = "model.json"', ""))
    ctx.register(path)
    return ctx.csv("scores.csv", lambda f: f.assign(score="0.5"), name="vendor.csv")


def _vendor_with(ctx, row, value):
    path = ctx.examples / "vendor.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.loc[row - 1, "score"] = value
    frame.to_csv(path, index=False)
    return ctx.load(path, kind="scores", model="vendor", version="1.0.0")


def _tamper_artifact(ctx):
    row = registry.get_version(ctx.db, EXAMPLE_MODEL, EXAMPLE_VERSION)
    path = ctx.home / row["artifact_file"]
    path.write_text(path.read_text().replace('"intercept": -0.4', '"intercept": 3.0'))


# Steps that set a case up; the "nothing changed" check starts after them.
PREPARE = {
    "NaN score": _vendor,
    "score outside [0, 1]": _vendor,
    "dataset imported twice": lambda c: c.load(c.examples / "eval.csv"),
    "artifact changed after registration": _tamper_artifact,
}


CASES = {
    # datasets
    "missing column": (lambda c: c.load(c.csv("eval.csv", lambda f: f.drop(columns="minutes_watched"))),
                       ["bad.csv", "column 'minutes_watched' is missing"]),
    "wrong dtype": (lambda c: c.load(c.csv("eval.csv", _set(3, "questions_asked", "lots")))
                    , ["bad.csv, row 3, column 'questions_asked'", "'lots' is not a number"]),
    "missing feature value": (lambda c: c.load(c.csv("eval.csv", _set(7, "company_employees", None))),
                              ["bad.csv, row 7, column 'company_employees'", "missing"]),
    "duplicate lead ids": (lambda c: c.load(c.csv("eval.csv", _set(5, "lead_id", "WB-00000"))),
                           ["bad.csv, rows 1, 5, column 'lead_id'", "'WB-00000' appears more than once"]),
    "missing lead id": (lambda c: c.load(c.csv("eval.csv", _set(2, "lead_id", None))),
                        ["bad.csv, row 2, column 'lead_id'", "missing"]),
    "empty file": (lambda c: c.load(c.write("empty.csv", b"")), ["empty.csv", "no data rows"]),
    "header only": (lambda c: c.load(c.write("head.csv", b"lead_id,customer_id,team\n")),
                    ["head.csv", "no data rows"]),
    "non-binary label": (lambda c: c.load(c.csv("eval.csv", _set(4, "label", "2"))),
                         ["bad.csv, row 4, column 'label'", "'2' is not 0 or 1"]),
    "label missing in evaluation set": (lambda c: c.load(c.csv("eval.csv", lambda f: f.drop(columns="label"))),
                                        ["column 'label' is missing"]),
    "formula cell": (lambda c: c.load(c.csv("eval.csv", _set(6, "customer_id", '=HYPERLINK("http://x")'))),
                     ["bad.csv, row 6, column 'customer_id'", "spreadsheet formula"]),
    "formula in sensitive attribute": (lambda c: c.load(c.csv("eval.csv", _set(9, "sex", "@SUM(A1)"))),
                                       ["row 9, column 'sex'", "starts with '@'"]),
    "non-UTF-8 file": (lambda c: c.load(c.write("latin1.csv", (c.examples / "eval.csv").read_bytes()
                                                .replace(b"north", "nörth".encode("latin-1"), 1))),
                       ["latin1.csv", "not UTF-8", "row 1"]),
    "unexpected personal column": (lambda c: c.load(c.csv("eval.csv", lambda f: f.assign(email="a@b.c"))),
                                   ["bad.csv", "column 'email' is not a feature"]),
    "unsupported file type": (lambda c: c.load(c.write("leads.xlsx", b"PK\x03\x04")),
                              ["leads.xlsx", "unsupported file type '.xlsx'"]),
    "corrupt parquet": (lambda c: c.load(c.write("broken.parquet", b"PAR1 not really")),
                        ["broken.parquet", "cannot read the file"]),
    "bad week": (lambda c: c.load(c.examples / "eval.csv", week="2026-W60"), ["'2026-W60' is not an ISO week"]),
    "unknown model": (lambda c: c.load(c.examples / "eval.csv", model="ghost"), ["Unknown model 'ghost'"]),
    "unknown version": (lambda c: c.load(c.examples / "eval.csv", version="7.0"),
                        ["Unknown version '7.0' of model 'webinar-follow-up'"]),
    "score disagrees with artifact": (lambda c: c.load(c.csv("eval.csv", lambda f: f.assign(score="0.123"))),
                                      ["bad.csv, row 1, column 'score'", "differs from the registered artifact"]),
    "NaN score": (lambda c: _vendor_with(c, 2, "NaN"), ["vendor.csv, row 2, column 'score'", "missing"]),
    "score outside [0, 1]": (lambda c: _vendor_with(c, 3, "1.7"),
                             ["vendor.csv, row 3, column 'score'", "outside [0, 1]"]),
    "dataset imported twice": (lambda c: c.load(c.examples / "eval.csv"),
                               ["eval.csv", "already imported", "immutable"]),
    "artifact changed after registration": (lambda c: c.load(c.examples / "eval.csv"),
                                            ["was changed after registration", "SHA-256"]),
    # registry
    "manifest missing a field": (lambda c: c.register(c.manifest('owner = "Priya Raman <priya.raman@example.com>"',
                                                                 "")),
                                 ["bad.toml", "required field 'owner' is missing"]),
    "unknown purpose": (lambda c: c.register(c.manifest('purpose = "lead_scoring"', 'purpose = "astrology"')),
                        ["bad.toml", "field 'purpose' is 'astrology'", "allowed: lead_scoring"]),
    "manifest not TOML": (lambda c: c.register(c.manifest('risk_tier = "medium"', "risk_tier = medium")),
                          ["bad.toml", "not valid TOML", "line"]),
    "threshold out of range": (lambda c: c.register(c.manifest("threshold = 0.5", "threshold = 1.5")),
                               ["bad.toml", "threshold 1.5 must lie strictly between 0 and 1"]),
    "value label that is empty": (
        lambda c: c.register(c.manifest('name = "age_band"\nlabel = "Age band"',
                                        'name = "age_band"\nlabel = "Age band"\nlabels = { "25-34" = " " }')),
        ["bad.toml", "sensitive_attributes[1].labels: value '25-34' needs a non-empty text label"]),
    "bands that are not edges": (
        lambda c: c.register(c.manifest('name = "age_band"\nlabel = "Age band"',
                                        'name = "age_band"\nlabel = "Age band"\nbands = ["old", "young"]')),
        ["bad.toml", "sensitive_attributes[1].bands must be increasing numbers"]),
    "proxy that is not a feature": (
        lambda c: c.register(c.manifest('proxy_candidates = ["region_code"]', 'proxy_candidates = ["postcode"]')),
        ["bad.toml", "proxy_candidates must be features", "postcode"]),
    "pickle artifact": (lambda c: c.register(c.examples / "manifest.toml",
                                             c.write("model.pkl", pickle.dumps({"coef": [1, 2]}))),
                        ["model.pkl", "refused", "Python pickle"]),
    "joblib artifact": (lambda c: c.register(c.examples / "manifest.toml",
                                             c.write("model.joblib", zlib.compress(pickle.dumps([1])))),
                        ["model.joblib", "refused", "zlib-compressed joblib"]),
    "artifact of the wrong kind": (lambda c: c.register(c.manifest('kind = "linear"', 'kind = "lightgbm"')),
                                   ["model.json", "artifact kind 'lightgbm'", "LightGBM"]),
    "wrong feature set": (lambda c: c.register(c.examples / "manifest.toml", c.write(
        "extra.json", (c.examples / "model.json").read_bytes().replace(
            b'"region_code": -0.2', b'"region_code": -0.2, "age": 0.1'))),
        ["extra.json", "do not match the manifest's: not in the manifest: 'age'"]),
    "changed artifact for a registered version": (lambda c: c.register(c.examples / "manifest.toml", c.write(
        "v2.json", (c.examples / "model.json").read_bytes().replace(b"-0.4", b"-0.5"))),
        ["'webinar-follow-up' version '1.0.0' is already registered with a different artifact"]),
}


GOOD_EVENTS = [
    {"event_id": "E1", "customer_id": "C000455", "purpose": "ai_scoring", "status": "granted", "source": "web_form",
     "occurred_at": "2026-10-01T09:00:00Z"},
    {"event_id": "E2", "customer_id": "C000096", "purpose": "profiling", "status": "objected", "source": "call",
     "occurred_at": "2026-10-02T09:00:00+02:00"},
    {"event_id": "E3", "customer_id": "C000722", "purpose": "marketing", "status": "withdrawn", "source": "crm",
     "occurred_at": "2026-10-03 09:00:00"},
]


def _events(ctx, row=None, column=None, value=None, *, extra=None, drop=None, name="events.csv"):
    """Import consent events from a CSV with one cell changed."""
    from ethics import consent

    frame = pd.DataFrame(GOOD_EVENTS)
    if row is not None:
        frame.loc[row - 1, column] = value
    if extra:
        frame = frame.assign(**extra)
    if drop:
        frame = frame.drop(columns=drop)
    path = ctx.examples / name
    frame.to_csv(path, index=False)
    return consent.import_events(ctx.db, path, actor="t", now=ctx.now)


def _timed_scores(ctx, value):
    path = ctx.csv("scores.csv", lambda f: f.assign(scored_at="2026-11-20T10:00:00Z"))
    frame = pd.read_csv(path, dtype=str)
    frame.loc[4, "scored_at"] = value
    frame.to_csv(path, index=False)
    return ctx.load(path, kind="scores")


PREPARE["consent event imported twice"] = lambda c: _events(c, name="first.csv")
CASES.update({
    # consent events
    "consent: unknown purpose": (lambda c: _events(c, 2, "purpose", "astrology"),
                                 ["events.csv, row 2, column 'purpose'", "'astrology' is not one of ai_scoring"]),
    "consent: unknown status": (lambda c: _events(c, 3, "status", "maybe"),
                                ["events.csv, row 3, column 'status'", "'maybe' is not one of granted"]),
    "consent: unparsable time": (lambda c: _events(c, 1, "occurred_at", "last Tuesday"),
                                 ["events.csv, row 1, column 'occurred_at'", "'last Tuesday' is not a date"]),
    "consent: time in the future": (lambda c: _events(c, 2, "occurred_at", "2027-01-01T00:00:00Z"),
                                    ["events.csv, row 2, column 'occurred_at'", "is in the future"]),
    "consent: duplicate event ids": (lambda c: _events(c, 3, "event_id", "E1"),
                                     ["events.csv, rows 1, 3, column 'event_id'", "'E1' appears more than once"]),
    "consent event imported twice": (lambda c: _events(c), ["events.csv, row 1, column 'event_id'",
                                                            "already imported; events are append-only"]),
    "consent: missing customer id": (lambda c: _events(c, 2, "customer_id", None),
                                     ["events.csv, row 2, column 'customer_id'", "missing"]),
    "consent: missing column": (lambda c: _events(c, drop="source"), ["events.csv", "column 'source' is missing"]),
    "consent: personal column": (lambda c: _events(c, extra={"email": "a@b.c"}),
                                 ["events.csv", "column 'email' is not one of event_id"]),
    "scores: unparsable scored_at": (lambda c: _timed_scores(c, "soon"),
                                     ["bad.csv, row 5, column 'scored_at'", "'soon' is not a date"]),
    "scores: scored_at in the future": (lambda c: _timed_scores(c, "2030-01-01T00:00:00Z"),
                                        ["bad.csv, row 5, column 'scored_at'", "is in the future"]),
})


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_names_the_problem_and_changes_nothing(case, db, home, examples, registered, now):
    action, fragments = CASES[case]
    ctx = Ctx(db=db, home=home, examples=examples, now=now)
    if case in PREPARE:
        PREPARE[case](ctx)
    before = state_of(home)
    with pytest.raises(EthicsError) as caught:
        action(ctx)
    assert isinstance(caught.value, (ValidationError, NotFound))
    for fragment in fragments:
        assert fragment in str(caught.value), (fragment, str(caught.value))
    assert not db.conn.in_transaction
    assert state_of(home) == before
