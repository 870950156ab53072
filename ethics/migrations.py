"""Numbered schema migrations of the governance database.

Never edit a migration that may have been applied somewhere; add the next one.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

from ethics import audit
from ethics.store import (
    AUDIT,
    CHECKPOINTS,
    CONSENT_EVENTS,
    CUSTOMERS,
    DATA_GENERATION,
    DATASETS,
    DSR_REQUESTS,
    ERASURE_JOBS,
    ERASURE_STEPS,
    INCIDENT_COMMENTS,
    INCIDENTS,
    MODEL_TEAMS,
    MODELS,
    OVERRIDES,
    PRIVACY_KEY,
    REVIEWS,
    SIGN_INS,
    SNAPSHOTS,
    TEAMS,
    USERS,
    VERSIONS,
)

MIGRATIONS = Migrations("ethics")


def _forbid(db: Database, table: str, action: str, reason: str) -> None:
    db.execute(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{reason}'); END"
    )


@MIGRATIONS(name="0001_registry_datasets_snapshots")
def m0001(db: Database) -> None:
    db[MODELS].create(
        {
            "id": str,
            "name": str,
            "purpose": str,
            "owner": str,
            "team": str,
            "risk_tier": str,
            "status": str,
            "created_at": str,
        },
        pk="id",
        not_null={"name", "purpose", "team", "risk_tier", "status", "created_at"},
    )
    db[VERSIONS].create(
        {
            "id": int,
            "model_id": str,
            "version": str,
            "threshold": float,
            "artifact_kind": str,
            "artifact_sha256": str,
            "artifact_file": str,
            "manifest_json": str,
            "manifest_sha256": str,
            "registered_at": str,
            "registered_by": str,
        },
        pk="id",
        foreign_keys=[("model_id", MODELS, "id")],
        not_null={"model_id", "version", "threshold", "artifact_kind", "manifest_json"},
    )
    db[VERSIONS].create_index(["model_id", "version"], unique=True)
    _forbid(db, VERSIONS, "UPDATE", "model versions are immutable")
    db[DATASETS].create(
        {
            "id": int,
            "model_id": str,
            "version": str,
            "kind": str,
            "week": str,
            "source_name": str,
            "source_sha256": str,
            "parquet_sha256": str,
            "parquet_file": str,
            "rows": int,
            "columns_json": str,
            "imported_at": str,
            "imported_by": str,
        },
        pk="id",
        foreign_keys=[("model_id", MODELS, "id")],
        not_null={"model_id", "version", "kind", "week", "parquet_sha256", "rows"},
    )
    db[DATASETS].create_index(["model_id", "version", "kind", "week"], unique=True)
    db[SNAPSHOTS].create(
        {
            "id": int,
            "model_id": str,
            "version": str,
            "week": str,
            "hash": str,
            "created_at": str,
            "created_by": str,
            "inputs_json": str,
            "packages_json": str,
            "policy_json": str,
            "results_json": str,
        },
        pk="id",
        foreign_keys=[("model_id", MODELS, "id")],
        not_null={"model_id", "version", "week", "hash", "results_json"},
    )
    db[SNAPSHOTS].create_index(["hash"], unique=True)
    db[SNAPSHOTS].create_index(["model_id", "week"])
    _forbid(db, SNAPSHOTS, "UPDATE", "snapshots are immutable")


@MIGRATIONS(name="0002_consent_events_incidents")
def m0002(db: Database) -> None:
    db[CONSENT_EVENTS].create(
        {
            "id": int,
            "event_id": str,
            "customer_id": str,
            "purpose": str,
            "status": str,
            "source": str,
            "occurred_at": str,
            "imported_at": str,
        },
        pk="id",
        not_null={"event_id", "customer_id", "purpose", "status", "occurred_at"},
    )
    db[CONSENT_EVENTS].create_index(["event_id"], unique=True)
    db[CONSENT_EVENTS].create_index(["customer_id", "purpose", "occurred_at"])
    _forbid(db, CONSENT_EVENTS, "UPDATE", "consent events are append-only")
    db[INCIDENTS].create(
        {
            "id": int,
            "model_id": str,
            "version": str,
            "severity": str,
            "category": str,
            "title": str,
            "description": str,
            "status": str,
            "reporter": str,
            "owner": str,
            "lead_id": str,
            "snapshot_id": int,
            "opened_at": str,
            "due_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("model_id", MODELS, "id")],
        not_null={"model_id", "severity", "category", "title", "status", "opened_at"},
    )
    db[INCIDENTS].create_index(["model_id", "status"])


@MIGRATIONS(name="0003_users_sign_ins")
def m0003(db: Database) -> None:
    db[USERS].create(
        {
            "username": str,
            "display_name": str,
            "role": str,
            "team": str,
            "password_hash": str,
            "disabled": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="username",
        not_null={"display_name", "role", "password_hash", "disabled", "created_at"},
        defaults={"disabled": 0},
    )
    db[SIGN_INS].create(
        {"id": int, "username": str, "succeeded": int, "reason": str, "attempted_at": str},
        pk="id",
        not_null={"username", "succeeded", "attempted_at"},
    )
    db[SIGN_INS].create_index(["username", "attempted_at"])


@MIGRATIONS(name="0004_snapshot_summary")
def m0004(db: Database) -> None:
    # The lights a snapshot sets, so the Overview reads one small column per model.
    db[SNAPSHOTS].add_column("summary_json", str)


@MIGRATIONS(name="0005_audit_log_incident_comments")
def m0005(db: Database) -> None:
    db[AUDIT].create(
        {
            "seq": int,
            "created_at": str,
            "actor": str,
            "action": str,
            "object_type": str,
            "object_id": str,
            "digest": str,
            "properties_json": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="seq",
        not_null={"created_at", "actor", "action", "object_type", "object_id", "digest", "prev_hash", "hash"},
    )
    db[AUDIT].create_index(["object_type", "object_id"])
    _forbid(db, AUDIT, "UPDATE", "the audit log is append-only")
    _forbid(db, AUDIT, "DELETE", "the audit log is append-only")
    db[CHECKPOINTS].create({"id": int, "seq": int, "mac": str}, pk="id", not_null={"seq", "mac"})
    db[INCIDENT_COMMENTS].create(
        {"id": int, "incident_id": int, "author": str, "body": str, "created_at": str},
        pk="id",
        foreign_keys=[("incident_id", INCIDENTS, "id")],
        not_null={"incident_id", "author", "body", "created_at"},
    )
    db[INCIDENT_COMMENTS].create_index(["incident_id"])


@MIGRATIONS(name="0006_reviews")
def m0006(db: Database) -> None:
    db[REVIEWS].create(
        {
            "id": int,
            "model_id": str,
            "week": str,
            "snapshot_id": int,
            "snapshot_hash": str,
            "decision": str,
            "conditions": str,
            "comment": str,
            "checklist_json": str,
            "reviewer": str,
            "signed_at": str,
            "follow_up_incident_id": int,
            "corrects_review_id": int,
        },
        pk="id",
        foreign_keys=[("model_id", MODELS, "id"), ("snapshot_id", SNAPSHOTS, "id")],
        not_null={"model_id", "week", "snapshot_id", "snapshot_hash", "decision", "reviewer", "signed_at"},
    )
    db[REVIEWS].create_index(["model_id", "week"])
    _forbid(db, REVIEWS, "UPDATE", "signed reviews are immutable")
    _forbid(db, REVIEWS, "DELETE", "signed reviews are immutable")


@MIGRATIONS(name="0007_explanations_overrides")
def m0007(db: Database) -> None:
    # A sales manager's decision for a lead instead of the model's, with the reason; never changed.
    # Incidents already link a lead and a snapshot (0002), so contesting a score needs no new column.
    db[OVERRIDES].create(
        {
            "id": int,
            "model_id": str,
            "version": str,
            "snapshot_id": int,
            "lead_id": str,
            "team": str,
            "score": float,
            "threshold": float,
            "model_decision": str,
            "decision": str,
            "reason": str,
            "actor": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("model_id", MODELS, "id"), ("snapshot_id", SNAPSHOTS, "id")],
        not_null={"model_id", "version", "snapshot_id", "lead_id", "team", "model_decision", "decision", "reason",
                  "actor", "created_at"},
    )
    db[OVERRIDES].create_index(["snapshot_id", "lead_id"], unique=True)
    db[OVERRIDES].create_index(["model_id", "team"])
    _forbid(db, OVERRIDES, "UPDATE", "decision overrides are immutable")
    _forbid(db, OVERRIDES, "DELETE", "decision overrides are immutable")


@MIGRATIONS(name="0008_consent_privacy")
def m0008(db: Database) -> None:
    # Event time as UTC epoch seconds: ISO texts with different offsets do not sort by time.
    db.execute(f"DROP TRIGGER IF EXISTS {CONSENT_EVENTS}_no_update")
    db[CONSENT_EVENTS].add_column("occurred_ts", int)
    from datetime import datetime

    for row_id, occurred_at in db.execute(f"select id, occurred_at from {CONSENT_EVENTS}").fetchall():
        stamp = int(datetime.fromisoformat(occurred_at).timestamp())
        db.execute(f"update {CONSENT_EVENTS} set occurred_ts = ? where id = ?", [stamp, row_id])
    db[CONSENT_EVENTS].create_index(["purpose", "customer_id", "occurred_ts"])
    # Superseded by the index above (text times did not sort across offsets); one index less per insert.
    db.execute(f"DROP INDEX IF EXISTS idx_{CONSENT_EVENTS}_customer_id_purpose_occurred_at")
    _forbid(db, CONSENT_EVENTS, "UPDATE", "consent events are append-only")
    # The one table of names and contact details, keyed by the customer's pseudonym.
    db[CUSTOMERS].create(
        {"pseudonym": str, "customer_ref": str, "name": str, "email": str, "phone": str, "imported_at": str},
        pk="pseudonym",
        not_null={"customer_ref", "imported_at"},
    )
    # Data-subject requests (export, erase); erase rows are also the register of erased customers.
    db[DSR_REQUESTS].create(
        {"id": int, "kind": str, "pseudonym": str, "requested_at": str, "actor": str, "details_json": str},
        pk="id",
        not_null={"kind", "pseudonym", "requested_at", "actor"},
    )
    db[DSR_REQUESTS].create_index(["pseudonym", "kind"])
    _forbid(db, DSR_REQUESTS, "UPDATE", "data-subject requests are a record")
    _forbid(db, DSR_REQUESTS, "DELETE", "data-subject requests are a record")
    # A fingerprint of the pseudonymisation key (kept in the data home), so a lost key is noticed.
    db[PRIVACY_KEY].create({"id": int, "fingerprint": str, "created_at": str}, pk="id", not_null={"fingerprint"})


@MIGRATIONS(name="0009_teams_and_incident_scope")
def m0009(db: Database) -> None:
    # Teams are records: an account's team must exist, and a model is seen by every team whose leads it scores.
    db[TEAMS].create({"name": str, "created_at": str, "created_by": str}, pk="name", not_null={"created_at"})
    db[MODEL_TEAMS].create(
        {"model_id": str, "team": str, "first_seen_at": str},
        pk=("model_id", "team"),
        foreign_keys=[("model_id", MODELS, "id"), ("team", TEAMS, "name")],
    )
    db[MODEL_TEAMS].create_index(["team"])
    db.execute(
        f"insert or ignore into {TEAMS} (name, created_at, created_by) "
        f"select team, min(created_at), 'migration' from (select team, created_at from {MODELS} union all "
        f"select team, created_at from {USERS} where team is not null) group by team"
    )
    db.execute(f"insert or ignore into {MODEL_TEAMS} select id, team, created_at from {MODELS}")
    # Teams whose leads a model scored, as far as stored results tell (consent coverage per team, overrides).
    db.execute(
        f"insert or ignore into {TEAMS} (name, created_at, created_by) "
        f"select distinct json_extract(t.value, '$.team'), s.created_at, 'migration' "
        f"from {SNAPSHOTS} s, json_each(s.results_json, '$.consent.by_team') t "
        f"where json_extract(t.value, '$.team') is not null"
    )
    db.execute(
        f"insert or ignore into {MODEL_TEAMS} select s.model_id, json_extract(t.value, '$.team'), min(s.created_at) "
        f"from {SNAPSHOTS} s, json_each(s.results_json, '$.consent.by_team') t "
        f"where json_extract(t.value, '$.team') is not null group by 1, 2"
    )
    # An incident about a lead belongs to the lead's team; one without a lead is about the whole model.
    db[INCIDENTS].add_column("team", str)
    # What an incident reports (a contested lead, a failing finding), so the same report is not filed twice.
    db[INCIDENTS].add_column("finding", str)
    db[INCIDENTS].create_index(["model_id", "finding"])
    db.execute(
        f"update {INCIDENTS} set team = (select o.team from {OVERRIDES} o where o.snapshot_id = "
        f"{INCIDENTS}.snapshot_id and o.lead_id = {INCIDENTS}.lead_id) where lead_id is not null"
    )
    # Contests written before this migration name the lead's team in their own words: "Lead X of team Y: ...".
    for incident_id, lead_id, description in db.execute(
        f"select id, lead_id, description from {INCIDENTS} where lead_id is not null and team is null"
    ).fetchall():
        marker = f"Lead {lead_id} of team "
        if description and marker in description:
            team = description.split(marker, 1)[1].split(":", 1)[0].strip()
            db.execute(f"update {INCIDENTS} set team = ? where id = ?", [team, incident_id])


@MIGRATIONS(name="0010_reviews_name_their_snapshot")
def m0010(db: Database) -> None:
    # A review's week is the cycle it was signed in; the snapshot it signs may be of an earlier week, and reports
    # find reviews by the snapshot they print.  Old rows get their snapshot's week and version from the snapshot.
    db.execute(f"DROP TRIGGER IF EXISTS {REVIEWS}_no_update")
    db[REVIEWS].add_column("snapshot_week", str)
    db[REVIEWS].add_column("snapshot_version", str)
    db.execute(
        f"update {REVIEWS} set "
        f"snapshot_week = (select week from {SNAPSHOTS} where id = {REVIEWS}.snapshot_id), "
        f"snapshot_version = (select version from {SNAPSHOTS} where id = {REVIEWS}.snapshot_id)"
    )
    db[REVIEWS].create_index(["snapshot_id"])
    _forbid(db, REVIEWS, "UPDATE", "signed reviews are immutable")


@MIGRATIONS(name="0011_versions_threshold_nullable")
def m0011(db: Database) -> None:
    # Amounts, offers and call lists without one have no threshold: NULL, not the 0.0 that stood in for it.
    # SQLite cannot drop NOT NULL in place, so the table is rebuilt (its immutability trigger with it).
    db.execute(f"DROP TRIGGER IF EXISTS {VERSIONS}_no_update")
    db[VERSIONS].transform(not_null={"threshold": False})
    db.execute(
        f"update {VERSIONS} set threshold = null where json_extract(manifest_json, '$.threshold') is null"
    )
    _forbid(db, VERSIONS, "UPDATE", "model versions are immutable")


@MIGRATIONS(name="0012_erasure_jobs")
def m0012(db: Database) -> None:
    erased = "[erased]"  # the one tombstone an erasure may write into an immutable record (ethics.erasure.ERASED)
    # An erasure is a journaled job: its plan (places, no personal values) and one row per idempotent step, so a
    # crashed erasure is resumed and only recorded as done when every step is.  ``needles_json`` holds the texts
    # searched for while the job runs and is cleared in its last transaction.
    db[ERASURE_JOBS].create(
        {"id": int, "pseudonym": str, "status": str, "actor": str, "started_at": str, "finished_at": str,
         "needles_json": str, "plan_json": str, "request_id": int, "to_tombstone_json": str},
        pk="id",
        not_null={"pseudonym", "status", "actor", "started_at", "plan_json"},
    )
    # One unfinished job per customer: a second `dsr erase` resumes it.
    db.execute(f"CREATE UNIQUE INDEX idx_{ERASURE_JOBS}_unfinished ON {ERASURE_JOBS} (pseudonym) "
               "WHERE status <> 'done'")
    db[ERASURE_STEPS].create(
        {"id": int, "job_id": int, "position": int, "kind": str, "target_json": str, "done_at": str,
         "result_json": str},
        pk="id",
        foreign_keys=[("job_id", ERASURE_JOBS, "id")],
        not_null={"job_id", "position", "kind", "target_json"},
    )
    db[ERASURE_STEPS].create_index(["job_id", "position"], unique=True)
    _forbid(db, ERASURE_JOBS, "DELETE", "erasure jobs are a record")
    _forbid(db, ERASURE_STEPS, "DELETE", "erasure jobs are a record")
    # A counter every erasure moves: a running app drops its cached reads when it sees a new value.
    db[DATA_GENERATION].create({"id": int, "generation": int}, pk="id", not_null={"generation"})
    db[DATA_GENERATION].insert({"id": 1, "generation": 0})
    # Overrides and signed reviews stay immutable, except that an erasure may replace a field naming the customer
    # by the tombstone (an override's lead id by "[erased]#<id>", unique per snapshot); nothing else may change.
    keep = ("model_id", "version", "snapshot_id", "team", "score", "threshold", "model_decision", "decision",
            "actor", "created_at")
    db.execute(f"DROP TRIGGER IF EXISTS {OVERRIDES}_no_update")
    db.execute(
        f"CREATE TRIGGER {OVERRIDES}_no_update BEFORE UPDATE ON {OVERRIDES} WHEN NOT ("
        + " AND ".join(f"NEW.{c} IS OLD.{c}" for c in ("id", *keep))
        + f" AND (NEW.reason IS OLD.reason OR NEW.reason = '{erased}')"
        f" AND (NEW.lead_id IS OLD.lead_id OR NEW.lead_id = '{erased}#' || OLD.id)) "
        "BEGIN SELECT RAISE(ABORT, 'decision overrides are immutable'); END"
    )
    kept = ("id", "model_id", "week", "snapshot_id", "snapshot_hash", "decision", "checklist_json", "reviewer",
            "signed_at", "follow_up_incident_id", "corrects_review_id", "snapshot_week", "snapshot_version")
    db.execute(f"DROP TRIGGER IF EXISTS {REVIEWS}_no_update")
    db.execute(
        f"CREATE TRIGGER {REVIEWS}_no_update BEFORE UPDATE ON {REVIEWS} WHEN NOT ("
        + " AND ".join(f"NEW.{c} IS OLD.{c}" for c in kept)
        + f" AND (NEW.comment IS OLD.comment OR NEW.comment = '{erased}')"
        f" AND (NEW.conditions IS OLD.conditions OR NEW.conditions = '{erased}')) "
        "BEGIN SELECT RAISE(ABORT, 'signed reviews are immutable'); END"
    )


@MIGRATIONS(name="0013_audit_chain_v2")
def m0013(db: Database) -> None:
    # Issue 18: the chain's `|` join was not injective, and records outside it changed unseen.  Entries keep
    # their v1 hashes (reports print them); new ones are length-prefixed and name the records they wrote.
    db[AUDIT].add_column("records_json", str)
    # Append-only still, but erasure may replace a payload by its tombstone (the chain covers its digest).
    db.execute(f"DROP TRIGGER IF EXISTS {AUDIT}_no_update")
    db.execute(audit.TOMBSTONE_TRIGGER)
    audit.switch_to_v2(db)


@MIGRATIONS(name="0014_chain_covers_teams_and_customers")
def m0014(db: Database) -> None:
    # Issue 18: teams, the teams a model scores, data-subject requests and customer details were outside the
    # chain.  One entry attests the rows found now, as 0013 attested the first record types.
    audit.attest(db, audit.COVERED_SINCE_0014)


@MIGRATIONS(name="0015_versions_reference_scores")
def m0015(db: Database) -> None:
    # Issue 19: a version records how closely its artifact reproduced the production scores it was registered
    # with.  ADD COLUMN rewrites no row, so unlike 0011 the immutability trigger stays in place; old versions hold
    # NULL (no reference given), which record digests leave out, so their audit entries still verify.
    for column, kind in (("reference_rows", int), ("reference_max_difference", float),
                         ("reference_tolerance", float), ("reference_sha256", str)):
        db[VERSIONS].add_column(column, kind)
