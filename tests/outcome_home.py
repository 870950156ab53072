"""A data home with one model of each non-binary outcome type, two weeks of snapshots, and the test accounts.

Shared by the AppTest page tests, the browser test and the screenshot script
(``python -m tests.outcome_home HOME`` builds one to ``streamlit run app.py`` against).
"""

import sys
from datetime import timedelta
from pathlib import Path

from ethics import datasets, registry, snapshots, store
from ethics.manifest import manifest_toml
from tests.conftest import NOW, WEEK, add_accounts, default_policy
from tests.outcome_rows import DOCUMENTS, rows

OUTCOMES = tuple(DOCUMENTS)
MODELS = {outcome: DOCUMENTS[outcome]["id"] for outcome in OUTCOMES}
#: A name and purpose per model, so the pages (and screenshots) tell the three apart.
NAMES = {"continuous": ("Discount size", "discount"), "multiclass": ("Next-best offer", "cross_sell"),
         "ranking": ("Call list priority", "lead_scoring")}
PREVIOUS_WEEK = "2026-W47"
WEEKS = (PREVIOUS_WEEK, WEEK)


def policy() -> dict:
    """The shipped policy with a threshold in the continuous model's unit (% discount)."""
    found = default_policy()
    found["models"] = {MODELS["continuous"]: {"continuous": {"mean_difference": {"warn_above": 0.5,
                                                                                  "fail_above": 1.0}}}}
    return found


def build(home: Path) -> dict[str, dict]:
    """Register the three models under ``home`` and snapshot two weeks of each; the latest snapshot per outcome."""
    home.mkdir(parents=True, exist_ok=True)
    db = store.open_db(home / "ethics.db")
    try:
        store.migrate(db)
        add_accounts(db)
        latest = {}
        for outcome in OUTCOMES:
            manifest = home.parent / f"{outcome}.toml"
            name, purpose = NAMES[outcome]
            manifest.write_text(manifest_toml(DOCUMENTS[outcome] | {"name": name, "purpose": purpose}))
            model = registry.register_model(db, manifest, home=home, actor="test", now=NOW - timedelta(days=8))
            for offset, week in enumerate(WEEKS):
                at = NOW - timedelta(days=7 * (len(WEEKS) - 1 - offset))
                for kind in ("eval", "scores"):
                    path = home.parent / f"{outcome}-{week}-{kind}.csv"
                    rows(outcome, kind, seed=offset * 10).to_csv(path, index=False)
                    datasets.import_dataset(db, path, kind=kind, model_id=model["model_id"],
                                            version=model["version"], week=week, home=home, actor="test", now=at)
                latest[outcome] = snapshots.take_snapshot(db, model_id=model["model_id"], week=week, home=home,
                                                          policy=policy(), actor="test", now=at)
        return latest
    finally:
        db.close()


if __name__ == "__main__":
    build(Path(sys.argv[1]))
