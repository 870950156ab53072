"""The append-only, hash-chained audit log with keyed checkpoints.

Every write in the system records exactly one event in the same transaction as the
write.  Entry ``n`` stores ``hash_n = SHA-256(hash_{n-1} | n | time | actor | action |
object | digest)``, so changing, deleting, inserting or reordering an entry breaks the
chain from there on.  Rewriting the whole chain consistently is stopped by keyed
checkpoints: an HMAC-SHA256 of ``(seq, hash)`` for the head (updated with every write)
and for every :data:`CHECKPOINT_EVERY`-th entry, with a key kept in the data home
(``audit.key``), never in the database.  Truncating the tail is caught by the head
checkpoint and by the anchor file ``audit.head`` in the data home, written after each
commit: a database whose chain ends before the anchor has lost entries.
"""

from __future__ import annotations

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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from ethics import store
from ethics.errors import ValidationError
from ethics.spreadsheet import safe_cell
from ethics.weeks import iso, utcnow

CHECKPOINT_EVERY = 1000
HEAD = 0  # the checkpoint row that always holds the current head
KEY_FILE = "audit.key"
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
    """A person replaced the model's decision for one lead (the object id), with a reason."""

    name: ClassVar[str] = "decision.overridden"
    model_id: str = ""
    snapshot_id: int = 0
    model_decision: str = ""
    decision: str = ""
    reason: str = ""


# -- keys and anchors ------------------------------------------------------------------------


def _db_file(db: store.Database) -> Path | None:
    for _, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and path:
            return Path(path)
    return None


KEY_MISSING = (
    "{path} is missing but the audit log has entries: the log cannot be extended or verified without its key. "
    "Restore the key file from the backup of the data home."
)
_KEYS: dict[str, bytes] = {}


def key_for(db: store.Database, *, create: bool = False) -> bytes:
    """The HMAC key beside the database (``audit.key``), read once per process.

    It is created only when ``create`` is set and the log is still empty: a key that
    disappears from a data home with entries is an error, never silently replaced.
    In-memory databases (tests) get a key for the life of the process.

    Raises
    ------
    ValidationError
        When the key file is missing and may not be created.
    """
    path = _db_file(db)
    if path is None:
        return _MEMORY_KEYS.setdefault(id(db.conn), secrets.token_bytes(32))
    key_path = path.parent / KEY_FILE
    if key_path.exists() and str(key_path) in _KEYS:
        return _KEYS[str(key_path)]
    if not key_path.exists():
        empty = db.execute(f"select count(*) from {store.AUDIT}").fetchone()[0] == 0
        if not (create and empty):
            raise ValidationError(KEY_MISSING.format(path=key_path))
        tmp = key_path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(tmp, key_path)  # first writer wins; a concurrent one reads the winner's key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    _KEYS[str(key_path)] = bytes.fromhex(key_path.read_text().strip())
    return _KEYS[str(key_path)]


def _mac(key: bytes, seq: int, entry_hash: str) -> str:
    return hmac.new(key, f"{seq}|{entry_hash}".encode(), hashlib.sha256).hexdigest()


def entry_hash(previous: str, row: dict[str, Any]) -> str:
    """The chain hash of one entry given the previous entry's hash."""
    text = "|".join(
        str(row[k]) for k in ("seq", "created_at", "actor", "action", "object_type", "object_id", "digest")
    )
    return hashlib.sha256(f"{previous}|{text}".encode()).hexdigest()


# -- writing ---------------------------------------------------------------------------------


def record(db: store.Database, item: Event, *, now: datetime | None = None) -> dict[str, Any]:
    """Append one event to the chain; call inside the write's ``store.transaction``.

    Raises
    ------
    ValidationError
        When the event's class is not registered, or no transaction is open.
    """
    if EVENTS.get(item.name) is not type(item):
        raise ValidationError(f"Audit event {type(item).__name__} is not registered.")
    if not db.conn.in_transaction:
        raise ValidationError("Audit events are recorded inside the write's transaction.")
    properties = item.properties()
    payload = store.to_json(properties)
    last = db.execute(f"select seq, hash from {store.AUDIT} order by seq desc limit 1").fetchone()
    seq, previous = (last[0] + 1, last[1]) if last else (1, GENESIS)
    row = {
        "seq": seq,
        "created_at": iso(item.created or now or utcnow()),
        "actor": item.actor,
        "action": item.name,
        "object_type": item.object_type,
        "object_id": str(item.object_id),
        "digest": hashlib.sha256(payload.encode()).hexdigest(),
        "properties_json": payload,
        "prev_hash": previous,
    }
    row["hash"] = entry_hash(previous, row)
    key = key_for(db, create=seq == 1)
    mac = _mac(key, seq, row["hash"])
    # Plain prepared statements: the write lock is held for as short a time as possible.
    db.execute(_INSERT_ENTRY, [row[c] for c in _ENTRY_COLUMNS])
    db.execute(_UPSERT_CHECKPOINT, [HEAD, seq, mac])
    if seq % CHECKPOINT_EVERY == 0:
        db.execute(_UPSERT_CHECKPOINT, [seq, seq, mac])
    store.after_commit(db, write_anchor)
    return row


_ENTRY_COLUMNS = ("seq", "created_at", "actor", "action", "object_type", "object_id", "digest", "properties_json",
                  "prev_hash", "hash")
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

    def __str__(self) -> str:
        if self.ok:
            return f"ok, {self.entries} entries, head {self.head}"
        return f"FAILED at entry {self.first_bad_seq}: {self.problem}"


def verify(db: store.Database) -> Verification:
    """Walk the chain and the checkpoints; report the first bad entry and why.

    The anchor file is read first and everything else inside one read transaction,
    so a writer committing meanwhile cannot make a sound log look broken.
    """
    path = _db_file(db)
    anchor = _read_anchor(path.parent / ANCHOR_FILE) if path else None
    own_transaction = not db.conn.in_transaction
    if own_transaction:
        db.conn.execute("BEGIN")
    try:
        return _verify(db, anchor)
    finally:
        if own_transaction:
            db.conn.execute("COMMIT")


def _verify(db: store.Database, anchor: tuple[int, str, str] | None) -> Verification:
    checkpoints = {row[0]: (row[1], row[2]) for row in db.execute(f"select id, seq, mac from {store.CHECKPOINTS}")}
    total = db.execute(f"select count(*) from {store.AUDIT}").fetchone()[0]
    if total == 0 and HEAD not in checkpoints and anchor is None:
        return Verification(True, 0, None)
    try:
        key = key_for(db)
    except ValidationError as error:
        return Verification(False, 0, None, str(error), 1)
    checks = _Checks(key, {seq: mac for seq, (_, mac) in checkpoints.items() if seq != HEAD}, anchor)
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
    if anchor is not None:
        seq, entry, mac = anchor
        if seq > count:
            return Verification(False, count, last_hash,
                                f"the anchor file {ANCHOR_FILE} records entry {seq}, the chain ends at {count} "
                                "(the tail was truncated)", count + 1)
        if not hmac.compare_digest(mac, _mac(key, seq, entry)):
            return Verification(False, count, last_hash, f"the anchor file {ANCHOR_FILE} has a bad MAC", seq)
    return Verification(True, count, last_hash)


PARALLEL_FROM = 200_000  # below this, starting a second process costs more than it saves
# Without prev_hash: the chain hash covers it; it is read only to name what is wrong with a bad entry.
_SELECT_ENTRIES = ("select seq, created_at, actor, action, object_type, object_id, digest, properties_json, "
                   f"hash from {store.AUDIT}")


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

    def walk(self, rows: Any, *, previous: str, expected_seq: int, prev_hash_of: Callable[[int], str | None]) -> Walk:
        """Check consecutive entries starting at ``expected_seq`` whose predecessor's hash is ``previous``.

        The loop does only what a sound entry needs; the first entry that fails anything is
        examined again by :meth:`problem` to say what is wrong with it.
        """
        sha256, macs, key = hashlib.sha256, self.macs, self.key
        anchor_seq, anchor_hash = (self.anchor[0], self.anchor[1]) if self.anchor else (None, None)
        first, last_good = expected_seq, previous if expected_seq > 1 else None
        for seq, created_at, actor, action, object_type, object_id, digest, properties, stored in rows:
            # The same bytes as entry_hash(), inlined: building a dict per row doubled the time for 1M entries.
            if (seq != expected_seq
                    or sha256(properties.encode()).hexdigest() != digest
                    or sha256(f"{previous}|{seq}|{created_at}|{actor}|{action}|{object_type}|{object_id}|{digest}"
                              .encode()).hexdigest() != stored
                    or (seq in macs and not hmac.compare_digest(macs[seq], _mac(key, seq, stored)))
                    or (seq == anchor_seq and anchor_hash != stored)):
                row = (seq, created_at, actor, action, object_type, object_id, digest, properties, stored)
                problem = self.problem(row, expected_seq=expected_seq, previous=previous, prev_hash=prev_hash_of(seq))
                return expected_seq - first, last_good, problem, seq
            previous = last_good = stored
            expected_seq = seq + 1
        return expected_seq - first, last_good, None, expected_seq

    def problem(self, row: tuple[Any, ...], *, expected_seq: int, previous: str, prev_hash: str | None) -> str:
        """What is wrong with an entry that failed :meth:`walk`'s checks: the first check it fails, in this order."""
        seq, created_at, actor, action, object_type, object_id, digest, properties, stored = row
        if seq != expected_seq:
            return f"sequence jumps from {expected_seq - 1} to {seq} (entries deleted or inserted)"
        if prev_hash != previous:
            return "its previous-hash does not match the entry before it (reordered, inserted or deleted)"
        if hashlib.sha256(properties.encode()).hexdigest() != digest:
            return "its properties do not match their digest (the entry was changed)"
        content = f"{previous}|{seq}|{created_at}|{actor}|{action}|{object_type}|{object_id}|{digest}"
        if hashlib.sha256(content.encode()).hexdigest() != stored:
            return "its hash does not match its content (the entry was changed)"
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
                          "after": split, "upto": last, "previous": start[0]})
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
                     tuple(request["anchor"]) if request["anchor"] else None)
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
    return rows


def head(db: store.Database) -> dict[str, Any] | None:
    """The last entry's sequence number and hash (printed on reports)."""
    last = db.execute(f"select seq, hash from {store.AUDIT} order by seq desc limit 1").fetchone()
    return {"seq": last[0], "hash": last[1]} if last else None


def export_csv(db: store.Database) -> str:
    """The whole log as CSV; cells that a spreadsheet would run as formulas are neutralised."""
    out = io.StringIO()
    columns = ["seq", "created_at", "actor", "action", "object_type", "object_id", "digest", "properties_json",
               "prev_hash", "hash"]
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
