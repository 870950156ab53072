"""Entry point: `streamlit run app.py`. Each page guards itself through ethics.ui.run_page."""

import streamlit as st

from ethics import ui

st.navigation(ui.navigation(), position="hidden").run()
