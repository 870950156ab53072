"""Everything the pages share, and the only module that imports Streamlit.

``run_page`` is the guard every page calls first: it works whether or not
``app.py`` ran (Streamlit runs a page file directly on a fresh server's sub-URL),
opens the database, re-reads the signed-in account, shows the sign-in form to
anyone not signed in, checks the page's permission on the server, and renders
package errors in one place.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ethics import (
    auth,
    charts,
    consent,
    erasure,
    explain,
    incidents,
    lights,
    outcomes,
    plain_text,
    portfolio,
    registry,
    snapshots,
    store,
)
from ethics.auth import Actor
from ethics.config import Settings, load_settings
from ethics.errors import EthicsError
from ethics.policy import describe_threshold

log = logging.getLogger("ethics.ui")

PAGE_TITLE = "ethics"
MODEL_PAGE = "pages/model.py"


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its file, title, icon, URL, section and the permission it needs."""

    path: str
    title: str
    icon: str
    url_path: str
    section: str
    permission: str


PAGES = (
    PageSpec("pages/overview.py", "Overview", ":material/traffic:", "", "Portfolio", "view_portfolio"),
    PageSpec(MODEL_PAGE, "Model", ":material/search:", "model", "Portfolio", "view_model"),
    PageSpec("pages/fairness.py", "Fairness", ":material/balance:", "fairness", "Portfolio", "view_model"),
    PageSpec("pages/leads.py", "Lead lookup", ":material/person_search:", "leads", "Portfolio", "view_leads"),
    PageSpec("pages/review.py", "Weekly review", ":material/task_alt:", "review", "Portfolio", "view_reviews"),
    PageSpec("pages/incidents.py", "Incidents", ":material/report:", "incidents", "Records", "view_incidents"),
    PageSpec("pages/consent.py", "Consent & privacy", ":material/privacy_tip:", "consent", "Records", "view_consent"),
    PageSpec("pages/registry.py", "Registry", ":material/inventory_2:", "registry", "Records", "view_registry"),
    PageSpec("pages/audit.py", "Audit log", ":material/verified_user:", "audit", "Records", "view_audit"),
    PageSpec("pages/reports.py", "Reports", ":material/picture_as_pdf:", "reports", "Records", "export_reports"),
    PageSpec("pages/users.py", "Users", ":material/group:", "users", "Administration", "view_users"),
)
PAGE_BY_PATH = {spec.path: spec for spec in PAGES}
LIGHT_ICONS = {"pass": "🟢", "warn": "🟡", "fail": "🔴", "not_evaluated": "⚪", "too_few": "⚪"}
LIGHT_WORDS = {
    "pass": "pass", "warn": "warn", "fail": "fail", "not_evaluated": "not evaluated", "too_few": "too few to judge",
}
DATA_LABELS = {"eval": "Evaluation set", "scores": "Scoring batch"}
CACHE_TTL_S = 30
_METRIC_LABEL = 36  # characters of a metric card's label that fit a quarter of the page
# Session keys: set once in init_state(), read with .get().
KEY_USER = "username"
KEY_FLASH = "flash"

Body = Callable[[store.Database, Actor], None]


@st.cache_resource
def settings() -> Settings:
    """The settings of this server process."""
    return load_settings()


@st.cache_resource
def _migrated(db_path: str) -> list[str]:
    db = store.open_db(db_path)
    try:
        return store.migrate(db)
    finally:
        db.close()


def open_store() -> store.Database:
    """A connection for this script run (sqlite3 connections stay in their thread)."""
    path = str(settings().db_path)
    _migrated(path)
    db = store.open_db(path)
    forget_if_erased(db)
    return db


@st.cache_resource
def _generation_seen() -> dict[str, int]:
    return {}


def forget_if_erased(db: store.Database) -> None:
    """Drop every cached read when the data home's generation moved (an erasure, possibly by the CLI).

    The caches live in this server process; an erasure in another process cannot clear them, so it moves
    ``ethics.erasure.generation`` instead (when it starts and when it is recorded) and every script run
    compares it with the value its caches were filled under.
    """
    current = erasure.generation(db)
    seen = _generation_seen()
    if seen.get("generation") != current:
        clear_readers()
        st.cache_data.clear()  # the snapshot and what-if caches too: nothing read before the erasure is served
        seen["generation"] = current


def init_state() -> None:
    """Create every session key once."""
    st.session_state.setdefault(KEY_USER, None)
    st.session_state.setdefault(KEY_FLASH, None)


def flash(message: str) -> None:
    """A success message for the next run (after ``st.rerun``)."""
    st.session_state[KEY_FLASH] = message


def show_flash() -> None:
    """Show, once, the message left by :func:`flash`."""
    message = st.session_state.get(KEY_FLASH)
    if message:
        st.success(escape(message))  # messages name models, accounts and leads
        st.session_state[KEY_FLASH] = None


def current_actor(db: store.Database) -> Actor | None:
    """The signed-in account, re-read from the database on every run.

    A disabled or deleted account ends the session here, at its next page.
    """
    username = st.session_state.get(KEY_USER)
    if not username:
        return None
    try:
        return auth.get_actor(db, username)
    except EthicsError:
        sign_out()
        raise


def sign_out() -> None:
    """Forget the signed-in account of this session."""
    st.session_state[KEY_USER] = None


def _sign_in(db: store.Database) -> None:
    st.title("Sign in")
    with st.form("sign_in"):
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        actor = auth.authenticate(db, username, password)
        st.session_state[KEY_USER] = actor.username
        st.rerun()


def run_page(title: str, body: Body, *, page: str) -> None:
    """Guard and render one page.

    Parameters
    ----------
    title : str
        The page heading.
    body : callable
        ``body(db, actor)`` draws the page; ``actor`` is the signed-in account.
    page : str
        The page's path in :data:`PAGES`; its permission is checked before ``body`` runs.
    """
    st.set_page_config(page_title=f"{title} · {PAGE_TITLE}", page_icon="⚖️", layout="wide")
    init_state()
    db = None
    try:
        db = open_store()
        actor = current_actor(db)
        sidebar(actor)
        if actor is None:
            _sign_in(db)
            return
        st.title(title)
        auth.require(actor, PAGE_BY_PATH[page].permission)
        body(db, actor)
    except EthicsError as error:
        # Messages quote what was asked for (a URL's ?model=, a typed name) and what data holds: shown as text.
        st.error(escape(str(error)))
        if error.hint:
            st.info(escape(error.hint))
    except Exception as error:  # noqa: BLE001 - the one place unexpected errors are shown
        log.exception("page %r failed", title)
        if settings().debug:
            st.exception(error)
        else:
            st.error("Something went wrong on this page; the details were written to the server log.")
    finally:
        if db is not None:
            db.close()


def navigation() -> list[Any]:
    """Every page for ``st.navigation``; each page's guard decides who may see it.

    Registering all pages keeps a forbidden URL on the page, which then says "Not
    allowed", instead of Streamlit's silent fallback to the default page.
    """
    return [
        st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path or None,
                default=not spec.url_path)
        for spec in PAGES
    ]


def sidebar(actor: Actor | None) -> None:
    """The signed-in account, sign-out, and links to the pages this role may see."""
    with st.sidebar:
        st.markdown(f"### ⚖️ {PAGE_TITLE}")
        if actor is None:
            st.caption("Sign in to continue.")
            return
        st.caption(f"Signed in as **{escape(actor.label)}**")
        st.button("Sign out", on_click=sign_out, icon=":material/logout:")
        section = None
        for spec in PAGES:
            if not actor.can(spec.permission):
                continue
            if spec.section != section:
                section = spec.section
                st.caption(section)
            st.page_link(spec.path, label=spec.title, icon=spec.icon)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16)
def overview_rows(db_path: str, scope: str | None = None) -> list[dict[str, Any]]:
    """Cached portfolio rows for the Overview (each row says the moment of its lights)."""
    db = store.open_db(db_path)
    try:
        return portfolio.overview(db, scope=scope)
    finally:
        db.close()


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64)
def snapshot(db_path: str, snapshot_id: int) -> dict[str, Any]:
    """Cached snapshot with parsed results (snapshots are immutable)."""
    db = store.open_db(db_path)
    try:
        return snapshots.get_snapshot(db, snapshot_id)
    finally:
        db.close()


@st.cache_data(ttl=3600, max_entries=32, show_spinner="Running ThresholdOptimizer on the evaluation set…")
def what_if(db_path: str, snapshot_id: int, attribute: str) -> list[dict[str, Any]]:
    """Cached what-if of one snapshot and attribute (the snapshot never changes)."""
    db = store.open_db(db_path)
    try:
        return snapshots.what_if(db, snapshot_id, home=settings().home, attribute=attribute)
    finally:
        db.close()


@st.cache_resource(max_entries=8, show_spinner="Reading the per-lead explanations…")
def _lead_explanations(file: str, sha256: str) -> pd.DataFrame:
    # Read-only and shared: the file is immutable (named by its SHA-256, checked on this read).
    return explain.read_leads({"file": file, "sha256": sha256}, home=settings().home)


def lead_explanations(ref: dict[str, Any]) -> pd.DataFrame:
    """A snapshot's per-lead SHAP values, read and hash-checked once per server process; never mutate it."""
    return _lead_explanations(ref["file"], ref["sha256"])


def explanation_summary(found: dict[str, Any]) -> None:
    """The explainer, output space, rows and additivity of a snapshot's explanations."""
    text = explain.explainer_text(found)
    st.caption(f"{escape(text[:1].upper() + text[1:])} on {found['rows']:,} leads, in the "
               f"{escape(found['output_space'])} space: base value {found['base_value']:.4f} (the average model "
               "output); base value + contributions "
               f"= model output within {found['additivity_max_error']:.1e} for every lead (additivity, checked).")


def proxies(rows: list[dict[str, Any]]) -> None:
    """The proxy check: flagged features as warnings, then every association."""
    for row in rows:
        if row.get("note"):
            st.info(escape(row["note"]) + ".", icon=":material/info:")
        if row["flagged"]:
            st.warning(f"Possible proxy: **{escape(row['label'])}** is associated with "
                       f"**{escape(row['attribute_label'])}** "
                       f"(Cramér's V {row['value']:.2f}, above the policy's {row['threshold']:g}).",
                       icon=":material/warning:")
    table(pd.DataFrame([{"Feature": r["label"], "Sensitive attribute": r["attribute_label"],
                         "Cramér's V": r["value"], "Threshold": r["threshold"],
                         "Proxy": "⚠️ flagged" if r["flagged"] else ""} for r in rows]),
          empty="No sensitive attributes to check against.")


def suspended(found: dict[str, Any] | None) -> None:
    """A suspended model's banner (``registry.suspension``), shown before any of its decisions."""
    if found:
        st.error(escape(found["text"]), icon=":material/block:")


def escape(text: Any) -> str:
    """Untrusted text for any element or label Streamlit renders as Markdown: shown literally, on one line.

    The one helper for data and URLs in Markdown (``plain_text.markdown``): escape each interpolated
    value, not the template. Plain sinks (``st.text``, ``st.dataframe``, select box options) take raw text.
    """
    return plain_text.markdown(text)


def code(text: Any) -> str:
    """Untrusted text as inline code (``plain_text.code``): literal, in a fence no backtick inside closes."""
    return plain_text.code(text)


def lead_card(detail: dict[str, Any]) -> None:
    """One lead: suspension first, then score, decision, consent, contest, reasons and the waterfall."""
    suspended(detail["suspended"])
    cols = st.columns(4)
    cols[0].metric("Score", f"{detail['score']:.3f}")
    cols[1].metric("Model's decision" + (" (not to be used)" if detail["suspended"] else ""),
                   escape(detail["decision"]), help=f"Selected when the score is at least {detail['threshold']:g}.")
    cols[2].metric("Consent at scoring", escape(detail["consent"]["status"]),
                   help=f"Consent purpose {escape(repr(detail['consent']['purpose']))} at "
                        f"{escape(detail['consent']['at'])}.")
    cols[3].metric("Team", escape(detail["team"]))
    customer = " ".join(escape(part) for part in (detail.get("customer_name"), detail.get("customer_ref")) if part)
    st.caption(f"Lead {escape(detail['lead_id'])} · customer {customer or escape(detail['customer_id'])} · "
               f"{escape(detail['model_name'])} {escape(detail['version'])} · week {detail['week']} · "
               f"snapshot `{detail['snapshot_hash'][:12]}`")
    if detail["consent"]["status"] != "granted":
        st.warning(f"No {escape(detail['consent']['purpose'])} consent at scoring time "
                   f"({escape(detail['consent']['status'])}): "
                   "this lead must be handled by a person, not by the score.")
    if detail["contest"]:
        c = detail["contest"]
        st.info(f"Already contested (incident {c['id']}, {escape(c['status'])}, opened "
                f"{escape(c['opened_at'][:10])} by {escape(c['reporter'])}).", icon=":material/flag:")
    if detail["override"]:
        o = detail["override"]
        st.info(f"Overridden by {escape(o['actor'])} on {escape(o['created_at'][:10])}: "
                f"{escape(o['model_decision'])} → **{escape(o['decision'])}**. Reason: {escape(o['reason'])}",
                icon=":material/front_hand:")
    found = detail["explanation"]
    if not found["available"]:
        st.info(escape(found["message"]))
        return
    left, right = st.columns(2)
    for column, direction, heading in ((left, "raising", "Raises the score"), (right, "lowering", "Lowers the score")):
        column.markdown(f"**{heading}**")
        for reason in found["reasons"][direction] or []:
            column.markdown(f"- {'⚠️ ' if reason['proxy_for'] else ''}{escape(reason['text'])}")
        if not found["reasons"][direction]:
            column.caption("Nothing notable.")
    steps = pd.DataFrame(found["waterfall"])
    space = found["output_space"]
    chart(charts.shap_waterfall(steps, base_value=found["base_value"], output_space=space,
                                threshold=explain.threshold_in(space, detail["threshold"])),
          steps[["label", "value_text", "shap"]].rename(columns={"value_text": "value", "shap": f"SHAP ({space})"}))
    if found["explainer"] == "sampled":
        st.caption(f"Estimated by {escape(found['method'])}: the bars add up exactly to the score.")
    if space == "log-odds":
        st.caption("The bars add up in log-odds, the model's raw output; the score is 1 / (1 + e^−output), so "
                   f"the threshold {detail['threshold']:g} is {explain.threshold_in(space, detail['threshold']):.2f} "
                   "in log-odds.")


@st.cache_data(ttl=CACHE_TTL_S, max_entries=32, show_spinner="Checking every lead of the week against consent…")
def consent_violations(db_path: str, model_id: str, week: str, team: str | None) -> list[dict[str, Any]]:
    """Cached violations of one model and week (a sales manager's are scoped to the team)."""
    db = store.open_db(db_path)
    try:
        return consent.list_violations(db, model_id=model_id, week=week, home=settings().home, team=team)
    finally:
        db.close()


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner="Finding customers who objected…")
def human_routing(db_path: str, scope: str | None) -> list[dict[str, Any]]:
    """Cached route-to-a-human list (a sales manager's: the team's customers, in every model that scores them)."""
    db = store.open_db(db_path)
    try:
        return consent.list_human_routing(db, home=settings().home, scope=scope)
    finally:
        db.close()


def clear_readers() -> None:
    """After a write: drop cached reads so every page shows it."""
    overview_rows.clear()
    consent_violations.clear()
    human_routing.clear()
    _lead_explanations.clear()  # an erasure rewrites per-lead files


def lights_moment(at: str) -> str:
    """"lights as of …": the moment the incidents and review lights were computed for."""
    return lights.moment_text(datetime.fromisoformat(at))


def area_lights(found: dict[str, dict[str, str]], at: str) -> None:
    """The six lights of one model (``lights.model_lights``) as lines, with their moment."""
    for area in lights.AREAS:
        st.markdown(f"{light(found[area])} · **{area}**: {escape(found[area]['reason'])}")
    st.caption(f"Incidents and review: {lights_moment(at)}.")


def light(state: dict[str, str]) -> str:
    """A traffic light as icon and word."""
    return status(state["status"])


def status_text(value: str) -> str:
    """A workflow status word, upper-cased for headings."""
    return value.replace("_", " ").upper()


def status(name: str) -> str:
    """A status (pass, warn, fail, too_few, not_evaluated) as icon and word."""
    return f"{LIGHT_ICONS[name]} {LIGHT_WORDS[name]}"


#: Where the reader is, kept across pages (sidebar links drop the query parameters).
PLACE_MODEL = "place_model"
PLACE_WEEK = "place_week"


def pick_snapshot(db: store.Database, model: dict[str, Any]) -> dict[str, Any] | None:
    """A select box of the model's snapshots, newest first; the chosen one, parsed."""
    history = snapshots.list_snapshots(db, model["id"])
    if not history:
        st.warning(f"Model {escape(repr(model['id']))} has no snapshot yet: run "
                   f"{code('python -m ethics snapshot --model ' + model['id'])} after importing data.")
        return None
    labels = {s["id"]: f"{s['week']} · version {s['version']} · {s['hash'][:12]}" for s in history}
    # The week follows the URL (?week=2026-W47), else the last page's; a week the model has no snapshot of: the newest.
    wanted = st.query_params.get("week") or st.session_state.get(PLACE_WEEK)
    index = next((n for n, s in enumerate(history) if s["week"] == wanted), 0)
    chosen = st.selectbox("Snapshot", list(labels), index=index, format_func=labels.get)
    st.query_params["week"] = st.session_state[PLACE_WEEK] = next(s["week"] for s in history if s["id"] == chosen)
    return snapshot(str(settings().db_path), chosen)


def findings(rows: list[dict[str, Any]]) -> None:
    """The failing and warning verdicts as sentences, then a count of the rest."""
    if not rows:
        st.caption("No fairness verdicts in this snapshot.")
        return
    for verdict in rows:
        if verdict["status"] in ("fail", "warn"):
            st.markdown(f"{status(verdict['status'])} · **{escape(verdict['label'])}**, {escape(verdict['grouping'])} "
                        f"({DATA_LABELS[verdict['data']].lower()}): {escape(verdict['sentence'])}")
    passed = sum(v["status"] == "pass" for v in rows)
    st.caption(f"{passed} of {len(rows)} verdicts pass.")


def finding_incidents(db: store.Database, actor: Actor, drafts: list[dict[str, Any]], *, verdicts: int) -> None:
    """Each failing or warning finding (``incidents.finding_drafts``) with a "New incident" button.

    The button opens a form pre-filled with model, snapshot, week, category and the
    finding's sentence; a finding already reported in an open incident names it instead.
    """
    if not drafts:
        st.caption("No failing or warning finding in this snapshot." if verdicts else
                   "No fairness verdicts in this snapshot.")
    for number, found in enumerate(drafts):
        draft = found["incident"]
        text, button = st.columns([5, 1])
        text.markdown(f"{status(found['status'])} · **{escape(found['heading'])}**: {escape(found['sentence'])}")
        existing = incidents.reported(db, model_id=draft["model_id"], finding=draft["finding"], team=actor.scope)
        if existing:
            button.caption(f"Reported: incident {existing['id']} ({escape(existing['status'])})")
        elif actor.can("open_incident"):
            with button.popover("New incident", icon=":material/report:"):
                _finding_form(db, actor, draft, key=f"finding_{number}_{draft['finding']}")


def _finding_form(db: store.Database, actor: Actor, draft: dict[str, Any], *, key: str) -> None:
    with st.form(key, clear_on_submit=True):
        title = st.text_input("Title", value=draft["title"], max_chars=incidents.TITLE_LIMIT)
        description = st.text_area("What was found, and where", value=draft["description"])
        severity = st.selectbox("Severity", incidents.SEVERITIES, index=incidents.SEVERITIES.index(draft["severity"]))
        if st.form_submit_button("Open incident", type="primary"):
            row = incidents.open_incident(db, **{**draft, "title": title, "description": description,
                                                 "severity": severity}, reporter=actor.username, team=actor.scope)
            clear_readers()
            flash(f"Incident {row['id']} opened ({row['category']}); due {row['due_at'][:10]}.")
            st.rerun()


def verdicts(rows: list[dict[str, Any]], *, outcome: str = "binary", unit: str = "value") -> None:
    """The policy verdicts of a snapshot, worst first, each with its sentence.

    Value and interval are shown in the disparity's presentation (``outcomes.disparity_view``),
    so an amount reads in the model's unit and a ratio as a ratio, whatever the outcome type.
    """
    order = {"fail": 0, "warn": 1, "too_few": 2, "pass": 3}
    shown = {v["metric"]: outcomes.disparity_view(outcome, v["metric"], unit=unit).shown for v in rows}
    frame = pd.DataFrame(
        [
            {
                "Status": status(v["status"]),
                "Data": DATA_LABELS[v["data"]],
                "Groups": v["grouping"],
                "Metric": v["label"],
                "Value": shown[v["metric"]].text(v["value"]),
                "95% interval": shown[v["metric"]].interval(v.get("interval")),
                "Threshold": describe_threshold(v["threshold"]),
                "Finding": v["sentence"],
            }
            for v in sorted(rows, key=lambda v: order[v["status"]])
        ]
    )
    table(frame, empty="No verdicts: the manifest names no sensitive attributes.")


def portfolio_table(rows: list[dict[str, Any]]) -> None:
    """The Overview's table: one row per model, a light per area, and the reasons behind amber and red."""
    frame = pd.DataFrame(
        [
            {
                "Model": f"⛔ {row['name']} (suspended)" if row["status"] == "suspended" else row["name"],
                "Purpose": row["purpose"].replace("_", " "),
                "Team": row["team"],
                "Risk": row["risk_tier"],
                "Latest week": row["latest_week"] or "no snapshot",
                **{area.capitalize(): light(row["lights"][area]) for area in lights.AREAS},
                "Needs attention": "; ".join(
                    f"{area}: {state['reason']}" for area, state in row["lights"].items()
                    if state["status"] in ("warn", "fail")
                ),
            }
            for row in rows
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")


def model_link(row: dict[str, Any]) -> None:
    """A link to the Model page for one model."""
    st.page_link(MODEL_PAGE, label=f"{escape(row['name'])} ({escape(row['id'])})", icon="🔎",
                 query_params={"model": row["id"]})


def pick_model(models: list[dict[str, Any]], actor: Actor) -> dict[str, Any] | None:
    """A model select box that follows and sets ``?model=<id>`` in the URL.

    ``models`` must already be scoped to the actor; a URL naming any other model
    is refused, whether that model is hidden from the actor or does not exist.
    """
    ids = [m["id"] for m in models]
    wanted = st.query_params.get("model")
    if wanted and wanted not in ids:
        raise registry.hidden_model(wanted, scope=actor.scope)
    if not models:
        return None
    # A sidebar link carries no query parameters: the model chosen on the last page keeps the reader's place.
    wanted = wanted or st.session_state.get(PLACE_MODEL)
    index = ids.index(wanted) if wanted in ids else 0
    names = [m["name"] for m in models]
    # Two models may share a name (a team's own "Churn risk" beside another's): their ids tell them apart.
    shown = {m["id"]: f"{m['name']} ({m['id']})" if names.count(m["name"]) > 1 else m["name"] for m in models}
    chosen = st.selectbox("Model", ids, index=index, format_func=shown.__getitem__)
    st.query_params["model"] = st.session_state[PLACE_MODEL] = chosen
    return next(m for m in models if m["id"] == chosen)


def table(rows: list[dict[str, Any]] | pd.DataFrame, *, empty: str = "Nothing to show.") -> None:
    """A read-only table with a clear empty state."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    if frame.empty:
        st.caption(empty)
        return
    st.dataframe(frame, hide_index=True, width="stretch")


def chart(figure: go.Figure, numbers: pd.DataFrame, *, split: tuple[int, int] = (3, 2)) -> None:
    """A chart with its numbers in a table beside it (``split``: their widths; (1, 1) for a wider table)."""
    left, right = st.columns(list(split))
    left.plotly_chart(plain_text.figure(figure), width="stretch")  # group values, labels: Plotly renders HTML
    right.dataframe(numbers, hide_index=True, width="stretch")


def figures(found: list[dict[str, str]], *, per_row: int = 4) -> None:
    """Headline figures (``outcomes.headline``) as metric cards, up to ``per_row`` in a row (3 for long labels)."""
    if any(len(figure["label"]) > _METRIC_LABEL for figure in found):
        per_row = min(per_row, 3)
    for start in range(0, len(found), per_row):
        for column, figure in zip(st.columns(per_row), found[start:start + per_row], strict=False):
            column.metric(escape(figure["label"]), figure["value"])  # labels name offers and units; values are ours


def not_evaluated(area: str) -> None:
    """The grey state of an area whose evaluation is not built yet."""
    st.info(f"{LIGHT_ICONS['not_evaluated']} {area}: not evaluated yet. This area has no results in the snapshot.")


#: A downloaded file stays at its ``/media/<id>`` URL this long (seconds; ``ETHICS_DOWNLOAD_SECONDS`` overrides).
DOWNLOAD_SECONDS = 60.0
ENV_DOWNLOAD_SECONDS = "ETHICS_DOWNLOAD_SECONDS"


def _with_store(db_path: str, make: Callable[[store.Database, Actor], Any], *, actor: Actor,
                charts: bool = False) -> Any:
    """Make a download's file at click time for the account as it is now (a button may outlive a disabled account).

    The file expires at its URL after :data:`DOWNLOAD_SECONDS` (:func:`expire_downloads_later`).

    Raises
    ------
    PermissionDenied
        The account was disabled since the page was drawn; the file is not made.
    """
    from ethics import chart_images

    db = store.open_db(db_path)
    try:
        who = auth.get_actor(db, actor.username)  # role, team and status re-read: what the page knew may be stale
        if charts:
            chart_images.keep_open()  # one Chromium for the server's PDFs, started at the first one
        made = make(db, who)
    finally:
        db.close()
    expire_downloads_later()
    return made


def download(label: str, make: Callable[[store.Database, Actor], Any], *, actor: Actor, permission: str,
             file_name: str, mime: str, **button: Any) -> None:
    """A download button whose file is made at click time and expires (:func:`_with_store`).

    ``make`` gets a connection and the account as it is at the click, which must still
    hold ``permission``; a sales manager's rows come from the live account's team.
    """
    db_path = str(settings().db_path)

    def checked(db: store.Database, who: Actor) -> Any:
        return make(db, auth.require(who, permission))

    st.download_button(label, data=lambda: _with_store(db_path, checked, actor=actor), file_name=file_name,
                       mime=mime, on_click="ignore", **button)


def expire_downloads_later() -> None:
    """Remove the files no live page shows, :data:`DOWNLOAD_SECONDS` from now.

    A file made at a click (a deferred download) belongs to no session, and Streamlit
    deletes such a file only at its second sweep after some later script run, so a
    closed browser's file would stay reachable at its URL, without a session, until
    someone else used the app.  Two sweeps after the delay delete it (the first marks it).
    """
    seconds = float(os.environ.get(ENV_DOWNLOAD_SECONDS) or DOWNLOAD_SECONDS)
    timer = threading.Timer(seconds, _sweep_downloads)
    timer.daemon = True
    timer.start()


def _sweep_downloads() -> None:
    from streamlit import runtime

    if runtime.exists():
        files = runtime.get_instance().media_file_mgr
        files.remove_orphaned_files()  # marks a download file ...
        files.remove_orphaned_files()  # ... and deletes it


def report_downloads(actor: Actor, model: dict[str, Any], week: str) -> None:
    """Download buttons for one model and week: PDF report, model card (Markdown, JSON).

    Each file is made when its button is clicked (Streamlit's deferred download), in a
    connection of its own; the reports module checks the actor's permission and team.
    """
    from ethics import model_card, reports

    db_path, name = str(settings().db_path), f"{model['id']}-{week}"

    def facts(db: store.Database, who: Actor) -> dict[str, Any]:
        return reports.model_facts(db, model_id=model["id"], actor=who, week=week)

    left, middle, right = st.columns(3)
    left.download_button(
        "Transparency report (PDF)", icon=":material/picture_as_pdf:", file_name=f"{name}.pdf",
        mime="application/pdf", on_click="ignore", key=f"pdf-{name}",
        data=lambda: _with_store(db_path, lambda db, who: reports.model_report_pdf(
            db, model_id=model["id"], actor=who, week=week), actor=actor, charts=True),
    )
    middle.download_button(
        "Model card (Markdown)", icon=":material/description:", file_name=f"{name}-model-card.md",
        mime="text/markdown", on_click="ignore", key=f"md-{name}",
        data=lambda: _with_store(db_path, lambda db, who: model_card.card_markdown(facts(db, who)), actor=actor),
    )
    right.download_button(
        "Model card (JSON)", icon=":material/data_object:", file_name=f"{name}-model-card.json",
        mime="application/json", on_click="ignore", key=f"json-{name}",
        data=lambda: _with_store(db_path, lambda db, who: model_card.card_json(facts(db, who)), actor=actor),
    )
    st.caption("Files are made when you click; the PDF takes a few seconds (its charts are drawn in Chromium).")


def table_download(actor: Actor, model: dict[str, Any], week: str, table: str) -> None:
    """A formula-safe CSV of one of the report's tables for one model and week."""
    from ethics import model_card, reports

    db_path, name = str(settings().db_path), f"{model['id']}-{week}-{table}"
    st.download_button(
        f"{table.capitalize()} (CSV)", icon=":material/table:", file_name=f"{name}.csv", mime="text/csv",
        on_click="ignore", key=f"csv-{name}",
        data=lambda: _with_store(db_path, lambda db, who: model_card.table_csv(
            reports.model_facts(db, model_id=model["id"], actor=who, week=week), table), actor=actor),
    )


def portfolio_downloads(actor: Actor) -> None:
    """The portfolio report (PDF) and the traffic-light table (CSV), scoped to the actor's team."""
    from ethics import model_card, report_rows, reports

    db_path = str(settings().db_path)
    left, right = st.columns(2)
    left.download_button(
        "Portfolio report (PDF)", icon=":material/picture_as_pdf:", file_name="portfolio-report.pdf",
        mime="application/pdf", on_click="ignore", key="pdf-portfolio",
        data=lambda: _with_store(db_path, lambda db, who: reports.portfolio_report_pdf(db, actor=who), actor=actor,
                                 charts=True),
    )
    right.download_button(
        "Traffic lights (CSV)", icon=":material/table:", file_name="portfolio-lights.csv", mime="text/csv",
        on_click="ignore", key="csv-portfolio",
        data=lambda: _with_store(db_path, lambda db, who: model_card.to_csv(report_rows.portfolio_rows(
            portfolio.overview(db, scope=who.scope))), actor=actor),
    )


def source_note(snap: dict[str, Any]) -> None:
    """Say when a snapshot was computed from imported aggregates rather than rows, and what that means."""
    source = snap["results"].get("source", {})
    scaled = [DATA_LABELS[kind].lower() for kind, where in source.items() if where == "aggregates"]
    if not scaled:
        return
    rows = snap["results"].get("rows", {})
    leads = sum(rows.get(kind, 0) for kind, where in source.items() if where == "aggregates")
    bounds = snap["results"].get("performance", {}).get("auc_bounds")
    auc = f" AUC is estimated from score histograms (between {bounds[0]:.3f} and {bounds[1]:.3f})." if bounds else ""
    st.info(f"Computed from aggregates ({' and '.join(scaled)}, {leads:,} leads) imported from where the data "
            f"lives: fairness, intervals and verdicts are exact; drift compares score histograms only.{auc} "
            "Per-lead explanations need a sample of rows.", icon=":material/database:")
