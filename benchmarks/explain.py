"""SHAP for 100,000 scored leads of the demo lead model, and the latency of one lead's reasons.

The demo's LightGBM lead model (200 trees, 15 leaves, trained exactly as ``ethics demo``
trains it) is registered in a temporary data home and 100,000 leads are imported as a
scoring batch.  Then:

* ``explain.explain_rows`` on all of them (LightGBM ``pred_contrib``, 2 threads), and with
  1 thread; ``shap.TreeExplainer`` on a sample, for the per-row cost of shap itself;
* ``take_snapshot`` of the week (fairness, proxy check, SHAP for every lead, Parquet);
* 1,000 lookups of a random lead's reasons through ``leads.find_leads``: "cold" reads and
  hash-checks the per-lead Parquet every time, "warm" uses the frame read once (as the
  app's cache does); against computing shap from scratch for one lead.

    .venv/bin/python benchmarks/explain.py [--quick]
"""

from __future__ import annotations

import statistics
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

SIZES = {"full": (100_000, 1_000), "quick": (10_000, 200)}
GOAL_SECONDS = 60.0
GOAL_P95_MS = 50.0


def build(home: Path, rows: int) -> tuple[Any, str]:
    """Register the demo's lead model and import ``rows`` scored leads; returns the db and the week."""
    from ethics import datasets, demo, registry
    from ethics.manifest import manifest_toml

    spec = demo._spec("lead-scoring")
    pool = demo._customer_pool(demo._rng(0), **demo._POOL["full"])
    rng = demo._rng(1, 0)
    people = demo._draw_people(rng, pool, segment="prospect", rows=30_000, drift=0.0, kind="eval")
    draw = spec.simulate(rng, people, 0.0)
    names = list(draw.features)
    x = np.column_stack([draw.features[name] for name in names]).astype(np.float64)
    y = (rng.random(len(x)) < demo._sigmoid(draw.logit)).astype(int)
    folder = home.parent / "model"
    folder.mkdir()
    (folder / "model.txt").write_bytes(demo._train_lightgbm(x, y, names, demo.DEMO_SEED + 1))
    (folder / "manifest.toml").write_text(manifest_toml(spec.manifest), encoding="utf-8")
    db = common.open_db(home)
    registry.register_model(db, folder / "manifest.toml", home=home, actor=common.ACTOR, now=common.NOW)
    rng = demo._rng(1, 8, 2)
    people = demo._draw_people(rng, pool, segment="prospect", rows=rows, drift=1.0, kind="scores")
    frame = demo._frame(spec, spec.simulate(rng, people, 1.0), people, week=common.WEEK, kind="scores", rng=rng)
    with common.timer() as elapsed:
        datasets.import_frame(db, frame, name="scores.parquet", kind="scores", model_id="lead-scoring",
                              version=spec.manifest["version"], week=common.WEEK, home=home, actor=common.ACTOR,
                              now=common.NOW)
    common.report(f"import {rows:,} leads (LightGBM scoring)", elapsed.seconds, "s")
    return db, spec.manifest["version"]


def time_shap(db: Any, home: Path, rows: int) -> None:
    from ethics import datasets, explain, registry

    version = registry.get_version(db, "lead-scoring")
    frame = datasets.read_rows(datasets.list_datasets(db, "lead-scoring")[0], home=home)
    common.heading(f"SHAP values of {rows:,} leads")
    for threads in (2, 1):
        cpu = _cpu_with_children()
        with registry.scorer_for(version, home=home) as scorer:  # the work runs in the artifact's worker
            with common.timer() as elapsed:
                scorer.features  # noqa: B018 - start the worker and load the model
            common.report("  worker start + load", elapsed.seconds, "s")
            with common.timer() as elapsed:
                found = explain.explain_rows(scorer, frame, threads=threads)
        common.report(f"explain_rows, pred_contrib, {threads} thread(s)", elapsed.seconds, "s")
        common.report(f"  CPU time, this process and the worker ({threads} thread(s))", _cpu_with_children() - cpu,
                      "s")
    booster = _booster(home, version)
    common.report("additivity max error (log-odds)", found.additivity_max_error)
    common.report(f"goal < {GOAL_SECONDS:.0f} s on 2 cores", common.verdict(elapsed.seconds, GOAL_SECONDS))
    import shap

    sample = frame.head(2_000)[scorer.features].to_numpy(dtype=np.float64)
    with common.timer() as elapsed, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = np.asarray(shap.TreeExplainer(booster).shap_values(sample))
    common.report("shap.TreeExplainer, 2,000 leads", elapsed.seconds, "s")
    common.report(f"  so {rows:,} leads would take about", elapsed.seconds * rows / len(sample), "s")
    difference = np.abs(values - found.values.head(len(sample)).to_numpy()).max()
    common.report("  max |shap - pred_contrib|", float(difference))


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its finished children (the artifact workers)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _booster(home: Path, version: dict[str, Any]) -> Any:
    """The LightGBM booster in this process, for the shap baseline only (the app never loads one here)."""
    import lightgbm

    return lightgbm.Booster(model_file=str(home / version["artifact_file"]))


def time_snapshot(db: Any, home: Path) -> Any:
    from ethics import snapshots
    from ethics.config import load_settings

    policy = load_settings({"ETHICS_HOME": "/nonexistent-benchmark-home"}).policy
    common.heading("take_snapshot (fairness, drift, proxy check, SHAP of every lead, Parquet)")
    with common.timer() as elapsed:
        snap = snapshots.take_snapshot(db, model_id="lead-scoring", week=common.WEEK, home=home, policy=policy,
                                       actor=common.ACTOR, now=common.NOW)
    common.report("take_snapshot", elapsed.seconds, "s")
    ref = snap["results"]["explanations"]["leads"]
    common.report("per-lead Parquet", (home / ref["file"]).stat().st_size / common.MB, "MB")
    return snap


def _percentiles(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return f"p50 {statistics.median(ms):.1f} / p95 {p95:.1f} / max {ms[-1]:.1f} ms", p95


def time_lookups(db: Any, home: Path, snap: Any, count: int) -> None:
    from ethics import explain, leads, registry

    ref = snap["results"]["explanations"]["leads"]
    frame = explain.read_leads(ref, home=home)
    north = frame[frame["team"] == "north"]["lead_id"].to_numpy()
    chosen = np.random.default_rng(0).choice(north, size=count)
    common.heading(f"{count:,} lookups of one lead's reasons (team north, leads.find_leads)")
    for label, loader in (("warm (per-lead frame read once, as the app caches it)", lambda _: frame),
                          ("cold (read + SHA-256 check of the Parquet every time)", None)):
        timings = []
        for lead_id in chosen[: count if loader else max(count // 10, 20)]:
            with common.timer() as elapsed:
                leads.find_leads(db, home=home, model_id="lead-scoring", query=str(lead_id), team="north",
                                 snapshot_id=snap["id"], loader=loader)
            timings.append(elapsed.seconds)
        text, p95 = _percentiles(timings)
        common.report(f"{label}, {len(timings)} lookups", text)
        if loader:
            common.report(f"  goal p95 < {GOAL_P95_MS:.0f} ms", common.verdict(p95 / 1000, GOAL_P95_MS / 1000))
    import shap

    version = registry.get_version(db, "lead-scoring")
    booster, features = _booster(home, version), [f["name"] for f in version["manifest"]["features"]]
    timings = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lead_id in chosen[:50]:
            with common.timer() as elapsed:
                row = frame[frame["lead_id"] == lead_id][features].to_numpy(dtype=np.float64)
                shap.TreeExplainer(booster).shap_values(row)
            timings.append(elapsed.seconds)
    common.report("shap from scratch for one lead (TreeExplainer + values), 50 leads", _percentiles(timings)[0])


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    rows, lookups = SIZES["quick" if args.quick else "full"]
    common.print_machine()
    with common.temp_home("explain") as home:
        db, _ = build(home, rows)
        time_shap(db, home, rows)
        snap = time_snapshot(db, home)
        time_lookups(db, home, snap, lookups)
        db.close()
    common.print_machine()


if __name__ == "__main__":
    main()
