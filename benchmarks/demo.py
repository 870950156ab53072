"""Build the demo portfolio with ``python -m ethics demo`` into a temporary data home.

Prints the wall time and peak memory of the command, its summary line, the models
listed by ``python -m ethics models --json`` and the rows in each database table.

    .venv/bin/python benchmarks/demo.py [--quick]      # --quick builds --size small
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

GOAL_S = {"full": 60.0, "small": 60.0}


def ethics_command(*args: str) -> list[str]:
    return [common.PYTHON, "-m", "ethics", *args]


def run_demo(home: Path, size: str) -> common.Measured:
    measured = common.run_measured(ethics_command("demo", "--size", size), env=common.env_with_home(home))
    common.heading(f"python -m ethics demo --size {size}")
    common.report("exit code", measured.returncode)
    common.report("wall time", measured.seconds, "s")
    common.report("peak RSS of the command", measured.peak_rss_mb, "MB")
    print(f"  {summary_line(measured.stdout, home)}")
    if measured.returncode == 0:
        common.report(f"goal < {GOAL_S[size]:.0f} s", common.verdict(measured.seconds, GOAL_S[size]))
    return measured


def summary_line(stdout: str, home: Path) -> str:
    """The demo's "portfolio created" line (never the account passwords it also prints)."""
    lines = [line for line in stdout.splitlines() if line.startswith("demo portfolio created")]
    return lines[-1].replace(str(home), "$ETHICS_HOME") if lines else "(no summary line)"


def list_models(home: Path) -> None:
    measured = common.run_measured(ethics_command("models", "--json"), env=common.env_with_home(home))
    common.heading("python -m ethics models --json")
    common.report("wall time", measured.seconds, "s")
    if measured.returncode:
        return
    models = json.loads(measured.stdout)
    common.report("models", len(models))
    for model in models:
        common.report(f"  {model['id']}", f"{model['purpose']}, team {model['team']}, "
                                          f"{model['versions']} version(s)")


def count_rows(home: Path) -> None:
    """Rows per table of the demo database (read-only)."""
    db = common.open_db(home)
    common.heading("database rows")
    for table in sorted(db.table_names()):
        if not table.startswith("_"):
            common.report(table, db[table].count)
    db.close()
    files = [path for path in home.rglob("*") if path.is_file()]
    common.report("files in the data home", len(files))
    common.report("data home size", sum(path.stat().st_size for path in files) / common.MB, "MB")


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    size = "small" if args.quick else "full"
    common.print_machine()
    with common.temp_home("demo") as home:
        if run_demo(home, size).returncode:
            raise SystemExit("the demo failed; see its output above")
        list_models(home)
        count_rows(home)


if __name__ == "__main__":
    main()
