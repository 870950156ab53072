import streamlit as st

from ethics import incidents, registry, ui

COLUMNS = ["id", "status", "severity", "category", "model_id", "team", "title", "owner", "opened_at", "due_at"]
WHOLE_MODEL = "the whole model"


def create_form(db, actor, models):
    with st.expander("Open an incident", icon=":material/add:"):
        with st.form("open_incident", clear_on_submit=True):
            left, right = st.columns(2)
            model = left.selectbox("Model", [m["id"] for m in models])
            severity = right.selectbox("Severity", incidents.SEVERITIES, index=1)
            category = left.selectbox("Category", incidents.CATEGORIES)
            owner = right.text_input("Owner")
            # A manager reports for the team; the officer for the whole model or one team.
            about = [actor.scope] if actor.scope else [WHOLE_MODEL, *sorted({t for m in models for t in m["teams"]})]
            team = left.selectbox("About", about, help="Whose leads it concerns; managers see their team's incidents "
                                  "and those about a whole model.")
            title = st.text_input("Title")
            description = st.text_area("What was found, and where")
            if st.form_submit_button("Open incident", type="primary"):
                row = incidents.open_incident(db, model_id=model, severity=severity, category=category, title=title,
                                              description=description, reporter=actor.username, owner=owner or None,
                                              team=None if team == WHOLE_MODEL else team)
                ui.clear_readers()  # the incidents light changes
                st.success(f"Incident {row['id']} opened; due {ui.escape(row['due_at'][:10])}.")


def update_form(db, actor, incident):
    with st.form(f"update_{incident['id']}", clear_on_submit=True):
        left, right = st.columns(2)
        status = left.selectbox("Status", incidents.STATUSES, index=incidents.STATUSES.index(incident["status"]))
        severity = right.selectbox("Severity", incidents.SEVERITIES,
                                   index=incidents.SEVERITIES.index(incident["severity"]))
        owner = left.text_input("Owner", value=incident["owner"] or "")
        reason = right.text_input("Reason (needed to move the status back)")
        comment = st.text_area("Comment")
        if st.form_submit_button("Save", type="primary"):
            if comment.strip():
                incidents.add_comment(db, incident["id"], author=actor.username, body=comment)
            changed = (status, severity, owner or None) != (incident["status"], incident["severity"], incident["owner"])
            if changed:
                incidents.update_incident(db, incident["id"], actor=actor.username, status=status, severity=severity,
                                          owner=owner or None, reason=reason)
                ui.clear_readers()
            st.rerun()


def detail(db, actor, incident):
    st.markdown(f"#### Incident {incident['id']} · {ui.escape(ui.status_text(incident['status']))} · "
                f"{ui.escape(incident['severity'])}")
    st.text(incident["title"])
    st.text(incident["description"] or "(no description)")
    esc = ui.escape
    st.caption(f"Model {esc(incident['model_id'])} · about {esc(incident['team'] or WHOLE_MODEL)} · reporter "
               f"{esc(incident['reporter'])} · opened {esc(incident['opened_at'])} · due {esc(incident['due_at'])}"
               + (f" · lead {esc(incident['lead_id'])}" if incident["lead_id"] else "")
               + (f" · snapshot {incident['snapshot_id']}" if incident["snapshot_id"] else ""))
    st.markdown("**Timeline**")
    ui.table([{"time": e["created_at"], "who": e["actor"], "what": e["action"], "details": e["properties"]}
              for e in incident["timeline"]])
    ui.table([{"time": c["created_at"], "who": c["author"], "comment": c["body"]} for c in incident["comments"]],
             empty="No comments yet.")
    if actor.can("manage_incidents"):
        update_form(db, actor, incident)


def body(db, actor):
    models = registry.list_models(db, scope=actor.scope)
    if actor.can("open_incident") and models:
        create_form(db, actor, models)
    status = st.segmented_control("Status", ["open", "all", *incidents.STATUSES[1:]], default="open")
    rows = incidents.list_incidents(db, scope=actor.scope, open_only=status == "open",
                                    status=None if status in ("open", "all", None) else status)
    ui.table([{k: r[k] for k in COLUMNS} | {"team": r["team"] or WHOLE_MODEL, "overdue": incidents.is_overdue(r)}
              for r in rows], empty="No incidents match.")
    if rows:
        chosen = st.selectbox("Incident", [r["id"] for r in rows],
                              format_func=lambda i: next(f"{i} · {r['title'][:80]}" for r in rows if r["id"] == i))
        detail(db, actor, incidents.get_incident(db, chosen, scope=actor.scope))


ui.run_page("Incidents", body, page="pages/incidents.py")
