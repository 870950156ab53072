import streamlit as st

from ethics import outcomes, registry, report_rows, ui
from ethics.manifest import outcome_of


def body(db, actor):
    models = registry.list_models(db, scope=actor.scope)
    ui.table(models, empty="No models are registered yet.")
    model = ui.pick_model(models, actor)
    if model is None:
        return
    versions = registry.list_versions(db, model["id"])
    ui.table([{k: v[k] for k in ("version", "artifact_kind", "artifact_sha256", "threshold",
                                 "registered_at", "registered_by")} for v in versions])
    chosen = st.selectbox("Version", [v["version"] for v in versions], index=len(versions) - 1)
    manifest = next(v for v in versions if v["version"] == chosen)["manifest"]
    decides = report_rows.outcome_text({"outcome": outcome_of(manifest), "threshold": manifest["threshold"],
                                        **outcomes.outcome_facts(manifest)})
    esc = ui.escape
    st.markdown(f"**Owner** {esc(manifest['owner'])} · **Team** {esc(manifest['team'])} · "
                f"**Consent purpose** {ui.code(manifest['consent_purpose'])} · **Decides** {esc(decides)}")
    st.subheader("Impact assessment")
    # st.table renders Markdown in its cells and headers (st.dataframe does not).
    st.table({esc(key.replace("_", " ").capitalize()): [esc(", ".join(v) if isinstance(v, list) else v)]
              for key, v in manifest["impact_assessment"].items()})
    st.subheader("Features")
    ui.table([{"name": f["name"], "label": f["label"], "type": f.get("type", "number"), "unit": f["unit"],
               "description": f["description"]} for f in manifest["features"]])
    st.subheader("Sensitive attributes")
    ui.table(report_rows.attribute_rows(report_rows.attribute_facts(manifest)),
             empty="The manifest names no sensitive attributes.")
    st.caption("Candidate proxy features: " + (esc(", ".join(manifest["proxy_candidates"])) or "none"))


ui.run_page("Model registry", body, page="pages/registry.py")
