import streamlit as st

from ethics import leads, registry, ui


def contest_form(db, actor, detail):
    with st.form(f"contest_{detail['snapshot_id']}_{detail['lead_id']}", clear_on_submit=True):
        reason = st.text_area("Why is this score wrong?")
        if st.form_submit_button("Contest this score", icon=":material/flag:"):
            incident = leads.contest_score(db, home=ui.settings().home, actor=actor, model_id=detail["model_id"],
                                           snapshot_id=detail["snapshot_id"], lead_id=detail["lead_id"],
                                           reason=reason, loader=ui.lead_explanations)
            ui.clear_readers()
            ui.flash(f"Incident {incident['id']} opened: the score of lead {detail['lead_id']} is contested.")
            st.rerun()


def override_form(db, actor, detail):
    other = next(d for d in leads.DECISIONS if d != detail["decision"])
    with st.form(f"override_{detail['snapshot_id']}_{detail['lead_id']}", clear_on_submit=True):
        reason = st.text_area("Reason for the override")
        if st.form_submit_button(f"Override: mark as {ui.escape(other)}", icon=":material/front_hand:"):
            leads.override_decision(db, home=ui.settings().home, actor=actor, model_id=detail["model_id"],
                                    snapshot_id=detail["snapshot_id"], lead_id=detail["lead_id"], decision=other,
                                    reason=reason, loader=ui.lead_explanations)
            ui.flash(f"Lead {detail['lead_id']}: decision overridden to {other}.")
            st.rerun()


def body(db, actor):
    ui.show_flash()
    model = ui.pick_model(registry.list_models(db, scope=actor.scope), actor)
    snap = ui.pick_snapshot(db, model) if model else None
    if snap is None:
        return
    # No example id: a fixed one would be another team's lead, or another model's.
    query = st.text_input("Lead id, customer id or name", placeholder="as in the CRM")
    if not query.strip():
        whose = f"team {ui.escape(actor.scope)}" if actor.scope else "any team"
        st.caption(f"Type a lead id or a customer id of {whose} from this snapshot's scoring batch.")
        return
    found = leads.find_leads(db, home=ui.settings().home, model_id=model["id"], query=query, team=actor.scope,
                             snapshot_id=snap["id"], loader=ui.lead_explanations)
    if len(found) > 1:
        st.caption(f"{len(found)} leads of this customer in the batch.")
    detail = found[0] if len(found) == 1 else next(
        d for d in found if d["lead_id"] == st.selectbox("Lead", [d["lead_id"] for d in found]))
    ui.lead_card(detail)
    if actor.can("open_incident") and not detail["contest"]:
        contest_form(db, actor, detail)
    if actor.can("override_decisions") and not detail["override"]:
        if detail["suspended"]:
            st.caption("No override: the model is suspended, so its decision is not used; contest the score instead.")
        else:
            override_form(db, actor, detail)


ui.run_page("Lead lookup", body, page="pages/leads.py")
