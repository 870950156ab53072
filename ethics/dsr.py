"""Data-subject requests: export everything held about one customer, or erase it.

A customer is named by the id a person types (e.g. from the CRM); it is turned into
the stored pseudonym with :func:`ethics.privacy.pseudonymise`.

Erasure deletes the customer's rows from every dataset (the Parquet file is rewritten,
stored under its new SHA-256, the old file removed, and the dataset row points at the
new file), deletes their consent events and contact details, and redacts incidents
that point at their leads.  Snapshots keep their aggregates and their hashes (they
hold no row-level data), and the audit chain is only appended to.  The request is
recorded with time and actor, and its pseudonym is the register of erased customers
that refuses later imports of the same customer.  Deleted database content is
overwritten (``secure_delete``) and the write-ahead log folded back, so the id and
name are not left in free pages.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ethics import audit, datasets, explain, privacy, store
from ethics.errors import NotFound, ValidationError
from ethics.spreadsheet import safe_cell
from ethics.weeks import iso, utcnow

ERASED_TEXT = "[erased]"
ALREADY_ERASED = "Customer {customer!r} was already erased on {when} (data-subject request {request})."
NOTHING_HELD = "Nothing is held about customer {customer!r}: no scores, consent events, details or incidents."


def _personal_rows(db: store.Database, pseudonym: str, *, home: Path) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """Every dataset holding the customer, with the full frame (hash-checked on read)."""
    found = []
    for dataset in store.list_rows(db, store.DATASETS, order_by="id"):
        frame = datasets.read_rows(dataset, home=home)
        if (frame["customer_id"] == pseudonym).any():
            found.append((dataset, frame))
    return found


def _explained(db: store.Database, *, distinct: bool = False) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Snapshots that stored per-lead explanations, with the reference to that file (once per file if ``distinct``)."""
    found, seen = [], set()
    for snapshot_id, model_id, week, ref in db.execute(
        f"select id, model_id, week, json_extract(results_json, '$.explanations.leads') from {store.SNAPSHOTS} "
        "where json_type(results_json, '$.explanations.leads') = 'object' order by id"
    ).fetchall():
        ref = json.loads(ref)
        if distinct and ref["sha256"] in seen:
            continue
        seen.add(ref["sha256"])
        found.append(({"id": snapshot_id, "model_id": model_id, "week": week}, ref))
    return found


def _incidents_of(db: store.Database, lead_ids: set[str], needles: list[str]) -> list[dict[str, Any]]:
    incidents = []
    for row in store.list_rows(db, store.INCIDENTS, order_by="id"):
        text = f"{row['title']} {row['description'] or ''}"
        comments = store.list_rows(db, store.INCIDENT_COMMENTS, "incident_id = ?", [row["id"]], order_by="id")
        texts = [text, *(c["body"] for c in comments)]
        if row["lead_id"] in lead_ids or any(n and n in t for n in needles for t in texts):
            incidents.append({**row, "comments": comments})
    return incidents


def _mentions(lead_ids: set[str], customer: str, details: dict[str, Any] | None) -> list[str]:
    """Texts whose occurrence in an incident links it to the customer."""
    names = [details.get("name"), details.get("email"), details.get("phone")] if details else []
    return sorted({customer, *lead_ids, *(n for n in names if n)}, key=len, reverse=True)


def export_subject(
    db: store.Database, *, customer_id: str, home: Path, actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """Everything held about one customer (right of access and portability, GDPR Art. 15/20).

    Parameters
    ----------
    db : Database
    customer_id : str
        As typed (the CRM id).
    home : Path
    actor : str
        Who asked (the request is recorded and audited).
    now : datetime, optional

    Returns
    -------
    dict
        ``customer_id, pseudonym, exported_at, details, consent_events, scores, explanations,
        incidents, requests``.

    Raises
    ------
    NotFound
        When nothing is held about the customer.
    """
    moment = now or utcnow()
    pseudonym = privacy.pseudonymise(db, customer_id)
    details = store.list_rows(db, store.CUSTOMERS, "pseudonym = ?", [pseudonym])
    events = store.list_rows(db, store.CONSENT_EVENTS, "customer_id = ?", [pseudonym],
                             order_by="occurred_ts, id", select="event_id, purpose, status, source, occurred_at, "
                                                                "imported_at")
    scores = []
    for dataset, frame in _personal_rows(db, pseudonym, home=home):
        for record in frame[frame["customer_id"] == pseudonym].to_dict(orient="records"):
            scores.append({"model_id": dataset["model_id"], "version": dataset["version"], "week": dataset["week"],
                           "data": datasets.KIND_NAMES[dataset["kind"]], "dataset_id": dataset["id"],
                           **{k: _plain(v) for k, v in record.items()}})
    lead_ids = {row["lead_id"] for row in scores}
    found_incidents = _incidents_of(db, lead_ids, _mentions(lead_ids, customer_id.strip(), details[0] if details
                                                            else None))
    requests = store.list_rows(db, store.DSR_REQUESTS, "pseudonym = ?", [pseudonym], order_by="id")
    if not (details or events or scores or found_incidents or requests):
        raise NotFound(NOTHING_HELD.format(customer=customer_id))
    export = {
        "customer_id": customer_id.strip(),
        "pseudonym": pseudonym,
        "exported_at": iso(moment),
        "details": details[0] if details else None,
        "consent_events": events,
        "scores": scores,
        "explanations": [
            {"snapshot_id": snapshot["id"], "model_id": snapshot["model_id"], "week": snapshot["week"],
             **{k: _plain(v) for k, v in record.items()}}
            for snapshot, ref in _explained(db)
            for frame in [explain.read_leads(ref, home=home)]
            for record in frame[frame["customer_id"] == pseudonym].to_dict(orient="records")
        ],
        "incidents": found_incidents,
        "requests": [{**r, "details": json.loads(r.pop("details_json") or "{}")} for r in requests],
    }
    records = len(events) + len(scores) + len(export["explanations"]) + len(found_incidents) + (1 if details else 0)
    with store.transaction(db):
        request_id = db[store.DSR_REQUESTS].insert({
            "kind": "export", "pseudonym": pseudonym, "requested_at": iso(moment), "actor": actor,
            "details_json": store.to_json({"records": records}),
        }).last_pk
        audit.record(db, audit.SubjectExported(actor, "dsr_request", str(request_id), records=records,
                                               created=moment))
    return export


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return iso(value.to_pydatetime())
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def export_csv(export: dict[str, Any]) -> str:
    """An export as one long CSV (``section, record, field, value``); formula cells neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "record", "field", "value"])
    for field in ("customer_id", "pseudonym", "exported_at"):
        writer.writerow(["request", 1, field, safe_cell(export[field])])
    sections = {"details": [export["details"]] if export["details"] else [], **{
        name: export[name] for name in ("consent_events", "scores", "explanations", "incidents", "requests")}}
    for section, records in sections.items():
        for number, record in enumerate(records, start=1):
            for field, value in record.items():
                text = json.dumps(value, default=str) if isinstance(value, (list, dict)) else value
                writer.writerow([section, number, field, safe_cell(text)])
    return out.getvalue()


def erase_subject(
    db: store.Database, *, customer_id: str, home: Path, actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """Erase one customer's personal rows (right to erasure, GDPR Art. 17).

    Parameters
    ----------
    db : Database
    customer_id : str
        As typed (the CRM id).
    home : Path
    actor : str
        Who carried the request out (recorded and audited).
    now : datetime, optional

    Returns
    -------
    dict
        The recorded request: ``id, pseudonym, requested_at, actor, details`` where details
        lists each rewritten dataset with its old and new SHA-256 and the counts removed.

    Raises
    ------
    ValidationError
        When the customer was already erased.
    NotFound
        When nothing is held about the customer.
    """
    moment = now or utcnow()
    typed = customer_id.strip()
    pseudonym = privacy.pseudonymise(db, typed)
    register = privacy.erased(db)
    if pseudonym in register:
        found = register[pseudonym]
        raise ValidationError(ALREADY_ERASED.format(customer=typed, when=found["requested_at"], request=found["id"]))
    details = store.list_rows(db, store.CUSTOMERS, "pseudonym = ?", [pseudonym])
    rewritten, lead_ids, new_files = [], set(), []
    for dataset, frame in _personal_rows(db, pseudonym, home=home):
        mine = frame["customer_id"] == pseudonym
        lead_ids.update(frame.loc[mine, "lead_id"])
        sha, relative = datasets.write_parquet(frame[~mine].reset_index(drop=True), home=home)
        new_files.append(relative)
        rewritten.append({"dataset_id": dataset["id"], "old_sha256": dataset["parquet_sha256"],
                          "old_file": dataset["parquet_file"], "new_sha256": sha, "new_file": relative,
                          "rows_removed": int(mine.sum()), "rows": int((~mine).sum())})
    explained = []
    for _, ref in _explained(db, distinct=True):
        frame = explain.read_leads(ref, home=home)
        mine = (frame["customer_id"] == pseudonym).to_numpy(dtype=bool)
        if mine.any():
            lead_ids.update(frame.loc[mine, "lead_id"])
            new = explain.write_table(frame[~mine].reset_index(drop=True), home=home)
            new_files.append(new["file"])
            explained.append({"ref": ref, "new": new, "rows_removed": int(mine.sum())})
    found_incidents = _incidents_of(db, lead_ids, _mentions(lead_ids, typed, details[0] if details else None))
    events = db.execute(f"select count(*) from {store.CONSENT_EVENTS} where customer_id = ?", [pseudonym]).fetchone()[0]
    if not (details or events or rewritten or explained or found_incidents):
        _remove_unreferenced(db, new_files, home=home)
        raise NotFound(NOTHING_HELD.format(customer=typed))
    needles = _mentions(lead_ids, typed, details[0] if details else None)
    summary = {
        "datasets": [{k: r[k] for k in ("dataset_id", "old_sha256", "new_sha256", "rows_removed")} for r in rewritten],
        "explanations": [{"old_sha256": e["ref"]["sha256"], "new_sha256": e["new"]["sha256"],
                          "rows_removed": e["rows_removed"]} for e in explained],
        "consent_events": events, "customers": len(details), "incidents": len(found_incidents),
    }
    db.execute("PRAGMA secure_delete = ON")  # deleted content is overwritten, not left in free pages
    try:
        with store.transaction(db):
            for row in rewritten:
                db[store.DATASETS].update(row["dataset_id"], {"parquet_sha256": row["new_sha256"],
                                                              "parquet_file": row["new_file"], "rows": row["rows"]})
            erased = [i for (i,) in db.execute(f"select id from {store.CONSENT_EVENTS} where customer_id = ?",
                                                [pseudonym])]
            batches = audit.batches_covering(db, store.CONSENT_EVENTS, erased)
            db.execute(f"delete from {store.CONSENT_EVENTS} where customer_id = ?", [pseudonym])
            db.execute(f"delete from {store.CUSTOMERS} where pseudonym = ?", [pseudonym])
            for incident in found_incidents:
                _redact_incident(db, incident, lead_ids=lead_ids, needles=needles)
            request_id = db[store.DSR_REQUESTS].insert({
                "kind": "erase", "pseudonym": pseudonym, "requested_at": iso(moment), "actor": actor,
                "details_json": store.to_json(summary),
            }).last_pk
            audit.record(db, audit.SubjectErased(actor, "dsr_request", str(request_id), created=moment, **summary),
                         records=[*((store.DATASETS, r["dataset_id"]) for r in rewritten),
                                  *((store.CONSENT_EVENTS, batch) for batch in batches),
                                  *((store.INCIDENTS, i["id"]) for i in found_incidents),
                                  *((store.INCIDENT_COMMENTS, c["id"])
                                    for i in found_incidents for c in i["comments"])])
    except BaseException:
        _remove_unreferenced(db, new_files, home=home)
        raise
    finally:
        db.execute("PRAGMA secure_delete = OFF")
    _remove_unreferenced(db, [r["old_file"] for r in rewritten], home=home)
    for item in explained:
        explain.replace_leads(item["ref"], item["new"], home=home)
    # Rebuild the file so no free page or slack space keeps an old copy of the rows, then fold in the log.
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"id": request_id, "pseudonym": pseudonym, "requested_at": iso(moment), "actor": actor,
            "details": summary}


def _redact(text: str | None, needles: list[str]) -> str | None:
    if text is None:
        return None
    for needle in needles:
        text = text.replace(needle, ERASED_TEXT)
    return text


def _redact_incident(db: store.Database, incident: dict[str, Any], *, lead_ids: set[str], needles: list[str]) -> None:
    db[store.INCIDENTS].update(incident["id"], {
        "lead_id": ERASED_TEXT if incident["lead_id"] in lead_ids else incident["lead_id"],
        "title": _redact(incident["title"], needles), "description": _redact(incident["description"], needles),
    })
    for comment in incident["comments"]:
        db[store.INCIDENT_COMMENTS].update(comment["id"], {"body": _redact(comment["body"], needles)})


def _remove_unreferenced(db: store.Database, files: list[str], *, home: Path) -> None:
    """Delete Parquet files no dataset row points at (after an erasure, or after a failed one)."""
    for relative in files:
        used = db.execute(f"select count(*) from {store.DATASETS} where parquet_file = ?", [relative]).fetchone()[0]
        if not used:
            (home / relative).unlink(missing_ok=True)


def list_requests(db: store.Database) -> list[dict[str, Any]]:
    """Every data-subject request, newest first (pseudonym, kind, time, actor, what was done)."""
    rows = store.list_rows(db, store.DSR_REQUESTS, order_by="id desc")
    for row in rows:
        row["details"] = json.loads(row.pop("details_json") or "{}")
    return rows
