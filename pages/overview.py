import streamlit as st

from ethics import ui


def body(db, actor):
    rows = ui.overview_rows(str(ui.settings().db_path), actor.scope)
    if not rows:
        st.info("No models are registered yet. Run `python -m ethics demo` or register one with "
                "`python -m ethics register MANIFEST`.")
        return
    st.caption("One row per model; a light per area from its latest weekly snapshot, incidents and review "
               f"{ui.lights_moment(rows[0]['at'])}. ⚪ means the area has not been evaluated yet, never a pass.")
    ui.portfolio_table(rows)
    st.subheader("Open a model")
    for row in rows:
        ui.model_link(row)


ui.run_page("Portfolio overview", body, page="pages/overview.py")
