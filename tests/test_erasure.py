"""Erasure as a journaled job: the plan finds every place, a killed erasure resumes, nothing stays behind.

The data home is the example model with one week and its snapshot (per-lead explanations), and one customer
who is everywhere a customer can be: contact details, consent, a contest, an override, an incident naming
them in capitals, its owner, a comment and an update reason, a signed review's comment, a sign-in attempt
with their e-mail as username, and orphan Parquet files a killed writer left (a full copy, two ``.part``
files, one of them truncated, and a per-lead explanations copy).
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from ethics import (
    audit,
    auth,
    consent,
    datasets,
    dsr,
    erasure,
    explain,
    incidents,
    leads,
    privacy,
    reviews,
    snapshots,
    store,
)
from ethics.cli import cli
from ethics.errors import PermissionDenied, ValidationError
from ethics.weeks import iso
from tests.conftest import EXAMPLE_MODEL, EXAMPLE_VERSION, REPO, WEEK

CUSTOMER = "C000455"
LEAD = "WB-01000"  # C000455's lead in data/examples/scores.csv
NAME = "Anna Berg"
EMAIL = "anna.berg@example.com"
PHONE = "020 7946 0321"
SECRETS = (CUSTOMER, NAME, EMAIL, PHONE, LEAD)
OFFICER = auth.Actor(username="olivia", display_name="Olivia", role="ethics_officer")
ORPHANS = {"datasets/" + "ab" * 32 + ".parquet", "datasets/" + "cd" * 32 + ".part",
           "datasets/" + "ef" * 32 + ".part", "explanations/" + "12" * 32 + ".parquet"}


def _seed(db, home, snap, now):
    """The customer everywhere, and the orphans a killed writer leaves (an hour old)."""
    privacy.record_customers(db, [{"customer_id": CUSTOMER, "name": NAME, "email": EMAIL, "phone": PHONE}],
                             source_name="crm.csv", actor="t", now=now)
    consent.record_events(db, [{"event_id": "E1", "customer_id": CUSTOMER, "purpose": "ai_scoring",
                                "status": "granted", "source": "web_form", "occurred_at": "2026-10-01T09:00:00Z"}],
                          source_name="events.csv", actor="t", now=now)
    leads.contest_score(db, home=home, actor=OFFICER, model_id=EXAMPLE_MODEL, snapshot_id=snap["id"], lead_id=LEAD,
                        reason=f"{NAME} says the score is wrong", now=now)
    for decision in ("selected", "not selected"):
        try:
            leads.override_decision(db, home=home, actor=OFFICER, model_id=EXAMPLE_MODEL, snapshot_id=snap["id"],
                                    lead_id=LEAD, decision=decision, reason=f"Spoke to {NAME.lower()} on {PHONE}",
                                    now=now)
            break
        except ValidationError:
            continue
    mail = incidents.open_incident(db, model_id=EXAMPLE_MODEL, severity="low", category="privacy",
                                   title=f"Complaint from {EMAIL.upper()}", description="Asked what is held.",
                                   reporter="olivia", owner=NAME, now=now)
    incidents.add_comment(db, mail["id"], author="olivia", body=f"Called {NAME.upper()} back.", now=now)
    incidents.update_incident(db, mail["id"], actor="olivia", status="investigating", reason=f"waiting for {EMAIL}",
                              now=now)
    reviews.sign_review(db, model_id=EXAMPLE_MODEL, snapshot_hash=snap["hash"], decision="approve",
                        checklist=dict.fromkeys(reviews.CHECKLIST, True), reviewer="olivia",
                        comment=f"The contest by {NAME} is followed up.", now=now)
    with pytest.raises(PermissionDenied):  # stored as a keyed tag now, never as the typed e-mail
        auth.authenticate(db, EMAIL, "not a password of anyone", now=now)
    # A home written before unknown names were tagged holds the e-mail itself, in the attempt and its audit entry.
    auth._record_attempt(db, EMAIL, succeeded=False, reason="unknown user", stamp=iso(now))
    batch = datasets.find_dataset(db, EXAMPLE_MODEL, version=EXAMPLE_VERSION, kind="scores", week=WEEK)
    data = (home / batch["parquet_file"]).read_bytes()
    full, part, truncated, leads_copy = sorted(ORPHANS)
    (home / full).write_bytes(data)
    (home / part).write_bytes(data)
    (home / truncated).write_bytes(data[: len(data) // 2])
    ref = snap["results"]["explanations"]["leads"]
    (home / leads_copy).write_bytes((home / ref["file"]).read_bytes())
    old = time.time() - 3600
    for relative in ORPHANS:
        os.utime(home / relative, (old, old))


@pytest.fixture
def held(db, home, example_snapshot, now):
    """The seeded data home, its database folded so the folder can be copied."""
    _seed(db, home, example_snapshot, now)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db, home, example_snapshot


def _audit_naming(db):
    """Seqs of the audit entries whose actor, object or payload names the customer."""
    rows = db.execute(f"select seq, actor || ' ' || object_id || ' ' || properties_json from {store.AUDIT}")
    return sorted(seq for seq, text in rows if any(s.lower() in text.lower() for s in SECRETS))


def _traces(home, *, to_tombstone):
    """(file, text) for every file of the data home holding an id, name, e-mail, phone or lead id.

    The database is read after folding its log in; the audit entries the erasure listed "to tombstone" are
    taken out of a copy first (their payloads wait for ``audit.tombstone``), so any other trace still shows.
    """
    db = store.open_db(home / "ethics.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    found = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes().lower()
        if path.name == "ethics.db" and to_tombstone:
            copy = home.parent / f"{home.name}-without-tombstoned.db"
            shutil.copyfile(path, copy)
            conn = sqlite3.connect(copy)
            conn.execute(f"drop trigger {store.AUDIT}_no_delete")
            conn.execute(f"delete from {store.AUDIT} where seq in ({', '.join(map(str, to_tombstone))})")
            conn.commit()
            conn.execute("VACUUM")
            conn.close()
            data = copy.read_bytes().lower()
            copy.unlink()
        found += [(path.relative_to(home).as_posix(), s) for s in SECRETS if s.lower().encode() in data]
    return found


def test_the_plan_names_every_place(held):
    db, home, snap = held
    plan = erasure.plan_erasure(db, home, CUSTOMER)
    assert set(plan["needles"]) >= {CUSTOMER, NAME, EMAIL, PHONE, LEAD, privacy.pseudonymise(db, CUSTOMER)}
    rows = {(p["table"], p["column"], p["action"]) for p in plan["places"] if p["kind"] == "row"}
    assert {
        (store.CUSTOMERS, "pseudonym,customer_ref,name,email,phone", "delete_row"),
        (store.CONSENT_EVENTS, "customer_id", "delete_row"),
        (store.INCIDENTS, "title", "redact"),  # "Complaint from ANNA.BERG@EXAMPLE.COM"
        (store.INCIDENTS, "owner", "redact"),
        (store.INCIDENTS, "lead_id", "redact"),  # the contest
        (store.INCIDENTS, "description", "tombstone"),  # the contest's description holds the lead's values
        (store.INCIDENT_COMMENTS, "body", "redact"),
        (store.OVERRIDES, "reason", "tombstone"),
        (store.OVERRIDES, "lead_id", "tombstone"),
        (store.REVIEWS, "comment", "tombstone"),
        (store.SIGN_INS, "username", "redact"),
    } <= rows
    files = {(p["path"], p["action"]) for p in plan["places"] if p["kind"] == "file"}
    batch = datasets.find_dataset(db, EXAMPLE_MODEL, version=EXAMPLE_VERSION, kind="scores", week=WEEK)
    assert (batch["parquet_file"], "rewrite") in files
    assert (snap["results"]["explanations"]["leads"]["file"], "rewrite") in files
    assert {(path, "delete_file") for path in ORPHANS} <= files
    audited = [p["seq"] for p in plan["places"] if p["kind"] == "audit"]
    assert audited == _audit_naming(db) and len(audited) == 5  # contest, override, incident, update, sign-in
    assert {p["audit_action"] for p in plan["places"] if p["kind"] == "audit"} == {
        "incident.opened", "decision.overridden", "incident.updated", "user.sign_in"}
    assert any(p["kind"] == "cache" for p in plan["places"])
    # The journal stores places and steps, never the texts searched for.
    text = store.to_json(erasure.steps_of(plan)) + store.to_json(plan["places"])
    assert not any(s.lower() in text.lower() for s in SECRETS)


def test_erasure_leaves_no_trace_and_keeps_the_records(held, now):
    db, home, snap = held
    ref = snap["results"]["explanations"]["leads"]
    done = dsr.erase_subject(db, customer_id=CUSTOMER, home=home, actor="olivia", now=now)
    assert done["status"] == "done" and done["job"]["steps_done"] == done["job"]["steps"]
    assert done["to_tombstone"] == []  # every payload naming the customer is a tombstone now
    # What still names them: the chained actor or object id of entries the chain covers as they are.
    assert done["chained"] == _audit_naming(db) == [p["seq"] for p in done["job"]["places"]
                                                    if p["kind"] == "audit" and set(p["fields"]) - {"properties_json"}]
    # Only the legacy sign-in, whose chained actor is the e-mail: an override names its row, the lead in the payload.
    assert len(done["chained"]) == 1
    assert _traces(home, to_tombstone=done["chained"]) == []
    assert audit.verify(db).ok
    assert not ORPHANS & {f"{p.parent.name}/{p.name}" for p in home.rglob("*")}
    # Every record still reads (hash-checked) without the customer; the snapshot still verifies.
    pseudonym = privacy.pseudonymise(db, CUSTOMER)
    for dataset in store.list_rows(db, store.DATASETS):
        assert pseudonym not in set(datasets.read_rows(dataset, home=home)["customer_id"])
    assert pseudonym not in set(explain.read_leads(ref, home=home)["customer_id"])
    assert snapshots.verify_snapshot(db, snap["id"])
    (override,) = store.list_rows(db, store.OVERRIDES)
    assert (override["reason"], override["lead_id"]) == (dsr.ERASED_TEXT, f"{dsr.ERASED_TEXT}#{override['id']}")
    (review,) = store.list_rows(db, store.REVIEWS)
    assert review["comment"] == dsr.ERASED_TEXT and reviews.verify_review(db, review["id"])
    mail = next(i for i in incidents.list_incidents(db) if i["category"] == "privacy")
    assert (mail["title"], mail["owner"]) == ("Complaint from [erased]", "[erased]")
    # Overrides and reviews stay immutable apart from the tombstone.
    for sql in (f"update {store.OVERRIDES} set decision = decision || '!', reason = '[erased]'",
                f"update {store.OVERRIDES} set reason = 'something else'",
                f"update {store.REVIEWS} set decision = 'suspend'"):
        with pytest.raises(sqlite3.IntegrityError, match="immutable"):
            db.execute(sql)
    with pytest.raises(ValidationError, match="was already erased on 2026-11-25"):
        dsr.erase_subject(db, customer_id=CUSTOMER, home=home, actor="olivia", now=now)


def test_a_running_app_stops_serving_the_erased_customer(held, now, monkeypatch):
    from ethics import ui

    db, home, snap = held
    monkeypatch.setenv("ETHICS_HOME", str(home))
    ui.settings.clear()
    ref = snap["results"]["explanations"]["leads"]
    pseudonym = privacy.pseudonymise(db, CUSTOMER)
    try:
        ui.forget_if_erased(db)  # what every page run does first
        assert pseudonym in set(ui.lead_explanations(ref)["customer_id"])
        dsr.erase_subject(db, customer_id=CUSTOMER, home=home, actor="olivia", now=now)
        assert pseudonym in set(ui.lead_explanations(ref)["customer_id"])  # the cache, until the next page run
        ui.forget_if_erased(db)
        assert pseudonym not in set(ui.lead_explanations(ref)["customer_id"])
    finally:
        ui.clear_readers()
        ui.settings.clear()


_ERASE = ("import sys; from pathlib import Path; from ethics import dsr, store; home = Path(sys.argv[1]); "
          "db = store.open_db(home / 'ethics.db'); store.migrate(db); "
          "dsr.erase_subject(db, customer_id=sys.argv[2], home=home, actor='olivia')")


def test_an_erasure_killed_at_every_point_resumes_and_leaves_no_trace(held, tmp_path, monkeypatch):
    db, home, snap = held
    # Where the erasure can be killed: every point between steps and inside the steps that write files.
    counted = shutil.copytree(home, tmp_path / "counted")
    log = tmp_path / "points.log"
    monkeypatch.setenv(erasure.CRASH_LOG_ENV, str(log))
    counting = store.open_db(counted / "ethics.db")
    expected = dsr.erase_subject(counting, customer_id=CUSTOMER, home=counted, actor="olivia")
    counting.close()
    monkeypatch.delenv(erasure.CRASH_LOG_ENV)
    points = log.read_text().splitlines()
    assert len(points) > 20 and points[0] == "job started"
    assert sum(p.endswith(" done") for p in points) == expected["job"]["steps"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runner = CliRunner()
    for k, point in enumerate(points, start=1):
        target = shutil.copytree(home, tmp_path / f"killed-{k}")
        killed = subprocess.run([sys.executable, "-c", _ERASE, str(target), CUSTOMER], cwd=REPO,
                                env={**env, erasure.CRASH_ENV: str(k)}, capture_output=True, text=True)
        assert killed.returncode == -9, (point, killed.stderr[-2000:])
        after = store.open_db(target / "ethics.db")
        finished = k == len(points)  # killed after the last step: done, nothing to resume
        job = erasure.unfinished_job(after, privacy.pseudonymise(after, CUSTOMER))
        assert (job is None) == finished, point  # never recorded as done before its last step
        for dataset in store.list_rows(after, store.DATASETS):  # every record still reads while it waits
            datasets.read_rows(dataset, home=target)
        explain.read_leads(snap["results"]["explanations"]["leads"], home=target)
        after.close()
        monkeypatch.setenv("ETHICS_HOME", str(target))
        resumed = runner.invoke(cli, ["dsr", "erase", "--customer", CUSTOMER, "--yes"], catch_exceptions=False)
        if finished:
            assert resumed.exit_code == 2 and "was already erased" in resumed.output, resumed.output
        else:
            assert resumed.exit_code == 0 and "erased customer (request" in resumed.output, (point, resumed.output)
        after = store.open_db(target / "ethics.db")
        (job,) = erasure.list_jobs(after)
        assert job["status"] == "done" and audit.verify(after).ok, point
        chained = erasure.summary(after, job["id"])["chained"]
        assert job["to_tombstone"] == [] and chained == _audit_naming(after) == expected["chained"], point
        after.close()
        assert _traces(target, to_tombstone=chained) == [], point
        shutil.rmtree(target)


def test_doctor_lists_and_removes_orphans(held, monkeypatch):
    db, home, snap = held
    monkeypatch.setenv("ETHICS_HOME", str(home))
    fresh = home / "datasets" / ("99" * 32 + ".part")  # an import about to commit: too young to remove
    fresh.write_bytes(b"PAR1")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, ["doctor", *args], catch_exceptions=False)

    listed = run()
    assert listed.exit_code == 0 and "5 orphan file(s), 0 removed; run with --remove" in listed.output
    for relative in ORPHANS:
        assert f"orphan: {relative} (" in listed.output
    assert "kept (recent): datasets/" + "99" * 32 + ".part (unfinished write" in listed.output
    assert all((home / relative).exists() for relative in ORPHANS)
    removed = run("--remove")
    assert "5 orphan file(s), 4 removed" in removed.output
    assert not any((home / relative).exists() for relative in ORPHANS) and fresh.exists()
    assert "1 orphan file(s), 1 removed" in run("--remove", "--min-age", "0").output
    assert "0 orphan file(s), 0 removed" in run().output
    # Every referenced file is still there and reads.
    for dataset in store.list_rows(db, store.DATASETS):
        datasets.read_rows(dataset, home=home)
    explain.read_leads(snap["results"]["explanations"]["leads"], home=home)


def test_audit_entries_go_to_the_tombstone_hook_when_it_exists(held, now, monkeypatch):
    """The merge with the audit-integrity work: ``audit.tombstone(db, seq, reason)`` gets every planned seq."""
    db, home, _ = held
    called = []

    def tombstone(db_, seq, reason):
        assert db_.conn.in_transaction  # in the step's transaction, so the step is done exactly when they are
        called.append((seq, reason))

    monkeypatch.setattr(audit, "tombstone", tombstone, raising=False)
    planned = _audit_naming(db)
    done = dsr.erase_subject(db, customer_id=CUSTOMER, home=home, actor="olivia", now=now)
    assert [seq for seq, _ in called] == planned and done["to_tombstone"] == []
    assert {reason for _, reason in called} == {f"erasure job {done['job']['id']} (data-subject request)"}
    assert done["details"]["to_tombstone"] == []
