import streamlit as st

from ethics import lights, registry, reviews, snapshots, ui
from ethics.weeks import iso, utcnow


def queue_table(queue):
    ui.table([{"Model": q["name"], "Review": ui.light(q["light"]), "Why": q["light"]["reason"], "Risk": q["risk_tier"],
               "Latest week": q["latest_week"], "Changed since last review": "; ".join(q["changes"])}
              for q in queue], empty="No models to review.")


def sign_form(db, actor, model, snap, generation):
    # A key of its own per signed review: after signing, the next form starts empty (no ticks to sign twice).
    with st.form(f"sign_{model['id']}_{generation}"):
        st.markdown("**Checklist**")
        checklist = {item: st.checkbox(label, key=f"check_{model['id']}_{generation}_{item}")
                     for item, label in reviews.CHECKLIST.items()}
        decision = st.radio("Decision", reviews.DECISIONS, index=None, format_func=reviews.DECISION_LABELS.get,
                            horizontal=True)
        conditions = st.text_area("Conditions (for an approval with conditions)")
        comment = st.text_area("Comment", help="Needed to suspend, and to approve while a light of the snapshot fails.")
        follow_up = st.text_input("Follow-up incident title (optional)")
        if st.form_submit_button(f"Sign the review of snapshot {snap['week']}", type="primary"):
            signed = reviews.sign_review(
                db, model_id=model["id"], snapshot_hash=snap["hash"], decision=decision, checklist=checklist,
                reviewer=actor.username, conditions=conditions, comment=comment,
                follow_up={"title": follow_up, "severity": "medium", "category": "other"} if follow_up else None)
            ui.clear_readers()
            ui.flash(reviews.signed_message(signed, name=model["name"]))
            st.rerun()


def body(db, actor):
    ui.show_flash()
    queue = reviews.review_queue(db, team=actor.scope)
    queue_table(queue)
    pending = reviews.to_sign(queue)
    if not pending:
        st.success("Every model with a snapshot is reviewed this week.")
        return
    names = {q["model_id"]: q["name"] for q in queue}
    model = registry.get_model(db, st.selectbox("Next model to review", pending, format_func=names.get))
    snap = snapshots.latest_snapshot(db, model["id"])
    st.subheader(f"{ui.escape(model['name'])} · snapshot {snap['week']}")
    st.caption(f"Evidence: snapshot {ui.code(snap['hash'])}. Signing is refused if a newer snapshot appears meanwhile.")
    ui.findings(snap["results"].get("verdicts", []))
    now = utcnow()
    ui.area_lights(lights.model_lights(db, model, snap, scope=actor.scope, at=now), iso(now))
    st.markdown("**Incidents not closed**")
    ui.table(reviews.open_incidents(db, model["id"]), empty="No incidents are open for this model.")
    st.page_link(ui.MODEL_PAGE, label="Open the model page", icon=":material/search:",
                 query_params={"model": model["id"]})
    if actor.can("sign_reviews"):
        sign_form(db, actor, model, snap, generation=len(reviews.list_reviews(db, model["id"])))


ui.run_page("Weekly review", body, page="pages/review.py")
