"""The append-only, hash-chained audit log with keyed checkpoints.

Every write in the system records exactly one event in the same transaction as the
write.  Entry ``n`` stores ``hash_n = SHA-256(encoding(hash_{n-1}, n, time, actor, action,
object, digest, records))``, so changing, deleting, inserting or reordering an entry breaks
the chain from there on.  ``digest`` is the SHA-256 of the entry's payload (its
properties), so a payload can be replaced by its *tombstone* (:func:`tombstone`, for
erasure) while the chain still verifies.  ``records`` names the governance rows the write
created or changed, each with the digest of its canonical row (keyed for rows of personal
data, :attr:`RecordType.personal`): :func:`verify` recomputes them, so a row changed behind
the application's back is found too.

Encodings: entries written before migration ``0013_audit_chain_v2`` keep their v1 hash,
the fields joined with ``|`` (not injective: ``a|b`` can be re-split); every later entry
uses v2, length-prefixed fields (:func:`_fields`) after the tag ``ethics-audit/2;``.  The
first v2 entry of a log that had entries is the migration's ``audit.encoding_changed``,
and the keyed checkpoint :data:`ENCODING_CHECKPOINT` names it, so the switch point cannot
be moved without the key.

Rewriting the whole chain consistently is stopped by keyed checkpoints: an HMAC-SHA256
of ``(seq, hash)`` for the head (updated with every write) and for every
:data:`CHECKPOINT_EVERY`-th entry, with a key never kept in the database: at the path in
``ETHICS_AUDIT_KEY_FILE`` (the deployment default, outside the data home), else
``audit.key`` in the data home (which only guards against accidental edits: whoever can
rewrite the database there can usually read the key too).  Truncating the tail is caught
by the head checkpoint and by the anchor file ``audit.head`` in the data home, written
after each commit: a database whose chain ends before the anchor has lost entries.
"""

from __future__ import annotations

import bisect
import csv
import fcntl
import hashlib
import hmac
import io
import json
import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from ethics import store
from ethics.errors import NotFound, ValidationError
from ethics.spreadsheet import safe_cell
from ethics.weeks import iso, utcnow

CHECKPOINT_EVERY = 1000
HEAD = 0  # the checkpoint row that always holds the current head
ENCODING_CHECKPOINT = -1  # the checkpoint row naming the first entry chained with encoding v2
KEY_FILE = "audit.key"
KEY_FILE_ENV = "ETHICS_AUDIT_KEY_FILE"  # the key's path outside the data home (deployments)
ANCHOR_FILE = "audit.head"
GENESIS = "0" * 64
_MEMORY_KEYS: dict[int, bytes] = {}


# -- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Base of every audited event.

    Attributes
    ----------
    actor : str
        Who did it (a username, ``cli:<user>``, ``demo``).
    object_type, object_id : str
        What it was done to.
    created : datetime, optional
        When (UTC); the current time when omitted.
    """

    name: ClassVar[str] = "event"
    actor: str
    object_type: str
    object_id: str
    created: datetime | None = field(default=None, kw_only=True)

    def properties(self) -> dict[str, Any]:
        """The event's own fields (what changed), JSON-ready."""
        skip = {"actor", "object_type", "object_id", "created"}
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name not in skip}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


EVENTS: dict[str, type[Event]] = {}


def event(cls: type[Event]) -> type[Event]:
    """Register an event class under its ``name`` (only registered events are recorded)."""
    EVENTS[cls.name] = cls
    return cls


@event
@dataclass(frozen=True)
class ModelRegistered(Event):
    """A model version was registered."""

    name: ClassVar[str] = "model.registered"
    version: str = ""
    artifact_sha256: str | None = None
    manifest_sha256: str = ""


@event
@dataclass(frozen=True)
class DatasetImported(Event):
    """An evaluation set or scoring batch was imported."""

    name: ClassVar[str] = "dataset.imported"
    kind: str = ""
    week: str = ""
    rows: int = 0
    parquet_sha256: str = ""
    source: str = ""


@event
@dataclass(frozen=True)
class SnapshotTaken(Event):
    """A weekly snapshot was computed and stored."""

    name: ClassVar[str] = "snapshot.taken"
    week: str = ""
    hash: str = ""


@event
@dataclass(frozen=True)
class ConsentImported(Event):
    """Consent events were appended."""

    name: ClassVar[str] = "consent.imported"
    events: int = 0
    source: str = ""


@event
@dataclass(frozen=True)
class CustomersImported(Event):
    """Names and contact details of customers were stored (the ``customers`` table)."""

    name: ClassVar[str] = "customers.imported"
    customers: int = 0
    source: str = ""


@event
@dataclass(frozen=True)
class SubjectExported(Event):
    """Everything held about one customer was exported (data-subject access request)."""

    name: ClassVar[str] = "dsr.exported"
    records: int = 0


@event
@dataclass(frozen=True)
class SubjectErased(Event):
    """One customer's personal rows were erased; rewritten datasets and explanations carry their new SHA-256."""

    name: ClassVar[str] = "dsr.erased"
    datasets: list[dict[str, Any]] = field(default_factory=list)
    explanations: list[dict[str, Any]] = field(default_factory=list)
    consent_events: int = 0
    customers: int = 0
    incidents: int = 0


@event
@dataclass(frozen=True)
class IncidentOpened(Event):
    """An incident was opened."""

    name: ClassVar[str] = "incident.opened"
    model_id: str = ""
    severity: str = ""
    category: str = ""
    title: str = ""


@event
@dataclass(frozen=True)
class IncidentUpdated(Event):
    """An incident's fields (status, owner, severity, ...) changed."""

    name: ClassVar[str] = "incident.updated"
    changes: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


@event
@dataclass(frozen=True)
class IncidentCommented(Event):
    """A comment was added to an incident."""

    name: ClassVar[str] = "incident.commented"
    comment_id: int = 0


@event
@dataclass(frozen=True)
class ReviewSigned(Event):
    """The ethics officer signed a weekly review bound to a snapshot hash."""

    name: ClassVar[str] = "review.signed"
    model_id: str = ""
    week: str = ""
    decision: str = ""
    snapshot_hash: str = ""
    corrects_review_id: int | None = None


@event
@dataclass(frozen=True)
class UserChanged(Event):
    """An account was added, disabled, or got a new password."""

    name: ClassVar[str] = "user.changed"
    change: str = ""
    role: str | None = None
    team: str | None = None


@event
@dataclass(frozen=True)
class TeamAdded(Event):
    """A sales team was added (the object id is its name)."""

    name: ClassVar[str] = "team.added"


@event
@dataclass(frozen=True)
class SignIn(Event):
    """A sign-in attempt (succeeded or not)."""

    name: ClassVar[str] = "user.sign_in"
    succeeded: bool = False
    reason: str = ""


@event
@dataclass(frozen=True)
class DecisionOverridden(Event):
    """A person replaced the model's decision for one lead, with a reason (the object is the override row)."""

    name: ClassVar[str] = "decision.overridden"
    model_id: str = ""
    snapshot_id: int = 0
    lead_id: str = ""
    model_decision: str = ""
    decision: str = ""
    reason: str = ""


@event
@dataclass(frozen=True)
class EntryTombstoned(Event):
    """An entry's payload was replaced by its tombstone (the object id is the entry's seq)."""

    name: ClassVar[str] = "audit.tombstoned"
    reason: str = ""


@event
@dataclass(frozen=True)
class EncodingChanged(Event):
    """From this entry on the chain is encoded v2; it covers every governance record as found then."""

    name: ClassVar[str] = "audit.encoding_changed"
    encoding: int = 2
    previous_head: str = ""


@event
@dataclass(frozen=True)
class RecordsAttested(Event):
    """A migration brought more tables under the chain; this entry covers their rows as found then."""

    name: ClassVar[str] = "audit.records_attested"
    tables: list[str] = field(default_factory=list)
    rows: int = 0


# -- keys and anchors ------------------------------------------------------------------------


def _db_file(db: store.Database) -> Path | None:
    for _, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and path:
            return Path(path)
    return None


KEY_MISSING = (
    "{path} is missing but the audit log has entries: the log cannot be extended or verified without its key. "
    f"Restore the key file from its backup (or set {KEY_FILE_ENV} to the file where it is kept)."
)


def key_path(db: store.Database) -> Path | None:
    """Where the HMAC key is kept; None for an in-memory database.

    ``ETHICS_AUDIT_KEY_FILE`` when set (the deployment default: a path the database's
    writers cannot rewrite), else ``audit.key`` beside the database.
    """
    path = _db_file(db)
    if path is None:
        return None
    configured = os.environ.get(KEY_FILE_ENV, "").strip()
    return Path(configured).expanduser() if configured else path.parent / KEY_FILE


_KEYS: dict[str, bytes] = {}


def key_for(db: store.Database, *, create: bool = False) -> bytes:
    """The HMAC key at :func:`key_path`, read once per process.

    It is created only when ``create`` is set and the log is still empty: a key that
    disappears from a data home with entries is an error, never silently replaced.
    In-memory databases (tests) get a key for the life of the process.

    Raises
    ------
    ValidationError
        When the key file is missing and may not be created.
    """
    where = key_path(db)
    if where is None:
        return _MEMORY_KEYS.setdefault(id(db.conn), secrets.token_bytes(32))
    if where.exists() and str(where) in _KEYS:
        return _KEYS[str(where)]
    if not where.exists():
        empty = db.execute(f"select count(*) from {store.AUDIT}").fetchone()[0] == 0
        if not (create and empty):
            raise ValidationError(KEY_MISSING.format(path=where))
        where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = where.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(tmp, where)  # first writer wins; a concurrent one reads the winner's key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    _KEYS[str(where)] = bytes.fromhex(where.read_text().strip())
    return _KEYS[str(where)]


def _mac(key: bytes, seq: int, entry_hash: str) -> str:
    return hmac.new(key, f"{seq}|{entry_hash}".encode(), hashlib.sha256).hexdigest()


_V2 = "ethics-audit/2;"
_V1_FIELDS = ("seq", "created_at", "actor", "action", "object_type", "object_id", "digest")


def _fields(*values: Any) -> str:
    """Length-prefixed fields, ``<length>:<text>,`` each and ``~,`` for None: one string per tuple of values."""
    return "".join("~," if value is None else f"{len(text := str(value))}:{text}," for value in values)


def entry_hash(previous: str, row: dict[str, Any], *, encoding: int = 2) -> str:
    """The chain hash of one entry given the previous entry's hash.

    Parameters
    ----------
    previous : str
        The previous entry's hash (:data:`GENESIS` for the first).
    row : dict
        The entry's ``seq``, ``created_at``, ``actor``, ``action``, ``object_type``,
        ``object_id``, ``digest`` and (v2) ``records_json``.
    encoding : {2, 1}
        2 (every entry since migration ``0012``): length-prefixed fields.  1: the fields
        joined with ``|``, kept only to verify entries written before.
    """
    if encoding == 1:
        text = "|".join(str(row[k]) for k in _V1_FIELDS)
        return hashlib.sha256(f"{previous}|{text}".encode()).hexdigest()
    text = _V2 + _fields(previous, *(row[k] for k in _V1_FIELDS), row.get("records_json"))
    return hashlib.sha256(text.encode()).hexdigest()


# -- governance records ------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordType:
    """A table of governance records the chain covers.

    Attributes
    ----------
    table : str
        The table.
    key : str or tuple of str
        Its key column, or columns (a composite key, named ``a/b`` in records and messages).
    file : tuple of str, optional
        ``(path column, SHA-256 column)`` of the file the row stands for, relative to the
        data home; :func:`verify` re-hashes it.
    batch : bool
        Rows are covered by id range (:class:`Batch`, one per import), not one by one.
    personal : bool
        Rows are personal data (names, contact details): their digest is keyed (HMAC with the
        audit key, like the column fingerprints), so the digest an entry keeps after an erasure
        cannot confirm a guessed name or e-mail.
    """

    table: str
    key: str | tuple[str, ...]
    file: tuple[str, str] | None = None
    batch: bool = False
    personal: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """The key's columns."""
        return (self.key,) if isinstance(self.key, str) else self.key

    def where(self) -> str:
        """SQL matching one record by its key (arguments: :meth:`key_args`)."""
        return " and ".join(f"{c} = ?" for c in self.columns)

    def key_args(self, record_key: Any) -> list[Any]:
        """The arguments of :meth:`where` for a key (a value, or a tuple or list for a composite key)."""
        return list(record_key) if isinstance(record_key, (tuple, list)) else [record_key]

    def text_key(self, values: Any) -> str:
        """A key as records name it: the value, or the values joined by ``/`` (ids and team names hold none)."""
        return "/".join(str(v) for v in self.key_args(values))

    def row_key(self, row: dict[str, Any]) -> str:
        """The :meth:`text_key` of a row."""
        return self.text_key([row[c] for c in self.columns])


RECORD_TYPES: dict[str, RecordType] = {kind.table: kind for kind in (
    RecordType(store.MODELS, "id"),
    RecordType(store.VERSIONS, "id", file=("artifact_file", "artifact_sha256")),
    RecordType(store.DATASETS, "id", file=("parquet_file", "parquet_sha256")),
    RecordType(store.SNAPSHOTS, "id"),
    RecordType(store.REVIEWS, "id"),
    RecordType(store.USERS, "username"),
    RecordType(store.INCIDENTS, "id"),
    RecordType(store.INCIDENT_COMMENTS, "id"),
    RecordType(store.OVERRIDES, "id"),
    RecordType(store.CONSENT_EVENTS, "id", batch=True),
    RecordType(store.TEAMS, "name"),
    RecordType(store.MODEL_TEAMS, ("model_id", "team")),
    RecordType(store.DSR_REQUESTS, "id"),
    RecordType(store.CUSTOMERS, "pseudonym", personal=True),
)}
# Covered since migration 0014 (its baseline entry attests the rows written before).
COVERED_SINCE_0014 = (store.TEAMS, store.MODEL_TEAMS, store.DSR_REQUESTS, store.CUSTOMERS)


@dataclass(frozen=True)
class Batch:
    """Rows ``first`` to ``last`` (ids) of a batch table, covered together; ids absent when recorded are gaps."""

    first: int
    last: int

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    @classmethod
    def parse(cls, text: str) -> Batch:
        """The batch a record key such as ``"1-200"`` names."""
        first, last = text.split("-")
        return cls(int(first), int(last))


def inserted(db: store.Database, count: int) -> Batch | None:
    """The ``count`` rows this connection inserted last (one statement), as a batch; None for none."""
    if count <= 0:
        return None
    last = db.execute("select last_insert_rowid()").fetchone()[0]
    return Batch(last - count + 1, last)


def _canonical(row: dict[str, Any]) -> str:
    # NULL columns are left out: a migration adding a column does not change every digest.
    return store.to_json({k: v for k, v in row.items() if v is not None})


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _row_digest(kind: RecordType, row: dict[str, Any], key: bytes | None) -> str | None:
    """The digest an entry keeps of a row: SHA-256 of its canonical form, keyed for personal rows (None without key)."""
    if not kind.personal:
        return _sha(_canonical(row))
    if key is None:
        return None
    return hmac.digest(key, _canonical(row).encode(), "sha256").hex()


def _fingerprint(key: bytes, table: str, record_key: str, column: str, value: Any) -> str:
    # Keyed and short: names the column that changed without letting anyone confirm an erased value.
    text = _fields(table, record_key, column, store.to_json(value))
    return hmac.digest(key, text.encode(), "sha256").hex()[:12]  # hmac.digest: the C one-shot, 4x hmac.new


def _select(db: Any, kind: RecordType, where: str, args: list[Any]) -> list[dict[str, Any]]:
    cursor = db.execute(f"select * from {kind.table} where {where} order by {', '.join(kind.columns)}", args)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, values, strict=True)) for values in cursor]


def _batch_digest(kind: RecordType, rows: list[dict[str, Any]], gaps: set[int]) -> str:
    return _sha("\n".join(_canonical(row) for row in rows if row[kind.key] not in gaps))


def _cover(db: store.Database, key: bytes, table: str, record_key: Any) -> dict[str, Any]:
    """What an entry records about one governance record (or batch), read as the write left it."""
    kind = RECORD_TYPES.get(table)
    if kind is None:
        raise ValidationError(f"Table {table!r} holds no governance records the audit chain covers.")
    if kind.batch:
        if not isinstance(record_key, Batch):
            raise ValidationError(f"Rows of {table} are covered in batches (audit.Batch), not one by one.")
        rows = _select(db, kind, f"{kind.key} between ? and ?", [record_key.first, record_key.last])
        present = {row[kind.key] for row in rows}
        gaps = [i for i in range(record_key.first, record_key.last + 1) if i not in present]
        return {"table": table, "key": str(record_key), "digest": _batch_digest(kind, rows, set()),
                "rows": len(rows), "gaps": gaps}
    rows = _select(db, kind, kind.where(), kind.key_args(record_key))
    text_key = kind.text_key(record_key)
    if not rows:
        return {"table": table, "key": text_key, "digest": None}  # deleted by this write
    row = rows[0]
    return {"table": table, "key": text_key, "digest": _row_digest(kind, row, key),
            "columns": {c: _fingerprint(key, table, text_key, c, v) for c, v in row.items()}}


def every_record(db: store.Database, *, tables: Collection[str] | None = None) -> list[tuple[str, Any]]:
    """Every governance record in the database (of ``tables``, default all), as :func:`record`'s ``records``."""
    found: list[tuple[str, Any]] = []
    for kind in RECORD_TYPES.values():
        if not db[kind.table].exists() or (tables is not None and kind.table not in tables):
            continue
        if kind.batch:
            low, high = db.execute(f"select min({kind.key}), max({kind.key}) from {kind.table}").fetchone()
            if low is not None:
                found.append((kind.table, Batch(low, high)))
        else:
            columns = ", ".join(kind.columns)
            found += [(kind.table, k[0] if len(k) == 1 else tuple(k))
                      for k in db.execute(f"select {columns} from {kind.table} order by {columns}")]
    return found


def batches_covering(db: store.Database, table: str, ids: list[int]) -> list[Batch]:
    """The batches whose latest entries cover any of ``ids`` (to record again after deleting rows of them)."""
    wanted, found = set(ids), []
    for batch_key, (_, item) in _latest_covers(db, table=table).items():
        batch = Batch.parse(batch_key[1])
        gaps = set(item.get("gaps", []))
        if any(batch.first <= i <= batch.last and i not in gaps for i in wanted):
            found.append(batch)
    return sorted(found, key=lambda b: b.first)


def _latest_covers(db: Any, *, table: str | None = None, v2_from: int = 1) -> dict[tuple[str, str], tuple[int, dict]]:
    latest: dict[tuple[str, str], tuple[int, dict]] = {}
    cursor = db.execute(f"select seq, records_json from {store.AUDIT} where records_json is not null and seq >= ? "
                        "order by seq", [v2_from])
    for seq, text in cursor:
        for item in json.loads(text):
            if table is None or item["table"] == table:
                latest[(item["table"], item["key"])] = (seq, item)
    return latest


# -- writing ---------------------------------------------------------------------------------


def record(
    db: store.Database, item: Event, *, now: datetime | None = None, records: Any = (),
) -> dict[str, Any]:
    """Append one event to the chain; call inside the write's ``store.transaction``, after the write.

    Parameters
    ----------
    records : iterable of (table, key)
        The governance records the write created, changed or deleted: a key of a
        :data:`RECORD_TYPES` table, or a :class:`Batch` for a batch table; None items are
        skipped.  Each is read now and its digest chained with the entry.

    Raises
    ------
    ValidationError
        When the event's class is not registered, no transaction is open, or a record's
        table is not covered.
    """
    if EVENTS.get(item.name) is not type(item):
        raise ValidationError(f"Audit event {type(item).__name__} is not registered.")
    if not db.conn.in_transaction:
        raise ValidationError("Audit events are recorded inside the write's transaction.")
    properties = item.properties()
    payload = store.to_json(properties)
    last = db.execute(f"select seq, hash from {store.AUDIT} order by seq desc limit 1").fetchone()
    seq, previous = (last[0] + 1, last[1]) if last else (1, GENESIS)
    key = key_for(db, create=seq == 1)
    covered = [_cover(db, key, table, record_key) for table, record_key in
               (r for r in records if r is not None and r[1] is not None)]
    row = {
        "seq": seq,
        "created_at": iso(item.created or now or utcnow()),
        "actor": item.actor,
        "action": item.name,
        "object_type": item.object_type,
        "object_id": str(item.object_id),
        "digest": hashlib.sha256(payload.encode()).hexdigest(),
        "properties_json": payload,
        "records_json": store.to_json(covered) if covered else None,
        "prev_hash": previous,
    }
    row["hash"] = entry_hash(previous, row)
    mac = _mac(key, seq, row["hash"])
    # Plain prepared statements: the write lock is held for as short a time as possible.
    db.execute(_INSERT_ENTRY, [row[c] for c in _ENTRY_COLUMNS])
    db.execute(_UPSERT_CHECKPOINT, [HEAD, seq, mac])
    if seq % CHECKPOINT_EVERY == 0:
        db.execute(_UPSERT_CHECKPOINT, [seq, seq, mac])
    store.after_commit(db, write_anchor)
    return row


def switch_to_v2(db: store.Database) -> dict[str, Any] | None:
    """Migration ``0012``: mark where encoding v2 starts and attest every governance record as found.

    An empty log needs no mark (every entry will be v2).  Otherwise the next entry,
    ``audit.encoding_changed``, is the first v2 entry, covers every record in the
    database, and the keyed checkpoint :data:`ENCODING_CHECKPOINT` names it.
    """
    last = db.execute(f"select seq, hash from {store.AUDIT} order by seq desc limit 1").fetchone()
    if last is None:
        return None
    # The record types of then: the tables covered since 0014 are attested by that migration.
    covered = [table for table in RECORD_TYPES if table not in COVERED_SINCE_0014]
    row = record(db, EncodingChanged("migration", "audit_log", "encoding", previous_head=last[1]),
                 records=every_record(db, tables=covered))
    db.execute(_UPSERT_CHECKPOINT, [ENCODING_CHECKPOINT, row["seq"], _mac(key_for(db), row["seq"], row["hash"])])
    return row


def attest(db: store.Database, tables: Sequence[str]) -> dict[str, Any] | None:
    """Migration ``0014``: one entry covering the rows of ``tables`` written before the chain covered them.

    As :func:`switch_to_v2` did for the first record types: rows found at the migration are taken as
    they are (nothing older vouches for them), and every later change is checked against this entry
    or a later one.  Nothing is recorded when the tables are empty.
    """
    records = every_record(db, tables=tables)
    if not records:
        return None
    return record(db, RecordsAttested("migration", "audit_log", "records", tables=list(tables), rows=len(records)),
                  records=records)


TOMBSTONE_TRIGGER = (
    # The one change the append-only log allows: a payload replaced by its tombstone, keeping every chained field.
    f"CREATE TRIGGER {store.AUDIT}_no_update BEFORE UPDATE ON {store.AUDIT} WHEN NOT ("
    + " AND ".join(f"new.{c} IS old.{c}" for c in (*_V1_FIELDS, "records_json", "prev_hash", "hash"))
    + " AND json_valid(new.properties_json) AND json_type(new.properties_json, '$.tombstone') = 'text'"
    " AND json_extract(new.properties_json, '$.digest') IS old.digest) "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only (a payload may only become its tombstone)'); END"
)


def _tombstone_mac(key: bytes, seq: int, digest: str, reason: str) -> str:
    return _mac(key, seq, "tombstone;" + _fields(digest, reason))


def tombstone(db: store.Database, seq: int, reason: str, *, actor: str = "erasure",
              now: datetime | None = None) -> dict[str, Any]:
    """Replace entry ``seq``'s payload with ``{"tombstone": reason, "digest": <its digest>, "mac": ...}``.

    The chain covers the payload's digest, not the payload, so it still verifies; the MAC
    (with the audit key) shows the tombstone was written by the application, not by
    someone hiding a payload.  Records an ``audit.tombstoned`` entry in the same
    transaction.  Idempotent: an entry already tombstoned is left as it is (a resumed
    erasure calls it again).

    Parameters
    ----------
    seq : int
        The entry whose payload holds personal data.
    reason : str
        Why, without personal data (e.g. ``"dsr erase request 7"``).

    Returns
    -------
    dict
        The entry as stored now, ``properties`` parsed.

    Raises
    ------
    NotFound
        No entry ``seq``.
    ValidationError
        An empty reason.
    """
    if not reason.strip():
        raise ValidationError("A tombstone needs a reason (without personal data).")
    with store.transaction(db):
        found = db.execute(f"select digest, properties_json from {store.AUDIT} where seq = ?", [seq]).fetchone()
        if found is None:
            raise NotFound(f"No audit entry {seq}.")
        digest, properties = found
        if _tombstone_of(properties) is None:
            stone = {"tombstone": reason.strip(), "digest": digest,
                     "mac": _tombstone_mac(key_for(db), seq, digest, reason.strip())}
            db.execute(f"update {store.AUDIT} set properties_json = ? where seq = ?", [store.to_json(stone), seq])
            record(db, EntryTombstoned(actor, "audit_entry", str(seq), reason=reason.strip()), now=now)
    entry = store.get_row(db, store.AUDIT, seq, message=f"No audit entry {seq}.")
    entry["properties"] = json.loads(entry.pop("properties_json"))
    return entry


def _tombstone_of(properties: str) -> dict[str, Any] | None:
    """The tombstone a payload is, or None for an ordinary payload."""
    if not properties.startswith('{"digest":'):
        return None
    try:
        stone = json.loads(properties)
    except ValueError:
        return None
    if not isinstance(stone, dict) or set(stone) != {"digest", "mac", "tombstone"}:
        return None
    if store.to_json(stone) != properties:
        return None
    return stone


_ENTRY_COLUMNS = ("seq", "created_at", "actor", "action", "object_type", "object_id", "digest", "properties_json",
                  "records_json", "prev_hash", "hash")
_INSERT_ENTRY = (f"insert into {store.AUDIT} ({', '.join(_ENTRY_COLUMNS)}) "
                 f"values ({', '.join('?' * len(_ENTRY_COLUMNS))})")
_UPSERT_CHECKPOINT = (f"insert into {store.CHECKPOINTS} (id, seq, mac) values (?, ?, ?) "
                      "on conflict(id) do update set seq = excluded.seq, mac = excluded.mac")


def write_anchor(db: store.Database) -> None:
    """After a commit: remember the head outside the database (``audit.head``)."""
    path = _db_file(db)
    if path is None:
        return
    last = db.execute(f"select seq, hash from {store.AUDIT} order by seq desc limit 1").fetchone()
    if last is None:
        return
    anchor = path.parent / ANCHOR_FILE
    # Read, compare and replace under one lock: two writers must not move the anchor back to an older head.
    with open(anchor.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = _read_anchor(anchor)
        if current is not None and current[0] >= last[0]:
            return  # a concurrent writer already anchored a later head
        tmp = anchor.with_suffix(f".{os.getpid()}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(f"{last[0]} {last[1]} {_mac(key_for(db), last[0], last[1])}\n")
        tmp.replace(anchor)


def _read_anchor(path: Path) -> tuple[int, str, str] | None:
    try:
        seq, entry, mac = path.read_text().split()
        return int(seq), entry, mac
    except (OSError, ValueError):
        return None


# -- reading and verifying ------------------------------------------------------------------


@dataclass
class Verification:
    """The result of :func:`verify`."""

    ok: bool
    entries: int
    head: str | None
    problem: str | None = None
    first_bad_seq: int | None = None
    records: int = 0
    files: int = 0
    mismatches: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.ok:
            return f"ok, {self.entries} entries, head {self.head}; {self.records} records, {self.files} files"
        lines = [f"FAILED at entry {self.first_bad_seq}: {self.problem}"] if self.problem else []
        if self.mismatches:
            lines.append(f"FAILED: {len(self.mismatches)} record(s) do not match their audit entries:")
            lines += [f"  {m}" for m in self.mismatches]
        return "\n".join(lines)


def verify(db: store.Database, *, records: bool = True) -> Verification:
    """Walk the chain and the checkpoints, then check every governance record against its latest entry.

    The anchor file is read first and everything else inside one read transaction,
    so a writer committing meanwhile cannot make a sound log look broken.

    Parameters
    ----------
    records : bool, default True
        Also recompute each record's digest and re-hash its file (``mismatches`` names
        table, row and what changed); False checks the chain only.
    """
    path = _db_file(db)
    anchor = _read_anchor(path.parent / ANCHOR_FILE) if path else None
    own_transaction = not db.conn.in_transaction
    if own_transaction:
        db.conn.execute("BEGIN")
    try:
        result = _verify(db, anchor)
        if records:
            try:
                key: bytes | None = key_for(db)
            except ValidationError:
                key = None  # the chain's result says so; digests are still checked, changed columns not named
            result.records, result.files, result.mismatches = _check_records(
                db, key, v2_from=_v2_from(db), home=path.parent if path else None)
            result.ok = result.ok and not result.mismatches
        return result
    finally:
        if own_transaction:
            db.conn.execute("COMMIT")


def _v2_from(db: Any) -> int:
    """The first entry chained with encoding v2 (1 when the log started with it)."""
    found = db.execute(f"select seq from {store.CHECKPOINTS} where id = ?", [ENCODING_CHECKPOINT]).fetchone()
    return found[0] if found else 1


def _verify(db: store.Database, anchor: tuple[int, str, str] | None) -> Verification:
    checkpoints = {row[0]: (row[1], row[2]) for row in db.execute(f"select id, seq, mac from {store.CHECKPOINTS}")}
    total = db.execute(f"select count(*) from {store.AUDIT}").fetchone()[0]
    if total == 0 and HEAD not in checkpoints and anchor is None:
        return Verification(True, 0, None)
    try:
        key = key_for(db)
    except ValidationError as error:
        return Verification(False, 0, None, str(error), 1)
    encoding = checkpoints.pop(ENCODING_CHECKPOINT, None)
    v2_from = encoding[0] if encoding else 1
    checks = _Checks(key, {seq: mac for seq, (_, mac) in checkpoints.items() if seq != HEAD}, anchor, v2_from)
    path = _db_file(db)
    walk = None
    if path is not None and total >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
        walk = _walk_in_two(db, path, checks, split=_split(total))
    if walk is None:
        walk = checks.walk(_entries(db), previous=GENESIS, expected_seq=1, prev_hash_of=_prev_hash_of(db))
    count, last_hash, problem, bad_seq = walk
    if problem:
        return Verification(False, count, last_hash, problem, bad_seq)
    head = checkpoints.get(HEAD)
    if count and head is None:
        return Verification(False, count, last_hash, "the head checkpoint is missing", count)
    if head is not None and head[0] != count:
        return Verification(False, count, last_hash,
                            f"the keyed head checkpoint is for entry {head[0]}, the chain ends at {count} "
                            "(truncated or rewritten)", min(head[0], count) + 1)
    if head is not None and not hmac.compare_digest(head[1], _mac(key, count, last_hash or "")):
        return Verification(False, count, last_hash,
                            f"the keyed head checkpoint does not match entry {count} (the chain was rewritten)", count)
    if encoding is not None:
        marked = db.execute(f"select hash from {store.AUDIT} where seq = ?", [v2_from]).fetchone()
        if marked is None or not hmac.compare_digest(encoding[1], _mac(key, v2_from, marked[0])):
            return Verification(False, count, last_hash,
                                "the keyed checkpoint of the switch to encoding v2 does not match "
                                f"entry {v2_from} (the switch point was moved)", v2_from)
    if anchor is not None:
        seq, entry, mac = anchor
        if seq > count:
            return Verification(False, count, last_hash,
                                f"the anchor file {ANCHOR_FILE} records entry {seq}, the chain ends at {count} "
                                "(the tail was truncated)", count + 1)
        if not hmac.compare_digest(mac, _mac(key, seq, entry)):
            return Verification(False, count, last_hash, f"the anchor file {ANCHOR_FILE} has a bad MAC", seq)
    return Verification(True, count, last_hash)


# -- governance records against their entries ---------------------------------------------------


def _check_records(db: Any, key: bytes | None, *, v2_from: int, home: Path | None) -> tuple[int, int, list[str]]:
    """Every governance row against its latest entry: (records checked, files re-hashed, mismatches)."""
    latest = _latest_covers(db, v2_from=v2_from)
    checked = files = 0
    problems: list[str] = []
    for kind in RECORD_TYPES.values():
        if not db[kind.table].exists():
            continue
        covers = {k: cover for (table, k), cover in latest.items() if table == kind.table}
        check = _check_batches if kind.batch else _check_rows
        counts = check(db, kind, covers, key=key, home=home, problems=problems)
        checked, files = checked + counts[0], files + counts[1]
    return checked, files, problems


def _check_rows(db: Any, kind: RecordType, covers: dict[str, tuple[int, dict]], *, key: bytes | None,
                home: Path | None, problems: list[str]) -> tuple[int, int]:
    table, checked, files, seen = kind.table, 0, 0, set()
    for row in _select(db, kind, "1", []):
        text_key = kind.row_key(row)
        seen.add(text_key)
        checked += 1
        seq, cover = covers.get(text_key, (None, None))
        if cover is None:
            problems.append(f"{table} {text_key}: no audit entry covers this row (written outside the application)")
        elif cover["digest"] is None:
            problems.append(f"{table} {text_key}: entry {seq} recorded it deleted, but the row is there")
        elif (digest := _row_digest(kind, row, key)) is not None and digest != cover["digest"]:  # None: no key
            problems.append(f"{table} {text_key}: {_changed(key, kind, text_key, row, cover)} since entry {seq}")
        if kind.file and row.get(kind.file[0]) and home is not None:
            files += 1
            problem = _file_problem(home, row[kind.file[0]], row.get(kind.file[1]))
            if problem:
                problems.append(f"{table} {text_key}: {problem}")
    for text_key, (seq, cover) in covers.items():
        if text_key not in seen and cover["digest"] is not None:
            problems.append(f"{table} {text_key}: the row was deleted (entry {seq} covers it)")
    return checked, files


def _changed(key: bytes | None, kind: RecordType, text_key: str, row: dict[str, Any], cover: dict) -> str:
    """Which columns differ from what the entry recorded (by their keyed fingerprints)."""
    recorded = cover.get("columns") or {}
    if key is None or not recorded:
        return "the row changed"
    names = sorted(c for c in set(row) | set(recorded)
                   if recorded.get(c) != (_fingerprint(key, kind.table, text_key, c, row[c]) if c in row else None))
    return f"{', '.join(names) or 'the row'} changed"


def _file_problem(home: Path, relative: str, sha: str | None) -> str | None:
    from ethics.artifacts import sha256_file  # imported here: pandas is not needed to walk the chain

    path = home / relative
    if not path.is_file():
        return f"its file {relative} is missing"
    if sha256_file(path) != sha:
        return f"its file {relative} does not match the row's SHA-256 (the file was replaced)"
    return None


def _check_batches(db: Any, kind: RecordType, covers: dict[str, tuple[int, dict]], *, key: bytes | None,
                   home: Path | None, problems: list[str]) -> tuple[int, int]:
    table, checked = kind.table, 0
    members: list[tuple[int, int, set[int]]] = []  # (first, last, gaps) of every batch
    for text_key, (seq, cover) in sorted(covers.items(), key=lambda item: item[1][0]):
        batch, gaps = Batch.parse(text_key), set(cover.get("gaps", []))
        members.append((batch.first, batch.last, gaps))
        rows = _select(db, kind, f"{kind.key} between ? and ?", [batch.first, batch.last])
        present = {row[kind.key] for row in rows}
        missing = [i for i in range(batch.first, batch.last + 1) if i not in gaps and i not in present]
        checked += len(present - gaps)
        if missing:
            problems.append(f"{table} {_id_list(missing)}: deleted (entry {seq} covers rows {text_key})")
        elif _batch_digest(kind, rows, gaps) != cover["digest"]:
            problems.append(f"{table} rows {text_key}: content changed since entry {seq}")
    members.sort(key=lambda member: member[0])
    firsts = [member[0] for member in members]

    def covered(i: int) -> bool:
        # Batches rarely overlap (an id freed at the end of one is reused by the next): look back from the last start.
        j = bisect.bisect_right(firsts, i) - 1
        while j >= 0:
            _, last, gaps = members[j]
            if i <= last and i not in gaps:
                return True
            j -= 1
        return False

    uncovered = [i for (i,) in db.execute(f"select {kind.key} from {table} order by 1") if not covered(i)]
    if uncovered:
        problems.append(f"{table} {_id_list(uncovered)}: no audit entry covers these rows "
                        "(written outside the application)")
    return checked + len(uncovered), 0


def _id_list(ids: list[int], most: int = 10) -> str:
    shown = ", ".join(str(i) for i in ids[:most])
    return f"{shown} and {len(ids) - most} more" if len(ids) > most else shown


PARALLEL_FROM = 200_000  # below this, starting a second process costs more than it saves
# Without prev_hash: the chain hash covers it; it is read only to name what is wrong with a bad entry.
_SELECT_ENTRIES = ("select seq, created_at, actor, action, object_type, object_id, digest, properties_json, "
                   f"records_json, hash from {store.AUDIT}")


def _prev_hash_of(db: Any) -> Callable[[int], str | None]:
    def lookup(seq: int) -> str | None:
        found = db.execute(f"select prev_hash from {store.AUDIT} where seq = ?", [seq]).fetchone()
        return found[0] if found else None

    return lookup


def _split(total: int) -> int:
    """Where the second process takes over: the halves take about equally long."""
    return total // 2


def _entries(db: Any, *, after: int = 0, upto: int | None = None) -> Any:
    if upto is None:
        return db.execute(f"{_SELECT_ENTRIES} where seq > ? order by seq", [after])
    return db.execute(f"{_SELECT_ENTRIES} where seq > ? and seq <= ? order by seq", [after, upto])


# A walk's result: entries found sound, hash of the last sound one, the problem and the bad entry's seq.
Walk = tuple[int, str | None, str | None, int]


@dataclass(frozen=True)
class _Checks:
    """What every entry is checked against: the key, the numbered checkpoints' MACs and the anchor."""

    key: bytes
    macs: dict[int, str]
    anchor: tuple[int, str, str] | None
    v2_from: int = 1

    def walk(self, rows: Any, *, previous: str, expected_seq: int, prev_hash_of: Callable[[int], str | None]) -> Walk:
        """Check consecutive entries starting at ``expected_seq`` whose predecessor's hash is ``previous``.

        The loop does only what a sound entry needs; the first entry that fails anything is
        examined again by :meth:`problem` to say what is wrong with it.
        """
        sha256, macs, key, v2_from = hashlib.sha256, self.macs, self.key, self.v2_from
        anchor_seq, anchor_hash = (self.anchor[0], self.anchor[1]) if self.anchor else (None, None)
        first, last_good = expected_seq, previous if expected_seq > 1 else None
        for seq, created_at, actor, action, object_type, object_id, digest, properties, records, stored in rows:
            # The same bytes as entry_hash(), inlined: building a dict per row doubled the time for 1M entries.
            if seq >= v2_from:
                content = _V2 + _fields(previous, seq, created_at, actor, action, object_type, object_id, digest,
                                        records)
            else:
                content = f"{previous}|{seq}|{created_at}|{actor}|{action}|{object_type}|{object_id}|{digest}"
            if (seq != expected_seq
                    or (sha256(properties.encode()).hexdigest() != digest and not self.tombstone_ok(seq, properties,
                                                                                                 digest))
                    or sha256(content.encode()).hexdigest() != stored
                    or (records is not None and seq < v2_from)
                    or (seq == v2_from > 1 and action != EncodingChanged.name)
                    or (seq in macs and not hmac.compare_digest(macs[seq], _mac(key, seq, stored)))
                    or (seq == anchor_seq and anchor_hash != stored)):
                row = (seq, created_at, actor, action, object_type, object_id, digest, properties, records, stored)
                problem = self.problem(row, expected_seq=expected_seq, previous=previous, prev_hash=prev_hash_of(seq))
                return expected_seq - first, last_good, problem, seq
            previous = last_good = stored
            expected_seq = seq + 1
        return expected_seq - first, last_good, None, expected_seq

    def tombstone_ok(self, seq: int, properties: str, digest: str) -> bool:
        """Whether a payload that does not match its digest is that entry's tombstone, written with the key."""
        stone = _tombstone_of(properties)
        return (stone is not None and stone["digest"] == digest and isinstance(stone["tombstone"], str)
                and hmac.compare_digest(str(stone["mac"]), _tombstone_mac(self.key, seq, digest, stone["tombstone"])))

    def problem(self, row: tuple[Any, ...], *, expected_seq: int, previous: str, prev_hash: str | None) -> str:
        """What is wrong with an entry that failed :meth:`walk`'s checks: the first check it fails, in this order."""
        seq, created_at, actor, action, object_type, object_id, digest, properties, records, stored = row
        if seq != expected_seq:
            return f"sequence jumps from {expected_seq - 1} to {seq} (entries deleted or inserted)"
        if prev_hash != previous:
            return "its previous-hash does not match the entry before it (reordered, inserted or deleted)"
        if hashlib.sha256(properties.encode()).hexdigest() != digest:
            if _tombstone_of(properties) is not None:
                return "its tombstone does not match its digest or was not written with the key"
            return "its properties do not match their digest (the entry was changed)"
        if records is not None and seq < self.v2_from:
            return "it names records but was chained before encoding v2 (records added to an old entry)"
        row_fields = dict(zip(("seq", "created_at", "actor", "action", "object_type", "object_id", "digest",
                               "records_json"), row[:7] + (records,), strict=True))
        if entry_hash(previous, row_fields, encoding=2 if seq >= self.v2_from else 1) != stored:
            return "its hash does not match its content (the entry was changed)"
        if seq == self.v2_from > 1 and action != EncodingChanged.name:
            return f"the switch to encoding v2 is marked here, but this entry is not {EncodingChanged.name}"
        if seq in self.macs and not hmac.compare_digest(self.macs[seq], _mac(self.key, seq, stored)):
            return "the keyed checkpoint does not match (the chain was rewritten)"
        return f"the anchor file {ANCHOR_FILE} holds another hash for this entry (the chain was rewritten)"


def _walk_in_two(db: store.Database, path: Path, checks: _Checks, *, split: int) -> Walk | None:
    """Check entries after ``split`` in a second process while this one checks the rest.

    The second half starts from the stored hash of entry ``split``, which the first half
    proves.  Returns None when the halves do not meet cleanly (a gap at the split); the
    caller then walks the whole chain in one pass to name the first bad entry exactly.
    """
    start = db.execute(f"select hash from {store.AUDIT} where seq = ?", [split]).fetchone()
    last = db.execute(f"select max(seq) from {store.AUDIT}").fetchone()[0]
    if start is None:
        return None
    # The second process reads its own snapshot: it stops at this one's last entry.
    request = json.dumps({"db": str(path), "key": checks.key.hex(), "macs": checks.macs, "anchor": checks.anchor,
                          "v2_from": checks.v2_from, "after": split, "upto": last, "previous": start[0]})
    worker = subprocess.Popen([sys.executable, "-m", "ethics.audit"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        worker.stdin.write(request.encode())
        worker.stdin.close()
        head = checks.walk(_entries(db, upto=split), previous=GENESIS, expected_seq=1, prev_hash_of=_prev_hash_of(db))
        tail = json.loads(worker.stdout.read() or "null")
    finally:
        worker.wait()
    if head[2] is not None:
        return head
    if head[0] != split or tail is None:
        return None
    return split + tail[0], tail[1], tail[2], tail[3]


def _walk_tail() -> None:
    """The second process of :func:`_walk_in_two`: read the request on stdin, print the walk as JSON."""
    request = json.loads(sys.stdin.read())
    checks = _Checks(bytes.fromhex(request["key"]), {int(k): v for k, v in request["macs"].items()},
                     tuple(request["anchor"]) if request["anchor"] else None, request["v2_from"])
    conn = sqlite3.connect(f"file:{request['db']}?mode=ro", uri=True)
    try:
        walk = checks.walk(_entries(conn, after=request["after"], upto=request["upto"]),
                           previous=request["previous"], expected_seq=request["after"] + 1,
                           prev_hash_of=_prev_hash_of(conn))
    finally:
        conn.close()
    sys.stdout.write(json.dumps(walk))


def list_entries(
    db: store.Database, *, object_type: str | None = None, object_id: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Entries, newest first, optionally for one object; ``properties`` parsed."""
    clauses, args = [], []
    if object_type is not None:
        clauses.append("object_type = ?")
        args.append(object_type)
    if object_id is not None:
        clauses.append("object_id = ?")
        args.append(str(object_id))
    rows = store.list_rows(db, store.AUDIT, " and ".join(clauses) or None, args,
                           order_by=f"seq desc limit {int(limit)}")
    for row in rows:
        row["properties"] = json.loads(row.pop("properties_json"))
        row["records"] = json.loads(row.pop("records_json") or "[]")
    return rows


def head(db: store.Database) -> dict[str, Any] | None:
    """The last entry's sequence number and hash (printed on reports)."""
    last = db.execute(f"select seq, hash from {store.AUDIT} order by seq desc limit 1").fetchone()
    return {"seq": last[0], "hash": last[1]} if last else None


def export_csv(db: store.Database) -> str:
    """The whole log as CSV; cells that a spreadsheet would run as formulas are neutralised."""
    out = io.StringIO()
    columns = list(_ENTRY_COLUMNS)
    writer = csv.writer(out)
    writer.writerow(columns)
    for values in db.execute(f"select {', '.join(columns)} from {store.AUDIT} order by seq"):
        writer.writerow([safe_cell(v) for v in values])
    return out.getvalue()


def to_dict(item: Event) -> dict[str, Any]:
    """An event as a plain dict (for tests and debugging)."""
    return {"name": item.name, **{k: _plain(v) for k, v in asdict(item).items()}}


if __name__ == "__main__":
    _walk_tail()
