import streamlit as st

from ethics import auth, teams, ui

NO_TEAM = "— (officers and auditors)"


def add_form(db, actor):
    with st.form("add_user", clear_on_submit=True):
        st.markdown("**Add an account**")
        left, right = st.columns(2)
        username = left.text_input("Username")
        name = right.text_input("Display name")
        role = left.selectbox("Role", auth.ROLES, format_func=auth.ROLE_LABELS.get)
        team = right.selectbox("Team (sales managers only)", [NO_TEAM, *teams.list_teams(db)],
                               help="Teams are records: `python -m ethics teams add NAME` adds one.")
        password = st.text_input(f"Initial password (at least {auth.MIN_PASSWORD_LENGTH} characters)",
                                 type="password")
        if st.form_submit_button("Add account"):
            auth.add_user(db, username=username.strip(), display_name=name, role=role,
                          team=None if team == NO_TEAM else team, password=password, actor=actor.username)
            ui.flash(f"Account {username.strip()!r} added.")
            st.rerun()


def disable_form(db, actor):
    active = [u["username"] for u in auth.list_users(db) if not u["disabled"] and u["username"] != actor.username]
    with st.form("disable_user", clear_on_submit=True):
        st.markdown("**Disable an account**")
        username = st.selectbox("Account", active, index=None, placeholder="Choose the account to disable")
        confirmed = st.checkbox("Yes: this person can no longer sign in, and open sessions end at their next page")
        if st.form_submit_button("Disable account"):
            auth.disable_user(db, username or "", actor=actor.username, confirmed=confirmed)
            ui.flash(f"Account {username!r} disabled.")
            st.rerun()


def body(db, actor):
    ui.show_flash()
    ui.table(auth.list_users(db), empty="No accounts yet.")
    if actor.can("manage_users"):
        left, right = st.columns(2)
        with left:
            add_form(db, actor)
        with right:
            disable_form(db, actor)
    st.subheader("Recent sign-in attempts")
    ui.table(auth.list_sign_ins(db, limit=50), empty="No sign-in attempts yet.")


ui.run_page("Users", body, page="pages/users.py")
