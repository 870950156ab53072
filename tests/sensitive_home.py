"""A lead-scoring model that reads a sensitive attribute (age) and groups a 0/1 one (sex), in a real data home.

A LightGBM model is trained on minutes watched, questions asked and age (the label leans on age, so age
is a strong input); the manifest lists age both as a feature and as a banded sensitive attribute, and
sex as a 0/1 sensitive attribute, with labels for its values or without.
"""

from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd

from ethics import datasets, registry, snapshots, store
from ethics.manifest import manifest_toml
from tests.conftest import NOW, WEEK, add_accounts, default_policy

MODEL = "age-aware-leads"
VERSION = "1.0.0"
FEATURES = ["minutes_watched", "questions_asked", "age"]
AGE_BANDS = [25, 35, 45, 55, 65]
SEX_LABELS = {"0": "Male", "1": "Female"}


def lead_frame(n: int, *, seed: int, first: int = 0) -> pd.DataFrame:
    """Leads with every age band and both sexes well filled, and a label that leans on age and minutes."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "lead_id": [f"AG-{first + i:05d}" for i in range(n)],
        "customer_id": [f"C{first + i:06d}" for i in range(n)],
        "team": np.where(np.arange(n) % 2 == 0, "north", "south"),
        "minutes_watched": rng.integers(0, 60, n),
        "questions_asked": rng.poisson(1, n),
        "age": rng.integers(18, 76, n),
        "sex": rng.integers(0, 2, n),
    })
    margin = 0.08 * (frame["minutes_watched"] - 30) + 0.09 * (frame["age"] - 45) + rng.normal(0, 1, n)
    frame["label"] = (margin > 0).astype(int)
    return frame


def manifest_document(*, labels: bool, model_file: str = "model.txt") -> dict:
    sex = {"name": "sex", "label": "Sex", **({"labels": SEX_LABELS} if labels else {})}
    return {
        "id": MODEL, "name": "Webinar call priority", "version": VERSION, "purpose": "lead_scoring",
        "owner": "Priya Raman <priya.raman@example.com>", "team": "north", "risk_tier": "high", "threshold": 0.5,
        "consent_purpose": "ai_scoring", "proxy_candidates": ["minutes_watched"],
        "artifact": {"kind": "lightgbm", "file": model_file},
        "features": [{"name": "minutes_watched", "label": "Watched the webinar", "unit": "minutes"},
                     {"name": "questions_asked", "label": "Asked questions", "unit": "questions"},
                     {"name": "age", "label": "Age", "unit": "years"}],
        "sensitive_attributes": [{"name": "age", "label": "Age", "bands": AGE_BANDS}, sex],
        "impact_assessment": {
            "purpose": "Decide which attendees are called first.", "data_categories": ["engagement", "age"],
            "legal_basis": "Legitimate interest", "affected": "Business contacts",
            "human_oversight": "Account executives may call any lead."},
    }


def write_inputs(folder: Path, *, labels: bool) -> dict[str, Path]:
    """The manifest, the LightGBM artifact, the evaluation set and the scoring batch, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    train = lead_frame(600, seed=1)
    model = lightgbm.LGBMClassifier(n_estimators=30, num_leaves=8, n_jobs=1, verbose=-1, random_state=0)
    model.fit(train[FEATURES].astype(float), train["label"])
    (folder / "model.txt").write_text(model.booster_.model_to_string())
    (folder / "manifest.toml").write_text(manifest_toml(manifest_document(labels=labels)))
    lead_frame(240, seed=2).to_csv(folder / "eval.csv", index=False)
    lead_frame(80, seed=3, first=1000).drop(columns="label").to_csv(folder / "scores.csv", index=False)
    return {"manifest": folder / "manifest.toml", "model": folder / "model.txt", "eval": folder / "eval.csv",
            "scores": folder / "scores.csv"}


def build_home(home: Path, inputs: Path, *, labels: bool) -> dict:
    """Register, import both data sets and take the week's snapshot; the four test accounts are added."""
    files = write_inputs(inputs, labels=labels)
    home.mkdir(parents=True, exist_ok=True)
    db = store.open_db(home / "ethics.db")
    try:
        store.migrate(db)
        add_accounts(db)
        registry.register_model(db, files["manifest"], home=home, actor="test", now=NOW)
        for kind in ("eval", "scores"):
            datasets.import_dataset(db, files[kind], kind=kind, model_id=MODEL, version=VERSION, week=WEEK,
                                    home=home, actor="test", now=NOW)
        snap = snapshots.take_snapshot(db, model_id=MODEL, week=WEEK, home=home, policy=default_policy(),
                                       actor="test", now=NOW)
    finally:
        db.close()
    return {"home": home, "files": files, "snapshot": snap}
