import streamlit as st

from ethics import audit, ui


def body(db, actor):
    with st.spinner("Verifying the hash chain and keyed checkpoints…"):
        result = audit.verify(db)
    (st.success if result.ok else st.error)(f"Audit log {ui.escape(result)}")
    entries = audit.list_entries(db, limit=500)
    ui.table([{k: e[k] for k in ("seq", "created_at", "actor", "action", "object_type", "object_id")}
              | {"details": e["properties"], "hash": e["hash"][:16]} for e in entries], empty="No entries yet.")
    st.caption("The newest 500 entries. The full log is in the CSV export (cells that could run as spreadsheet "
               "formulas are neutralised).")
    ui.download("Export CSV", lambda store_db, who: audit.export_csv(store_db), actor=actor, permission="view_audit",
                file_name="audit-log.csv", mime="text/csv", icon=":material/download:")


ui.run_page("Audit log", body, page="pages/audit.py")
