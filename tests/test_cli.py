import json

import click
import pytest
from click.testing import CliRunner

from ethics import store
from ethics.cli import cli
from tests.conftest import REPO, WEEK


@pytest.fixture
def run(home, monkeypatch):
    monkeypatch.setenv("ETHICS_HOME", str(home))
    monkeypatch.setenv("ETHICS_ACTOR", "tester")
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return invoke


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


ALL_COMMANDS = [" ".join(path) for path, _ in _commands(cli)]


def test_register_import_snapshot_models(run, examples):
    result = run("register", examples / "manifest.toml")
    assert result.exit_code == 0, result.output
    assert "registered webinar-follow-up 1.0.0 (artifact linear" in result.output
    result = run("import", "eval", "--model", "webinar-follow-up", "--version", "1.0.0", "--week", WEEK,
                 examples / "eval.csv")
    assert result.exit_code == 0 and "imported 300 rows as evaluation set" in result.output
    result = run("import", "scores", "--model", "webinar-follow-up", "--version", "1.0.0", "--week", WEEK,
                 examples / "scores.csv")
    assert result.exit_code == 0 and "imported 200 rows as scoring batch" in result.output
    result = run("snapshot", "--model", "webinar-follow-up", "--week", WEEK)
    assert result.exit_code == 0 and f"of webinar-follow-up 1.0.0 for {WEEK}:" in result.output
    models = json.loads(run("models", "--json").output)
    assert [(m["id"], m["latest_version"], m["team"]) for m in models] == [("webinar-follow-up", "1.0.0", "north")]
    assert "webinar-follow-up" in run("models").output


def test_bad_input_exits_2_with_the_message(run, examples):
    run("register", examples / "manifest.toml")
    bad = examples / "bad.csv"
    bad.write_text((examples / "eval.csv").read_text().replace("WB-00001", "WB-00000", 1))
    result = run("import", "eval", "--model", "webinar-follow-up", "--version", "1.0.0", "--week", WEEK, bad)
    assert result.exit_code == 2
    assert "bad.csv, rows 1, 2, column 'lead_id'" in result.output
    assert "Traceback" not in result.output
    result = run("snapshot", "--model", "ghost")
    assert result.exit_code == 2 and "Unknown model 'ghost'" in result.output


def test_migrate_and_list(run):
    from ethics.migrations import MIGRATIONS

    assert f"applied {len(MIGRATIONS.pending(store.open_db(memory=True)))} migration(s)" in run("migrate").output
    assert run("migrate").output.strip() == "up to date"
    listed = run("migrate", "--list").output
    assert "applied  0001_registry_datasets_snapshots" in listed


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_every_command_has_help_and_is_documented(run, command):
    result = run(*command.split(), "--help")
    assert result.exit_code == 0
    assert len(result.output.splitlines()) > 3
    assert f"python -m ethics {command}" in (REPO / "README.md").read_text()


def test_fairness_prints_the_snapshot_verdicts_and_exits_1_on_a_fail(run, home, demo_home, tmp_path, monkeypatch):
    import shutil

    from ethics import snapshots

    copy = tmp_path / "demo"
    shutil.copytree(demo_home, copy)
    monkeypatch.setenv("ETHICS_HOME", str(copy))
    result = run("fairness", "--model", "lead-scoring")
    assert result.exit_code == 1
    latest = snapshots.latest_snapshot(store.open_db(copy / "ethics.db"), "lead-scoring")
    for verdict in latest["results"]["verdicts"]:
        assert verdict["sentence"] in result.output
    data = json.loads(run("fairness", "--model", "lead-scoring", "--json").output)
    assert data["snapshot"] == latest["hash"] and data["verdicts"] == latest["results"]["verdicts"]
    week = run("fairness", "--model", "lead-scoring", "--week", "2026-W41", "--json")
    assert json.loads(week.output)["week"] == "2026-W41"


def test_a_snapshot_after_the_demo_reads_the_policy_the_demo_wrote(run, demo_home, tmp_path, monkeypatch):
    import shutil

    from ethics import snapshots

    copy = tmp_path / "demo"
    shutil.copytree(demo_home, copy)
    monkeypatch.setenv("ETHICS_HOME", str(copy))
    demo_snapshot = snapshots.latest_snapshot(store.open_db(copy / "ethics.db"), "discount-size")
    # The same inputs under the same policy: the CLI finds the demo's own snapshot (its hash covers the policy).
    again = run("snapshot", "--model", "discount-size", "--week", "2026-W48")
    assert again.exit_code == 0 and again.output.splitlines()[0].endswith(demo_snapshot["hash"])
    settings = copy / "ethics.toml"
    settings.write_text(settings.read_text().replace("fail_above = 1.0", "fail_above = 3.0"))
    changed = run("snapshot", "--model", "discount-size", "--week", "2026-W48")
    assert changed.exit_code == 0 and demo_snapshot["hash"] not in changed.output
    latest = snapshots.latest_snapshot(store.open_db(copy / "ethics.db"), "discount-size")
    assert latest["policy"]["continuous"]["mean_difference"] == {"warn_above": 0.5, "fail_above": 3.0}


@pytest.mark.parametrize("args,message", [
    (["fairness", "--model", "ghost"], "Unknown model 'ghost'"),
    (["fairness", "--model", "webinar-follow-up", "--week", "2026-W01"],
     "Model 'webinar-follow-up' has no snapshot for week 2026-W01."),
    (["fairness", "--model", "webinar-follow-up", "--week", "someday"], "'someday' is not an ISO week"),
    (["snapshot", "--model", "webinar-follow-up", "--week", "2026-W02"],
     "Model 'webinar-follow-up' has no evaluation set or scoring batch for week 2026-W02."),
])
def test_fairness_bad_input_exits_2_and_writes_nothing(run, examples, home, args, message):
    from tests.conftest import state_of

    run("register", examples / "manifest.toml")
    run("import", "eval", "--model", "webinar-follow-up", "--version", "1.0.0", "--week", WEEK,
        examples / "eval.csv")
    run("snapshot", "--model", "webinar-follow-up", "--week", WEEK)
    before = state_of(home)
    result = run(*args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert state_of(home) == before


@pytest.fixture(scope="module")
def demo_copy(demo_home, tmp_path_factory):
    import shutil

    copy = tmp_path_factory.mktemp("explain-cli") / "home"
    shutil.copytree(demo_home, copy)
    return copy


def test_explain_global_and_lead(run, demo_copy, monkeypatch):
    from ethics import snapshots

    monkeypatch.setenv("ETHICS_HOME", str(demo_copy))
    latest = snapshots.latest_snapshot(store.open_db(demo_copy / "ethics.db"), "lead-scoring")
    data = json.loads(run("explain", "--model", "lead-scoring", "--global", "--json").output)
    assert data["snapshot"] == latest["hash"] and data["importance"] == latest["results"]["explanations"]["importance"]
    text = run("explain", "--model", "lead-scoring", "--global").output
    assert "PROXY Postcode region ~ Age band: Cramér's V 0.5" in text
    (lead,) = json.loads(run("explain", "--model", "lead-scoring", "--lead", "LS-2026W48-000001", "--json").output)
    assert lead["lead_id"] == "LS-2026W48-000001" and lead["snapshot_hash"] == latest["hash"]
    text = run("explain", "--model", "lead-scoring", "--lead", "LS-2026W48-000001").output
    for reason in lead["explanation"]["reasons"]["raising"] + lead["explanation"]["reasons"]["lowering"]:
        assert reason["text"] in text


@pytest.mark.parametrize("args,message", [
    (["--model", "ghost", "--global"], "Unknown model 'ghost'"),
    (["--model", "lead-scoring", "--lead", "LS-nope"], "No lead or customer 'LS-nope'"),
    (["--model", "discount-size", "--global"], "No explanation available: scores-only model"),
    (["--model", "lead-scoring"], "Give either --lead LEAD or --global"),
])
def test_explain_bad_input_exits_2_without_a_traceback(run, demo_copy, monkeypatch, args, message):
    monkeypatch.setenv("ETHICS_HOME", str(demo_copy))
    result = run("explain", *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_consent_and_dsr_commands(run, examples, home, now):
    from ethics import privacy

    run("register", examples / "manifest.toml")
    events = examples / "events.csv"
    events.write_text("event_id,customer_id,purpose,status,source,occurred_at\n"
                      "E1,C000455,ai_scoring,granted,web_form,2026-10-01T09:00:00Z\n"
                      "E2,C000096,ai_scoring,objected,call,2026-10-02T09:00:00Z\n")
    result = run("consent", "import", events)
    assert result.exit_code == 0 and "appended 2 consent events from events.csv" in result.output
    people = examples / "people.csv"
    people.write_text("customer_id,name,email\nC000455,Ada Example,ada@example.com\n")
    assert "stored 1 customers from people.csv" in run("customers", "import", people).output
    run("import", "scores", "--model", "webinar-follow-up", "--version", "1.0.0", "--week", WEEK,
        examples / "scores.csv")
    run("snapshot", "--model", "webinar-follow-up", "--week", WEEK)
    result = run("consent", "coverage", "--model", "webinar-follow-up", "--json")
    assert result.exit_code == 1  # coverage far below the policy
    data = json.loads(result.output)
    assert data["light"]["status"] == "fail" and data["consent"]["scored"] == 200
    assert data["consent"]["covered"] + data["consent"]["without_consent"] == 200
    assert "team north" in run("consent", "coverage", "--model", "webinar-follow-up").output
    violations = run("consent", "violations", "--model", "webinar-follow-up", "--week", WEEK).output
    assert violations.startswith("lead_id,customer,") and len(violations.splitlines()) == 1 + data["consent"][
        "without_consent"]
    routing = json.loads(run("consent", "routing", "--json").output)
    assert [r["customer"] for r in routing] == [privacy.pseudonymise(store.open_db(home / "ethics.db"), "C000096")]
    export = json.loads(run("dsr", "export", "--customer", "C000455").output)
    assert export["details"]["name"] == "Ada Example" and export["scores"]
    assert run("dsr", "export", "--customer", "C000455", "--format", "csv").output.startswith("section,record")
    result = run("dsr", "erase", "--customer", "C000455", "--yes")
    assert result.exit_code == 0 and "1 contact record(s)" in result.output
    assert run("audit", "verify").output.startswith("ok, ")
    result = run("dsr", "erase", "--customer", "C000455", "--yes")
    assert result.exit_code == 2 and "was already erased" in result.output
    result = run("consent", "import", events)
    assert result.exit_code == 2 and "already imported" in result.output
