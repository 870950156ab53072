"""Entry point: `streamlit run app.py`.

Every page is registered; the sidebar lists those the signed-in role may see, and each
page checks its permission itself through ethics.ui.run_page (a fresh server can run a
page file without this script).
"""

import streamlit as st

from ethics import ui

st.navigation(ui.navigation(), position="hidden").run()
