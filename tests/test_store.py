import sqlite3
import threading

import pytest

from ethics import store
from ethics.errors import ValidationError
from ethics.migrations import MIGRATIONS


def test_fresh_database_ends_with_nothing_pending(fresh_db):
    assert MIGRATIONS.pending(fresh_db) == []
    assert [m.name for m in MIGRATIONS.applied(fresh_db)] == [
        "0001_registry_datasets_snapshots",
        "0002_consent_events_incidents",
        "0003_users_sign_ins",
        "0004_snapshot_summary",
        "0005_audit_log_incident_comments",
        "0006_reviews",
        "0007_explanations_overrides",
        "0008_consent_privacy",
        "0009_teams_and_incident_scope",
        "0010_reviews_name_their_snapshot",
        "0011_versions_threshold_nullable",
        "0012_erasure_jobs",
        "0013_audit_chain_v2",
        "0014_chain_covers_teams_and_customers",
        "0015_versions_reference_scores",
    ]


def test_second_migrate_is_a_no_op(home):
    db = store.open_db(home / "ethics.db")
    assert len(store.migrate(db)) == len(MIGRATIONS.pending(store.open_db(memory=True)))
    schema = db.execute("select sql from sqlite_master order by name").fetchall()
    assert store.migrate(db) == []
    assert db.execute("select sql from sqlite_master order by name").fetchall() == schema


def test_old_database_is_upgraded(home):
    db = store.open_db(home / "ethics.db")
    MIGRATIONS.apply(db, stop_before="0002_consent_events_incidents")
    assert not db[store.INCIDENTS].exists()
    db.close()
    db = store.open_db(home / "ethics.db")
    assert store.migrate(db) == [
        "0002_consent_events_incidents", "0003_users_sign_ins", "0004_snapshot_summary",
        "0005_audit_log_incident_comments", "0006_reviews", "0007_explanations_overrides",
        "0008_consent_privacy", "0009_teams_and_incident_scope",
        "0010_reviews_name_their_snapshot", "0011_versions_threshold_nullable", "0012_erasure_jobs",
        "0013_audit_chain_v2",
        "0014_chain_covers_teams_and_customers", "0015_versions_reference_scores"]
    assert db[store.INCIDENTS].exists()
    assert MIGRATIONS.pending(db) == []


def test_file_database_uses_wal_and_busy_timeout(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == int(store.BUSY_TIMEOUT_S * 1000)
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_transaction_rolls_back_everything_on_error(db, now):
    with pytest.raises(RuntimeError):
        with store.transaction(db):
            db[store.MODELS].insert(
                {"id": "m1", "name": "n", "purpose": "churn", "team": "t", "risk_tier": "low",
                 "status": "active", "created_at": "x"}
            )
            raise RuntimeError("boom")
    assert db[store.MODELS].count == 0
    assert not db.conn.in_transaction


def test_transaction_takes_the_write_lock_at_begin(home, db):
    """BEGIN IMMEDIATE: a second writer waits for the lock instead of failing mid-way."""
    other = sqlite3.connect(str(home / "ethics.db"), timeout=0, isolation_level=None)
    with store.transaction(db):
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()


def test_concurrent_writers_queue_on_the_busy_timeout(home, db):
    errors = []

    def write(n):
        conn = store.open_db(home / "ethics.db")
        try:
            for i in range(20):
                with store.transaction(conn):
                    conn[store.MODELS].insert(
                        {"id": f"m{n}-{i}", "name": "n", "purpose": "churn", "team": "t",
                         "risk_tier": "low", "status": "active", "created_at": "x"}
                    )
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert db[store.MODELS].count == 80


def test_integrity_errors_become_validation_errors(db):
    row = {"id": "m1", "name": "n", "purpose": "churn", "team": "t", "risk_tier": "low",
           "status": "active", "created_at": "x"}
    with store.transaction(db):
        db[store.MODELS].insert(row)
    with pytest.raises(ValidationError, match="Rule broken in the database"):
        with store.transaction(db):
            db[store.MODELS].insert(row)


def test_snapshots_and_versions_cannot_be_updated(db, example_snapshot):
    with pytest.raises(sqlite3.IntegrityError, match="snapshots are immutable"):
        db.execute("update snapshots set week = '2020-W01'")
    with pytest.raises(sqlite3.IntegrityError, match="model versions are immutable"):
        db.execute("update model_versions set threshold = 0.1")


def test_reviews_get_the_week_and_version_of_the_snapshot_they_sign(home):
    """0010 backfills what an old review signed from its snapshot, and reviews stay immutable after it."""
    db = store.open_db(home / "ethics.db")
    MIGRATIONS.apply(db, stop_before="0010_reviews_name_their_snapshot")
    db[store.MODELS].insert({"id": "m1", "name": "n", "purpose": "churn", "team": "t", "risk_tier": "low",
                             "status": "active", "created_at": "2026-11-20T09:00:00+00:00"})
    for snapshot_id, week, version in ((1, "2026-W47", "1.0.0"), (2, "2026-W48", "1.1.0")):
        db[store.SNAPSHOTS].insert({"id": snapshot_id, "model_id": "m1", "version": version, "week": week,
                                    "hash": f"h{snapshot_id}", "results_json": "{}"})
    for review_id, snapshot_id, signed_at in ((1, 1, "2026-11-24T10:00:00+00:00"), (2, 2, "2026-12-01T10:00:00+00:00")):
        db[store.REVIEWS].insert({"id": review_id, "model_id": "m1", "week": f"2026-W{47 + review_id}",
                                  "snapshot_id": snapshot_id, "snapshot_hash": f"h{snapshot_id}",
                                  "decision": "approve", "reviewer": "olivia", "signed_at": signed_at})
    assert "0010_reviews_name_their_snapshot" in store.migrate(db)
    rows = db.execute("select id, week, snapshot_week, snapshot_version from reviews order by id").fetchall()
    assert rows == [(1, "2026-W48", "2026-W47", "1.0.0"), (2, "2026-W49", "2026-W48", "1.1.0")]
    with pytest.raises(sqlite3.IntegrityError, match="signed reviews are immutable"):
        db.execute("update reviews set snapshot_week = '2020-W01'")


def test_versions_without_a_threshold_get_null_instead_of_the_old_zero(home):
    """0011 drops NOT NULL from the threshold: versions with the 0.0 stand-in get NULL, and stay immutable."""
    db = store.open_db(home / "ethics.db")
    MIGRATIONS.apply(db, stop_before="0011_versions_threshold_nullable")
    db[store.MODELS].insert({"id": "m1", "name": "n", "purpose": "discount", "team": "t", "risk_tier": "low",
                             "status": "active", "created_at": "2026-11-20T09:00:00+00:00"})
    versions = (("1.0.0", '{"threshold": 0.5}'), ("2.0.0", '{"outcome": "continuous", "threshold": null}'))
    for version, manifest in versions:
        db[store.VERSIONS].insert({"model_id": "m1", "version": version, "artifact_kind": "none",
                                   "threshold": 0.5 if "0.5" in manifest else 0.0, "manifest_json": manifest})
    assert store.migrate(db) == ["0011_versions_threshold_nullable", "0012_erasure_jobs", "0013_audit_chain_v2",
        "0014_chain_covers_teams_and_customers", "0015_versions_reference_scores"]
    assert db.execute("select version, threshold from model_versions order by version").fetchall() == [
        ("1.0.0", 0.5), ("2.0.0", None)]
    assert db[store.VERSIONS].indexes[0].unique and db[store.VERSIONS].indexes[0].columns == ["model_id", "version"]
    with pytest.raises(sqlite3.IntegrityError, match="model versions are immutable"):
        db.execute("update model_versions set threshold = 0.1")


def test_overrides_and_reviews_take_only_the_erasure_tombstone(home):
    """0012: an old override and review stay immutable, except a field replaced by '[erased]' (an erasure)."""
    db = store.open_db(home / "ethics.db")
    MIGRATIONS.apply(db, stop_before="0012_erasure_jobs")
    db[store.MODELS].insert({"id": "m1", "name": "n", "purpose": "churn", "team": "t", "risk_tier": "low",
                             "status": "active", "created_at": "2026-11-20T09:00:00+00:00"})
    db[store.SNAPSHOTS].insert({"id": 1, "model_id": "m1", "version": "1.0.0", "week": "2026-W48", "hash": "h1",
                                "results_json": "{}"})
    db[store.OVERRIDES].insert({"id": 7, "model_id": "m1", "version": "1.0.0", "snapshot_id": 1, "lead_id": "L1",
                                "team": "t", "score": 0.4, "threshold": 0.5, "model_decision": "not selected",
                                "decision": "selected", "reason": "Anna Berg called", "actor": "sm",
                                "created_at": "2026-11-24T10:00:00+00:00"})
    db[store.REVIEWS].insert({"id": 1, "model_id": "m1", "week": "2026-W48", "snapshot_id": 1, "snapshot_hash": "h1",
                              "decision": "approve", "comment": "Anna Berg's contest", "reviewer": "olivia",
                              "signed_at": "2026-11-24T10:00:00+00:00"})
    assert store.migrate(db) == ["0012_erasure_jobs", "0013_audit_chain_v2",
        "0014_chain_covers_teams_and_customers", "0015_versions_reference_scores"]
    for sql in ("update decision_overrides set reason = 'changed'", "update decision_overrides set lead_id = 'L2'",
                "update decision_overrides set decision = 'not selected', reason = '[erased]'",
                "update decision_overrides set lead_id = '[erased]#8'", "delete from decision_overrides"):
        with pytest.raises(sqlite3.IntegrityError, match="decision overrides are immutable"):
            db.execute(sql)
    for sql in ("update reviews set comment = 'changed'", "update reviews set decision = 'suspend'",
                "delete from reviews"):
        with pytest.raises(sqlite3.IntegrityError, match="signed reviews are immutable"):
            db.execute(sql)
    db.execute("update decision_overrides set reason = '[erased]', lead_id = '[erased]#7'")
    db.execute("update reviews set comment = '[erased]'")
    assert db.execute("select reason, lead_id from decision_overrides").fetchone() == ("[erased]", "[erased]#7")
    assert db.execute("select comment from reviews").fetchone() == ("[erased]",)
    assert db.execute(f"select generation from {store.DATA_GENERATION}").fetchone() == (0,)
    job = {"pseudonym": "p-1", "status": "running", "actor": "olivia", "started_at": "t", "plan_json": "[]"}
    db[store.ERASURE_JOBS].insert(job)
    with pytest.raises(sqlite3.IntegrityError):
        db[store.ERASURE_JOBS].insert(job)  # one unfinished erasure per customer: a second one resumes it
