"""Erasure of one customer as a journaled, resumable job, and the orphan files ``doctor`` removes.

:func:`plan_erasure` finds every place the customer can be: each text column of every
table (matched case-insensitively on the typed id, pseudonym, name, e-mail, phone and
the customer's lead ids), the audit entries whose payload names them, every Parquet
file under ``datasets/`` and ``explanations/`` (referenced or orphaned, ``.part``
leftovers included) and the caches of a running app.  :func:`erase` turns the plan into
steps stored in ``erasure_jobs`` / ``erasure_steps`` and runs them; each step is
idempotent and marked done in the transaction that does its database part, so a job
killed anywhere is resumed by running the same request again.  The job is recorded as
done (the data-subject request row, the ``dsr.erased`` audit entry) only after every
step, and the texts searched for are cleared from the job in that same transaction.

Immutable records keep their row: an override's reason and lead id and a signed
review's comment and conditions are replaced by :data:`ERASED`, the one value their
triggers accept (migration 0012).  Audit entries are handed to ``audit.tombstone(db,
seq, reason)`` when that hook exists; until then the job lists them as ``to_tombstone``.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ethics import audit, datasets, explain, privacy, store
from ethics.errors import NotFound, ValidationError
from ethics.lazy import lazy_module
from ethics.weeks import iso, utcnow

pd = lazy_module("pandas", globals())
pq = lazy_module("pyarrow.parquet", globals())

ERASED = "[erased]"
LOCK_FILE = "erasure.lock"
CRASH_ENV = "ETHICS_ERASURE_CRASH_AT"  # tests: SIGKILL this process at the n-th crash point
CRASH_LOG_ENV = "ETHICS_ERASURE_CRASH_LOG"  # tests: append each crash point's label to this file
MIN_NEEDLE = 4  # shorter texts (a one-letter name, "+1") would redact half the database
ORPHAN_MIN_AGE_S = 60.0  # younger files may be an import between writing its Parquet and committing its row

ALREADY_ERASED = "Customer {customer!r} was already erased on {when} (data-subject request {request})."
NOTHING_HELD = "Nothing is held about customer {customer!r}: no scores, consent events, details or incidents."

# Tables never searched: the journal itself, migrations, keys and checkpoints hold no customer text.
_SKIP = {store.ERASURE_JOBS, store.ERASURE_STEPS, store.DATA_GENERATION, store.CHECKPOINTS, store.PRIVACY_KEY,
         "_sqlite_migrations"}
# Rows that are the customer's: deleted whole.
_DELETE_ROWS = {store.CUSTOMERS, store.CONSENT_EVENTS}
# Immutable records: only these fields may be replaced by the tombstone (their triggers allow nothing else).
_TOMBSTONE_FIELDS = {store.OVERRIDES: {"reason", "lead_id"}, store.REVIEWS: {"comment", "conditions"}}
# Records that cannot change (their hashes are signed or they are the register of requests).
_RETAINED = {
    store.SNAPSHOTS: "snapshots are immutable and signed by reviews",
    store.VERSIONS: "model versions are immutable",
    store.DSR_REQUESTS: "the register of data-subject requests keeps the pseudonym",
}
_AUDIT_FIELDS = ("actor", "object_id", "properties_json")


# -- the plan --------------------------------------------------------------------------------


def needles_for(db: store.Database, customer: str, *, home: Path) -> dict[str, Any]:
    """The texts that name the customer: typed id, pseudonym, name, e-mail, phone and lead ids.

    Returns
    -------
    dict
        ``pseudonym``, ``lead_ids`` and ``needles`` (all of them, longest first, each at least
        :data:`MIN_NEEDLE` characters).
    """
    typed = customer.strip()
    pseudonym = privacy.pseudonymise(db, typed)
    found = [typed, pseudonym]
    for row in store.list_rows(db, store.CUSTOMERS, "pseudonym = ?", [pseudonym]):
        found += [row["customer_ref"], row["name"], row["email"], row["phone"]]
    lead_ids: set[str] = set()
    for path, _ in _parquet_files(home):
        frame = _read_parquet(path, columns=["customer_id", "lead_id"])
        if frame is not None and {"customer_id", "lead_id"} <= set(frame.columns):
            lead_ids.update(frame.loc[frame["customer_id"] == pseudonym, "lead_id"].astype(str))
    return {"pseudonym": pseudonym, "lead_ids": sorted(lead_ids), "needles": _clean_needles([*found, *lead_ids])}


def _clean_needles(values: list[Any]) -> list[str]:
    texts = {str(v).strip() for v in values if v is not None and str(v).strip()}
    return sorted((t for t in texts if len(t) >= MIN_NEEDLE), key=lambda t: (-len(t), t))


def _hits(text: Any, folded: list[str]) -> bool:
    """Whether ``text`` holds one of the lower-cased needles (case-insensitive substring)."""
    return isinstance(text, str) and any(n in text.lower() for n in folded)


def plan_erasure(db: store.Database, home: Path, customer: str, *,
                 needles: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every place the customer is held, and what the erasure does there.

    Parameters
    ----------
    db : Database
    home : Path
        The data home (``datasets/``, ``explanations/``).
    customer : str
        The id as typed (the CRM id).
    needles : dict, optional
        :func:`needles_for`, when already known (a resumed job).

    Returns
    -------
    dict
        ``pseudonym``, ``needles`` and ``places``: each place is a row (``table, key, column, action``), a
        file (``path, rows, dataset_ids | snapshot_ref | orphan, action``), an audit entry (``seq, fields,
        action``) or the app's caches.  Actions: ``delete_row``, ``redact`` (the matched texts replaced by
        :data:`ERASED`, case-insensitively), ``tombstone`` (the whole field), ``rewrite`` (a Parquet file without
        the customer's rows), ``delete_file``, ``tombstone_audit``, ``retain`` (with the reason), ``bump``.
    """
    found = needles or needles_for(db, customer, home=home)
    pseudonym, folded = found["pseudonym"], [n.lower() for n in found["needles"]]
    places: list[dict[str, Any]] = []
    leads = {n.lower() for n in found.get("lead_ids", [])}
    for table in db.table_names():
        if table in _SKIP:
            continue
        if table == store.AUDIT:
            places += _audit_places(db, folded)
            continue
        places += _row_places(db, table, folded, pseudonym=pseudonym, leads=leads)
    places += _file_places(db, home, pseudonym=pseudonym, folded=folded)
    if any(p["action"] != "retain" for p in places):
        places.append({"kind": "cache", "action": "bump",
                       "detail": "the data-home generation: a running app drops its cached reads"})
    return {"pseudonym": pseudonym, "needles": found["needles"], "lead_ids": found.get("lead_ids", []),
            "places": places}


def _text_columns(db: store.Database, table: str) -> list[str]:
    return [c.name for c in db[table].columns if (c.type or "TEXT").upper() in ("TEXT", "")]


def _row_places(db: store.Database, table: str, folded: list[str], *, pseudonym: str,
                leads: set[str]) -> list[dict[str, Any]]:
    columns = _text_columns(db, table)
    if not columns:
        return []
    pks = db[table].pks
    db.conn.create_function("erasure_hit", 1, lambda text: _hits(text, folded), deterministic=True)
    where = " or ".join(f"erasure_hit([{c}])" for c in columns)
    select = ", ".join(f"[{c}]" for c in dict.fromkeys([*pks, *columns]))
    places = []
    for row in db.execute_returning_dicts(f"select {select} from [{table}] where {where}"):
        key = [row[k] for k in pks]
        hit = [c for c in columns if _hits(row[c], folded)]
        clean_key = not any(_hits(k, folded) for k in key) or table == store.CUSTOMERS
        base = {"kind": "row", "table": table, "key": key if clean_key else None}
        if table in _RETAINED:
            places += [{**base, "column": c, "action": "retain", "reason": _RETAINED[table]} for c in hit]
        elif table == store.CUSTOMERS and row["pseudonym"] != pseudonym:
            places += [{**base, "column": c, "action": "retain", "reason": "another customer's record (same text)"}
                       for c in hit]
        elif table in _DELETE_ROWS:
            places.append({**base, "column": ",".join(hit), "action": "delete_row"})
        elif table in _TOMBSTONE_FIELDS:
            allowed = _TOMBSTONE_FIELDS[table]
            fields = set(hit)
            if table == store.OVERRIDES and (row["lead_id"] or "").lower() in leads:
                fields.add("reason")  # the reason for overriding this person's lead is about them
            places += [{**base, "column": c, "action": "tombstone" if c in allowed else "retain",
                        **({} if c in allowed else {"reason": "immutable field"})} for c in sorted(fields)]
        elif not clean_key or set(hit) & set(pks):
            places += [{**base, "column": c, "action": "retain", "reason": "a key other records point at"}
                       for c in hit]
        else:
            fields = {c: "redact" for c in hit}
            if table == store.INCIDENTS and (row["lead_id"] or "").lower() in leads and row["description"]:
                fields["description"] = "tombstone"  # a contest describes the lead: its values and reasons
            places += [{**base, "column": c, "action": a} for c, a in sorted(fields.items())]
    return places


def _audit_places(db: store.Database, folded: list[str]) -> list[dict[str, Any]]:
    db.conn.create_function("erasure_hit", 1, lambda text: _hits(text, folded), deterministic=True)
    where = " or ".join(f"erasure_hit({c})" for c in _AUDIT_FIELDS)
    places = []
    for row in db.execute_returning_dicts(f"select seq, action, {', '.join(_AUDIT_FIELDS)} from {store.AUDIT} "
                                          f"where {where} order by seq"):
        places.append({"kind": "audit", "seq": row["seq"], "audit_action": row["action"],
                       "fields": [c for c in _AUDIT_FIELDS if _hits(row[c], folded)], "action": "tombstone_audit"})
    return places


# -- files -----------------------------------------------------------------------------------


def _parquet_files(home: Path) -> Iterator[tuple[Path, str]]:
    """Every file under ``datasets/`` and ``explanations/`` (relative path), markers excluded."""
    for directory in (datasets.DATASETS_DIR, explain.EXPLANATIONS_DIR):
        folder = home / directory
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.is_file() and path.suffix != explain.REPLACED_SUFFIX:
                    yield path, f"{directory}/{path.name}"


def _read_parquet(path: Path, *, columns: list[str] | None = None) -> pd.DataFrame | None:
    try:
        source = pq.ParquetFile(io.BytesIO(path.read_bytes()))
        wanted = None if columns is None else [c for c in columns if c in source.schema_arrow.names]
        return source.read(columns=wanted).to_pandas()
    except Exception:  # noqa: BLE001 - a truncated .part or a foreign file: unreadable, never searched
        return None


def _customer_rows(frame: pd.DataFrame, *, pseudonym: str, folded: list[str]) -> pd.Series:
    """Rows of the customer: their pseudonym, or any text cell naming them (case-insensitive)."""
    mine = pd.Series(False, index=frame.index)
    if "customer_id" in frame.columns:
        mine |= frame["customer_id"].astype(object) == pseudonym
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            text = frame[column].astype(str).str.lower()
            for needle in folded:
                mine |= text.str.contains(needle, regex=False).fillna(False).astype(bool)
    return mine


def referenced_files(db: store.Database, home: Path) -> dict[str, dict[str, Any]]:
    """Files the database points at: datasets' Parquet, snapshots' per-lead files (through their markers)."""
    found: dict[str, dict[str, Any]] = {}
    for row in db.execute(f"select id, parquet_file from {store.DATASETS}").fetchall():
        found.setdefault(row[1], {"dataset_ids": []})["dataset_ids"].append(row[0])
    for snapshot, ref in _explained_refs(db):
        path, _ = explain._current_file(ref, home=home)
        relative = path.relative_to(home).as_posix()
        entry = found.setdefault(relative, {})
        entry.setdefault("snapshot_ids", []).append(snapshot)
        refs = entry.setdefault("snapshot_refs", [])
        if {"file": ref["file"], "sha256": ref["sha256"]} not in refs:
            refs.append({"file": ref["file"], "sha256": ref["sha256"]})
        marker = (home / ref["file"]).with_suffix(explain.REPLACED_SUFFIX)
        if marker.exists():
            found.setdefault(marker.relative_to(home).as_posix(), {"marker_of": ref["file"]})
    return found


def _explained_refs(db: store.Database) -> list[tuple[int, dict[str, Any]]]:
    return [(snapshot_id, json.loads(ref)) for snapshot_id, ref in db.execute(
        f"select id, json_extract(results_json, '$.explanations.leads') from {store.SNAPSHOTS} "
        "where json_type(results_json, '$.explanations.leads') = 'object' order by id").fetchall()]


def _file_places(db: store.Database, home: Path, *, pseudonym: str, folded: list[str]) -> list[dict[str, Any]]:
    referenced = referenced_files(db, home)
    places = []
    for path, relative in _parquet_files(home):
        frame = _read_parquet(path)
        use = referenced.get(relative)
        if use is None:
            if frame is None or _customer_rows(frame, pseudonym=pseudonym, folded=folded).any():
                rows = None if frame is None else int(_customer_rows(frame, pseudonym=pseudonym, folded=folded).sum())
                places.append({"kind": "file", "path": relative, "orphan": True, "rows": rows,
                               "action": "delete_file"})
            continue
        if frame is None:
            continue
        rows = int(_customer_rows(frame, pseudonym=pseudonym, folded=folded).sum())
        if rows:
            places.append({"kind": "file", "path": relative, "orphan": False, "rows": rows, "action": "rewrite",
                           **{k: v for k, v in use.items() if k in ("dataset_ids", "snapshot_refs")}})
    return places


def orphans(db: store.Database, home: Path, *, min_age_s: float = 0.0) -> list[dict[str, Any]]:
    """Files under ``datasets/`` and ``explanations/`` that no record points at (killed writers leave them).

    Returns
    -------
    list of dict
        ``path`` (relative to the home), ``kind`` (``unfinished write`` for ``.part``, ``unreferenced dataset
        file``, ``unreferenced explanation file``), ``bytes``, ``age_s`` and ``recent`` (younger than
        ``min_age_s``: possibly an import about to commit, so not removed).
    """
    referenced = referenced_files(db, home)
    now, found = time.time(), []
    for directory, kind in ((datasets.DATASETS_DIR, "unreferenced dataset file"),
                            (explain.EXPLANATIONS_DIR, "unreferenced explanation file")):
        folder = home / directory
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            relative = f"{directory}/{path.name}"
            if not path.is_file() or relative in referenced:
                continue
            stat = path.stat()
            found.append({"path": relative, "kind": "unfinished write" if path.suffix == ".part" else kind,
                          "bytes": stat.st_size, "age_s": round(now - stat.st_mtime, 1),
                          "recent": now - stat.st_mtime < min_age_s})
    return found


def remove_orphans(db: store.Database, home: Path, *, min_age_s: float = ORPHAN_MIN_AGE_S) -> list[dict[str, Any]]:
    """Delete :func:`orphans` older than ``min_age_s``; return those removed."""
    removed = []
    with _locked(home):
        for orphan in orphans(db, home, min_age_s=min_age_s):
            if not orphan["recent"]:
                (home / orphan["path"]).unlink(missing_ok=True)
                removed.append(orphan)
    if removed:
        with store.transaction(db):
            bump_generation(db)
    return removed


# -- the app's caches ------------------------------------------------------------------------


def generation(db: store.Database) -> int:
    """The data home's generation: moved by every erasure, so a running app knows its cached reads are stale."""
    if not db[store.DATA_GENERATION].exists():
        return 0
    row = db.execute(f"select generation from {store.DATA_GENERATION} where id = 1").fetchone()
    return row[0] if row else 0


def bump_generation(db: store.Database) -> None:
    """Move the generation (inside the caller's transaction)."""
    db.execute(f"update {store.DATA_GENERATION} set generation = generation + 1 where id = 1")


# -- the job ---------------------------------------------------------------------------------


def _crash_point(label: str) -> None:
    """Tests only: record the point, and SIGKILL this process at the n-th point when asked."""
    log = os.environ.get(CRASH_LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(label + "\n")
    at = os.environ.get(CRASH_ENV)
    if at:
        _CRASH_COUNT[0] += 1
        if _CRASH_COUNT[0] == int(at):
            os.kill(os.getpid(), signal.SIGKILL)


_CRASH_COUNT = [0]


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    """One erasure or orphan removal at a time per data home (a second waits)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def unfinished_job(db: store.Database, pseudonym: str | None = None) -> dict[str, Any] | None:
    """The customer's erasure job that has not finished (any customer's when ``pseudonym`` is None)."""
    if not db[store.ERASURE_JOBS].exists():
        return None
    where, args = ("status <> 'done'", []) if pseudonym is None else ("status <> 'done' and pseudonym = ?",
                                                                       [pseudonym])
    rows = store.list_rows(db, store.ERASURE_JOBS, where, args, order_by="id")
    return _job(rows[0]) if rows else None


def list_jobs(db: store.Database) -> list[dict[str, Any]]:
    """Every erasure job with its steps, newest first."""
    return [_job(row) for row in store.list_rows(db, store.ERASURE_JOBS, order_by="id desc")]


def _job(row: dict[str, Any]) -> dict[str, Any]:
    job = {**row, "plan": json.loads(row.pop("plan_json")), "to_tombstone": json.loads(
        row.pop("to_tombstone_json") or "[]")}
    job.pop("needles_json", None)
    return job


def _steps(db: store.Database, job_id: int) -> list[dict[str, Any]]:
    rows = store.list_rows(db, store.ERASURE_STEPS, "job_id = ?", [job_id], order_by="position")
    for row in rows:
        row["target"] = json.loads(row.pop("target_json"))
        row["result"] = json.loads(row.pop("result_json") or "null")
    return rows


def steps_of(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's steps from a plan, in order; none of them holds a searched text."""
    steps: list[dict[str, Any]] = []
    for place in plan["places"]:
        if place["kind"] == "file" and place["action"] == "rewrite":
            steps += [{"kind": "rewrite_dataset", "dataset_id": d, "file": place["path"], "rows": place["rows"]}
                      for d in place.get("dataset_ids", [])]
            steps += [{"kind": "rewrite_explanations", "ref": ref, "file": place["path"], "rows": place["rows"]}
                      for ref in place.get("snapshot_refs", [])]
    steps += [{"kind": "delete_file", "file": p["path"], "rows": p["rows"]} for p in plan["places"]
              if p["kind"] == "file" and p["action"] == "delete_file"]
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for place in plan["places"]:
        if place["kind"] != "row" or place["action"] == "retain":
            continue
        key = (place["table"], json.dumps(place["key"]))
        step = rows.setdefault(key, {"kind": "delete_row" if place["action"] == "delete_row" else "redact",
                                     "table": place["table"], "key": place["key"], "columns": {}})
        if step["kind"] == "redact":
            step["columns"][place["column"]] = place["action"]
    # Contact details last among the rows, so an interrupted job still finds what it searches for if asked again.
    steps += sorted(rows.values(), key=lambda s: (s["table"] == store.CUSTOMERS, s["table"], json.dumps(s["key"])))
    audited = [p for p in plan["places"] if p["kind"] == "audit"]
    if audited:
        # The chain covers an entry's actor and object id as they are: a payload can be tombstoned, those not.
        steps.append({"kind": "tombstone_audit", "seqs": [p["seq"] for p in audited],
                      "chained": [p["seq"] for p in audited if {"actor", "object_id"} & set(p.get("fields", []))]})
    steps.append({"kind": "remove_replaced", "files": [s["file"] for s in steps if s["kind"].startswith("rewrite")]})
    steps.append({"kind": "record"})
    steps.append({"kind": "compact"})
    return steps


def erase(db: store.Database, *, customer: str, home: Path, actor: str, now: datetime | None = None
          ) -> dict[str, Any]:
    """Erase one customer (GDPR Art. 17): plan, journal and run every step, or resume an unfinished job.

    Parameters
    ----------
    db : Database
    customer : str
        As typed (the CRM id).
    home : Path
    actor : str
        Who carried the request out (recorded and audited).
    now : datetime, optional

    Returns
    -------
    dict
        The recorded request (``id, pseudonym, requested_at, actor, details``) with the job (``job``: id,
        places, steps) and the audit entries still ``to_tombstone``.

    Raises
    ------
    ValidationError
        When the customer was already erased by a finished job.
    NotFound
        When nothing is held about the customer.
    """
    moment = now or utcnow()
    typed = customer.strip()
    pseudonym = privacy.pseudonymise(db, typed)
    _refuse_erased(db, pseudonym, typed)
    plan = None
    if unfinished_job(db, pseudonym) is None:
        plan = plan_erasure(db, home, typed)
        if not any(p["action"] not in ("retain", "bump") for p in plan["places"]):
            raise NotFound(NOTHING_HELD.format(customer=typed))
    with _locked(home):  # then again under the lock: another erasure may have started or finished meanwhile
        _refuse_erased(db, pseudonym, typed)
        job = unfinished_job(db, pseudonym)
        if job is None:
            job = _start(db, plan or plan_erasure(db, home, typed), actor=actor, moment=moment)
        return _run(db, job["id"], home=home)


def _refuse_erased(db: store.Database, pseudonym: str, typed: str) -> None:
    register = privacy.erased(db)
    if pseudonym in register and unfinished_job(db, pseudonym) is None:
        found = register[pseudonym]
        raise ValidationError(ALREADY_ERASED.format(customer=typed, when=found["requested_at"], request=found["id"]))


def _start(db: store.Database, plan: dict[str, Any], *, actor: str, moment: datetime) -> dict[str, Any]:
    places = plan["places"]
    with store.transaction(db):
        job_id = db[store.ERASURE_JOBS].insert({
            "pseudonym": plan["pseudonym"], "status": "running", "actor": actor, "started_at": iso(moment),
            "needles_json": store.to_json(plan["needles"]), "plan_json": store.to_json(places),
        }).last_pk
        db[store.ERASURE_STEPS].insert_all([
            {"job_id": job_id, "position": n, "kind": s["kind"], "target_json": store.to_json(s)}
            for n, s in enumerate(steps_of(plan), start=1)])
        bump_generation(db)
    _crash_point("job started")
    return {"id": job_id}


def _run(db: store.Database, job_id: int, *, home: Path) -> dict[str, Any]:
    job = store.get_row(db, store.ERASURE_JOBS, job_id, message=f"Unknown erasure job {job_id}.")
    needles = json.loads(job["needles_json"] or "[]")
    context = {"job": job, "pseudonym": job["pseudonym"], "folded": [n.lower() for n in needles],
               "needles": needles, "home": home}
    db.execute("PRAGMA secure_delete = ON")  # deleted and overwritten content is zeroed, not left in free pages
    try:
        for step in _steps(db, job_id):
            if step["done_at"]:
                continue
            _STEPS[step["kind"]](db, step, context)
            _crash_point(f"step {step['position']} {step['kind']} done")
    finally:
        db.execute("PRAGMA secure_delete = OFF")
    return summary(db, job_id)


def _done(db: store.Database, step: dict[str, Any], result: Any = None) -> None:
    """Mark a step done (inside the transaction that did its database part, when it has one)."""
    db[store.ERASURE_STEPS].update(step["id"], {"done_at": iso(utcnow()), "result_json": store.to_json(result)})


def _rewrite_dataset(db: store.Database, step: dict[str, Any], ctx: dict[str, Any]) -> None:
    target = step["target"]
    dataset = store.get_row(db, store.DATASETS, target["dataset_id"], message="dataset gone")
    frame = datasets.read_rows(dataset, home=ctx["home"])
    mine = _customer_rows(frame, pseudonym=ctx["pseudonym"], folded=ctx["folded"])
    if not mine.any():  # already rewritten before a crash
        with store.transaction(db):
            _done(db, step, {"new_sha256": dataset["parquet_sha256"], "new_file": dataset["parquet_file"]})
        return
    sha, relative = datasets.write_parquet(frame[~mine].reset_index(drop=True), home=ctx["home"])
    _crash_point(f"step {step['position']} new file written")
    with store.transaction(db):
        db[store.DATASETS].update(dataset["id"], {"parquet_sha256": sha, "parquet_file": relative,
                                                  "rows": int((~mine).sum())})
        _done(db, step, {"new_sha256": sha, "new_file": relative})


def _rewrite_explanations(db: store.Database, step: dict[str, Any], ctx: dict[str, Any]) -> None:
    ref, home = step["target"]["ref"], ctx["home"]
    frame = explain.read_leads(ref, home=home)
    mine = _customer_rows(frame, pseudonym=ctx["pseudonym"], folded=ctx["folded"])
    if mine.any():
        new = explain.write_table(frame[~mine].reset_index(drop=True), home=home)
        _crash_point(f"step {step['position']} new file written")
        explain.replace_leads(ref, new, home=home)  # the marker names the new file, the previous one is deleted
        _crash_point(f"step {step['position']} marker replaced")
    current, sha = explain._current_file(ref, home=home)
    with store.transaction(db):
        _done(db, step, {"new_sha256": sha, "new_file": current.relative_to(home).as_posix()})


def _delete_file(db: store.Database, step: dict[str, Any], ctx: dict[str, Any]) -> None:
    relative = step["target"]["file"]
    if relative not in referenced_files(db, ctx["home"]):  # never a file a record came to point at meanwhile
        (ctx["home"] / relative).unlink(missing_ok=True)
    with store.transaction(db):
        _done(db, step)


def _redact_text(text: str | None, needles: list[str]) -> str | None:
    """Every needle in ``text`` replaced by :data:`ERASED`, case-insensitively (longest first)."""
    if text is None:
        return None
    for needle in needles:
        text = re.sub(re.escape(needle), ERASED, text, flags=re.IGNORECASE)
    return text


def _redact_row(db: store.Database, step: dict[str, Any], ctx: dict[str, Any]) -> None:
    target = step["target"]
    table, key = target["table"], target["key"]
    pks = db[table].pks
    where = " and ".join(f"[{k}] = ?" for k in pks)
    with store.transaction(db):
        rows = db.execute_returning_dicts(f"select * from [{table}] where {where}", key)
        if rows:
            row, changes = rows[0], {}
            for column, action in target["columns"].items():
                if action == "tombstone":
                    value = ERASED
                    if table == store.OVERRIDES and column == "lead_id":
                        value = f"{ERASED}#{row['id']}"  # unique per snapshot, as the trigger allows
                else:
                    value = _redact_text(row[column], ctx["needles"])
                if value != row[column]:
                    changes[column] = value
            if changes:
                sets = ", ".join(f"[{c}] = ?" for c in changes)
                db.execute(f"update [{table}] set {sets} where {where}", [*changes.values(), *key])
        _done(db, step)


def _delete_row(db: store.Database, step: dict[str, Any], ctx: dict[str, Any]) -> None:
    target = step["target"]
    where = " and ".join(f"[{k}] = ?" for k in db[target["table"]].pks)
    with store.transaction(db):
        db.execute(f"delete from [{target['table']}] where {where}", target["key"])
        _done(db, step)


def _tombstone_audit(db: store.Database, step: dict[str, Any], ctx: dict[str, Any]) -> None:
    """Hand each audit entry naming the customer to ``audit.tombstone`` (the integrity work); else list it."""
    hook = getattr(audit, "tombstone", None)
    seqs = step["target"]["seqs"]
    reason = f"erasure job {ctx['job']['id']} (data-subject request)"
    with store.transaction(db):
        if hook is not None:
            for seq in seqs:
                hook(db, seq, reason)
            pending: list[int] = []
        else:
            pending = list(seqs)
        db[store.ERASURE_JOBS].update(ctx["job"]["id"], {"to_tombstone_json": store.to_json(pending)})
        _done(db, step, {"tombstoned": [s for s in seqs if s not in pending], "to_tombstone": pending,
                         "chained": step["target"].get("chained", [])})


def _remove_replaced(db: store.Database, step: dict[str, Any], ctx: dict[str, Any]) -> None:
    """Delete the files the rewrites replaced (a crash may have left them), unless a record still points at one."""
    referenced = referenced_files(db, ctx["home"])
    for relative in step["target"]["files"]:
        if relative not in referenced:
            (ctx["home"] / relative).unlink(missing_ok=True)
    with store.transaction(db):
        _done(db, step)


def _record(db: store.Database, step: dict[str, Any], ctx: dict[str, Any]) -> None:
    """The request row, its audit entry and the end of the searched texts: one transaction, after every step."""
    job = ctx["job"]
    details = _details(db, job["id"])
    moment = datetime.fromisoformat(job["started_at"])
    with store.transaction(db):
        request_id = db[store.DSR_REQUESTS].insert({
            "kind": "erase", "pseudonym": job["pseudonym"], "requested_at": job["started_at"],
            "actor": job["actor"], "details_json": store.to_json(details),
        }).last_pk
        audit.record(db, audit.SubjectErased(job["actor"], "dsr_request", str(request_id), created=moment,
                                             **{k: details[k] for k in ("datasets", "explanations", "consent_events",
                                                                        "customers", "incidents")}),
                     records=[(store.DSR_REQUESTS, request_id), *_changed_records(db, job["id"])])
        db[store.ERASURE_JOBS].update(job["id"], {"status": "compacting", "request_id": request_id,
                                                  "needles_json": None})
        bump_generation(db)
        _done(db, step, {"request_id": request_id})


def _changed_records(db: store.Database, job_id: int) -> list[tuple[str, Any]]:
    """The governance records the job's steps changed, for the chain to cover them again (``audit verify``).

    Rewritten datasets and redacted incidents, comments, overrides and reviews are covered as they are now,
    deleted customer details as deleted; deleted consent events through the batches that covered them.
    """
    records: list[tuple[str, Any]] = []
    deleted: list[int] = []
    for kind, target_json in db.execute(
            f"select kind, target_json from {store.ERASURE_STEPS} where job_id = ? order by position", [job_id]):
        target = json.loads(target_json)
        if kind == "rewrite_dataset":
            records.append((store.DATASETS, target["dataset_id"]))
        elif kind in ("redact", "delete_row") and target["table"] in audit.RECORD_TYPES:
            key = target["key"][0] if len(target["key"]) == 1 else tuple(target["key"])
            if audit.RECORD_TYPES[target["table"]].batch:
                deleted.append(key)
            else:
                records.append((target["table"], key))
    batches = audit.batches_covering(db, store.CONSENT_EVENTS, deleted) if deleted else []
    return records + [(store.CONSENT_EVENTS, batch) for batch in batches]


def _compact(db: store.Database, step: dict[str, Any], ctx: dict[str, Any]) -> None:
    """Rebuild the file and fold the log in, so no free page or old frame keeps a copy; then the job is done."""
    db.execute("VACUUM")
    _crash_point(f"step {step['position']} vacuumed")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with store.transaction(db):
        db[store.ERASURE_JOBS].update(ctx["job"]["id"], {"status": "done", "finished_at": iso(utcnow())})
        _done(db, step)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


_STEPS = {
    "rewrite_dataset": _rewrite_dataset,
    "rewrite_explanations": _rewrite_explanations,
    "delete_file": _delete_file,
    "redact": _redact_row,
    "delete_row": _delete_row,
    "tombstone_audit": _tombstone_audit,
    "remove_replaced": _remove_replaced,
    "record": _record,
    "compact": _compact,
}


def _details(db: store.Database, job_id: int) -> dict[str, Any]:
    """What the job did, as the request and its audit entry record it (hashes and counts, no personal text)."""
    steps = _steps(db, job_id)
    done = [s for s in steps if s["done_at"]]
    rows = [s["target"] for s in done if s["kind"] in ("redact", "delete_row")]
    audit_step = next((s for s in done if s["kind"] == "tombstone_audit"), None)
    return {
        "datasets": [{"dataset_id": s["target"]["dataset_id"], "old_sha256": _sha_of(s["target"]["file"]),
                      "new_sha256": s["result"]["new_sha256"], "rows_removed": s["target"]["rows"]}
                     for s in done if s["kind"] == "rewrite_dataset"],
        "explanations": [{"old_sha256": s["target"]["ref"]["sha256"], "new_sha256": s["result"]["new_sha256"],
                          "rows_removed": s["target"]["rows"]} for s in done if s["kind"] == "rewrite_explanations"],
        "orphans_deleted": sum(1 for s in done if s["kind"] == "delete_file"),
        "consent_events": sum(1 for t in rows if t["table"] == store.CONSENT_EVENTS),
        "customers": sum(1 for t in rows if t["table"] == store.CUSTOMERS),
        "incidents": len({json.dumps(t["key"]) for t in rows if t["table"] == store.INCIDENTS}),
        "rows_redacted": sum(1 for t in rows if t.get("columns")),
        "to_tombstone": audit_step["result"]["to_tombstone"] if audit_step else [],
        "chained": audit_step["result"].get("chained", []) if audit_step else [],
        "job": job_id,
    }


def _sha_of(relative: str) -> str:
    return Path(relative).name.split(".")[0]


def summary(db: store.Database, job_id: int) -> dict[str, Any]:
    """A job as ``dsr erase`` reports it: the request, the places, the steps and what is still to tombstone."""
    job = _job(store.get_row(db, store.ERASURE_JOBS, job_id, message=f"Unknown erasure job {job_id}."))
    request = (store.get_row(db, store.DSR_REQUESTS, job["request_id"], message="request gone")
               if job["request_id"] else None)
    steps = _steps(db, job_id)
    details = json.loads(request["details_json"]) if request else _details(db, job_id)
    return {
        "id": job["request_id"], "pseudonym": job["pseudonym"], "requested_at": job["started_at"],
        "actor": job["actor"], "status": job["status"], "details": details,
        "job": {"id": job_id, "places": job["plan"], "steps": len(steps),
                "steps_done": sum(1 for s in steps if s["done_at"])},
        "to_tombstone": job["to_tombstone"],
        "chained": details.get("chained", []),
    }
