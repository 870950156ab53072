"""Rows of each non-binary outcome type with a gap for the oldest customers, and their snapshots, for tests."""

import tomllib

import numpy as np
import pandas as pd
import pytest

from ethics import aggregates, datasets, registry, snapshots, store
from ethics.manifest import manifest_toml
from tests.conftest import EXAMPLES, WEEK, default_policy

BASE = tomllib.loads((EXAMPLES / "manifest.toml").read_text())
N = 1200
FEATURES = ("minutes_watched", "questions_asked", "company_employees", "region_code")
AGES = np.array(["18-24", "25-34", "35-44", "45-54", "55+"], dtype=object)
OFFERS = [{"name": "bundle", "label": "Bundle", "value": 120.0}, {"name": "upgrade", "label": "Upgrade", "value": 80.0},
          {"name": "trial", "label": "Free trial", "value": 20.0}, {"name": "none", "label": "No offer", "value": 0.0}]


def document(outcome: str, **fields) -> dict:
    doc = {key: value for key, value in BASE.items() if key not in ("threshold", "artifact")}
    return doc | {"id": f"{outcome}-model", "outcome": outcome, "artifact": {"kind": "none"}, **fields}


DOCUMENTS = {
    "continuous": document("continuous", unit="% discount", resolution=0.5, control="deal_band"),
    "multiclass": document("multiclass", classes=OFFERS, value_unit="EUR"),
    "ranking": document("ranking", ranking={"capacity": {"north": 40, "south": 25}}),
}


def rows(outcome: str, kind: str, seed: int = 0) -> pd.DataFrame:
    """Rows of one outcome type with a gap for the oldest customers."""
    rng = np.random.default_rng(seed + (kind == "eval"))
    age = rng.choice(AGES, N)
    old = age == "55+"
    frame = pd.DataFrame({
        "lead_id": [f"{kind[0]}{i:05d}" for i in range(N)], "customer_id": [f"C{i % 700:05d}" for i in range(N)],
        "team": rng.choice(["north", "south"], N), **{f: rng.integers(1, 9, N) for f in FEATURES},
        "sex": rng.choice(["female", "male"], N), "age_band": age,
    })
    if outcome == "continuous":
        frame["deal_band"] = rng.choice(["small", "large"], N)
        frame["score"] = np.round((rng.normal(8, 2, N) - 2.0 * old) * 2) / 2
        if kind == "eval":
            frame["label"] = np.round(frame["score"] + rng.normal(0, 1, N), 1)
    elif outcome == "multiclass":
        shares = np.where(old[:, None], [0.1, 0.2, 0.3, 0.4], [0.3, 0.3, 0.2, 0.2])
        picks = (shares.cumsum(axis=1) > rng.random(N)[:, None]).argmax(axis=1)
        frame["offer"] = np.array([o["name"] for o in OFFERS], dtype=object)[picks]
        if kind == "eval":
            frame["label"] = np.array([o["name"] for o in OFFERS], dtype=object)[rng.integers(0, 4, N)]
    else:
        frame["score"] = np.round(np.clip(rng.beta(2, 3, N) - 0.15 * old, 0, 1), 4)
        if kind == "eval":
            frame["label"] = (rng.random(N) < frame["score"]).astype(int)
    return frame


@pytest.fixture
def policy():
    found = default_policy()
    found["models"] = {"continuous-model": {"continuous": {"mean_difference": {"warn_above": 0.5, "fail_above": 1.0}}}}
    return found


def register(db, home, tmp_path, outcome, now):
    path = tmp_path / f"{outcome}.toml"
    path.write_text(manifest_toml(DOCUMENTS[outcome]))
    return registry.register_model(db, path, home=home, actor="t", now=now)


def import_rows(db, home, tmp_path, model, outcome, now):
    for kind in ("eval", "scores"):
        path = tmp_path / f"{outcome}-{kind}.csv"
        rows(outcome, kind).to_csv(path, index=False)
        datasets.import_dataset(db, path, kind=kind, model_id=model["model_id"], version=model["version"], week=WEEK,
                                home=home, actor="t", now=now)


def fresh(tmp_path, name):
    home = tmp_path / name
    home.mkdir()
    db = store.open_db(home / "ethics.db")
    store.migrate(db)
    return db, home


def snapshot_from_cells(tmp_path, outcome, cells: pd.DataFrame, *, policy, now) -> dict:
    """The results of a fresh home's snapshot of ``cells`` imported as the week's aggregates."""
    path = tmp_path / "cells.parquet"
    cells.to_parquet(path, index=False)
    db, home = fresh(tmp_path, "cells")
    model = register(db, home, tmp_path, outcome, now)
    aggregates.import_aggregates(db, path, model_id=model["model_id"], version=model["version"], week=WEEK,
                                 home=home, actor="t", now=now)
    return snapshots.take_snapshot(db, model_id=model["model_id"], week=WEEK, home=home, policy=policy, actor="t",
                                   now=now)["results"]


def snapshot_from_rows(tmp_path, outcome, *, policy, now) -> tuple[dict, dict]:
    """A fresh home with the model and its rows imported: (the registered version, its snapshot's results)."""
    db, home = fresh(tmp_path, "rows")
    model = register(db, home, tmp_path, outcome, now)
    import_rows(db, home, tmp_path, model, outcome, now)
    return model, snapshots.take_snapshot(db, model_id=model["model_id"], week=WEEK, home=home, policy=policy,
                                          actor="t", now=now)["results"]


@pytest.fixture
def snapshot_of(db, home, tmp_path, policy, now):
    """Register a model of the outcome type in the test's home, import its rows and take the snapshot."""
    def take(outcome):
        model = register(db, home, tmp_path, outcome, now)
        import_rows(db, home, tmp_path, model, outcome, now)
        return snapshots.take_snapshot(db, model_id=model["model_id"], week=WEEK, home=home, policy=policy,
                                       actor="t", now=now)
    return take
