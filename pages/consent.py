import json

import pandas as pd
import streamlit as st

from ethics import charts, consent, dsr, incidents, lights, registry, report_rows, snapshots, ui
from ethics.weeks import utcnow

# The leads to handle by hand first: the column a manager acts on must not be cut off.
ROUTING_COLUMNS = ["team", "name", "customer_ref", "leads", "objected_on", "purpose", "source"]
TEAM_COLUMNS = ["team", "scored", "covered", "coverage", "without_consent", "after_withdrawal", "after_objection"]
SAMPLING_COLUMNS = ["attribute", "group", "all_share", "consented_share", "difference", "flagged"]


def coverage_section(db, snap, found, actor, light):
    cols = st.columns(5)
    cols[0].metric("Coverage", report_rows.percent(found["coverage"]),
                   help=f"Leads whose customer held {ui.escape(found['purpose'])} when scored")
    cols[1].metric("Scored leads", f"{found['scored']:,}")
    cols[2].metric("Without consent", f"{found['without_consent']:,}")
    cols[3].metric("After a withdrawal", f"{found['after_withdrawal']:,}")
    cols[4].metric("After an objection", f"{found['after_objection']:,}")
    st.caption(f"{ui.light(light)} · {ui.escape(light['reason'])}"
               + (f" (team {ui.escape(actor.scope)})" if actor.scope else ""))
    ui.table([{k: r[k] for k in TEAM_COLUMNS} for r in found["by_team"]], empty="No leads of your team.")
    trend = pd.DataFrame(snapshots.consent_trend(db, snap["model_id"]))
    if not trend.empty and actor.scope is None:  # the trend counts every team's leads
        threshold = snap["policy"].get("consent", {}).get("coverage", consent.DEFAULT_COVERAGE)
        ui.chart(charts.consent_trend(trend, threshold=threshold), trend)


def violations_section(db, snap, actor):
    rows = ui.consent_violations(str(ui.settings().db_path), snap["model_id"], snap["week"], actor.scope)
    st.caption(f"Leads of {snap['week']} scored without a valid consent, checked against every event "
               "known now (late events count by their event time).")
    ui.table(rows, empty="No violations this week.")
    if not rows:
        return
    note = (registry.suspension(db, snap["model_id"]) or {}).get("text")
    home = ui.settings().home

    def violations(store_db, who):  # the live account's team, which may have changed since the page was drawn
        found = consent.list_violations(store_db, model_id=snap["model_id"], week=snap["week"], home=home,
                                        team=who.scope)
        return consent.violations_csv(found, note=note)

    ui.download("Download CSV", violations, actor=actor, permission="view_consent", mime="text/csv",
                file_name=f"violations-{snap['model_id']}-{snap['week']}.csv", icon=":material/download:")
    existing = incidents.reported(db, model_id=snap["model_id"], finding=consent.VIOLATIONS_FINDING, team=actor.scope)
    if existing:
        st.caption(f"Reported: incident {existing['id']} ({ui.escape(existing['status'])}, opened "
                   f"{ui.escape(existing['opened_at'][:10])}) "
                   "covers these violations; add a comment there.")
    elif actor.can("open_incident") and st.button(f"Open an incident for these {len(rows)} violations",
                                                  icon=":material/report:"):
        row = consent.open_violations_incident(db, model_id=snap["model_id"], week=snap["week"],
                                               home=ui.settings().home, reporter=actor.username, scope=actor.scope)
        ui.clear_readers()
        ui.flash(f"Incident {row['id']} opened ({row['severity']}); due {row['due_at'][:10]}.")
        st.rerun()


def routing_section(actor):
    rows = ui.human_routing(str(ui.settings().db_path), actor.scope)
    st.caption("Customers who opted out of automated decisions (Art. 22) or objected to profiling (Art. 21): "
               "handle their leads by hand, not by the model's score.")
    ui.table([{k: r[k] for k in ROUTING_COLUMNS} for r in rows], empty="Nobody to route to a human.")


def fairness_section(snap, found):
    fair = found.get("fairness_consented")
    if fair is None:
        st.info("Fairness on consented rows needs the scored rows; this week's scoring batch came as aggregates.")
        return
    counted = (f" ({fair['rows'].get('scores', 0):,} of {found['scored']:,} scored leads)" if "rows" in fair
               else " of the whole model")
    st.caption(f"Verdicts recomputed on consented rows only{counted} beside all rows.")
    ui.table(consent.compare_fairness(snap["results"].get("verdicts", []), fair["verdicts"]),
             empty="No fairness verdicts: the manifest names no sensitive attributes.")
    flagged = [r for r in fair["sampling"] if r["flagged"]]
    st.markdown("**Does consent filtering change who is scored?** " + (
        f"Yes: {len(flagged)} group share(s) move by more than the policy allows." if flagged
        else "No group's share moves by more than the policy allows."))
    ui.table([{k: r[k] for k in SAMPLING_COLUMNS} for r in fair["sampling"]], empty="No groups to compare.")


def requests_section(db, actor):
    customer = st.text_input("Customer id (as in the CRM)")
    left, right = st.columns(2)
    if left.button("Export everything held", icon=":material/download:", disabled=not customer.strip()):
        with st.spinner("Collecting the customer's data…"):
            export = dsr.export_subject(db, customer_id=customer, home=ui.settings().home, actor=actor.username)
        # Made at the click for the live account and gone from its URL a minute later: it is a customer's data.
        ui.download("Download JSON", lambda store_db, who: json.dumps(export, indent=2, default=str), actor=actor,
                    permission="handle_requests", file_name="export.json", mime="application/json")
        ui.download("Download CSV", lambda store_db, who: dsr.export_csv(export), actor=actor,
                    permission="handle_requests", file_name="export.csv", mime="text/csv")
        st.caption(f"{len(export['scores'])} scored rows, {len(export['consent_events'])} consent events, "
                   f"{len(export['incidents'])} incidents.")
    confirmed = right.checkbox("I checked the request: erase this customer (cannot be undone)")
    if right.button("Erase", type="primary", icon=":material/delete_forever:",
                    disabled=not (customer.strip() and confirmed)):
        with st.spinner("Rewriting datasets without the customer…"):
            done = dsr.erase_subject(db, customer_id=customer, home=ui.settings().home, actor=actor.username)
        ui.clear_readers()
        st.success(f"Erased (request {done['id']}): {len(done['details']['datasets'])} datasets rewritten, "
                   f"{done['details']['consent_events']} consent events deleted.")
    ui.table([{k: r[k] for k in ("id", "kind", "requested_at", "actor", "pseudonym", "details")}
              for r in dsr.list_requests(db)], empty="No data-subject requests yet.")


def body(db, actor):
    ui.show_flash()
    model = ui.pick_model(registry.list_models(db, scope=actor.scope), actor)
    snap = ui.pick_snapshot(db, model) if model else None
    found = consent.coverage_for(snap["results"].get("consent"), scope=actor.scope) if snap else None
    names = ["Coverage", "Violations", "Route to a human", "Fairness with consent"]
    if actor.can("handle_requests"):
        names.append("Data-subject requests")
    tabs = st.tabs(names)
    if found is None:
        with tabs[0]:
            ui.not_evaluated("Consent")
    else:
        with tabs[0]:
            ui.suspended(registry.suspension(db, model["id"]))
            light = lights.model_lights(db, model, snap, scope=actor.scope, at=utcnow())["consent"]
            coverage_section(db, snap, found, actor, light)
        with tabs[1]:
            violations_section(db, snap, actor)
        with tabs[3]:
            fairness_section(snap, found)
    with tabs[2]:
        routing_section(actor)
    if actor.can("handle_requests"):
        with tabs[4]:
            requests_section(db, actor)


ui.run_page("Consent & privacy", body, page="pages/consent.py")
