"""The data home's keys and file modes: a random privacy key per home, files 0600 and folders 0700.

The demo used to pseudonymise with a key derived from a constant in its source, and
``make run`` built it into the default home, so every pseudonym could be reversed; the
database and the dataset files were world-readable.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import sqlite3

import pytest
from click.testing import CliRunner

from ethics import demo, privacy, store
from ethics.cli import cli
from tests.conftest import REPO, WEEK


def _open_umask():
    """The umask most accounts have; the test then sees what ethics itself makes private."""
    return os.umask(0o022)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A one-week demo built the way `make run` builds it, plus the example model registered and imported."""
    before = _open_umask()
    try:
        home = tmp_path_factory.mktemp("home-files") / "home"
        home.mkdir()  # 0755, as a checkout's data/ is
        demo.build_demo(home, size="small", weeks=1)
        examples = REPO / "data" / "examples"
        runner = CliRunner()
        env = {"ETHICS_HOME": str(home), "ETHICS_ACTOR": "tester"}
        model = ["--model", "webinar-follow-up", "--version", "1.0.0", "--week", WEEK]
        for args in (
            ["register", str(examples / "manifest.toml")],
            ["import", "eval", *model, str(examples / "eval.csv")],
            ["import", "scores", *model, str(examples / "scores.csv")],
            ["snapshot", "--model", "webinar-follow-up", "--week", WEEK],
            ["report", "--model", "webinar-follow-up", "--week", WEEK, "--format", "json",
             "--out", str(home / "reports" / "card.json")],
            ["audit", "export", "--out", str(home / "audit.csv")],
        ):
            if args[0] == "report":
                (home / "reports").mkdir()
            result = runner.invoke(cli, args, env=env)
            assert result.exit_code == 0, (args, result.output)
        yield home
    finally:
        os.umask(before)


# What anyone can compute from the source: the key the demo used to take for every home.
PUBLIC_KEY = hashlib.sha256(f"ethics demo privacy key {demo.DEMO_SEED}".encode()).digest()


def _reproducible_pseudonym(customer_id: str) -> str:
    digest = hmac.new(PUBLIC_KEY, customer_id.encode(), hashlib.sha256).hexdigest()
    return privacy.PREFIX + digest[:privacy.DIGEST_CHARS]


def test_a_demo_home_gets_a_random_privacy_key_and_its_pseudonyms_cannot_be_recomputed(built):
    key = built / privacy.KEY_FILE
    assert re.fullmatch(r"[0-9a-f]{64}", key.read_text())
    assert bytes.fromhex(key.read_text()) != PUBLIC_KEY
    db = store.open_db(built / "ethics.db")
    try:
        customers = db.execute("select customer_ref, pseudonym from customers").fetchall()
    finally:
        db.close()
    assert len(customers) > 100
    # Today's main: 2000 of 2000 recomputed from the key in the source.
    assert not [ref for ref, pseudonym in customers if _reproducible_pseudonym(ref) == pseudonym]


def test_a_key_is_written_once_with_mode_0600(tmp_path):
    before = _open_umask()
    try:
        assert privacy.write_key(tmp_path)
        first = (tmp_path / privacy.KEY_FILE).read_text()
        assert not privacy.write_key(tmp_path, PUBLIC_KEY)
    finally:
        os.umask(before)
    assert (tmp_path / privacy.KEY_FILE).read_text() == first
    assert (tmp_path / privacy.KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert [path.name for path in tmp_path.iterdir()] == [privacy.KEY_FILE]  # no temporary file left


def test_only_an_explicit_flag_builds_the_demo_with_the_public_key(tmp_path, monkeypatch):
    calls = []

    def build(path, **arguments):
        calls.append(arguments["reproducible"])
        return {"seconds": 0.0, "models": 0, "datasets": 0, "rows": 0, "weeks": ["2026-W48"], "snapshots": 0,
                "consent_events": 0, "incidents": 0}

    monkeypatch.setattr(demo, "build_demo", build)
    outputs = []
    for name, flags in (("plain", []), ("reproducible", ["--reproducible"])):
        monkeypatch.setenv("ETHICS_HOME", str(tmp_path / name))
        result = CliRunner().invoke(cli, ["demo", "--size", "small", *flags])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert calls == [False, True]
    assert "public demo key" not in outputs[0] and "pseudonymised with the public demo key" in outputs[1]


def _recipe(makefile: str, target: str) -> str:
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert match, target
    return match[1]


def test_make_run_and_make_demo_never_build_with_the_public_key():
    makefile = (REPO / "Makefile").read_text()
    for target in ("run", "demo"):
        assert "--reproducible" not in _recipe(makefile, target)
    assert "ethics demo" in _recipe(makefile, "demo") and "demo" in makefile.split("\nrun:")[1].split("\n")[0]


def test_every_file_under_the_home_is_0600_and_every_folder_0700(built):
    found = {path: path.stat().st_mode & 0o777 for path in [built, *built.rglob("*")]}
    kinds = {path.relative_to(built).parts[0] for path in found if path != built}
    # Database, keys, the demo's policy, datasets, explanations, artifacts, a report and an export.
    assert {"ethics.db", "privacy.key", "audit.key", "ethics.toml", "datasets", "explanations", "artifacts",
            "reports", "audit.csv"} <= kinds
    wrong = {str(path.relative_to(built.parent)): oct(mode) for path, mode in found.items()
             if mode != (0o700 if path.is_dir() else 0o600)}
    assert wrong == {}


def test_opening_an_existing_world_readable_home_makes_it_private(tmp_path):
    before = _open_umask()
    try:
        home = tmp_path / "old"
        home.mkdir(mode=0o755)
        home.chmod(0o755)
        sqlite3.connect(home / "ethics.db").close()
        (home / "ethics.db").chmod(0o644)
        db = store.open_db(home / "ethics.db")
        store.migrate(db)
        db.close()
    finally:
        os.umask(before)
    assert home.stat().st_mode & 0o777 == 0o700  # the files inside are out of other accounts' reach
    assert (home / "ethics.db").stat().st_mode & 0o777 == 0o600


def test_make_run_on_a_home_built_with_the_public_key_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr("ethics.registry.list_models", lambda db: [{"id": "lead-scoring"}])
    monkeypatch.setenv("ETHICS_HOME", str(tmp_path))
    privacy.write_key(tmp_path, PUBLIC_KEY)
    result = CliRunner().invoke(cli, ["demo", "--if-empty"])
    assert result.exit_code == 0 and "built with the public demo key" in result.output
