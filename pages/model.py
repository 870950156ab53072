import pandas as pd
import streamlit as st

from ethics import (
    charts,
    consent,
    explain,
    incidents,
    leads,
    lights,
    outcomes,
    registry,
    report_rows,
    reviews,
    snapshots,
    ui,
)
from ethics.weeks import iso, utcnow


def performance(db, snap):
    results = snap["results"]
    if "performance" not in results:
        st.caption("No evaluation set this week: performance needs labelled rows.")
    for kind in ("eval", "scores"):
        found = outcomes.headline(results, kind)
        if found:
            st.markdown(f"**{ui.DATA_LABELS[kind]}**")
            ui.figures(found)
    if results.get("outcome", "binary") == "binary":
        trend = snapshots.performance_trend(db, snap["model_id"])
        if trend:
            ui.chart(charts.performance_trend(pd.DataFrame(trend)), pd.DataFrame(trend))
        return
    st.markdown("**Evaluation set across weeks** (latest snapshot of each week)")
    ui.table(snapshots.headline_trend(db, snap["model_id"]), empty="No evaluation set in any week yet.")


def fairness_section(db, actor, snap, model, found):
    verdicts = snap["results"].get("verdicts", [])
    ui.finding_incidents(db, actor, incidents.finding_drafts(snap, found), verdicts=len(verdicts))
    st.caption(f"{sum(v['status'] == 'pass' for v in verdicts)} of {len(verdicts)} verdicts pass.")
    st.page_link("pages/fairness.py", label="Groups, intervals, trends and what-if", icon=":material/balance:",
                 query_params={"model": model["id"]})


def explanations_tab(db, actor, snap):
    found = snap["results"].get("explanations")
    if not found:
        ui.not_evaluated("Explanations")
        return
    if found["status"] != "available":
        st.warning(f"No explanation available: {ui.escape(found['reason'])}.", icon=":material/visibility_off:")
    else:
        ui.explanation_summary(found)
        importance = pd.DataFrame(found["importance"])
        order = importance["label"].tolist()
        ui.chart(charts.shap_importance(importance),
                 importance[["rank", "label", "mean_abs_shap", "previous_rank", "change"]])
        per_lead = leads.explained_leads(db, snap, home=ui.settings().home, scope=actor.scope,
                                         loader=ui.lead_explanations)
        if per_lead is not None and len(per_lead):
            manifest = registry.get_version(db, snap["model_id"], snap["version"])["manifest"]
            points = explain.distribution(per_lead, manifest=manifest)
            whose = f"team {ui.escape(actor.scope)}'s leads" if actor.scope else "leads"
            st.markdown(f"**Distribution per feature** (one dot per lead, a sample of 1,000 of the {whose})")
            ui.chart(charts.shap_beeswarm(points, order=order), explain.distribution_summary(points, order=order))
            labels = dict(zip(importance["feature"], order, strict=True))
            feature = st.selectbox("Dependence plot of", list(labels), format_func=labels.get)
            ui.chart(charts.shap_dependence(points[points["feature"] == feature], label=labels[feature]),
                     explain.dependence(per_lead, feature=feature))
        else:
            st.caption("Per-lead values were not stored for this snapshot (global importance from a sample).")
    st.markdown("**Proxy check**: association of each feature with each sensitive attribute")
    ui.proxies(found.get("proxies", []))
    st.markdown("**Human oversight**: decisions people overrode in this snapshot, per team")
    ui.table(leads.override_rates(db, snap, home=ui.settings().home, team=actor.scope, loader=ui.lead_explanations),
             empty="No scoring batch in this snapshot.")


def consent_section(snap, actor, light):
    found = consent.coverage_for(snap["results"].get("consent"), scope=actor.scope)
    if found is None:
        ui.not_evaluated("Consent")
        return
    st.markdown(f"{ui.light(light)} · {ui.escape(light['reason'])}"
                + (f" (team {ui.escape(actor.scope)})" if actor.scope else ""))
    cols = st.columns(4)
    cols[0].metric("Coverage", report_rows.percent(found["coverage"]))
    cols[1].metric("Without consent", f"{found['without_consent']:,}")
    cols[2].metric("After an objection", f"{found['after_objection']:,}")
    cols[3].metric("Customers to route to a human", report_rows.number(found["human_routing"], "{:,}"))
    columns = ("team", "scored", "coverage", "without_consent", "after_withdrawal", "after_objection")
    ui.table([{k: r[k] for k in columns} for r in found["by_team"]], empty="No leads of your team.")
    st.page_link("pages/consent.py", label="Violations, human routing, fairness with consent",
                 icon=":material/privacy_tip:", query_params={"model": snap["model_id"]})


def body(db, actor):
    ui.show_flash()
    model = ui.pick_model(registry.list_models(db, scope=actor.scope), actor)
    if model is None:
        st.info("No models are registered yet.")
        return
    ui.suspended(registry.suspension(db, model["id"]))
    esc = ui.escape
    st.markdown(f"**{esc(model['purpose'].replace('_', ' '))}** · team **{esc(model['team'])}** · "
                f"risk **{esc(model['risk_tier'])}** · owner {esc(model['owner'])}")
    snap = ui.pick_snapshot(db, model)
    if snap is None:
        return
    st.caption(f"Snapshot hash {ui.code(snap['hash'])} · taken {esc(snap['created_at'])} by {esc(snap['created_by'])}")
    st.caption(esc(registry.equivalence_text(registry.get_version(db, model["id"], snap["version"]))))
    if actor.can("export_reports"):
        ui.report_downloads(actor, model, snap["week"])
    ui.source_note(snap)
    now = utcnow()
    found = lights.model_lights(db, model, snap, scope=actor.scope, at=now)
    with st.expander("At a glance: the six lights", expanded=True):
        ui.area_lights(found, iso(now))
    tabs = st.tabs(["Performance", "Fairness", "Explanations", "Consent", "Incidents", "Reviews"])
    with tabs[0]:
        performance(db, snap)
    with tabs[1]:
        fairness_section(db, actor, snap, model, found)
    with tabs[5]:
        ui.table([{k: r[k] for k in ("week", "decision", "reviewer", "signed_at", "snapshot_hash", "conditions",
                                    "comment", "corrects_review_id")} for r in reviews.list_reviews(db, model["id"])],
                 empty="No signed reviews yet.")
    with tabs[2]:
        explanations_tab(db, actor, snap)
    with tabs[3]:
        consent_section(snap, actor, found["consent"])
    with tabs[4]:
        ui.table(incidents.list_incidents(db, model_id=model["id"], scope=actor.scope),
                 empty="No incidents for this model.")


ui.run_page("Model", body, page="pages/model.py")
