"""Run every benchmark in sequence, each in its own process; ``--quick`` is passed through.

    .venv/bin/python benchmarks/run_all.py [--quick]

Exits non-zero when a benchmark crashed (slow figures are printed, never a failure).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

BENCHMARKS = ("import_csv.py", "overview.py", "demo.py", "snapshot.py", "fairness.py", "aequitas_audit.py",
              "continuous.py", "multiclass.py", "ranking.py", "audit.py", "explain.py", "consent.py", "reports.py",
              "scale.py", "scale_continuous.py", "pipeline_shap.py", "onnx_explain.py",
              "register_equivalence.py", "cli_start.py")


def run(script: str, quick: bool) -> tuple[int, float]:
    argv = [common.PYTHON, str(Path(__file__).with_name(script)), *(["--quick"] if quick else [])]
    print(f"\n######## {' '.join(argv[1:])}", flush=True)
    with common.timer() as elapsed:
        returncode = subprocess.call(argv, cwd=common.REPO)
    return returncode, elapsed.seconds


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    results = {script: run(script, args.quick) for script in BENCHMARKS}
    common.heading("run_all")
    for script, (returncode, seconds) in results.items():
        common.report(script, f"exit {returncode}, {seconds:.1f} s")
    sys.exit(max(code for code, _ in results.values()))


if __name__ == "__main__":
    main()
