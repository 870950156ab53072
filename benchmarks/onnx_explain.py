"""Sampled SHAP of 10,000 leads of a GradientBoosting pipeline exported to ONNX.

A scikit-learn pipeline (OneHotEncoder on a text column, three numeric columns,
GradientBoostingClassifier of 100 trees of depth 3) is exported with skl2onnx and loaded in
its artifact worker (onnxruntime, 2 threads).  Then, through ``explain.explain_rows``: the
model-agnostic permutation SHAP of every lead (10 antithetic permutations × 100 background
rows, sent in parts that stay far inside the worker's CPU limit), against scoring the same
leads once.

    .venv/bin/python benchmarks/onnx_explain.py [--quick]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's ethics, not the venv's
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

from ethics import artifacts, explain, onnx_model  # noqa: E402

NUMBERS = ["minutes_watched", "questions_asked", "company_employees"]
CONTRACTS = ["month-to-month", "one-year", "two-year"]


def leads(rows: int, *, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"minutes_watched": rng.integers(0, 60, rows).astype(float),
                      "questions_asked": rng.poisson(1, rows).astype(float),
                      "company_employees": rng.integers(5, 1000, rows).astype(float),
                      "contract": rng.choice(CONTRACTS, rows)})
    logit = (x["minutes_watched"] - 30) / 8 + 1.5 * (x["contract"] == "two-year") + 0.4 * x["questions_asked"]
    return x, (logit + rng.logistic(0, 1, rows) > 0).astype(int)


def exported_pipeline(x: pd.DataFrame, y: pd.Series) -> tuple[bytes, object]:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["contract"])],
                               remainder="passthrough")
    classifier = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0)
    pipeline = Pipeline([("pre", encode), ("clf", classifier)]).fit(x, y)
    types = [(name, FloatTensorType([None, 1])) for name in NUMBERS] + [("contract", StringTensorType([None, 1]))]
    model = convert_sklearn(pipeline, initial_types=types, options={id(classifier): {"zipmap": False}})
    return model.SerializeToString(), pipeline


def main() -> None:
    args = common.make_parser(__doc__.splitlines()[0]).parse_args()
    rows = 500 if args.quick else 10_000
    common.print_machine()
    train, labels = leads(5_000, seed=0)
    batch, _ = leads(rows, seed=1)
    data, pipeline = exported_pipeline(train, labels)
    with tempfile.TemporaryDirectory(prefix="ethics-onnx-bench-") as folder:
        path = Path(folder) / "pipeline.onnx"
        path.write_bytes(data)
        with artifacts.Scorer(path, kind="onnx", expected_sha256=artifacts.sha256_bytes(data),
                              file=path.name) as scorer:
            with common.timer() as loading:
                sampling = scorer.facts["sampling"]
            with common.timer() as scoring:
                scores = scorer.score(batch)
            with common.timer() as explaining:
                found = explain.explain_rows(scorer, batch)
    per_request = max(1, explain.SAMPLED_EVALUATIONS // sampling["rows_per_lead"])
    common.heading(f"ONNX GradientBoosting pipeline (100 trees, depth 3), {rows:,} leads")
    common.report("start the worker, parse and check the file", common.ms(loading.seconds))
    common.report("score every lead", common.ms(scoring.seconds))
    common.report("largest |score - scikit-learn predict_proba|",
                  f"{np.abs(scores - pipeline.predict_proba(batch)[:, 1]).max():.1e}")
    common.report("sampled SHAP of every lead", f"{explaining.seconds:.1f} s")
    common.report("  per lead", common.ms(explaining.seconds / rows))
    common.report("  budget", f"{onnx_model.PERMUTATIONS} permutations x {sampling['background']} background rows")
    common.report("  model evaluations per lead (at most)", sampling["rows_per_lead"])
    common.report("  worker requests", -(-rows // per_request))
    common.report("  additivity max error", f"{found.additivity_max_error:.1e}")


if __name__ == "__main__":
    main()
