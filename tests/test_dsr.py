"""Data-subject requests end to end on a copy of the demo: export, erase, and what must still hold afterwards."""

import json
import shutil

import pandas as pd
import pytest

from ethics import audit, consent, datasets, dsr, explain, incidents, privacy, snapshots, store
from ethics.errors import NotFound, ValidationError

NAME = "Zoë Quellhorst-Abendroth"
EMAIL = "zoe.quellhorst@example.org"


@pytest.fixture
def erasable(demo_home, tmp_path, now):
    """A copy of the demo with one customer's unique name and e-mail, and an incident about their lead."""
    home = tmp_path / "home"
    shutil.copytree(demo_home, home)
    db = store.open_db(home / "ethics.db")
    batch = datasets.find_dataset(db, "lead-scoring", version="2.3.0", kind="scores", week="2026-W48")
    lead = datasets.read_rows(batch, home=home).iloc[5]
    customer = next(row["customer_ref"] for row in store.list_rows(db, store.CUSTOMERS)
                    if row["pseudonym"] == lead["customer_id"])
    privacy.record_customers(db, [{"customer_id": customer, "name": NAME, "email": EMAIL}], source_name="crm.csv",
                             actor="t", now=now)
    incidents.open_incident(db, model_id="lead-scoring", severity="medium", category="customer_complaint",
                            title="Customer contests a score", description=f"{NAME} ({customer}) asks why.",
                            reporter="t", lead_id=lead["lead_id"], now=now)
    yield db, home, customer, lead
    db.close()


def test_export_holds_everything_about_the_customer(erasable, now):
    db, home, customer, lead = erasable
    export = dsr.export_subject(db, customer_id=customer, home=home, actor="olivia", now=now)
    pseudonym = privacy.pseudonymise(db, customer)
    assert export["pseudonym"] == pseudonym and export["details"]["name"] == NAME
    held = sum(int((datasets.read_rows(d, home=home)["customer_id"] == pseudonym).sum())
               for d in store.list_rows(db, store.DATASETS))
    assert len(export["scores"]) == held and lead["lead_id"] in {s["lead_id"] for s in export["scores"]}
    events = store.list_rows(db, store.CONSENT_EVENTS, "customer_id = ?", [pseudonym])
    assert [e["event_id"] for e in export["consent_events"]] == [e["event_id"] for e in
                                                                  sorted(events, key=lambda e: e["occurred_ts"])]
    assert [i["title"] for i in export["incidents"]] == ["Customer contests a score"]
    explained = [(e["model_id"], e["week"], e["lead_id"]) for e in export["explanations"]]
    assert ("lead-scoring", "2026-W48", lead["lead_id"]) in explained
    assert all(e["customer_id"] == pseudonym for e in export["explanations"])
    assert any(key.startswith(explain.SHAP_PREFIX) for key in export["explanations"][0])
    text = dsr.export_csv(export)
    assert f"details,1,name,{NAME}" in text and "section,record,field,value" in text
    json.dumps(export)  # JSON-ready
    assert dsr.list_requests(db)[0]["kind"] == "export"
    assert audit.list_entries(db, limit=1)[0]["action"] == "dsr.exported"
    with pytest.raises(NotFound, match="Nothing is held about customer 'C999999'"):
        dsr.export_subject(db, customer_id="C999999", home=home, actor="olivia", now=now)


def test_erasure_end_to_end(erasable, now, examples):
    db, home, customer, lead = erasable
    pseudonym = privacy.pseudonymise(db, customer)
    snapshot_ids = [row[0] for row in db.execute("select id from snapshots")]
    results_before = {i: snapshots.get_snapshot(db, i)["results"] for i in snapshot_ids}
    rows_before = {d["id"]: d["rows"] for d in store.list_rows(db, store.DATASETS)}

    done = dsr.erase_subject(db, customer_id=customer, home=home, actor="olivia", now=now)

    details = done["details"]
    assert details["customers"] == 1 and details["incidents"] == 1 and details["consent_events"] >= 1
    # Every dataset still reads (hash checked) and holds no row of the customer; counts drop by what was removed.
    removed = {d["dataset_id"]: d["rows_removed"] for d in details["datasets"]}
    assert removed
    for dataset in store.list_rows(db, store.DATASETS):
        frame = datasets.read_rows(dataset, home=home)
        assert pseudonym not in set(frame["customer_id"])
        assert len(frame) == dataset["rows"] == rows_before[dataset["id"]] - removed.get(dataset["id"], 0)
    rewritten = {d["old_sha256"]: d["new_sha256"] for d in details["datasets"]}
    assert not any((home / "datasets" / f"{old}.parquet").exists() for old in rewritten)
    # Per-lead explanations: rewritten without the customer, still read through the snapshot's reference.
    assert details["explanations"] and all(e["rows_removed"] for e in details["explanations"])
    for i in snapshot_ids:
        ref = results_before[i].get("explanations", {}).get("leads")
        if ref:
            frame = explain.read_leads(ref, home=home)
            assert pseudonym not in set(frame["customer_id"]) and lead["lead_id"] not in set(frame["lead_id"])
            assert len(frame) == ref["rows"] - sum(e["rows_removed"] for e in details["explanations"]
                                                   if e["old_sha256"] == ref["sha256"])
    # Snapshots keep their aggregates and verify; the audit chain verifies and records the erasure.
    assert all(snapshots.verify_snapshot(db, i) for i in snapshot_ids)
    assert {i: snapshots.get_snapshot(db, i)["results"] for i in snapshot_ids} == results_before
    assert audit.verify(db).ok
    entry = audit.list_entries(db, limit=1)[0]
    assert entry["action"] == "dsr.erased" and entry["actor"] == "olivia"
    assert {d["new_sha256"] for d in entry["properties"]["datasets"]} == set(rewritten.values())
    # The incident no longer names the customer or their lead.
    incident = next(i for i in incidents.list_incidents(db) if i["title"] == "Customer contests a score")
    assert incident["lead_id"] == dsr.ERASED_TEXT and NAME not in incident["description"]
    assert store.list_rows(db, store.CONSENT_EVENTS, "customer_id = ?", [pseudonym]) == []
    # The typed id, name and e-mail are nowhere in the database file or any Parquet file.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in [home / "ethics.db", *home.glob("ethics.db-wal"), *(home / "datasets").glob("*.parquet"),
                 *(home / "explanations").glob("*.parquet")]:
        data = path.read_bytes()
        for secret in (customer, NAME, EMAIL, lead["lead_id"]):
            assert secret.encode() not in data, (secret, path.name)
    # The request is recorded with time and actor; a second erasure and a re-import are refused.
    assert dsr.list_requests(db)[0] | {"details": None} == {
        "id": done["id"], "kind": "erase", "pseudonym": pseudonym, "requested_at": "2026-11-25T09:00:00+00:00",
        "actor": "olivia", "details": None}
    with pytest.raises(ValidationError, match="was already erased on 2026-11-25"):
        dsr.erase_subject(db, customer_id=customer, home=home, actor="olivia", now=now)
    with pytest.raises(ValidationError, match=r"late\.csv, row 2, column 'customer_id': this customer was erased"):
        consent.record_events(db, [
            {"event_id": "N1", "customer_id": "C000001", "purpose": "ai_scoring", "status": "granted",
             "source": "crm", "occurred_at": "2026-11-20T10:00:00Z"},
            {"event_id": "N2", "customer_id": customer, "purpose": "ai_scoring", "status": "granted",
             "source": "crm", "occurred_at": "2026-11-20T10:00:00Z"}], source_name="late.csv", actor="t", now=now)
    frame = pd.read_csv(examples / "scores.csv", dtype=str)
    frame.loc[3, "customer_id"] = customer
    with pytest.raises(ValidationError, match=r"scores\.csv, row 4, column 'customer_id': this customer was erased"):
        _import_example_scores(db, home, examples, frame, now)
    export = dsr.export_subject(db, customer_id=customer, home=home, actor="olivia", now=now)
    assert export["scores"] == [] and export["details"] is None
    assert [r["kind"] for r in export["requests"]] == ["erase"]
    # A new snapshot of an erased week still runs on the rewritten data.
    again = snapshots.take_snapshot(db, model_id="lead-scoring", week="2026-W48", home=home,
                                    policy=snapshots.get_snapshot(db, snapshot_ids[-1])["policy"], actor="t", now=now)
    batch = datasets.find_dataset(db, "lead-scoring", version="2.3.0", kind="scores", week="2026-W48")["id"]
    assert again["results"]["rows"]["scores"] == rows_before[batch] - removed[batch]


def _import_example_scores(db, home, examples, frame, now):
    from ethics import registry

    registry.register_model(db, examples / "manifest.toml", home=home, actor="t", now=now)
    path = examples / "scores.csv"
    frame.to_csv(path, index=False)
    datasets.import_dataset(db, path, kind="scores", model_id="webinar-follow-up", version="1.0.0",
                            week="2026-W48", home=home, actor="t", now=now)
