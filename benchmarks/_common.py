"""Helpers shared by the benchmark scripts: timing, temp data homes, manifests, subprocesses.

Every benchmark builds its own data home in a temporary folder (never ``data/``) and
removes it at the end.  Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ethics.manifest import manifest_toml

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
WEEK = "2026-W48"
ACTOR = "benchmark"
MB = 1024 * 1024
LINEAR_FEATURES = ("minutes_watched", "questions_asked", "company_employees", "region_code")

IMPACT = {
    "purpose": "Benchmark model: ranks leads for a call.",
    "data_categories": ["engagement", "firmographics"],
    "legal_basis": "Legitimate interest (benchmark)",
    "affected": "Synthetic business contacts",
    "human_oversight": "Account executives may call any lead.",
}


# -- command line and printing ----------------------------------------------------------


#: The groups of the engine benchmarks (fairness, multiclass, ranking, continuous): sex (5 values, three
#: of them small) x age band (4) = 20 intersectional groups.
ATTRIBUTES = ["sex", "age_band"]
SEXES = ["female", "male", "non-binary", "undisclosed", "other"]
SEX_SHARES = [0.45, 0.45, 0.04, 0.04, 0.02]
AGE_BANDS = ["18-34", "35-44", "45-54", "55+"]


def make_parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes: ``--quick`` for a small smoke run."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    return parser


def heading(title: str) -> None:
    print(f"\n== {title}", flush=True)


def report(label: str, value: Any, unit: str = "") -> None:
    """One figure, aligned: ``label ........ value unit``."""
    if isinstance(value, bool):
        value = "yes" if value else "no"
    elif isinstance(value, float):
        value = f"{value:,.3f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    print(f"  {label:<52} {value} {unit}".rstrip(), flush=True)


def spread(seconds: Sequence[float]) -> str:
    """``min / median / max`` of repeated timings, in milliseconds."""
    values = [s * 1000 for s in seconds]
    return f"min {min(values):.0f} / median {statistics.median(values):.0f} / max {max(values):.0f} ms"


def spread_ms(seconds: Sequence[float]) -> str:
    """``min / median / max`` of repeated timings, in milliseconds with one decimal (for timings under 10 ms)."""
    values = [s * 1000 for s in seconds]
    return f"min {min(values):.1f} / median {statistics.median(values):.1f} / max {max(values):.1f} ms"


def ms(seconds: float) -> str:
    """One timing in milliseconds with one decimal."""
    return f"{seconds * 1000:,.1f} ms"


def goal_line(label: str, passed: bool, detail: str) -> None:
    """A goal's PASS or FAIL with the figure behind it."""
    report(label, f"{'PASS' if passed else 'FAIL'}  ({detail})")


def verdict(value: float, goal: float) -> str:
    return "PASS" if value < goal else "FAIL"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {
        "cpus": str(os.cpu_count()),
        "memory": f"{memory:.1f} GiB",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load average (1, 5, 15 min)": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }


def print_machine() -> None:
    heading("machine")
    for key, value in machine().items():
        report(key, value)


# -- timing and memory ------------------------------------------------------------------


@dataclass
class Timer:
    """Elapsed wall time of a ``with timer()`` block, in seconds."""

    seconds: float = 0.0


@contextmanager
def timer() -> Iterator[Timer]:
    result = Timer()
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - start


def repeat(function: Any, times: int) -> list[float]:
    """Wall time of ``function()`` called ``times`` times."""
    timings = []
    for _ in range(times):
        with timer() as elapsed:
            function()
        timings.append(elapsed.seconds)
    return timings


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """Resident memory of this process now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Measured:
    """A finished subprocess: exit code, wall time, peak RSS and its output."""

    returncode: int
    seconds: float
    peak_rss_mb: float
    stdout: str = ""
    stderr: str = ""
    argv: list[str] = field(default_factory=list)

    def json_tail(self) -> Any:
        """The last stdout line parsed as JSON (how child processes report back)."""
        return json.loads(self.stdout.strip().splitlines()[-1])


# Linux carries a process's peak RSS across fork and execve: a child started from a big
# process reports the parent's peak as its own ru_maxrss.  So the command is started by
# this small wrapper, and the wrapper reports RUSAGE_CHILDREN, the peak of the command alone.
_RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(str(peak))\n"
    "sys.exit(code)\n"
)


def run_measured(argv: Sequence[str], *, env: dict[str, str] | None = None) -> Measured:
    """Run a command; its exit code, wall time, peak RSS and output.

    The peak RSS is the command's own (see ``_RSS_WRAPPER``), not inherited from this
    process.  Output goes to temporary files, and is printed when the command fails.
    """
    with tempfile.TemporaryDirectory(prefix="ethics-bench-run-") as folder:
        files = {name: Path(folder) / name for name in ("peak", "stdout", "stderr")}
        with open(files["stdout"], "w") as out, open(files["stderr"], "w") as err, timer() as elapsed:
            wrapped = [PYTHON, "-S", "-c", _RSS_WRAPPER, str(files["peak"]), *argv]
            returncode = subprocess.call(wrapped, stdout=out, stderr=err, env=env, cwd=REPO)
        peak = int(files["peak"].read_text() or 0) / 1024 if files["peak"].exists() else float("nan")
        measured = Measured(returncode, elapsed.seconds, peak, files["stdout"].read_text(),
                            files["stderr"].read_text(), list(argv))
    if measured.returncode:
        print(measured.stdout, end="")
        print(measured.stderr, end="", file=sys.stderr)
    return measured


def env_with_home(home: Path) -> dict[str, str]:
    """This process's environment with ``ETHICS_HOME`` pointing at ``home``."""
    return {**os.environ, "ETHICS_HOME": str(home)}


# -- data homes and manifests -----------------------------------------------------------


@contextmanager
def temp_home(prefix: str) -> Iterator[Path]:
    """A fresh, empty data home in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"ethics-bench-{prefix}-") as folder:
        home = Path(folder) / "home"
        home.mkdir()
        yield home


def open_db(home: Path) -> Any:
    """The data home's database, migrated."""
    from ethics import store

    db = store.open_db(home / "ethics.db")
    store.migrate(db)
    return db


def _named(names: Sequence[str]) -> list[dict[str, str]]:
    return [{"name": name, "label": name.replace("_", " ").capitalize()} for name in names]


def write_manifest(
    folder: Path,
    *,
    model_id: str,
    kind: str,
    artifact_file: str,
    features: Sequence[str],
    sensitive: Sequence[str] = ("sex", "age_band"),
    purpose: str = "lead_scoring",
    team: str = "north",
    threshold: float = 0.5,
) -> Path:
    """Write ``folder/manifest.toml`` for a benchmark model and return its path."""
    document = {
        "id": model_id,
        "name": f"Benchmark {model_id}",
        "version": "1.0.0",
        "purpose": purpose,
        "owner": "Bench Mark <bench@example.com>",
        "team": team,
        "risk_tier": "medium",
        "threshold": threshold,
        "consent_purpose": "ai_scoring",
        "proxy_candidates": [features[0]],
        "artifact": {"kind": kind, "file": artifact_file},
        "features": _named(features),
        "sensitive_attributes": _named(sensitive),
        "impact_assessment": IMPACT,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.toml"
    path.write_text(manifest_toml(document), encoding="utf-8")
    return path


def register(db: Any, home: Path, manifest: Path) -> dict[str, Any]:
    """Register a benchmark model version from its manifest."""
    from ethics import registry

    return registry.register_model(db, manifest, home=home, actor=ACTOR, now=NOW)


def people_columns(rng: Any, rows: int, *, prefix: str = "L") -> dict[str, Any]:
    """Id columns and sensitive attributes for ``rows`` synthetic leads."""
    import numpy as np

    return {
        "lead_id": np.char.add(prefix, np.arange(rows).astype(str)),
        "customer_id": np.char.add("C", rng.integers(0, max(rows // 2, 1), rows).astype(str)),
        "team": rng.choice(["north", "south", "west"], rows),
        "sex": rng.choice(["female", "male", "non-binary"], rows, p=[0.48, 0.48, 0.04]),
        "age_band": rng.choice(["18-24", "25-34", "35-44", "45-54", "55+"], rows),
    }


def write_linear_model(
    folder: Path, *, model_id: str, seed: int, purpose: str = "lead_scoring", team: str = "north"
) -> Path:
    """A linear JSON artifact over :data:`LINEAR_FEATURES` and its manifest; returns the manifest."""
    import numpy as np

    rng = np.random.default_rng(seed)
    spec = {
        "format": "ethics-linear-v1", "link": "logistic", "intercept": float(rng.normal(-0.3, 0.2)),
        "coefficients": {name: float(rng.normal(0.5, 0.3)) for name in LINEAR_FEATURES},
        "scaling": {name: {"mean": 10.0, "scale": 5.0} for name in LINEAR_FEATURES},
    }
    folder.mkdir(parents=True)
    (folder / "model.json").write_text(json.dumps(spec), encoding="utf-8")
    return write_manifest(folder, model_id=model_id, kind="linear", artifact_file="model.json",
                          features=LINEAR_FEATURES, purpose=purpose, team=team)


def eval_frame(rng: Any, rows: int) -> Any:
    """A labelled evaluation set for a :func:`write_linear_model` model."""
    import pandas as pd

    people = people_columns(rng, rows, prefix=f"W{rng.integers(1 << 30)}-")
    features = {name: rng.gamma(2.0, 5.0, rows).round(1) for name in LINEAR_FEATURES}
    return pd.DataFrame({**people, **features, "label": rng.integers(0, 2, rows)})


def scored_rows(rows: int, *, seed: int) -> Any:
    """Scored, labelled rows with sex and age band: the binary fairness benchmarks' data (same seed, same rows)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    score = rng.random(rows)
    return pd.DataFrame({
        "sex": rng.choice(SEXES, rows, p=SEX_SHARES),
        "age_band": rng.choice(AGE_BANDS, rows),
        "score": score,
        "label": (rng.random(rows) < 0.2 + 0.6 * score).astype(np.int64),
    })
