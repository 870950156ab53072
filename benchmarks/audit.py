"""Audit log: appends per second and append latency with 1 and 16 writer processes; verify 1M entries.

    .venv/bin/python benchmarks/audit.py [--quick]

An append is one ``store.transaction`` holding one ``audit.record`` (a registered
``audit.UserChanged`` event), each writer process on its own connection, as the app and
the CLI write.  The 1,000,000-entry chain is built fast (hashes with ``audit.entry_hash``,
one ``executemany``, the periodic checkpoints signed with the real key), then its last
entry is appended with ``audit.record`` so the head checkpoint and the anchor are the
real ones.  ``audit.verify`` runs in a fresh subprocess, for its own time and peak RSS.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

from ethics import audit, store  # noqa: E402

P99_GOAL_MS = 250.0
VERIFY_GOAL_S = 5.0
CREATED = common.NOW.isoformat()

WORKER = r"""
import json, resource, sys, time
from ethics import audit, store

path, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = store.open_db(path)
store.migrate(db)
print("ready", flush=True)
if sys.stdin.readline().strip() != "go":
    sys.exit("not started: another writer failed to start")
errors, latencies = [], []
started = time.time()
for i in range(count):
    start = time.perf_counter()
    try:
        with store.transaction(db):
            audit.record(db, audit.UserChanged(f"w{worker}", "user", f"{worker}-{i}", change="added",
                                               role="auditor"))
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    latencies.append(time.perf_counter() - start)
ended = time.time()
db.close()
print(json.dumps({"errors": errors, "latencies": latencies, "started": started, "ended": ended,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
"""

VERIFY = r"""
import json, sys, time
from ethics import audit, store

db = store.open_db(sys.argv[1])
if sys.argv[2] == "one-process":
    audit.PARALLEL_FROM = float("inf")
start = time.perf_counter()
result = audit.verify(db)
print(json.dumps({"seconds": time.perf_counter() - start, "ok": result.ok, "entries": result.entries,
                  "text": str(result)}))
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# -- appends ----------------------------------------------------------------------------


def one_run(writers: int, each: int) -> dict:
    """Start the writer processes, let them go together, and gather their latencies."""
    with common.temp_home("audit-append") as home:
        db = common.open_db(home)
        path = home / "ethics.db"
        procs = [
            subprocess.Popen([common.PYTHON, "-c", WORKER, str(path), str(w), str(each)], cwd=common.REPO,
                             text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for w in range(writers)
        ]
        ready = [proc.stdout.readline().strip() == "ready" for proc in procs]
        for proc, is_ready in zip(procs, ready, strict=True):
            if is_ready:
                proc.stdin.write("go\n" if all(ready) else "")
            proc.stdin.close()  # a worker that is not ready gets no "go": the others stop without writing
        outputs = [(proc.stdout.read(), proc.stderr.read()) for proc in procs]
        for proc in procs:
            proc.wait()
        crashed = [err for proc, (_, err) in zip(procs, outputs, strict=True) if proc.returncode]
        if crashed:
            db.close()
            return {"crashed": crashed}
        results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
        with common.timer() as verify_time:
            verification = audit.verify(db)
        db.close()
    latencies = [s * 1000 for result in results for s in result["latencies"]]
    wall = max(r["ended"] for r in results) - min(r["started"] for r in results)
    return {
        "latencies": latencies,
        "errors": [error for result in results for error in result["errors"]],
        "rate": len(latencies) / wall,
        "wall": wall,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "rss": max(r["peak_rss_mb"] for r in results),
        "verify": f"{'ok' if verification.ok else 'FAILED'}, {verification.entries:,} entries "
                  f"({verify_time.seconds:.2f} s)",
    }


def writers(writers: int, each: int, runs: int) -> None:
    common.heading(f"appends: {writers} writer process(es) x {each} audited transactions, {runs} run(s)")
    done = []
    for number in range(1, runs + 1):
        run = one_run(writers, each)
        if "crashed" in run:
            print("".join(run["crashed"]), file=sys.stderr)
            continue
        done.append(run)
        common.report(f"run {number}: appends/s; p50 / p99 / max latency",
                      f"{run['rate']:,.0f}/s; {run['p50']:.1f} / {run['p99']:.1f} / {run['max']:,.0f} ms")
        common.report(f"run {number}: errors, wall time, verify afterwards",
                      f"{len(run['errors'])} errors, {run['wall']:.2f} s, {run['verify']}")
        for error in run["errors"][:5]:
            print(f"    {error}")
    if not done:
        return
    pooled = [value for run in done for value in run["latencies"]]
    p99 = statistics.median(run["p99"] for run in done)
    common.report("appends", len(pooled))
    common.report("errors (database is locked or other)", sum(len(run["errors"]) for run in done))
    common.report("appends per second (median of runs)", statistics.median(run["rate"] for run in done))
    common.report("latency p50, all runs pooled", percentile(pooled, 50), "ms")
    common.report("latency p90, all runs pooled", percentile(pooled, 90), "ms")
    common.report("latency p99, all runs pooled", percentile(pooled, 99), "ms")
    common.report("latency p99 (median of runs)", p99, "ms")
    common.report("latency max", max(pooled), "ms")
    common.report("peak RSS of a writer process (max)", max(run["rss"] for run in done), "MB")
    if writers >= 16:
        common.report(f"goal p99 < {P99_GOAL_MS:.0f} ms at {writers} writers (median of runs)",
                      common.verdict(p99, P99_GOAL_MS))


# -- a long chain -----------------------------------------------------------------------


def _mac(key: bytes, seq: int, entry: str) -> str:
    """HMAC-SHA256 of ``seq|hash``, the checkpoint format documented in ``ethics.audit``."""
    return hmac.new(key, f"{seq}|{entry}".encode(), hashlib.sha256).hexdigest()


def build_fast(db: store.Database, entries: int) -> float:
    """``entries - 1`` chained rows by ``executemany``, then the last one by ``audit.record``; seconds."""
    key = audit.key_for(db, create=True)  # the log is still empty here
    payload = store.to_json(audit.UserChanged(common.ACTOR, "user", "x", change="added", role="auditor").properties())
    digest = hashlib.sha256(payload.encode()).hexdigest()
    checkpoints = []

    def rows():
        previous = audit.GENESIS
        for seq in range(1, entries):
            row = {"seq": seq, "created_at": CREATED, "actor": common.ACTOR, "action": audit.UserChanged.name,
                   "object_type": "user", "object_id": f"u{seq}", "digest": digest}
            entry = audit.entry_hash(previous, row)
            yield (seq, CREATED, common.ACTOR, audit.UserChanged.name, "user", f"u{seq}", digest, payload,
                   previous, entry)
            if seq % audit.CHECKPOINT_EVERY == 0:
                checkpoints.append((seq, seq, _mac(key, seq, entry)))
            previous = entry

    with common.timer() as elapsed, store.transaction(db):
        db.conn.executemany(
            f"insert into {store.AUDIT} (seq, created_at, actor, action, object_type, object_id, digest, "
            "properties_json, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
        db.conn.executemany(f"insert into {store.CHECKPOINTS} (id, seq, mac) values (?, ?, ?)", checkpoints)
        audit.record(db, audit.UserChanged(common.ACTOR, "user", f"u{entries}", change="added", role="auditor",
                                           created=common.NOW))
    return elapsed.seconds


def build_by_record(entries: int) -> float:
    """Seconds per entry when ``audit.record`` is called ``entries`` times in one transaction."""
    with common.temp_home("audit-record") as home:
        db = common.open_db(home)
        with common.timer() as elapsed, store.transaction(db):
            for i in range(entries):
                audit.record(db, audit.UserChanged(common.ACTOR, "user", f"u{i}", change="added", role="auditor",
                                                   created=common.NOW))
        db.close()
    return elapsed.seconds / entries


def breakdown(db: store.Database, entries: int) -> None:
    """Where ``audit.verify``'s time goes: the same walk, one step added at a time."""
    select = ("select seq, created_at, actor, action, object_type, object_id, digest, properties_json, prev_hash, "
              f"hash from {store.AUDIT} order by seq")
    keys = ("seq", "created_at", "actor", "action", "object_type", "object_id", "digest")

    def fetch() -> None:
        for _ in db.execute(select):
            pass

    def as_dicts() -> None:
        cursor = db.execute(select)
        names = [d[0] for d in cursor.description]
        for values in cursor:
            dict(zip(names, values, strict=True))

    def with_digest() -> None:
        cursor = db.execute(select)
        names = [d[0] for d in cursor.description]
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            hashlib.sha256(row["properties_json"].encode()).hexdigest()

    def with_entry_hash() -> None:
        cursor = db.execute(select)
        names = [d[0] for d in cursor.description]
        previous = audit.GENESIS
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            hashlib.sha256(row["properties_json"].encode()).hexdigest()
            audit.entry_hash(previous, row)
            previous = row["hash"]

    def entry_hash_only() -> None:
        row = dict.fromkeys(keys, "x" * 16)
        for _ in range(entries):
            audit.entry_hash(audit.GENESIS, row)

    common.heading("where audit.verify's time goes (same connection, one step added at a time, best of 2)")
    last = 0.0
    for label, function in (("fetch the rows (cursor only)", fetch), ("+ dict(zip(names, values)) per row", as_dicts),
                            ("+ SHA-256 of properties_json (digest check)", with_digest),
                            ("+ audit.entry_hash (chain hash)", with_entry_hash)):
        seconds = min(common.repeat(function, 2))
        common.report(label, f"{seconds:.2f} s (step {seconds - last:+.2f} s)")
        last = seconds
    common.report(f"audit.entry_hash alone, {entries:,} calls", min(common.repeat(entry_hash_only, 2)), "s")


def long_chain(entries: int, runs: int, record_sample: int) -> None:
    common.heading(f"verify: {entries:,} entries")
    per_entry = build_by_record(record_sample)
    common.report(f"build by audit.record, {record_sample:,} in one transaction", per_entry * 1000, "ms/entry")
    common.report(f"  so {entries:,} entries by audit.record would take", per_entry * entries, "s")
    with common.temp_home("audit-verify") as home:
        db = common.open_db(home)
        common.report("build fast (entry_hash + executemany + one record)", build_fast(db, entries), "s")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        common.report("database size", (home / "ethics.db").stat().st_size / common.MB, "MB")
        common.report("peak RSS of this process after the build", common.peak_rss_mb(), "MB")
        measured: dict[str, list] = {"verify": [], "one-process": []}
        for _ in range(runs):  # alternated, so both see the same load
            for mode in measured:
                measured[mode].append(common.run_measured([common.PYTHON, "-c", VERIFY, str(home / "ethics.db"),
                                                           mode]))
        figures = {mode: [m.json_tail() for m in runs_] for mode, runs_ in measured.items()}
        common.report("verify result", figures["verify"][0]["text"][:60] + "...")
        for mode, label in (("verify", "audit.verify (two processes)"), ("one-process", "one process")):
            seconds = [f["seconds"] for f in figures[mode]]
            common.report(f"{label}, " + ", ".join(f"{s:.2f}" for s in seconds) + " s; median",
                          statistics.median(seconds), "s")
            common.report("  process wall time with interpreter start-up (median)",
                          statistics.median(m.seconds for m in measured[mode]), "s")
            common.report("  peak RSS of the verify process (max)", max(m.peak_rss_mb for m in measured[mode]), "MB")
        seconds = [f["seconds"] for f in figures["verify"]]
        goal = VERIFY_GOAL_S * entries / 1_000_000
        common.report(f"goal < {VERIFY_GOAL_S:.0f} s per 1,000,000 entries, here < {goal:g} s",
                      common.verdict(statistics.median(seconds), goal))
        if statistics.median(seconds) >= goal or "--breakdown" in sys.argv:
            breakdown(db, entries)
        db.close()


def main() -> None:
    parser = common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--breakdown", action="store_true", help="always show where verify's time goes")
    parser.add_argument("--verify-only", action="store_true", help="skip the writer runs")
    args = parser.parse_args()
    common.print_machine()
    started = time.perf_counter()
    if args.quick:
        writers(1, 300, 1)
        writers(16, 40, 1)
        long_chain(100_000, 1, 2_000)
    else:
        if not args.verify_only:
            writers(1, 2_000, 3)
            writers(16, 250, 3)
        long_chain(1_000_000, 3, 20_000)
    common.heading("audit.py")
    common.report("peak RSS of this process", common.peak_rss_mb(), "MB")
    common.report("total", time.perf_counter() - started, "s")


if __name__ == "__main__":
    main()
