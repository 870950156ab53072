import pandas as pd
import streamlit as st

from ethics import charts, fairness, incidents, registry, snapshots, ui


def groups_section(results):
    left, right = st.columns(2)
    data = left.selectbox("Data", list(results["fairness"]), format_func=ui.DATA_LABELS.get)
    groupings = {g["grouping"]: g for g in results["fairness"][data]}
    grouping = groupings[right.selectbox("Groups", list(groupings))]
    groups = pd.DataFrame(grouping["groups"])
    metrics = [m for m in fairness.METRICS if m != "count" and m in groups]
    metric = st.selectbox("Metric", metrics, format_func=lambda m: fairness.METRICS[m].label)
    spec = fairness.METRICS[metric]
    numbers = groups[["group", "count", "judged", metric]].assign(
        interval=[spec.shown.interval(iv) for iv in groups[f"{metric}_interval"]])
    ui.chart(charts.group_metric(groups, metric=metric, label=spec.label, shown=spec.shown), numbers)
    st.caption("Whiskers: 95% bootstrap interval. Grey bars: groups below the policy's minimum size, "
               "too few to judge (never a pass).")
    return data, grouping


def trend_section(db, model, snap, data, grouping):
    names = [n for n in snap["policy"].get("fairness", {}) if n in grouping["disparities"]]
    if not names:
        return
    name = st.selectbox("Disparity", names, format_func=lambda n: fairness.DISPARITIES[n].label)
    trend = pd.DataFrame(snapshots.disparity_trend(db, model["id"], data=data, grouping=grouping["grouping"],
                                                   metric=name))
    ui.chart(charts.disparity_trend(trend, label=fairness.DISPARITIES[name].label,
                                    threshold=snap["policy"]["fairness"][name]), trend)


def drift_section(snap):
    found = snap["results"].get("drift")
    if not found:
        st.caption("No scoring batch this week, so no drift figures.")
        return
    columns = pd.DataFrame(found["columns"])
    st.caption(f"Scoring batch of {snap['week']} against the reference week {found['reference_week']} "
               "(the version's first scoring batch).")
    ui.chart(charts.drift(columns, threshold=snap["policy"].get("drift", {}).get("psi", {})), columns)


def what_if_section(snap, attributes):
    st.caption("What-if only: fairlearn's ThresholdOptimizer picks group-specific thresholds on the evaluation "
               "set. Nothing about the model or its decisions changes.")
    failing = [v["grouping"] for v in snap["results"]["verdicts"] if v["status"] in ("fail", "warn")]
    first = next((attributes.index(a) for a in failing if a in attributes), 0)
    attribute = st.selectbox("Sensitive attribute", attributes, index=first)
    if st.button("Run the what-if", icon=":material/science:"):
        rows = pd.DataFrame(ui.what_if(str(ui.settings().db_path), snap["id"], attribute))
        ui.chart(charts.trade_off(rows), rows.drop(columns=["groups", "constraint"]))


def body(db, actor):
    model = ui.pick_model(registry.list_models(db, scope=actor.scope), actor)
    snap = ui.pick_snapshot(db, model) if model else None
    if snap is None:
        return
    results = snap["results"]
    if not results.get("fairness"):
        st.info("This snapshot has no fairness results: the manifest names no sensitive attributes, "
                "or the snapshot was taken before fairness was evaluated.")
        return
    ui.show_flash()
    ui.source_note(snap)
    st.subheader("Verdicts against the policy")
    ui.finding_incidents(db, actor, incidents.finding_drafts(snap, {}), verdicts=len(results["verdicts"]))
    ui.verdicts(results["verdicts"])
    st.subheader("Groups")
    data, grouping = groups_section(results)
    st.subheader("Trend across weeks")
    trend_section(db, model, snap, data, grouping)
    st.subheader("Sampling bias: evaluation set against scoring batch")
    ui.table(results["sampling"], empty="Needs both an evaluation set and a scoring batch in the week.")
    st.subheader("Drift: population stability index")
    drift_section(snap)
    st.subheader("Trade-off what-if")
    what_if_section(snap, [g["grouping"] for g in results["fairness"].get("eval", []) if len(g["attributes"]) == 1])


ui.run_page("Fairness", body, page="pages/fairness.py")
