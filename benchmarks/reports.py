"""PDF transparency reports: one model report (cold and with Chromium already open), a portfolio of 50 models.

The single report is of the demo portfolio's lead-scoring model (8 weeks, 2,000 rows a
week, 6 charts).  "cold" starts kaleido's Chromium for the report, as the CLI and the
app's download do; "warm" runs inside an already open renderer (the portfolio report,
or the second report of a batch).  The portfolio is built through the real services
with benchmarks/overview.py's builder (register, import an evaluation set per week,
snapshot).

    .venv/bin/python benchmarks/reports.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import overview  # noqa: E402

SIZES = {"full": {"models": 50, "weeks": 8, "rows": 200, "runs": 3},
         "quick": {"models": 5, "weeks": 2, "rows": 200, "runs": 1}}
MODEL_GOAL_S = 3.0
PORTFOLIO_GOAL_S = 60.0


def single_model(runs: int) -> None:
    from ethics import auth, chart_images, reports
    from ethics.demo import build_demo

    officer = auth.Actor("bench", "Bench Officer", "ethics_officer")
    with common.temp_home("reports-demo") as home:
        build_demo(home, size="small")
        db = common.open_db(home)

        def one() -> int:
            return len(reports.model_report_pdf(db, model_id="lead-scoring", actor=officer, now=common.NOW))

        common.heading("one model report (demo lead-scoring, 6 charts)")
        cold = common.repeat(one, runs)
        common.report("cold: Chromium started for the report", common.spread(cold))
        with chart_images.renderer():
            one()
            warm = common.repeat(one, runs)
        common.report("warm: renderer already open", common.spread(warm))
        common.report("PDF size", one() / 1024, "KiB")
        common.report(f"goal < {MODEL_GOAL_S} s (cold median)", common.verdict(sorted(cold)[len(cold) // 2],
                                                                               MODEL_GOAL_S))
        common.report(f"goal < {MODEL_GOAL_S} s (warm median)", common.verdict(sorted(warm)[len(warm) // 2],
                                                                               MODEL_GOAL_S))
        db.close()


def portfolio(size: dict[str, int]) -> None:
    from ethics import auth, reports

    officer = auth.Actor("bench", "Bench Officer", "ethics_officer")
    with common.temp_home("reports-portfolio") as home:
        overview.build_portfolio(home, size)
        db = common.open_db(home)
        common.heading(f"portfolio report, {size['models']} models")
        with common.timer() as elapsed:
            pdf = reports.portfolio_report_pdf(db, actor=officer, now=common.NOW)
        common.report("portfolio report (one Chromium for all charts)", elapsed.seconds, "s")
        common.report("PDF size", len(pdf) / 1024, "KiB")
        common.report(f"goal < {PORTFOLIO_GOAL_S:.0f} s", common.verdict(elapsed.seconds, PORTFOLIO_GOAL_S))
        common.report("peak RSS of this process", common.peak_rss_mb(), "MB")
        db.close()


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    size = SIZES["quick" if args.quick else "full"]
    common.print_machine()
    single_model(size["runs"])
    portfolio(size)
    common.print_machine()


if __name__ == "__main__":
    main()
