import streamlit as st

from ethics import model_card, registry, ui


def body(db, actor):
    st.subheader("One model")
    model = ui.pick_model(registry.list_models(db, scope=actor.scope), actor)
    snap = ui.pick_snapshot(db, model) if model else None
    if snap is not None:
        ui.report_downloads(actor, model, snap["week"])
        table = st.selectbox("Table as CSV (spreadsheet formulas neutralised)",
                             model_card.tables_for(snap["results"].get("outcome", "binary")))
        ui.table_download(actor, model, snap["week"], table)
    st.subheader("Portfolio")
    st.caption("The traffic lights of every model you may see, then one summary page per model.")
    ui.portfolio_downloads(actor)


ui.run_page("Reports", body, page="pages/reports.py")
