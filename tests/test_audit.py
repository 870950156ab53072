"""The hash-chained audit log: recording, concurrency, crashes, tampering and export.

Real SQLite files in ``tmp_path`` and real processes, no mocks.  Tampering goes through a
raw ``sqlite3`` connection after dropping the append-only triggers, as an attacker with
write access to the database file would.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from ethics import audit, store
from ethics.errors import EthicsError, ValidationError

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ENTRY_COLUMNS = ("seq", "created_at", "actor", "action", "object_type", "object_id", "digest",
                 "properties_json", "records_json", "prev_hash", "hash")
CONTENT_COLUMNS = ("created_at", "actor", "action", "object_type", "object_id", "digest", "properties_json")
CHAIN = 40  # entries in the tamper fixture, one transaction each


def change(i: int, actor: str = "tester") -> audit.UserChanged:
    return audit.UserChanged(actor, "user", f"u{i}", change="added", role="auditor")


def write(db, count: int, start: int = 0) -> None:
    """``count`` audited writes, one transaction each."""
    for i in range(start, start + count):
        with store.transaction(db):
            audit.record(db, change(i))


def entries(db) -> list[dict]:
    cursor = db.execute(f"select {', '.join(ENTRY_COLUMNS)} from audit_log order by seq")
    return [dict(zip(ENTRY_COLUMNS, row, strict=True)) for row in cursor]


def anchor(home: Path) -> tuple[int, str] | None:
    path = home / audit.ANCHOR_FILE
    if not path.exists():
        return None
    seq, entry, _ = path.read_text().split()
    return int(seq), entry


def mac(key: bytes, seq: int, entry: str) -> str:
    """HMAC-SHA256 of ``seq|hash``, the documented checkpoint format."""
    return hmac.new(key, f"{seq}|{entry}".encode(), hashlib.sha256).hexdigest()


def attacker(home: Path) -> sqlite3.Connection:
    """A raw connection to the database with the append-only triggers dropped."""
    conn = sqlite3.connect(str(home / "ethics.db"), isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    return conn


def rechain(conn: sqlite3.Connection, start: int, *, key: bytes | None = None, home: Path | None = None) -> None:
    """Recompute ``prev_hash`` and ``hash`` from ``start`` to the end, as :func:`audit.entry_hash` does.

    With ``key`` (an attacker's guess), also re-sign every checkpoint and the anchor file.
    """
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("select * from audit_log order by seq")]
    conn.row_factory = None
    previous = audit.GENESIS
    for row in rows:
        if row["seq"] >= start:
            row["prev_hash"] = previous
            row["hash"] = audit.entry_hash(previous, row)
            conn.execute("update audit_log set prev_hash = ?, hash = ? where seq = ?",
                         (row["prev_hash"], row["hash"], row["seq"]))
        previous = row["hash"]
    if key is None:
        return
    by_seq = {row["seq"]: row["hash"] for row in rows}
    last = rows[-1]["seq"]
    for cid, seq in conn.execute("select id, seq from audit_checkpoints").fetchall():
        conn.execute("update audit_checkpoints set mac = ? where id = ?", (mac(key, seq, by_seq[seq]), cid))
    if home is not None:
        (home / audit.ANCHOR_FILE).write_text(f"{last} {by_seq[last]} {mac(key, last, by_seq[last])}\n")


def tampered(home: Path) -> audit.Verification:
    db = store.open_db(home / "ethics.db")
    try:
        return audit.verify(db)
    finally:
        db.close()


@pytest.fixture(params=[None, 16, 30], ids=["one-process", "split-16", "split-30"])
def chain(db, home, request, monkeypatch):
    """``CHAIN`` audited writes, one transaction each; returns the entries.

    Verified in one pass, and in two processes split at and after entry 17,
    where most tampering happens.
    """
    if request.param is not None:
        monkeypatch.setattr(audit, "PARALLEL_FROM", 1)
        monkeypatch.setattr(audit, "_split", lambda total: request.param)
    write(db, CHAIN)
    return entries(db)


# -- 1. basics ------------------------------------------------------------------------------


def test_recorded_events_verify_with_the_head_of_the_chain(db, home):
    write(db, 25)
    rows = entries(db)
    result = audit.verify(db)
    assert result.ok, str(result)
    assert result.entries == 25
    assert result.head == rows[-1]["hash"] == audit.head(db)["hash"]
    assert str(result) == f"ok, 25 entries, head {rows[-1]['hash']}; 0 records, 0 files"
    assert [row["seq"] for row in rows] == list(range(1, 26))
    assert rows[0]["prev_hash"] == audit.GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(rows, rows[1:], strict=False))
    assert anchor(home) == (25, rows[-1]["hash"])
    key_file = home / audit.KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert audit.key_for(db) == bytes.fromhex(key_file.read_text().strip())
    assert db.execute("select seq from audit_checkpoints where id = ?", [audit.HEAD]).fetchone() == (25,)


def test_empty_log_verifies(db):
    result = audit.verify(db)
    assert result.ok and result.entries == 0 and result.head is None


def test_record_outside_a_transaction_is_refused(db):
    with pytest.raises(ValidationError, match="inside the write's transaction"):
        audit.record(db, change(1))
    assert db["audit_log"].count == 0
    assert audit.verify(db).ok


@dataclass(frozen=True)
class Unregistered(audit.Event):
    name: ClassVar[str] = "user.unregistered"


@dataclass(frozen=True)
class Impostor(audit.Event):
    """Claims a registered name, but is not the registered class."""

    name: ClassVar[str] = audit.UserChanged.name
    change: str = ""


@dataclass(frozen=True)
class SubclassOfRegistered(audit.UserChanged):
    """Inherits the registered name without being registered."""


@pytest.mark.parametrize("cls", [Unregistered, Impostor, SubclassOfRegistered])
def test_unregistered_event_is_refused(db, cls):
    write(db, 2)
    with pytest.raises(ValidationError, match="not registered"):
        with store.transaction(db):
            audit.record(db, cls("tester", "user", "u1"))
    assert db["audit_log"].count == 2
    assert audit.verify(db).ok


def test_rolled_back_transaction_leaves_no_entry(db, home):
    write(db, 3)
    with pytest.raises(RuntimeError):
        with store.transaction(db):
            audit.record(db, change(99))
            audit.record(db, change(100))
            raise RuntimeError("the write failed after its audit entries")
    assert db["audit_log"].count == 3
    assert db.execute("select seq from audit_checkpoints where id = ?", [audit.HEAD]).fetchone() == (3,)
    assert anchor(home)[0] == 3
    result = audit.verify(db)
    assert result.ok and result.entries == 3
    write(db, 1, start=3)
    assert [row["seq"] for row in entries(db)] == [1, 2, 3, 4]
    assert audit.verify(db).ok


def test_rolled_back_savepoint_keeps_the_outer_entries(db):
    write(db, 2)
    with store.transaction(db):
        audit.record(db, change(10))
        with pytest.raises(RuntimeError):
            with store.transaction(db):  # nested: a savepoint
                audit.record(db, change(11))
                raise RuntimeError("inner write failed")
        audit.record(db, change(12))
    assert [row["object_id"] for row in entries(db)] == ["u0", "u1", "u10", "u12"]
    result = audit.verify(db)
    assert result.ok and result.entries == 4


def test_periodic_checkpoints_are_written_and_checked(db):
    with store.transaction(db):
        for i in range(audit.CHECKPOINT_EVERY + 5):
            audit.record(db, change(i))
    ids = [row[0] for row in db.execute("select id from audit_checkpoints order by id")]
    assert ids == [audit.HEAD, audit.CHECKPOINT_EVERY]
    result = audit.verify(db)
    assert result.ok and result.entries == audit.CHECKPOINT_EVERY + 5


def test_triggers_make_the_log_append_only(chain, home):
    with closing(sqlite3.connect(str(home / "ethics.db"), isolation_level=None)) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("update audit_log set actor = 'mallory' where seq = 3")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("delete from audit_log where seq = 3")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("delete from audit_log")
    assert tampered(home).ok


# -- 2. concurrency -------------------------------------------------------------------------

WORKER = r"""
import json, sys, time
from ethics import audit, store

path, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = store.open_db(path)
store.migrate(db)
print("ready", flush=True)
sys.stdin.readline()
errors, slowest = [], 0.0
for i in range(count):
    start = time.perf_counter()
    try:
        with store.transaction(db):
            audit.record(db, audit.UserChanged(f"w{worker}", "user", f"{worker}-{i}", change="added",
                                               role="auditor"))
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    slowest = max(slowest, time.perf_counter() - start)
db.close()
print(json.dumps({"worker": worker, "errors": errors, "slowest_s": slowest}), flush=True)
"""


@pytest.mark.slow
def test_sixteen_processes_append_four_thousand_entries(db, home):
    """16 processes x 250 audited writes, each in its own transaction on its own connection.

    The key file does not exist before the workers start, so they also race to create it.
    """
    workers, each = 16, 250
    path = home / "ethics.db"
    assert not (home / audit.KEY_FILE).exists()
    procs = [
        subprocess.Popen([PYTHON, "-c", WORKER, str(path), str(w), str(each)], cwd=REPO, text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for w in range(workers)
    ]
    try:
        for proc in procs:
            line = proc.stdout.readline()
            assert line.strip() == "ready", (line, proc.stderr.read() if proc.poll() is not None else "")
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=180) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [proc.returncode for proc in procs] == [0] * workers, [err for _, err in outputs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    errors = [error for result in results for error in result["errors"]]
    assert errors == []
    assert all("locked" not in err for _, err in outputs)

    rows = entries(db)
    assert len(rows) == workers * each
    assert [row["seq"] for row in rows] == list(range(1, workers * each + 1))
    assert sorted(row["object_id"] for row in rows) == sorted(f"{w}-{i}" for w in range(workers)
                                                              for i in range(each))
    for w in range(workers):  # each worker's own writes are in its order
        mine = [int(row["object_id"].split("-")[1]) for row in rows if row["actor"] == f"w{w}"]
        assert mine == list(range(each))
    result = audit.verify(db)
    assert result.ok, str(result)
    assert result.entries == workers * each and result.head == rows[-1]["hash"]
    checkpoint_ids = [row[0] for row in db.execute("select id from audit_checkpoints order by id")]
    assert checkpoint_ids == [audit.HEAD, 1000, 2000, 3000, 4000]
    assert anchor(home)[:2] == (workers * each, rows[-1]["hash"])  # never moved back by a slower writer
    assert list(home.glob("*.tmp")) == []
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


# -- 3. crashes -----------------------------------------------------------------------------

# Imports ethics once, then forks one writer per line read from stdin (a seed): the child
# opens its own connection, reports it is ready on a pipe and appends audited transactions
# of 1-8 entries until it is killed.  The zygote prints the child's pid, then its wait status.
ZYGOTE = r"""
import os, random, sys, traceback
from ethics import audit, store

path = sys.argv[1]


def writer(seed, ready):
    rng = random.Random(seed)
    db = store.open_db(path)
    os.write(ready, b"1")
    os.close(ready)
    txn = 0
    while True:
        txn += 1
        n = rng.randint(1, 8)
        team = "x" * rng.choice([0, 0, 3000, 60000])  # some transactions write many WAL pages
        with store.transaction(db):
            for i in range(n):
                audit.record(db, audit.UserChanged(f"writer-{seed}", "user", f"{txn}:{i}/{n}",
                                                   change="added", role="auditor", team=team))


print("ready", flush=True)
for line in sys.stdin:
    seed = int(line)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            writer(seed, w)
        except BaseException:
            traceback.print_exc()
        os._exit(1)
    os.close(w)
    started = os.read(r, 1) == b"1"
    os.close(r)
    print(pid if started else -1, flush=True)
    print(os.waitpid(pid, 0)[1], flush=True)
"""


@pytest.mark.slow
def test_writer_killed_with_sigkill_leaves_a_sound_database_and_chain(db, home):
    rounds = 60
    path = home / "ethics.db"
    db.close()
    rng = random.Random(20261125)
    zygote = subprocess.Popen([PYTHON, "-c", ZYGOTE, str(path)], cwd=REPO, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    anchor_behind = 0
    try:
        assert zygote.stdout.readline().strip() == "ready"
        for seed in range(rounds):
            zygote.stdin.write(f"{seed}\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            assert pid > 0, "the writer did not start"
            time.sleep(rng.uniform(0.02, 0.12))
            os.kill(pid, signal.SIGKILL)
            status = int(zygote.stdout.readline())
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
                f"round {seed}: the writer ended by itself, status {status}")

            with closing(sqlite3.connect(str(path))) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], f"round {seed}"
            check = store.open_db(path)
            try:
                result = audit.verify(check)
                assert result.ok, f"round {seed}: {result}"
                # every transaction of this writer is there whole or not at all
                parts: dict[str, tuple[int, list[int]]] = {}
                for (object_id,) in check.execute("select object_id from audit_log where actor = ?",
                                                  [f"writer-{seed}"]):
                    txn, part = object_id.split(":")
                    i, n = map(int, part.split("/"))
                    parts.setdefault(txn, (n, []))[1].append(i)
                for txn, (n, seen_parts) in parts.items():
                    assert sorted(seen_parts) == list(range(n)), f"round {seed}: transaction {txn} is partial"
                seen = anchor(home)
                if seen is not None and seen[0] < result.entries:
                    anchor_behind += 1
            finally:
                check.close()
    finally:
        zygote.stdin.close()
        try:
            zygote.wait(timeout=10)
        except subprocess.TimeoutExpired:
            zygote.kill()
            zygote.wait()
    assert "Traceback" not in zygote.stderr.read()
    db = store.open_db(path)
    try:
        total = db["audit_log"].count
        assert total > rounds, "the writers hardly wrote anything before being killed"
        with store.transaction(db):  # the chain continues after the crashes
            audit.record(db, change(0))
        result = audit.verify(db)
        assert result.ok and result.entries == total + 1, str(result)
    finally:
        db.close()
    print(f"{rounds} kills, {total} entries, anchor behind the chain after {anchor_behind} kills")


# -- 4. tampering ---------------------------------------------------------------------------


def assert_detected(result: audit.Verification, first_bad: int | tuple[int, ...], *words: str) -> None:
    assert not result.ok, "tampering was not detected"
    allowed = first_bad if isinstance(first_bad, tuple) else (first_bad,)
    assert result.first_bad_seq in allowed, str(result)
    for word in words:
        assert word in result.problem, str(result)
    assert str(result).startswith(f"FAILED at entry {result.first_bad_seq}: ")


def test_changed_field_is_detected(chain, home):
    with closing(attacker(home)) as conn:
        conn.execute("update audit_log set actor = 'mallory' where seq = 17")
    assert_detected(tampered(home), 17, "hash does not match its content")


def test_changed_field_with_its_own_hash_recomputed_is_detected_at_the_next_entry(chain, home):
    row = dict(chain[16], actor="mallory")
    with closing(attacker(home)) as conn:
        conn.execute("update audit_log set actor = ?, hash = ? where seq = 17",
                     (row["actor"], audit.entry_hash(row["prev_hash"], row)))
    assert_detected(tampered(home), 18, "previous-hash")


def test_changed_properties_are_detected(chain, home):
    with closing(attacker(home)) as conn:
        conn.execute("""update audit_log set properties_json = '{"change":"added","role":"ethics_officer",'
                        || '"team":null}' where seq = 17""")
    assert_detected(tampered(home), 17, "properties do not match their digest")


def test_changed_properties_with_matching_digest_are_detected(chain, home):
    payload = store.to_json({"change": "added", "role": "ethics_officer", "team": None})
    with closing(attacker(home)) as conn:
        conn.execute("update audit_log set properties_json = ?, digest = ? where seq = 17",
                     (payload, hashlib.sha256(payload.encode()).hexdigest()))
    assert_detected(tampered(home), 17, "hash does not match its content")


def test_deleted_middle_entry_is_detected(chain, home):
    with closing(attacker(home)) as conn:
        conn.execute("delete from audit_log where seq = 17")
    assert_detected(tampered(home), 18, "sequence jumps from 16 to 18")


def _renumber_from(conn: sqlite3.Connection, seq: int) -> None:
    """Make room at ``seq``: entries from there on move one up."""
    conn.execute("update audit_log set seq = -seq - 1 where seq >= ?", (seq,))
    conn.execute("update audit_log set seq = -seq where seq < 0")


def test_forged_entry_inserted_in_the_middle_is_detected(chain, home):
    forged = {"seq": 17, "created_at": chain[16]["created_at"], "actor": "mallory", "action": "user.changed",
              "object_type": "user", "object_id": "mallory", "properties_json": "{}",
              "digest": hashlib.sha256(b"{}").hexdigest(), "prev_hash": chain[15]["hash"]}
    forged["hash"] = audit.entry_hash(forged["prev_hash"], forged)
    with closing(attacker(home)) as conn:
        _renumber_from(conn, 17)
        conn.execute(f"insert into audit_log ({', '.join(forged)}) values ({', '.join('?' * len(forged))})",
                     list(forged.values()))
    # The forged entry itself is consistent with entry 16; the break shows at the entry after it.
    assert_detected(tampered(home), 18, "previous-hash")


def test_forged_entry_inserted_in_the_middle_with_the_tail_rechained_is_detected(chain, home):
    forged = {"seq": 17, "created_at": chain[16]["created_at"], "actor": "mallory", "action": "user.changed",
              "object_type": "user", "object_id": "mallory", "properties_json": "{}",
              "digest": hashlib.sha256(b"{}").hexdigest(), "prev_hash": "", "hash": ""}
    with closing(attacker(home)) as conn:
        _renumber_from(conn, 17)
        conn.execute(f"insert into audit_log ({', '.join(forged)}) values ({', '.join('?' * len(forged))})",
                     list(forged.values()))
        rechain(conn, 17)
    result = tampered(home)
    # The anchor file holds entry 40's hash, which changed: caught inside the walk.
    assert_detected(result, CHAIN, "anchor file")
    (home / audit.ANCHOR_FILE).unlink()
    # Without the anchor the keyed head checkpoint (entry 40) does not match a chain of 41.
    assert_detected(tampered(home), (CHAIN, CHAIN + 1), "keyed head checkpoint")


def test_forged_entry_appended_with_a_valid_hash_is_detected(chain, home):
    last = chain[-1]
    forged = {"seq": CHAIN + 1, "created_at": last["created_at"], "actor": "mallory", "action": "user.changed",
              "object_type": "user", "object_id": "mallory", "properties_json": "{}",
              "digest": hashlib.sha256(b"{}").hexdigest(), "prev_hash": last["hash"]}
    forged["hash"] = audit.entry_hash(last["hash"], forged)
    with closing(attacker(home)) as conn:
        conn.execute(f"insert into audit_log ({', '.join(forged)}) values ({', '.join('?' * len(forged))})",
                     list(forged.values()))
    assert_detected(tampered(home), (CHAIN, CHAIN + 1), "keyed head checkpoint")


def test_forged_entry_with_a_gap_in_the_sequence_is_detected(chain, home):
    last = chain[-1]
    with closing(attacker(home)) as conn:
        columns, marks = ", ".join(ENTRY_COLUMNS), ", ".join("?" * len(ENTRY_COLUMNS))
        conn.execute(f"insert into audit_log ({columns}) values ({marks})",
                     [CHAIN + 5, *(last[c] for c in ENTRY_COLUMNS[1:])])
    assert_detected(tampered(home), CHAIN + 5, f"sequence jumps from {CHAIN} to {CHAIN + 5}")


def _swap(conn: sqlite3.Connection, a: int, b: int, columns: tuple[str, ...]) -> None:
    rows = {seq: conn.execute(f"select {', '.join(columns)} from audit_log where seq = ?", (seq,)).fetchone()
            for seq in (a, b)}
    assignments = ", ".join(f"{c} = ?" for c in columns)
    conn.execute(f"update audit_log set {assignments} where seq = ?", (*rows[b], a))
    conn.execute(f"update audit_log set {assignments} where seq = ?", (*rows[a], b))


def test_reordered_entries_are_detected(chain, home):
    with closing(attacker(home)) as conn:
        _swap(conn, 10, 20, ENTRY_COLUMNS[1:])  # whole entries, chain hashes included
    assert_detected(tampered(home), 10, "previous-hash")


def test_reordered_contents_are_detected(chain, home):
    with closing(attacker(home)) as conn:
        _swap(conn, 10, 20, CONTENT_COLUMNS)  # what happened, keeping the chain hashes in place
    assert_detected(tampered(home), 10, "hash does not match its content")


def test_reordered_neighbours_are_detected(chain, home):
    with closing(attacker(home)) as conn:
        _swap(conn, 39, 40, ENTRY_COLUMNS[1:])
    assert_detected(tampered(home), 39, "previous-hash")


def test_truncated_tail_is_detected_by_the_head_checkpoint(chain, home):
    with closing(attacker(home)) as conn:
        conn.execute("delete from audit_log where seq > ?", (CHAIN - 5,))
    result = tampered(home)
    assert_detected(result, (CHAIN - 5, CHAIN - 4), "keyed head checkpoint is for entry 40, the chain ends at 35")
    assert result.entries == CHAIN - 5
    (home / audit.ANCHOR_FILE).unlink()  # the anchor is not needed for this
    assert_detected(tampered(home), (CHAIN - 5, CHAIN - 4), "keyed head checkpoint")


def test_truncated_tail_with_the_head_checkpoint_deleted_is_detected(chain, home):
    with closing(attacker(home)) as conn:
        conn.execute("delete from audit_log where seq > ?", (CHAIN - 5,))
        conn.execute("delete from audit_checkpoints where id = ?", (audit.HEAD,))
    (home / audit.ANCHOR_FILE).unlink()
    assert_detected(tampered(home), (CHAIN - 5, CHAIN - 4), "head checkpoint is missing")


def test_truncated_tail_with_an_old_head_checkpoint_restored_is_detected_by_the_anchor(db, home):
    write(db, CHAIN - 5)
    old_head = db.execute("select id, seq, mac from audit_checkpoints where id = ?", [audit.HEAD]).fetchone()
    write(db, 5, start=CHAIN - 5)
    with closing(attacker(home)) as conn:
        conn.execute("delete from audit_log where seq > ?", (CHAIN - 5,))
        conn.execute("replace into audit_checkpoints (id, seq, mac) values (?, ?, ?)", old_head)
    result = tampered(home)
    assert_detected(result, CHAIN - 4, "anchor file", "records entry 40, the chain ends at 35")


def test_limit_truncation_with_an_old_head_checkpoint_and_no_anchor_goes_unnoticed(db, home):
    """Documents the limit: the head checkpoint and the anchor are the two witnesses of the tail.

    An attacker who can write the database and the data home, and kept an old head checkpoint
    row (or restores a backup), removes both; a wiped log with its checkpoints also verifies.
    """
    write(db, CHAIN - 5)
    old_head = db.execute("select id, seq, mac from audit_checkpoints where id = ?", [audit.HEAD]).fetchone()
    write(db, 5, start=CHAIN - 5)
    with closing(attacker(home)) as conn:
        conn.execute("delete from audit_log where seq > ?", (CHAIN - 5,))
        conn.execute("replace into audit_checkpoints (id, seq, mac) values (?, ?, ?)", old_head)
    (home / audit.ANCHOR_FILE).unlink()
    assert tampered(home).ok
    with closing(attacker(home)) as conn:
        conn.execute("delete from audit_log")
        conn.execute("delete from audit_checkpoints")
    result = tampered(home)
    assert result.ok and result.entries == 0


def test_every_entry_deleted_is_detected(chain, home):
    with closing(attacker(home)) as conn:
        conn.execute("delete from audit_log")
    assert_detected(tampered(home), (0, 1), "keyed head checkpoint is for entry 40, the chain ends at 0")


def test_chain_rewritten_without_the_key_is_detected(chain, home):
    with closing(attacker(home)) as conn:
        conn.execute("update audit_log set actor = 'mallory' where seq = 5")
        rechain(conn, 5)
    assert_detected(tampered(home), CHAIN, "anchor file", "another hash")
    (home / audit.ANCHOR_FILE).unlink()
    assert_detected(tampered(home), CHAIN, "keyed head checkpoint")
    with closing(attacker(home)) as conn:
        conn.execute("delete from audit_checkpoints")
    assert_detected(tampered(home), CHAIN, "head checkpoint is missing")


def test_long_chain_rewritten_without_the_key_is_detected_at_the_first_checkpoint(db, home):
    with store.transaction(db):
        for i in range(audit.CHECKPOINT_EVERY + 50):
            audit.record(db, change(i))
    with closing(attacker(home)) as conn:
        conn.execute("update audit_log set actor = 'mallory' where seq = 5")
        rechain(conn, 5)
    assert_detected(tampered(home), audit.CHECKPOINT_EVERY, "keyed checkpoint does not match")


def test_chain_rewritten_with_a_wrong_key_is_detected(db, home):
    with store.transaction(db):
        for i in range(audit.CHECKPOINT_EVERY + 50):
            audit.record(db, change(i))
    wrong = secrets.token_bytes(32)
    with closing(attacker(home)) as conn:
        conn.execute("update audit_log set actor = 'mallory' where seq = 5")
        rechain(conn, 5, key=wrong, home=home)
    assert_detected(tampered(home), audit.CHECKPOINT_EVERY, "keyed checkpoint does not match")
    with closing(attacker(home)) as conn:  # without the periodic checkpoint: the head
        conn.execute("delete from audit_checkpoints where id = ?", (audit.CHECKPOINT_EVERY,))
    assert_detected(tampered(home), audit.CHECKPOINT_EVERY + 50, "keyed head checkpoint")


def test_short_chain_rewritten_with_a_wrong_key_is_detected(chain, home):
    wrong = secrets.token_bytes(32)
    with closing(attacker(home)) as conn:
        conn.execute("update audit_log set actor = 'mallory' where seq = 5")
        rechain(conn, 5, key=wrong, home=home)
    assert_detected(tampered(home), CHAIN, "keyed head checkpoint")


def test_anchor_with_a_bad_mac_is_detected(chain, home):
    seq, entry = anchor(home)
    (home / audit.ANCHOR_FILE).write_text(f"{seq} {entry} {'0' * 64}\n")
    assert_detected(tampered(home), CHAIN, "bad MAC")


def test_anchor_behind_the_chain_verifies(chain, home):
    """A writer killed between COMMIT and the anchor write leaves the anchor behind."""
    key = bytes.fromhex((home / audit.KEY_FILE).read_text().strip())
    row = chain[CHAIN - 3]
    (home / audit.ANCHOR_FILE).write_text(f"{row['seq']} {row['hash']} {mac(key, row['seq'], row['hash'])}\n")
    assert tampered(home).ok


def test_missing_key_is_detected(chain, home):
    (home / audit.KEY_FILE).unlink()
    assert not tampered(home).ok


# -- regressions of bugs found and fixed -------------------------------------------------


def test_verify_while_another_connection_commits_reports_ok(chain, home):
    writer = store.open_db(home / "ethics.db")
    reader = store.open_db(home / "ethics.db")
    written = []

    def commit_in_between(statement: str) -> None:
        # Runs when verify starts its walk of the chain, after it read the checkpoints: the
        # moment another process's commit can land on a busy system.
        if "from audit_log where seq >" in statement and not written:
            written.append(True)
            with store.transaction(writer):
                audit.record(writer, change(1000))

    reader.conn.set_trace_callback(commit_in_between)
    try:
        result = audit.verify(reader)
    finally:
        reader.conn.set_trace_callback(None)
        reader.close()
        writer.close()
    assert written
    assert result.ok, str(result)


def test_chain_rewritten_after_deleting_the_key_is_detected(chain, home):
    with closing(attacker(home)) as conn:
        conn.execute("update audit_log set actor = 'mallory' where seq = 5")
        rechain(conn, 5)
        conn.execute("delete from audit_checkpoints")
    (home / audit.KEY_FILE).unlink()
    (home / audit.ANCHOR_FILE).unlink()
    db = store.open_db(home / "ethics.db")
    try:
        with store.transaction(db):  # an ordinary write by the app
            audit.record(db, change(1000))
    except EthicsError:
        return  # refusing to write without the key is a fix too
    finally:
        db.close()
    assert not tampered(home).ok


def test_truncation_names_the_first_missing_entry(chain, home):
    with closing(attacker(home)) as conn:
        conn.execute("delete from audit_log where seq > ?", (CHAIN - 5,))
    (home / audit.ANCHOR_FILE).unlink()
    assert tampered(home).first_bad_seq == CHAIN - 4


# -- 5. export ------------------------------------------------------------------------------


def test_export_csv_has_a_header_and_one_row_per_entry(db):
    write(db, 4)
    actors = ["=HYPERLINK(1)", "+cmd", "-1+1", "@SUM(A1)", "\tTab", "plain"]
    with store.transaction(db):
        for i, actor in enumerate(actors):
            audit.record(db, change(100 + i, actor=actor))
    rows = list(csv.reader(io.StringIO(audit.export_csv(db))))
    assert rows[0] == list(ENTRY_COLUMNS)
    assert len(rows) == 1 + 4 + len(actors)
    assert [row[0] for row in rows[1:]] == [str(i) for i in range(1, 11)]
    exported = [row[2] for row in rows[5:]]
    assert exported == ["'=HYPERLINK(1)", "'+cmd", "'-1+1", "'@SUM(A1)", "'\tTab", "plain"]
    stored = {row["seq"]: row for row in entries(db)}
    for row in rows[1:]:
        assert row[10] == stored[int(row[0])]["hash"]
        assert json.loads(row[7]) == json.loads(stored[int(row[0])]["properties_json"])
    assert audit.verify(db).ok


def test_export_of_an_empty_log_is_the_header(db):
    assert list(csv.reader(io.StringIO(audit.export_csv(db)))) == [list(ENTRY_COLUMNS)]
