"""Server time of the Overview and Model pages on a portfolio of 50 models × 26 weekly snapshots.

Builds the portfolio through the real services (register, import an evaluation set
per week, take the snapshot, open incidents), then runs the pages with Streamlit's
AppTest: cold (caches cleared, new session) and warm (a rerun of the same session).

    .venv/bin/python benchmarks/overview.py [--quick]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

SIZES = {"full": {"models": 50, "weeks": 26, "rows": 200, "runs": 5},
         "quick": {"models": 8, "weeks": 4, "rows": 200, "runs": 2}}
PURPOSES = ("lead_scoring", "churn", "upsell", "cross_sell", "discount", "next_best_offer", "win_probability")
TEAMS = ("north", "south", "west")
SEVERITIES = ("low", "medium", "high", "critical")
GOAL_S = 1.0
APP = common.REPO / "app.py"
OVERVIEW_PAGE = "pages/overview.py"
MODEL_PAGE = "pages/model.py"
USERNAME = "bench.officer"
PASSWORD = "a long benchmark passphrase"


# -- building the portfolio ----------------------------------------------------------------


def model_id(number: int) -> str:
    return f"bench-{number:03d}"


def build_model(db: Any, home: Path, number: int, *, weeks: list[str], rows: int, clock: dict[str, float]) -> None:
    """Register one model, then import an evaluation set and take a snapshot per week."""
    from ethics import datasets, snapshots

    with common.timer() as elapsed:
        folder = home.parent / "models" / model_id(number)
        manifest = common.write_linear_model(folder, model_id=model_id(number), seed=number,
                                             purpose=PURPOSES[number % len(PURPOSES)],
                                             team=TEAMS[number % len(TEAMS)])
        common.register(db, home, manifest)
    clock["register"] += elapsed.seconds
    rng = np.random.default_rng(1000 + number)
    for week in weeks:
        with common.timer() as elapsed:
            datasets.import_frame(db, common.eval_frame(rng, rows), name=f"{week}.csv", kind="eval",
                                  model_id=model_id(number), version="1.0.0", week=week, home=home,
                                  actor=common.ACTOR, now=common.NOW)
        clock["import"] += elapsed.seconds
        with common.timer() as elapsed:
            snapshots.take_snapshot(db, model_id=model_id(number), week=week, home=home, policy={},
                                    actor=common.ACTOR, now=common.NOW)
        clock["snapshot"] += elapsed.seconds


def open_incidents(db: Any, models: int) -> int:
    """One incident for every fifth model, of rising severity; some are overdue."""
    from datetime import timedelta

    from ethics import incidents

    opened = 0
    for number in range(0, models, 5):
        incidents.open_incident(
            db, model_id=model_id(number), severity=SEVERITIES[opened % len(SEVERITIES)], category="bias",
            title=f"Benchmark incident {opened}", reporter=common.ACTOR,
            now=common.NOW - timedelta(days=10 * (opened % 3)),
        )
        opened += 1
    return opened


def build_portfolio(home: Path, size: dict[str, int]) -> None:
    from ethics.weeks import weeks_before

    db = common.open_db(home)
    weeks = weeks_before(common.WEEK, size["weeks"])
    clock = {"register": 0.0, "import": 0.0, "snapshot": 0.0}
    with common.timer() as total:
        for number in range(size["models"]):
            build_model(db, home, number, weeks=weeks, rows=size["rows"], clock=clock)
        count = open_incidents(db, size["models"])
    db.close()
    common.heading("setup")
    common.report("models × weeks", f"{size['models']} × {size['weeks']} = {size['models'] * size['weeks']:,}")
    common.report("rows per evaluation set", size["rows"])
    common.report("incidents opened", count)
    for step, seconds in clock.items():
        common.report(f"  of which {step}", seconds, "s")
    common.report("setup wall time", total.seconds, "s")


# -- measuring pages -----------------------------------------------------------------------


def clear_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def add_officer(home: Path) -> None:
    """The account the pages are opened with (when the app has sign-in)."""
    try:
        from ethics import auth
    except ImportError:
        return
    db = common.open_db(home)
    auth.add_user(db, username=USERNAME, display_name="Bench Officer", role="ethics_officer",
                  password=PASSWORD, actor="benchmark")
    db.close()


def sign_in(app: Any) -> Any:
    """Run ``app.py`` once and sign in through the form if the app shows one."""
    app.run()
    if len(app.text_input) >= 2 and app.text_input[0].label == "Username":
        app.text_input[0].input(USERNAME)
        app.text_input[1].input(PASSWORD)
        app.button[0].click()
        app.run()
    return app


def check(app: Any) -> Any:
    """Stop on an exception or an error box: a broken page's time means nothing."""
    problems = [e.message for e in app.exception] + [e.value for e in app.error]
    if problems:
        raise SystemExit(f"the page failed: {problems}")
    return app


def new_session(page: str, query: dict[str, str]) -> Any:
    """A signed-in session of ``app.py`` switched to ``page`` (not yet run there)."""
    from streamlit.testing.v1 import AppTest

    app = check(sign_in(AppTest.from_file(str(APP), default_timeout=30)))
    for key, value in query.items():
        app.query_params[key] = value
    return app.switch_page(page)


def timed_run(app: Any) -> float:
    with common.timer() as elapsed:
        app.run()
    check(app)
    return elapsed.seconds


def cold_runs(page: str, query: dict[str, str], runs: int) -> tuple[list[float], Any]:
    """Each run: a new signed-in session, then every cache cleared before the page runs."""
    timings, app = [], None
    for _ in range(runs):
        app = new_session(page, query)
        clear_caches()
        timings.append(timed_run(app))
    return timings, app


def warm_runs(page: str, query: dict[str, str], runs: int) -> list[float]:
    """Reruns of one session whose caches are filled."""
    app = new_session(page, query)
    timed_run(app)
    return [timed_run(app) for _ in range(runs)]


def time_sign_in(runs: int) -> list[float]:
    """A new session: the sign-in form, then the signed-in Overview."""
    from streamlit.testing.v1 import AppTest

    return common.repeat(lambda: check(sign_in(AppTest.from_file(str(APP), default_timeout=30))), runs)


def print_sign_in(timings: list[float]) -> None:
    common.heading("new session: sign-in form, argon2 check, then the Overview")
    common.report("first (imports Streamlit, ethics.ui, pages)", timings[0], "s")
    common.report(f"next × {len(timings) - 1}", common.spread(timings[1:]))


def measure_page(title: str, page: str, query: dict[str, str], runs: int) -> tuple[list[float], Any]:
    cold, app = cold_runs(page, query, runs)
    warm = warm_runs(page, query, runs)
    common.heading(f"{title} page server time (AppTest of app.py, switch_page({page!r}), .run())")
    common.report(f"cold × {runs} (new session, caches cleared)", common.spread(cold))
    common.report(f"warm × {runs} (rerun, caches filled)", common.spread(warm))
    common.report(f"goal < {GOAL_S:.0f} s (cold median)", common.verdict(float(np.median(cold)), GOAL_S))
    return cold, app


def check_overview(app: Any, models: int) -> None:
    frame = app.dataframe[0].value
    common.report("exceptions", len(app.exception))
    common.report("table rows (expected)", f"{len(frame)} ({models})")
    print(frame.head(3).to_string(index=False, max_colwidth=24))
    common.report("page links (sidebar + one per model)", len(app.get("page_link")))


def check_model(app: Any) -> None:
    common.report("exceptions", len(app.exception))
    common.report("errors shown", len(app.error))
    common.report("plotly charts", len(app.get("plotly_chart")))
    common.report("snapshots in the select box", len(app.selectbox[1].options))


# -- the services behind the pages, without Streamlit ---------------------------------------


def service_timings(home: Path, runs: int) -> dict[str, list[float]]:
    """What the pages call, each timed ``runs`` times on one connection."""
    from ethics import charts, incidents, portfolio, registry, snapshots

    db = common.open_db(home)
    first = model_id(0)
    latest = snapshots.list_snapshots(db, first)[0]["id"]
    # The Fairness page's chart: one metric of the evaluation set's first grouping (sex), with whiskers.
    groups = pd.DataFrame(snapshots.get_snapshot(db, latest)["results"]["fairness"]["eval"][0]["groups"])
    calls: dict[str, Callable[[], Any]] = {
        "portfolio.overview(db)": lambda: portfolio.overview(db),
        "registry.list_models(db)": lambda: registry.list_models(db),
        "snapshots.list_snapshots(db, model)": lambda: snapshots.list_snapshots(db, first),
        "snapshots.get_snapshot(db, id)": lambda: snapshots.get_snapshot(db, latest),
        "snapshots.performance_trend(db, model)": lambda: snapshots.performance_trend(db, first),
        "incidents.list_incidents(db, model)": lambda: incidents.list_incidents(db, model_id=first),
        "charts.performance_trend(trend)": lambda: charts.performance_trend(
            pd.DataFrame(snapshots.performance_trend(db, first))),
        "charts.group_metric(groups, selection_rate)": lambda: charts.group_metric(
            groups, metric="selection_rate", label="Selection rate"),
    }
    timings = {name: common.repeat(call, runs) for name, call in calls.items()}
    db.close()
    return timings


def print_services(timings: dict[str, list[float]]) -> None:
    common.heading("services behind the pages (no Streamlit)")
    for name, seconds in timings.items():
        common.report(name, common.spread(seconds))


def configure_streamlit() -> None:
    """Show page exceptions with their message (the repository's config redacts them), and
    silence the "no runtime" warnings that clearing caches outside a server prints."""
    import streamlit as st
    from streamlit import logger

    st.set_option("client.showErrorDetails", "full")
    logger.set_log_level("ERROR")


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    size = SIZES["quick" if args.quick else "full"]
    common.print_machine()
    with common.temp_home("overview") as home:
        build_portfolio(home, size)
        os.environ["ETHICS_HOME"] = str(home)
        configure_streamlit()
        add_officer(home)
        print_services(service_timings(home, max(size["runs"], 10)))
        print_sign_in(time_sign_in(size["runs"] + 1))
        _, app = measure_page("Overview", OVERVIEW_PAGE, {}, size["runs"])
        check_overview(app, size["models"])
        _, app = measure_page("Model", MODEL_PAGE, {"model": model_id(0)}, size["runs"])
        check_model(app)
        clear_caches()


if __name__ == "__main__":
    main()
