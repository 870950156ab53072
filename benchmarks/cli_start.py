"""Start-up of the CLI commands that neither score nor draw: wall time and the heavy libraries each imports.

Each command runs as ``python -m ethics ...`` in a fresh process against a data home; the
median wall time of N runs is printed against the goal (0.5 s, issue 19).  A second run
of each command through a small ``runpy`` wrapper writes ``sys.modules`` at exit, and
the heavy libraries among them (pandas, numpy, pyarrow, ...) are printed next to it.

Bytecode is cached in a temporary folder (``PYTHONPYCACHEPREFIX``, warmed by one run that is not
timed), as for an installed package: a checkout run with ``PYTHONDONTWRITEBYTECODE=1``
would compile every ``ethics`` module at each start.

Homes: the example model of ``data/examples`` registered, imported and snapshotted
through the CLI (tiny), and ``python -m ethics demo --size small --reproducible``.

    .venv/bin/python benchmarks/cli_start.py [--quick] [--runs N]   # --quick: 1 run each, the example home only
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

GOAL_S = 0.5
RUNS = {"full": 5, "quick": 1}

#: Libraries a command that does not score or draw has no use for (the top-level package names).
HEAVY = frozenset({"pandas", "numpy", "pyarrow", "plotly", "shap", "sklearn", "scipy", "streamlit", "fpdf",
                   "duckdb", "lightgbm", "xgboost", "kaleido"})

EXAMPLE_MODEL = "webinar-follow-up"
EXAMPLE_VERSION = "1.0.0"
EXAMPLE_WEEK = "2026-W48"

#: The commands measured: they read the database and snapshots, or print text; none scores, reads
#: scored rows or draws (``consent routing`` is not one: it reads the scoring batches' Parquet files
#: for the leads of customers who objected).  ``{model}`` is a model of the home with a snapshot,
#: ``{version}`` its version.
CHEAP_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("models",),
    ("models", "--json"),
    ("users", "list"),
    ("incident", "list"),
    ("review", "due"),
    ("audit", "verify"),
    ("migrate", "--list"),
    ("consent", "coverage", "--model", "{model}"),
    ("teams", "list"),
    ("policy", "check"),
    ("fairness", "--model", "{model}"),
    ("explain", "--model", "{model}", "--global"),
    ("audit", "export"),
    ("doctor",),
    ("sql", "--model", "{model}", "--version", "{version}", "--data", "scores"),
)

# Runs ``python -m ethics`` as ``-m`` would, and writes the names in sys.modules to argv[1] at exit
# (click ends every command with SystemExit, so atexit is the one place that sees the end).
_MODULES_PROBE = (
    "import atexit, json, runpy, sys\n"
    "out = sys.argv[1]\n"
    "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(sys.modules))))\n"
    "sys.argv = ['ethics', *sys.argv[2:]]\n"
    "runpy.run_module('ethics', run_name='__main__', alter_sys=True)\n"
)


def ethics_argv(args: Sequence[str]) -> list[str]:
    return [common.PYTHON, "-m", "ethics", *args]


def command_args(command: Sequence[str], *, model: tuple[str, str]) -> list[str]:
    """``command`` with ``{model}`` and ``{version}`` filled in from ``model`` (id, version)."""
    return [arg.format(model=model[0], version=model[1]) for arg in command]


def heavy_modules(args: Sequence[str], *, home: Path) -> tuple[int, list[str]]:
    """Exit code of ``python -m ethics ARGS`` and the heavy modules it had imported when it exited.

    Returns
    -------
    (int, list of str)
        The exit code and the sorted names in ``sys.modules`` whose top-level package is in
        :data:`HEAVY`.
    """
    with tempfile.TemporaryDirectory(prefix="ethics-cli-start-") as folder:
        out = Path(folder) / "modules.json"
        result = subprocess.run([common.PYTHON, "-c", _MODULES_PROBE, str(out), *args], cwd=common.REPO,
                                env=common.env_with_home(home), capture_output=True, text=True)
        modules = json.loads(out.read_text()) if out.exists() else []
    return result.returncode, sorted(m for m in modules if m.split(".")[0] in HEAVY)


def cached_bytecode_env(env: dict[str, str], *, cache: Path) -> dict[str, str]:
    """``env`` with bytecode written to and read from ``cache``."""
    return {**{k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPYCACHEPREFIX": str(cache)}


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_runs(argv: Sequence[str], *, home: Path | None, runs: int, cache: Path) -> tuple[float, float, int]:
    """Median wall and CPU seconds of ``runs`` fresh runs of ``argv`` after one untimed run; the last exit code.

    CPU time (user + system of the child) is printed too: the cores are shared, and a busy
    machine stretches wall time far more than CPU time.
    """
    env = cached_bytecode_env(common.env_with_home(home) if home else dict(os.environ), cache=cache)
    subprocess.call(argv, cwd=common.REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    walls, cpus, returncode = [], [], 0
    for _ in range(runs):
        cpu = _children_cpu_s()
        with common.timer() as elapsed:
            returncode = subprocess.call(argv, cwd=common.REPO, env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        walls.append(elapsed.seconds)
        cpus.append(_children_cpu_s() - cpu)
    return statistics.median(walls), statistics.median(cpus), returncode


def build_example_home(home: Path) -> tuple[str, str]:
    """The example model registered, its evaluation set and scoring batch imported, one snapshot: id, version."""
    examples = common.REPO / "data" / "examples"
    where = ("--model", EXAMPLE_MODEL, "--version", EXAMPLE_VERSION, "--week", EXAMPLE_WEEK)
    for args in (("register", str(examples / "manifest.toml")),
                 ("import", "eval", str(examples / "eval.csv"), *where),
                 ("import", "scores", str(examples / "scores.csv"), *where),
                 ("snapshot", "--model", EXAMPLE_MODEL, "--week", EXAMPLE_WEEK)):
        subprocess.run(ethics_argv(args), cwd=common.REPO, env=common.env_with_home(home), check=True,
                       capture_output=True)
    return EXAMPLE_MODEL, EXAMPLE_VERSION


def build_demo_home(home: Path) -> tuple[str, str]:
    """``demo --size small --reproducible``: the first model listed with a snapshot (id, latest version)."""
    env = common.env_with_home(home)
    subprocess.run(ethics_argv(("demo", "--size", "small", "--reproducible")), cwd=common.REPO, env=env,
                   check=True, capture_output=True)
    listed = subprocess.run(ethics_argv(("models", "--json")), cwd=common.REPO, env=env, check=True,
                            capture_output=True, text=True)
    return next((row["id"], row["latest_version"]) for row in json.loads(listed.stdout) if row["latest_week"])


def floors(runs: int, *, cache: Path) -> None:
    """What any command pays before ethics runs: the interpreter, click, sqlite-utils, ethics.store."""
    common.heading(f"floors (python -c, median of {runs})")
    for label, code in (("python -c pass", "pass"), ("import click", "import click"),
                        ("import sqlite_utils (imports pandas and numpy)", "import sqlite_utils"),
                        ("import ethics.store", "import ethics.store"), ("import ethics.cli", "import ethics.cli")):
        wall, cpu, _ = timed_runs([common.PYTHON, "-c", code], home=None, runs=runs, cache=cache)
        common.report(label, f"{common.ms(wall)}  (CPU {common.ms(cpu)})")


def measure(home: Path, model: tuple[str, str], *, runs: int, cache: Path) -> list[str]:
    """Print each command's median wall time, verdict and heavy imports; the commands that crashed."""
    crashed = []
    for command in CHEAP_COMMANDS:
        args = command_args(command, model=model)
        wall, cpu, returncode = timed_runs(ethics_argv(args), home=home, runs=runs, cache=cache)
        _, heavy = heavy_modules(args, home=home)
        roots = sorted({m.split(".")[0] for m in heavy})
        common.report(" ".join(args), f"{common.ms(wall)}  {common.verdict(wall, GOAL_S)}  (CPU {common.ms(cpu)})  "
                                      f"exit {returncode}  heavy: {', '.join(roots) or 'none'} ({len(heavy)} modules)")
        if returncode not in (0, 1):  # 1 is a failed check (an overdue review, a failing light)
            crashed.append(" ".join(args))
    return crashed


def main() -> None:
    parser = common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="timed runs of each command (default: 5, --quick: 1)")
    args = parser.parse_args()
    runs = args.runs or RUNS["quick" if args.quick else "full"]
    common.print_machine()
    cache = Path(tempfile.mkdtemp(prefix="ethics-cli-start-pycache-"))
    floors(runs, cache=cache)
    homes = (("example model (300 + 200 rows, 1 snapshot)", build_example_home),)
    if not args.quick:
        homes += (("demo --size small --reproducible", build_demo_home),)
    crashed = []
    for label, build in homes:
        with common.temp_home("cli-start") as home:
            model = build(home)
            common.heading(f"{label}: median of {runs} run(s), goal < {GOAL_S} s")
            crashed += measure(home, model, runs=runs, cache=cache)
    shutil.rmtree(cache)
    if crashed:
        sys.exit(f"crashed: {', '.join(crashed)}")


if __name__ == "__main__":
    main()
