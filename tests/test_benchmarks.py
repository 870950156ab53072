"""Benchmarks are code too: each one runs in its smallest mode (``--quick``) and must not raise.

Their figures are printed, never asserted (a slow machine is not a failure); a crash is.
"""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

from run_all import BENCHMARKS  # noqa: E402

pytestmark = pytest.mark.slow


def test_every_benchmark_script_is_run_by_run_all():
    scripts = {path.name for path in (REPO / "benchmarks").glob("*.py") if not path.name.startswith("_")}
    assert scripts - {"run_all.py"} == set(BENCHMARKS)


@pytest.mark.parametrize("script", BENCHMARKS)
def test_benchmark_runs_in_its_smallest_mode(script, tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), "--quick"], cwd=REPO,
                            capture_output=True, text=True, timeout=900,
                            env={**os.environ, "ETHICS_HOME": str(tmp_path / "home")})
    assert result.returncode == 0, f"{script} crashed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "==" in result.stdout  # it printed its figures
