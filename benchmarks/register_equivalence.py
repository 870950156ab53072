"""Registration of a 200-tree GradientBoosting pipeline (skops) with its equivalence check on 500 reference rows.

The pipeline of ``pipeline_shap.py`` (10 numbers through a StandardScaler, 3 text columns
through a OneHotEncoder, GradientBoostingClassifier with 200 trees of depth 3) is fitted and
saved with ``skops.io.dumps``; its own ``predict_proba`` of 500 fresh leads are the reference
scores.  The clock covers ``registry.register_model`` into a fresh data home, as ``python -m
ethics register manifest.toml --reference reference.csv`` runs it: manifest and reference rows
read and checked, the artifact worker started, the file's types checked against ethics' list,
the pipeline loaded, features and classifier rules checked, the 500 rows scored and compared,
the version and its audit entry written.  Goal: < 5 s.  ``--quick`` uses 100 reference rows.

    .venv/bin/python benchmarks/register_equivalence.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's ethics, not the venv's

import _common as common  # noqa: E402
import pipeline_shap  # noqa: E402

SIZES = {"full": 500, "quick": 100}
GOAL_SECONDS = 5.0


def write_manifest(folder: Path) -> Path:
    from ethics.manifest import manifest_toml

    features = ([{"name": n, "label": n.replace("_", " ").capitalize()} for n in pipeline_shap.NUMBERS]
                + [{"name": n, "label": n.capitalize(), "type": "category"} for n in pipeline_shap.TEXT])
    document = {
        "id": "gb-pipeline", "name": "Benchmark GradientBoosting pipeline", "version": "1.0.0",
        "purpose": "lead_scoring", "owner": "Bench Mark <bench@example.com>", "team": "north",
        "risk_tier": "medium", "threshold": 0.5, "consent_purpose": "ai_scoring", "proxy_candidates": [],
        "artifact": {"kind": "skops", "file": "pipeline.skops"}, "features": features,
        "sensitive_attributes": [{"name": "sex", "label": "Sex"}], "impact_assessment": common.IMPACT,
    }
    path = folder / "manifest.toml"
    path.write_text(manifest_toml(document), encoding="utf-8")
    return path


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    rows = SIZES["quick" if args.quick else "full"]
    import skops.io

    from ethics import registry

    common.heading(f"register + equivalence of a GradientBoosting pipeline (200 trees, skops) on {rows} rows")
    pipe = pipeline_shap.fitted_pipeline()
    frame, _ = pipeline_shap.leads(rows, seed=2)
    with common.temp_home("register") as home:
        folder = home.parent
        (folder / "pipeline.skops").write_bytes(skops.io.dumps(pipe))
        manifest = write_manifest(folder)
        frame.assign(score=pipe.predict_proba(frame)[:, 1]).to_csv(folder / "reference.csv", index=False)
        db = common.open_db(home)
        with common.timer() as elapsed:
            row = registry.register_model(db, manifest, home=home, reference=folder / "reference.csv",
                                          actor=common.ACTOR, now=common.NOW)
        db.close()
        # Where the time goes: the same worker steps again, apart (the file is the registered copy).
        scorer = registry.load_scorer(row, home=home)
        with common.timer() as loading:
            scorer.facts  # noqa: B018 - start the worker, check the types, load the pipeline
        with common.timer() as scoring:
            scorer.score(frame)
        scorer.close()
    common.report("register_model with --reference (worker, allow-list, load, score, compare, write)",
                  elapsed.seconds, "s")
    common.report("  of which: worker start + allow-list check + skops load", loading.seconds, "s")
    common.report(f"  of which: scoring the {rows} reference rows", scoring.seconds, "s")
    common.report(f"reference rows, largest |ethics - production| (tolerance {row['reference_tolerance']:g})",
                  f"{row['reference_rows']}, {row['reference_max_difference']:.2g}")
    common.goal_line("goal", elapsed.seconds < GOAL_SECONDS, f"{elapsed.seconds:.2f} s (< {GOAL_SECONDS:g} s)")


if __name__ == "__main__":
    main()
