"""Data-subject requests: export everything held about one customer, or erase it.

A customer is named by the id a person types (e.g. from the CRM); it is turned into
the stored pseudonym with :func:`ethics.privacy.pseudonymise`.

Erasure is a journaled job (:mod:`ethics.erasure`): one plan finds every place the
customer is held (every table's text, case-insensitively; audit payloads; Parquet files
referenced or orphaned; per-lead explanation files; a running app's caches), and each
step is idempotent, so a crashed erasure is resumed by asking again.  Datasets are
rewritten under their new SHA-256 and their rows repointed; snapshots keep their
aggregates and their hashes (they hold no row-level data).  The request is recorded with
time and actor only when every step is done, and its pseudonym is the register of erased
customers that refuses later imports of the same customer.  Deleted database content is
overwritten (``secure_delete``), the file vacuumed and the write-ahead log folded back.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ethics import audit, datasets, erasure, explain, privacy, store
from ethics.errors import NotFound
from ethics.lazy import lazy_module
from ethics.spreadsheet import safe_cell
from ethics.weeks import iso, utcnow

pd = lazy_module("pandas", globals())

ERASED_TEXT = erasure.ERASED
ALREADY_ERASED = erasure.ALREADY_ERASED
NOTHING_HELD = erasure.NOTHING_HELD


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
        text = " ".join(row[c] or "" for c in ("title", "description", "owner", "reporter"))
        comments = store.list_rows(db, store.INCIDENT_COMMENTS, "incident_id = ?", [row["id"]], order_by="id")
        texts = [t.lower() for t in (text, *(c["body"] for c in comments))]
        if row["lead_id"] in lead_ids or any(n and n.lower() in t for n in needles for t in texts):
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
                                               created=moment), records=[(store.DSR_REQUESTS, request_id)])
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
                writer.writerow([section, number, safe_cell(field), safe_cell(text)])
    return out.getvalue()


def erase_subject(
    db: store.Database, *, customer_id: str, home: Path, actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """Erase one customer everywhere they are held (right to erasure, GDPR Art. 17).

    A journaled job (:mod:`ethics.erasure`): the plan finds every table row, free text (case-insensitive),
    audit entry and Parquet file (referenced or orphaned) naming the customer; each step is idempotent, and
    an interrupted job is resumed by asking again.  The request is recorded only when every step is done.

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
        The recorded request: ``id, pseudonym, requested_at, actor, details`` where details lists each
        rewritten dataset with its old and new SHA-256 and the counts removed; ``job`` (places and steps)
        and ``to_tombstone`` (audit entries whose payload still names the customer).

    Raises
    ------
    ValidationError
        When the customer was already erased.
    NotFound
        When nothing is held about the customer.
    """
    return erasure.erase(db, customer=customer_id, home=home, actor=actor, now=now)


def list_requests(db: store.Database) -> list[dict[str, Any]]:
    """Every data-subject request, newest first (pseudonym, kind, time, actor, what was done)."""
    rows = store.list_rows(db, store.DSR_REQUESTS, order_by="id desc")
    for row in rows:
        row["details"] = json.loads(row.pop("details_json") or "{}")
    return rows
