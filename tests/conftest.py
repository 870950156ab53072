import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ethics import datasets, explain, registry, snapshots, store

# One thread for TreeSHAP in tests: the two cores are shared with other test runs, and LightGBM's
# second thread makes pred_contrib slower, not faster, on a busy machine.
explain.THREADS = 1

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "data" / "examples"
DATA = Path(__file__).resolve().parent / "data"
EXAMPLE_MODEL = "webinar-follow-up"
EXAMPLE_VERSION = "1.0.0"
WEEK = "2026-W48"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def now():
    return NOW


def default_policy():
    """The shipped policy (ethics/default.toml), as snapshots record it."""
    import tomllib

    from ethics.config import DEFAULTS_FILE

    return tomllib.loads(DEFAULTS_FILE.read_text())["policy"]


@pytest.fixture
def fresh_db():
    db = store.open_db(memory=True)
    store.migrate(db)
    yield db
    db.close()


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def db(home):
    db = store.open_db(home / "ethics.db")
    store.migrate(db)
    yield db
    db.close()


@pytest.fixture
def examples(tmp_path):
    """A writable copy of data/examples."""
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    return target


@pytest.fixture
def registered(db, home, examples, now):
    """The example model registered, nothing imported."""
    return registry.register_model(db, examples / "manifest.toml", home=home, actor="test", now=now)


@pytest.fixture
def example_snapshot(db, home, examples, registered, now):
    """The example model with one week of data and its snapshot."""
    for kind, name in (("eval", "eval.csv"), ("scores", "scores.csv")):
        datasets.import_dataset(
            db, examples / name, kind=kind, model_id=EXAMPLE_MODEL, version=EXAMPLE_VERSION,
            week=WEEK, home=home, actor="test", now=now,
        )
    return snapshots.take_snapshot(
        db, model_id=EXAMPLE_MODEL, week=WEEK, home=home, policy=default_policy(), actor="test", now=now
    )


def state_of(home: Path) -> dict[str, str]:
    """Every file under the data home with its SHA-256, after folding the WAL into the database."""
    db_file = home / "ethics.db"
    if db_file.exists():
        db = store.open_db(db_file)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    return {
        str(path.relative_to(home)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(home.rglob("*"))
        if path.is_file() and not path.name.endswith(("-wal", "-shm"))
    }


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory):
    """A small reproducible demo portfolio (the fixed privacy key), built once per test session; do not write to it."""
    from ethics.demo import build_demo

    path = tmp_path_factory.mktemp("demo")
    build_demo(path, size="small", reproducible=True)
    return path


PASSWORD = "a long test passphrase"
ACCOUNTS = {
    "officer": ("olivia", "ethics_officer", None),
    "auditor": ("aude", "auditor", None),
    "manager_north": ("sm.north", "sales_manager", "north"),
    "manager_south": ("sm.south", "sales_manager", "south"),
}


def copy_demo(demo_home: Path, target: Path) -> Path:
    """A writable copy of the session's demo home at ``target``, with the four test accounts."""
    shutil.copytree(demo_home, target)
    db = store.open_db(target / "ethics.db")
    try:
        add_accounts(db)
    finally:
        db.close()
    return target


def add_accounts(db) -> None:
    """The four test accounts, all with PASSWORD."""
    from ethics import auth, teams

    teams.ensure_teams(db, [team for _, _, team in ACCOUNTS.values() if team], actor="test")
    for username, role, team in ACCOUNTS.values():
        auth.add_user(db, username=username, display_name=username, role=role, team=team, password=PASSWORD,
                      actor="test")


@pytest.fixture(scope="session")
def spark():
    """One Spark session in local mode for every test that needs it (start-up costs ~20 s)."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]").appName("ethics-tests")
        .config("spark.ui.enabled", "false").config("spark.driver.bindAddress", "127.0.0.1")
        # Small data: no whole-stage code generation or adaptive planning, whose set-up costs more than the query.
        .config("spark.sql.shuffle.partitions", "1").config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.adaptive.enabled", "false").getOrCreate()
    )
    yield session
    session.stop()


def training_frame(n: int = 300, seed: int = 0):
    """Features of the example model and a label that follows minutes watched, to train real artifacts on."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"minutes_watched": rng.integers(0, 60, n), "questions_asked": rng.poisson(1, n),
                      "company_employees": rng.integers(5, 1000, n), "region_code": rng.integers(1, 6, n)})
    y = (x["minutes_watched"] + rng.normal(0, 10, n) > 30).astype(int)
    return x.astype(float), y


def manifest_with(examples: Path, kind: str, file: str) -> Path:
    """The example manifest with another artifact kind and file, written beside it."""
    text = (examples / "manifest.toml").read_text()
    text = text.replace('kind = "linear"', f'kind = "{kind}"').replace('file = "model.json"', f'file = "{file}"')
    path = examples / f"manifest-{file}.toml"
    path.write_text(text)
    return path
