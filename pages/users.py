import streamlit as st

from ethics import auth, ui


def add_form(db, actor):
    with st.form("add_user", clear_on_submit=True):
        st.markdown("**Add an account**")
        left, right = st.columns(2)
        username = left.text_input("Username")
        name = right.text_input("Display name")
        role = left.selectbox("Role", auth.ROLES, format_func=auth.ROLE_LABELS.get)
        team = right.text_input("Team (sales managers only)")
        password = st.text_input(f"Initial password (at least {auth.MIN_PASSWORD_LENGTH} characters)",
                                 type="password")
        if st.form_submit_button("Add account"):
            auth.add_user(db, username=username.strip(), display_name=name, role=role,
                          team=team.strip() or None, password=password, actor=actor.username)
            st.success(f"Account {username.strip()!r} added.")


def body(db, actor):
    ui.table(auth.list_users(db), empty="No accounts yet.")
    if actor.can("manage_users"):
        add_form(db, actor)
        username = st.selectbox("Disable an account", [u["username"] for u in auth.list_users(db)
                                                        if not u["disabled"] and u["username"] != actor.username])
        if username and st.button(f"Disable {username}"):
            auth.disable_user(db, username, actor=actor.username)
            st.rerun()
    st.subheader("Recent sign-in attempts")
    ui.table(auth.list_sign_ins(db, limit=50), empty="No sign-in attempts yet.")


ui.run_page("Users", body, page="pages/users.py")
