import pandas as pd
import streamlit as st

from ethics import charts, fairness, incidents, lights, outcomes, registry, report_rows, snapshots, ui


def binary_groups(grouping):
    groups = pd.DataFrame(grouping["groups"])
    metrics = [m for m in fairness.METRICS if m != "count" and m in groups]
    metric = st.selectbox("Metric", metrics, format_func=lambda m: fairness.METRICS[m].label)
    spec = fairness.METRICS[metric]
    numbers = groups[["group", "count", "judged", metric]].assign(
        interval=[spec.shown.interval(iv) for iv in groups[f"{metric}_interval"]])
    ui.chart(charts.group_metric(groups, metric=metric, label=spec.label, shown=spec.shown), numbers)


def outcome_groups(results, grouping, unit):
    rows = outcomes.flat_groups(grouping)
    groups = pd.DataFrame(rows)
    views = {key: view for key, view in outcomes.metric_views(results["outcome"], unit=unit,
                                                                offers=results.get("offers")).items() if key in groups}
    metric = st.selectbox("Metric", list(views), format_func=lambda key: views[key].label)
    view = views[metric]
    ui.chart(charts.group_metric(groups, metric=metric, label=outcomes.axis_title(view, unit=unit), shown=view.shown),
             pd.DataFrame(outcomes.group_numbers(rows, key=metric, view=view)), split=(1, 1))


def strata_section(results, grouping, unit):
    control = ui.escape(results["control"])
    st.markdown(f"**Conditioned on {control}**: each disparity within one {control} "
                "at a time, so a legitimate difference between them does not count as unfair")
    names = [name for name in outcomes.ENGINES["continuous"].disparities if name in grouping["disparities"]]
    views = {name: outcomes.disparity_view("continuous", name, unit=unit) for name in names}
    name = st.selectbox("Disparity within each stratum", names, format_func=lambda n: views[n].label)
    rows = outcomes.strata_rows(grouping, name=name)
    bars = pd.DataFrame([{"group": r["stratum"], "judged": r["value"] is not None, "value": r["value"],
                          "value_interval": r["interval"] or [None, None]} for r in rows])
    ui.chart(charts.group_metric(bars, metric="value", label=outcomes.axis_title(views[name], unit=unit),
                                 shown=views[name].shown),
             pd.DataFrame(outcomes.strata_numbers(rows, control=results["control"], view=views[name])), split=(1, 1))


def detail_section(results, grouping, unit):
    outcome = results["outcome"]
    if outcome == "continuous" and grouping.get("strata"):
        strata_section(results, grouping, unit)
    elif outcome == "multiclass":
        st.markdown("**Offers made per group** (leads)")
        ui.table(report_rows.offer_rows(grouping, offers=results["offers"]))
        st.caption(ui.escape(report_rows.independence_text(grouping)))
    elif outcome == "ranking":
        st.markdown("**Capacity per call list**: the leads each list's team calls in the week")
        ui.table(outcomes.capacity_rows(results), empty="Capacity read from each row's capacity column.")


def groups_section(results):
    outcome, unit = results.get("outcome", "binary"), outcomes.results_unit(results)
    left, right = st.columns(2)
    data = left.selectbox("Data", list(results["fairness"]), format_func=ui.DATA_LABELS.get)
    groupings = {g["grouping"]: g for g in results["fairness"][data]}
    grouping = groupings[right.selectbox("Groups", list(groupings))]
    if outcome == "binary":
        binary_groups(grouping)
    else:
        outcome_groups(results, grouping, unit)
    st.caption(f"Whiskers: {grouping.get('confidence', 0.95):.0%} bootstrap interval. Grey bars: groups below the "
               "policy's minimum size, too few to judge (never a pass).")
    if outcome != "binary":
        detail_section(results, grouping, unit)
    return data, grouping


def trend_section(db, model, snap, data, grouping):
    outcome = snap["results"].get("outcome", "binary")
    thresholds = snap["policy"].get("fairness" if outcome == "binary" else outcome, {})
    names = [n for n in thresholds if n in grouping["disparities"]]
    if not names:
        st.caption("The policy sets no threshold for a disparity of these groups, so there is no trend to judge.")
        return
    views = {n: outcomes.disparity_view(outcome, n, unit=outcomes.results_unit(snap["results"])) for n in names}
    name = st.selectbox("Disparity", names, format_func=lambda n: views[n].label)
    trend = snapshots.disparity_trend(db, model["id"], data=data, grouping=grouping["grouping"], metric=name)
    ui.chart(charts.disparity_trend(pd.DataFrame(trend), label=views[name].label, threshold=thresholds[name]),
             pd.DataFrame(outcomes.trend_numbers(trend, view=views[name])))


def drift_section(snap):
    found = snap["results"].get("drift")
    if not found:
        st.caption(f"No drift figures: {lights.NO_LIST_DRIFT}." if snap["results"].get("outcome") == "ranking"
                   else "No scoring batch this week, so no drift figures.")
        return
    columns = pd.DataFrame(found["columns"])
    st.caption(f"Scoring batch of {snap['week']} against the reference week "
               f"{found['reference_week']} "
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
    outcome = results.get("outcome", "binary")
    ui.show_flash()
    ui.source_note(snap)
    st.subheader("Verdicts against the policy")
    ui.finding_incidents(db, actor, incidents.finding_drafts(snap, {}), verdicts=len(results["verdicts"]))
    ui.verdicts(results["verdicts"], outcome=outcome, unit=outcomes.results_unit(results))
    st.subheader("Groups")
    data, grouping = groups_section(results)
    st.subheader("Trend across weeks")
    trend_section(db, model, snap, data, grouping)
    st.subheader("Sampling bias: evaluation set against scoring batch")
    if outcome != "binary":
        st.caption(f"Computed for binary models only; not for this {outcome} model.")
    else:
        ui.table(results["sampling"], empty="Needs both an evaluation set and a scoring batch in the week.")
    st.subheader("Drift: population stability index")
    drift_section(snap)
    st.subheader("Trade-off what-if")
    if outcome != "binary":
        st.caption(f"The threshold what-if applies to binary scores only; this {outcome} model has no threshold.")
        return
    what_if_section(snap, [g["grouping"] for g in results["fairness"].get("eval", []) if len(g["attributes"]) == 1])


ui.run_page("Fairness", body, page="pages/fairness.py")
