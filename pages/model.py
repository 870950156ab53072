import pandas as pd
import streamlit as st

from ethics import charts, incidents, registry, snapshots, ui


def performance(snap, trend):
    perf = snap["results"].get("performance")
    if perf is None:
        st.caption("No evaluation set this week: performance needs labelled rows.")
    else:
        cols = st.columns(4)
        cols[0].metric("Accuracy", f"{perf['accuracy']:.1%}")
        cols[1].metric("AUC", "—" if perf["auc"] is None else f"{perf['auc']:.3f}")
        cols[2].metric("Base rate", f"{perf['base_rate']:.1%}")
        cols[3].metric("Selected at threshold", f"{perf['selection_rate']:.1%}")
    if trend:
        ui.chart(charts.performance_trend(pd.DataFrame(trend)), pd.DataFrame(trend))


GROUP_COLUMNS = {"group": "Group", "eval_count": "Evaluation rows", "eval_selection_rate": "Evaluation selected",
                 "scores_count": "Scored leads", "scores_selection_rate": "Scored selected"}


def fairness(snap, labels):
    groups = pd.DataFrame(snap["results"]["groups"])
    if groups.empty:
        st.caption("The manifest names no sensitive attributes.")
        return
    st.caption("Selection rate per group at the decision threshold (fairlearn MetricFrame). "
               "Verdicts against the policy are not evaluated yet.")
    for attribute in groups["attribute"].unique():
        st.markdown(f"**{labels.get(attribute, attribute)}**")
        numbers = groups[groups["attribute"] == attribute]
        ui.chart(charts.group_selection_rates(groups, attribute=attribute),
                 numbers[[c for c in GROUP_COLUMNS if c in numbers]].rename(columns=GROUP_COLUMNS))


def body(db, actor):
    model = ui.pick_model(registry.list_models(db, team=actor.scope), actor)
    if model is None:
        st.info("No models are registered yet.")
        return
    history = snapshots.list_snapshots(db, model["id"])
    st.markdown(f"**{model['purpose'].replace('_', ' ')}** · team **{model['team']}** · "
                f"risk **{model['risk_tier']}** · owner {model['owner']}")
    if not history:
        st.warning("This model has no snapshot yet: run `python -m ethics snapshot --model "
                   f"{model['id']}` after importing data.")
        return
    labels = {s["id"]: f"{s['week']} · version {s['version']} · {s['hash'][:12]}" for s in history}
    snap = ui.snapshot(str(ui.settings().db_path), st.selectbox("Snapshot", list(labels), format_func=labels.get))
    st.caption(f"Snapshot hash `{snap['hash']}` · taken {snap['created_at']} by {snap['created_by']}")
    tabs = st.tabs(["Performance", "Fairness", "Explanations", "Consent", "Incidents", "Reviews"])
    with tabs[0]:
        performance(snap, snapshots.performance_trend(db, model["id"]))
    with tabs[1]:
        manifest = registry.get_version(db, model["id"], snap["version"])["manifest"]
        fairness(snap, {a["name"]: a["label"] for a in manifest["sensitive_attributes"]})
    for tab, area in ((tabs[2], "Explanations"), (tabs[3], "Consent"), (tabs[5], "Reviews")):
        with tab:
            ui.not_evaluated(area)
    with tabs[4]:
        ui.table(incidents.list_incidents(db, model_id=model["id"]), empty="No incidents for this model.")


ui.run_page("Model", body, page="pages/model.py")
