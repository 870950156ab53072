"""SHAP explanations: per-lead attributions, global importance, reason codes and the proxy check.

The only module that imports ``shap`` (lazily).  The explainer follows the model kind:

* LightGBM and XGBoost: TreeSHAP (path-dependent), computed by the libraries' own
  ``pred_contrib`` / ``pred_contribs``.  They give the same values as
  ``shap.TreeExplainer`` (a test checks it) on both cores, in the log-odds space.
* linear JSON models: ``shap.LinearExplainer`` on the unscaled coefficients, with the
  artifact's scaling means as the background (the "average lead" the model was
  standardised on), in the model's raw output space (log-odds for the logistic link).
* ONNX models (facts ``explainer = "sampled"``): a model-agnostic permutation SHAP in the
  artifact's worker (:func:`ethics.onnx_model.permutation_shap`), within a fixed sample
  budget, exactly additive, in the probability space; shown as such
  (:func:`explainer_text`).
* any other model with a ``score(frame)`` function: ``shap.KernelExplainer`` on a
  background sample, with an evaluation budget, in the score (probability) space.
  (``shap.PermutationExplainer`` was tried first: its numba compilation took 10-40 s
  per process before the first row on this machine.)

Additivity (base value + sum of contributions = model output, in the explained
space) is checked on every run against an output computed by a different code path.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ethics import artifacts
from ethics.datasets import write_parquet
from ethics.errors import CheckFailed, NotFound, ValidationError
from ethics.lazy import lazy_module
from ethics.manifest import SHAP_PREFIX, feature_names, input_attributes, sensitive_names
from ethics.store import json_number

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())
pq = lazy_module("pyarrow.parquet", globals())

EXPLANATIONS_DIR = "explanations"
REPLACED_SUFFIX = ".replaced"
#: How a missing feature value reads (a model that handles missing values was given none).
NOT_GIVEN = "not given"
ADDITIVITY_TOLERANCE = 1e-4  # XGBoost computes contributions in float32
DEFAULT_PROXY_THRESHOLD = 0.3
REASON_COUNT = 3
# A contribution smaller than this share of the lead's total |SHAP| is not given as a reason.
REASON_MIN_SHARE = 0.01
GLOBAL_SAMPLE_ROWS = 500
BACKGROUND_ROWS = 100
KERNEL_SAMPLES = 256
PROXY_BINS = 5
#: How a sensitive attribute that is also a model input is marked where features are listed for the officer.
INPUT_ATTRIBUTE_MARK = "sensitive attribute, also a model input"
#: The proxy check's measure for a feature that is the sensitive attribute itself.
SAME_COLUMN = "same column"
PROXY_SELF = "{label} is the sensitive attribute itself (also a model input), not a proxy for it"
#: A lead's waterfall step holding the sensitive attributes the model reads, unnamed.
SENSITIVE_STEP = "Sensitive attributes the model reads (never a reason)"
PROXY_MAX_CATEGORIES = 10
TREE_KINDS = ("lightgbm", "xgboost")
# Model evaluations per worker request of the sampled explainer (~10 s here, far inside the CPU limit).
SAMPLED_EVALUATIONS = 1_000_000
THREADS = 2

UNAVAILABLE_SCORES_ONLY = "scores-only model: no artifact to explain"
NO_SCORING_BATCH = "no scoring batch this week: nothing to explain"
FEATURE_MISSING = "{source}: feature {feature!r} of the model is missing, so the rows cannot be explained."
ADDITIVITY_FAILED = (
    "SHAP additivity check failed for the {explainer} explainer: base value + contributions differ from the "
    "model output ({space}) by up to {error:.3g}, above the tolerance {tolerance:g}."
)
LEADS_TAMPERED = "Per-lead explanations {file}: the file was changed after the snapshot (SHA-256 differs)."
LEADS_MISSING = "Per-lead explanations {file} are missing from the data home."


class Predictor(Protocol):
    """Anything with input ``features`` and a ``score(frame)`` function (the model-agnostic path)."""

    features: list[str]

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Scores of the rows."""


@dataclass(frozen=True)
class Attribution:
    """SHAP values of some rows.

    Attributes
    ----------
    values : DataFrame
        One column per feature, one row per explained row (the frame's index).
    base_value : float
        The expected model output the contributions start from.
    output : ndarray
        The model's output per row in ``output_space``, computed independently of the values.
    explainer : str
        ``tree``, ``linear`` or ``kernel``.
    output_space : str
        ``log-odds``, ``score`` (identity link) or ``probability``.
    additivity_max_error : float
        Largest ``|base_value + sum(values) - output|`` over the rows.
    """

    values: pd.DataFrame
    base_value: float
    output: np.ndarray
    explainer: str
    output_space: str
    additivity_max_error: float


def explainer_for(model: Any) -> str:
    """The explainer a model gets: ``tree``, ``linear``, ``sampled`` or ``kernel``."""
    kind = getattr(model, "kind", None)
    if kind in TREE_KINDS:
        return "tree"
    if kind == "linear":
        return "linear"
    # A loader that explains in its worker says how (facts["explainer"]): tree or linear SHAP of a skops
    # pipeline, the sampled permutation SHAP of an ONNX graph.
    if kind in artifacts.ARTIFACT_KINDS and model.facts.get("explainer") in ("tree", "linear", "sampled"):
        return model.facts["explainer"]
    return "kernel"


def explainer_text(explanations: Mapping[str, Any]) -> str:
    """How the values were found, for every page, report and command: ``tree SHAP``, or the sampled budget."""
    sampling = explanations.get("sampling")
    if explanations.get("explainer") == "sampled" and sampling:
        return (f"model-agnostic permutation SHAP, {sampling['permutations']} permutations × "
                f"{sampling['background']} background rows")
    return f"{explanations.get('explainer')} SHAP"


def explain_rows(
    model: Predictor,
    frame: pd.DataFrame,
    *,
    method: str | None = None,
    background: pd.DataFrame | None = None,
    max_evals: int | None = None,
    check: bool = True,
    source: str = "the rows",
    threads: int | None = None,
) -> Attribution:
    """SHAP values of every row of ``frame``.

    Parameters
    ----------
    model : Scorer or Predictor
        A loaded artifact (:class:`ethics.artifacts.Scorer`) or any object with
        ``features`` and ``score(frame)``.
    frame : DataFrame
        Must hold every feature of the model.
    method : {"tree", "linear", "kernel"}, optional
        Override the explainer chosen by :func:`explainer_for` (``kernel`` works
        for every model).
    background : DataFrame, optional
        Background rows of the kernel explainer (default: up to
        :data:`BACKGROUND_ROWS` rows of ``frame``, evenly spread).
    max_evals : int, optional
        Coalitions evaluated per row by the kernel explainer (its budget; default
        ``2 * features + KERNEL_SAMPLES``), each on every background row.
    check : bool, default True
        Raise :class:`CheckFailed` when additivity fails beyond :data:`ADDITIVITY_TOLERANCE`.
    source : str
        Name of the rows in messages.
    threads : int, optional
        Threads of the tree libraries (default :data:`THREADS`; more than the machine's
        cores makes LightGBM much slower on a busy machine).

    Returns
    -------
    Attribution

    Raises
    ------
    ValidationError
        A feature of the model is missing from ``frame``.
    CheckFailed
        Additivity fails (only when ``check``).
    """
    for feature in model.features:
        if feature not in frame.columns:
            raise ValidationError(FEATURE_MISSING.format(source=source, feature=feature))
    method = method or explainer_for(model)
    if method == "tree":
        found = _tree(model, frame, threads=threads or THREADS)
    elif method == "linear":
        found = _linear(model, frame)
    elif method == "sampled":
        found = _sampled(model, frame)
    elif method == "kernel":
        found = _kernel(model, frame, background=background, max_evals=max_evals)
    else:
        raise ValidationError(f"Unknown explainer {method!r}; use tree, linear or kernel.")
    if check:
        check_additivity(found)
    return found


def check_additivity(found: Attribution, *, tolerance: float = ADDITIVITY_TOLERANCE) -> None:
    """Raise :class:`CheckFailed` when base value + contributions differ from the output.

    Raises
    ------
    CheckFailed
        Naming the explainer, the output space, the error and the tolerance.
    """
    if not found.additivity_max_error <= tolerance:
        raise CheckFailed(ADDITIVITY_FAILED.format(explainer=found.explainer, space=found.output_space,
                                                   error=found.additivity_max_error, tolerance=tolerance))


def _attribution(
    values: np.ndarray, base: float, output: np.ndarray, *, frame: pd.DataFrame, features: list[str],
    explainer: str, space: str,
) -> Attribution:
    values = np.asarray(values, dtype=np.float64)
    output = np.asarray(output, dtype=np.float64)
    error = float(np.max(np.abs(base + values.sum(axis=1) - output))) if len(values) else 0.0
    return Attribution(pd.DataFrame(values, columns=features, index=frame.index), float(base), output,
                       explainer, space, error)


def _tree(model: Any, frame: pd.DataFrame, *, threads: int) -> Attribution:
    """TreeSHAP by the library's own ``pred_contrib``, computed in the artifact's worker."""
    values, base, margin = model.contributions(frame, threads=threads)
    return _attribution(values, base, margin, frame=frame, features=model.features, explainer="tree",
                        space="log-odds")


def _linear(model: Any, frame: pd.DataFrame) -> Attribution:
    """``c * (x - mean)`` on the unscaled coefficients (``shap.LinearExplainer``'s values), from the worker.

    The background mean is the artifact's scaling mean, else the rows' mean.
    """
    values, base, margin = model.contributions(frame, threads=1)
    space = "log-odds" if model.link == "logistic" else "score"
    return _attribution(values, base, margin, frame=frame, features=model.features, explainer="linear",
                        space=space)


def _sampled(model: Any, frame: pd.DataFrame) -> Attribution:
    """Permutation SHAP of the probability, computed in the artifact's worker (its margin is the probability).

    The background is drawn once from the rows; the rows go in parts of at most
    :data:`SAMPLED_EVALUATIONS` model evaluations, each request with the same background,
    so that no request nears the worker's CPU-time limit.
    """
    sampling = model.facts["sampling"]
    background = frame.iloc[_sample(len(frame), sampling["background"])]
    step = max(1, SAMPLED_EVALUATIONS // sampling["rows_per_lead"])
    parts = [model.contributions(frame.iloc[start:start + step], threads=THREADS, background=background)
             for start in range(0, len(frame), step)]
    if not parts:
        return _attribution(np.zeros((0, len(model.features))), 0.0, np.zeros(0), frame=frame,
                            features=model.features, explainer="sampled", space="probability")
    return _attribution(np.concatenate([p[0] for p in parts]), parts[0][1], np.concatenate([p[2] for p in parts]),
                        frame=frame, features=model.features, explainer="sampled", space="probability")


def _kernel(
    model: Any, frame: pd.DataFrame, *, background: pd.DataFrame | None, max_evals: int | None
) -> Attribution:
    import shap

    features = list(model.features)
    x = frame[features].to_numpy(dtype=np.float64)
    rows = (background if background is not None else frame)[features].to_numpy(dtype=np.float64)
    rows = rows[_sample(len(rows), BACKGROUND_ROWS)]

    def predict(values: np.ndarray) -> np.ndarray:
        return np.asarray(model.score(pd.DataFrame(values, columns=features)), dtype=np.float64)

    explainer = shap.KernelExplainer(predict, rows, silent=True)
    values = explainer.shap_values(x, nsamples=max_evals or 2 * len(features) + KERNEL_SAMPLES, silent=True)
    base = float(np.ravel(explainer.expected_value)[-1])
    return _attribution(values, base, predict(x), frame=frame, features=features, explainer="kernel",
                        space="probability")


# -- the snapshot's explanations ---------------------------------------------------------


def snapshot_explanations(
    scores: pd.DataFrame | None,
    *,
    scorer: Any,
    manifest: Mapping[str, Any],
    policy: Mapping[str, Any],
    home: Path,
    previous: Sequence[Mapping[str, Any]] | None = None,
    lead_explanations: bool = True,
) -> dict[str, Any]:
    """``results["explanations"]`` of a snapshot (``ethics.results.Explanations``), writing the per-lead Parquet.

    Parameters
    ----------
    scores : DataFrame or None
        The week's scoring batch (validated rows with ``lead_id, customer_id, team, score``).
    scorer : Scorer or None
        The loaded artifact; None for a scores-only model.
    manifest : mapping
        The version's manifest (labels, sensitive attributes).
    policy : mapping
        The policy in force (``policy["explanations"]["proxy_threshold"]``).
    home : Path
        Data home; per-lead values go to ``home/explanations/<sha256>.parquet``.
    previous : list of dict, optional
        The previous week's ``importance`` of the same model, for rank changes.
    lead_explanations : bool, default True
        Explain every lead and store the values; when False only a sample of
        :data:`GLOBAL_SAMPLE_ROWS` leads is explained, for the global importance.
    """
    if scores is None:
        return {"status": "unavailable", "reason": NO_SCORING_BATCH, "proxies": []}
    threshold = policy.get("explanations", {}).get("proxy_threshold", DEFAULT_PROXY_THRESHOLD)
    proxies = proxy_check(scores, manifest=manifest, threshold=threshold)
    if scorer is None:
        return {"status": "unavailable", "reason": UNAVAILABLE_SCORES_ONLY, "proxies": proxies}
    rows = scores if lead_explanations else scores.iloc[_sample(len(scores), GLOBAL_SAMPLE_ROWS)]
    found = explain_rows(scorer, rows, check=False, source="the scoring batch")
    result: dict[str, Any] = {
        "status": "available",
        "explainer": found.explainer,
        "output_space": found.output_space,
        "rows": len(rows),
        "base_value": json_number(found.base_value),
        "additivity_max_error": json_number(found.additivity_max_error),
        "importance": importance(found.values, manifest=manifest, previous=previous),
        "proxies": proxies,
        "leads": None,
    }
    if found.explainer == "sampled":
        budget = scorer.facts["sampling"]  # the background is drawn from the explained rows
        result["sampling"] = {"permutations": budget["permutations"],
                              "background": min(budget["background"], len(rows))}
    if found.additivity_max_error > ADDITIVITY_TOLERANCE:
        return {**result, "status": "unavailable", "reason": ADDITIVITY_FAILED.format(
            explainer=found.explainer, space=found.output_space, error=found.additivity_max_error,
            tolerance=ADDITIVITY_TOLERANCE)}
    if lead_explanations:
        result["leads"] = write_leads(scores, found, home=home)
    return result


def _sample(rows: int, size: int) -> np.ndarray:
    """A fixed, evenly spread sample of row positions (the same for the same batch)."""
    if rows <= size:
        return np.arange(rows)
    return np.unique(np.linspace(0, rows - 1, size).round().astype(int))


def importance(
    values: pd.DataFrame, *, manifest: Mapping[str, Any], previous: Sequence[Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Mean |SHAP| per feature, rank 1 first, with the rank change against ``previous``.

    ``change`` is ``previous_rank - rank``: positive when a feature moved up.
    """
    labels = _labels(manifest)
    means = values.abs().mean(axis=0)
    order = sorted(values.columns, key=lambda name: (-means[name], name))
    before = {row["feature"]: row["rank"] for row in previous or []}
    rows = []
    for rank, name in enumerate(order, start=1):
        previous_rank = before.get(name)
        rows.append({
            "feature": name, "label": labels.get(name, name), "mean_abs_shap": json_number(means[name]),
            "rank": rank, "previous_rank": previous_rank,
            "change": None if previous_rank is None else previous_rank - rank,
        })
    return rows


def _labels(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Feature labels; a sensitive attribute the model reads is marked as such (the officer's views)."""
    inputs = set(input_attributes(manifest))
    return {f["name"]: f"{f['label']} ({INPUT_ATTRIBUTE_MARK})" if f["name"] in inputs else f["label"]
            for f in manifest["features"]}


def reason_features(manifest: Mapping[str, Any]) -> list[str]:
    """The features a lead's reasons may name: every input but a sensitive attribute.

    The one place that decides what a sales manager may read as a reason: a sensitive attribute
    the model reads (an age) moves the score, but is never shown as why.
    """
    sensitive = set(sensitive_names(manifest))
    return [name for name in feature_names(manifest) if name not in sensitive]


def _units(manifest: Mapping[str, Any]) -> dict[str, str]:
    return {f["name"]: f.get("unit", "") for f in manifest["features"]}


# -- per-lead values on disk -----------------------------------------------------------------


def write_leads(scores: pd.DataFrame, found: Attribution, *, home: Path) -> dict[str, Any]:
    """Store each lead's feature values and SHAP values as Parquet named by its SHA-256.

    Returns
    -------
    dict
        ``{"file", "sha256", "rows"}`` for ``results["explanations"]["leads"]``.
    """
    features = list(found.values.columns)
    table = pd.DataFrame({
        "lead_id": scores["lead_id"].to_numpy(dtype=object),
        "customer_id": scores["customer_id"].to_numpy(dtype=object),
        "team": scores["team"].to_numpy(dtype=object),
        "score": scores["score"].to_numpy(dtype=np.float64),
        "output": found.output,
        **({"scored_at": scores["scored_at"].to_numpy(dtype=object)} if "scored_at" in scores.columns else {}),
        **{name: _stored_values(scores[name]) for name in features},
        **{SHAP_PREFIX + name: found.values[name].to_numpy() for name in features},
    })
    return write_table(table, home=home)


def _stored_values(values: pd.Series) -> np.ndarray:
    """A feature's values for the per-lead file: float64 (NaN missing), or text (None missing) for a category."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return values.astype(object).where(values.notna(), None).to_numpy(dtype=object)


def write_table(table: pd.DataFrame, *, home: Path) -> dict[str, Any]:
    """Store per-lead values as Parquet named by its SHA-256 under ``home/explanations``."""
    sha, relative = write_parquet(table, home=home, directory=EXPLANATIONS_DIR)
    return {"file": relative, "sha256": sha, "rows": len(table)}


def _current_file(ref: Mapping[str, Any], *, home: Path) -> tuple[Path, str]:
    """The file holding a snapshot's per-lead values now, and the SHA-256 it must have.

    An erasure (data-subject request) rewrites the file without the customer's rows and
    leaves ``<sha256>.replaced`` beside the original name, naming the new file and its
    SHA-256 (both also recorded in the erasure's audit entry).  The snapshot itself, and
    the hash a review signed, stay as they were.
    """
    original = home / ref["file"]
    marker = original.with_suffix(REPLACED_SUFFIX)
    if marker.exists():
        relative, sha = marker.read_text().split()
        return home / relative, sha
    return original, ref["sha256"]


def replace_leads(ref: Mapping[str, Any], new: Mapping[str, Any], *, home: Path) -> None:
    """Point a snapshot's per-lead values at ``new`` (written by :func:`write_table`) and delete the old file."""
    previous, _ = _current_file(ref, home=home)
    marker = (home / ref["file"]).with_suffix(REPLACED_SUFFIX)
    tmp = marker.with_suffix(".part")
    tmp.write_text(f"{new['file']} {new['sha256']}\n")
    tmp.replace(marker)
    if previous != home / new["file"]:
        previous.unlink(missing_ok=True)


def read_leads(ref: Mapping[str, Any], *, home: Path) -> pd.DataFrame:
    """The per-lead values a snapshot references, after checking their SHA-256.

    Raises
    ------
    NotFound
        The file is missing or was changed.
    """
    path, sha = _current_file(ref, home=home)
    if not path.exists():
        raise NotFound(LEADS_MISSING.format(file=ref["file"]))
    data = path.read_bytes()
    if artifacts.sha256_bytes(data) != sha:
        raise NotFound(LEADS_TAMPERED.format(file=ref["file"]))
    return pq.read_table(io.BytesIO(data)).to_pandas()


def shap_columns(leads: pd.DataFrame) -> list[str]:
    """The features whose SHAP values a per-lead frame holds, in model order."""
    return [column[len(SHAP_PREFIX):] for column in leads.columns if column.startswith(SHAP_PREFIX)]


def distribution(leads: pd.DataFrame, *, manifest: Mapping[str, Any], rows: int = 1000) -> pd.DataFrame:
    """Long rows ``feature, label, lead_id, value, value_text, shap, position`` of a fixed sample, for a beeswarm.

    ``position`` is the feature value's rank within the sample, from 0 (lowest) to 1 (highest);
    text values (categories) rank in their alphabetical order; a missing value has no position (NaN).
    ``value_text`` is the value as :func:`format_value` writes it.
    """
    sample = leads.iloc[_sample(len(leads), rows)]
    labels = _labels(manifest)
    units = _units(manifest)
    parts = []
    for name in shap_columns(leads):
        values = sample[name]
        parts.append(pd.DataFrame({
            "feature": name, "label": labels.get(name, name), "lead_id": sample["lead_id"].to_numpy(),
            "value": values.to_numpy(), "value_text": [format_value(v, units.get(name, "")) for v in values],
            "shap": sample[SHAP_PREFIX + name].to_numpy(),
            "position": values.rank(pct=True, method="average").to_numpy(dtype=np.float64),
        }))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# -- reason codes ---------------------------------------------------------------------------


def lead_value(value: Any) -> float | str | None:
    """A feature value of a per-lead row as reasons carry it: a number, a text (a category) or None (missing)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value if isinstance(value, str) else float(value)


def format_value(value: float | str | None, unit: str) -> str:
    """A feature value as a person reads it: ``7 emails``, ``yes``, ``12.5 %``, ``month-to-month``, ``not given``.

    A category's value is its text as imported (no unit); a missing value is :data:`NOT_GIVEN`.
    """
    value = lead_value(value)
    if value is None:
        return NOT_GIVEN
    if isinstance(value, str):
        return value
    if unit.replace(" ", "") == "yes=1" and value in (0, 1):
        return "yes" if value == 1 else "no"
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"
    return f"{text} {unit}".strip()


def reason_codes(
    lead: Mapping[str, Any],
    *,
    manifest: Mapping[str, Any],
    proxies: Sequence[Mapping[str, Any]] = (),
    count: int = REASON_COUNT,
) -> dict[str, list[dict[str, Any]]]:
    """The top factors raising and lowering one lead's score, in the manifest's words.

    Parameters
    ----------
    lead : mapping
        One row of the per-lead values (feature values and ``shap__<feature>``).
    manifest : mapping
        Labels and units of the features; sensitive attributes never become reasons.
    proxies : list of dict
        The snapshot's proxy check; a flagged feature's reason is marked as a proxy.
    count : int
        How many reasons in each direction.

    Returns
    -------
    dict
        ``{"raising": [...], "lowering": [...]}``, largest effect first; each reason has
        ``feature, label, value, value_text, shap, direction, proxy_for, text``.
    """
    flagged: dict[str, list[str]] = {}
    for entry in proxies:
        if entry.get("flagged"):
            flagged.setdefault(entry["feature"], []).append(entry["attribute_label"])
    entries = {f["name"]: f for f in manifest["features"]}
    contributions = {name: float(lead[SHAP_PREFIX + name]) for name in reason_features(manifest)
                     if SHAP_PREFIX + name in lead}
    total = sum(abs(v) for v in contributions.values())
    reasons: dict[str, list[dict[str, Any]]] = {"raising": [], "lowering": []}
    for name, value in sorted(contributions.items(), key=lambda item: (-abs(item[1]), item[0])):
        if value == 0 or abs(value) < REASON_MIN_SHARE * total:
            continue
        direction = "raising" if value > 0 else "lowering"
        if len(reasons[direction]) >= count:
            continue
        entry = entries[name]
        value_text = format_value(lead[name], entry.get("unit", ""))
        effect = "raises the score" if value > 0 else "lowers the score"
        text = f"{entry['label']}: {value_text} — {effect}"
        if name in flagged:
            text += f" (proxy: may stand in for {', '.join(flagged[name])})"
        reasons[direction].append({
            "feature": name, "label": entry["label"], "value": lead_value(lead[name]), "value_text": value_text,
            "shap": value, "direction": direction, "proxy_for": flagged.get(name, []), "text": text,
        })
    return reasons


def threshold_in(space: str, threshold: float) -> float:
    """The decision threshold (a score) in an explained output space: its logit for ``log-odds``."""
    return math.log(threshold / (1 - threshold)) if space == "log-odds" else threshold


def waterfall(lead: Mapping[str, Any], *, base_value: float, manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One lead's contributions, largest effect first, each with its ``start`` and ``end`` from the base value.

    Each row has ``feature, label, value, value_text, shap, start, end``; ``value`` as :func:`lead_value`
    gives it, ``value_text`` as :func:`format_value` writes it.  Sensitive attributes the model reads are
    one unnamed step (:data:`SENSITIVE_STEP`, feature and value None), so the bars still add up to the
    output without showing a manager a sensitive attribute as a reason.
    """
    labels, units = _labels(manifest), _units(manifest)
    shown = reason_features(manifest)
    rows = [{"feature": name, "label": labels.get(name, name), "value": lead_value(lead[name]),
             "value_text": format_value(lead[name], units.get(name, "")), "shap": float(lead[SHAP_PREFIX + name])}
            for name in shown if SHAP_PREFIX + name in lead]
    hidden = [name for name in feature_names(manifest) if name not in shown and SHAP_PREFIX + name in lead]
    if hidden:
        rows.append({"feature": None, "label": SENSITIVE_STEP, "value": None, "value_text": "",
                     "shap": float(sum(float(lead[SHAP_PREFIX + name]) for name in hidden))})
    rows.sort(key=lambda row: -abs(row["shap"]))
    total = base_value
    for row in rows:
        row["start"], total = total, total + row["shap"]
        row["end"] = total
    return rows


# -- proxy check ------------------------------------------------------------------------------


def categories(values: pd.Series, *, bands: Sequence[float] | None = None) -> np.ndarray:
    """Integer codes of a column for a contingency table.

    Text (and missing values, as their own group) stays as is; numbers with few distinct
    values are categories; other numbers are cut at ``bands`` or into
    :data:`PROXY_BINS` quantile bins.
    """
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        codes, _ = pd.factorize(values.astype("string").fillna("\0missing"), sort=True)
        return codes
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(numbers)
    if bands:
        codes = np.searchsorted(np.asarray(bands, dtype=np.float64), numbers, side="right")
    elif len(np.unique(numbers[~missing])) <= PROXY_MAX_CATEGORIES:
        codes = pd.factorize(numbers, sort=True)[0]
    else:
        edges = np.unique(np.quantile(numbers[~missing], np.linspace(0, 1, PROXY_BINS + 1)[1:-1]))
        codes = np.searchsorted(edges, numbers, side="right")
    return np.where(missing, codes.max(initial=0) + 1, codes)


def cramers_v(first: np.ndarray, second: np.ndarray) -> float:
    """Cramér's V of two integer-coded columns (0 = independent, 1 = one determines the other)."""
    _, a = np.unique(first, return_inverse=True)
    _, b = np.unique(second, return_inverse=True)
    rows, cols = a.max(initial=-1) + 1, b.max(initial=-1) + 1
    if min(rows, cols) < 2:
        return 0.0
    observed = np.bincount(a * cols + b, minlength=rows * cols).reshape(rows, cols).astype(np.float64)
    total = observed.sum()
    expected = observed.sum(axis=1, keepdims=True) @ observed.sum(axis=0, keepdims=True) / total
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    return math.sqrt(chi2 / (total * (min(rows, cols) - 1)))


def proxy_check(frame: pd.DataFrame, *, manifest: Mapping[str, Any], threshold: float) -> list[dict[str, Any]]:
    """Association of every feature with every sensitive attribute (Cramér's V).

    Returns
    -------
    list of dict
        ``feature, label, attribute, attribute_label, measure, value, threshold, flagged``,
        strongest association first; ``flagged`` when ``value > threshold``.
    """
    labels = {f["name"]: f["label"] for f in manifest["features"]}
    attributes = [a for a in manifest.get("sensitive_attributes", []) if a["name"] in frame.columns]
    codes = {a["name"]: categories(frame[a["name"]], bands=a.get("bands")) for a in attributes}
    rows = []
    for name in feature_names(manifest):
        if name not in frame.columns:
            continue
        feature_codes = categories(frame[name])
        for attribute in attributes:
            if attribute["name"] == name:  # not a proxy: the model reads the attribute itself
                rows.append({
                    "feature": name, "label": labels[name], "attribute": name, "attribute_label": attribute["label"],
                    "measure": SAME_COLUMN, "value": None, "threshold": threshold, "flagged": False,
                    "note": PROXY_SELF.format(label=attribute["label"]),
                })
                continue
            value = cramers_v(feature_codes, codes[attribute["name"]])
            rows.append({
                "feature": name, "label": labels[name], "attribute": attribute["name"],
                "attribute_label": attribute["label"], "measure": "cramers_v", "value": json_number(value),
                "threshold": threshold, "flagged": value > threshold,
            })
    # The attribute itself first (it is more than any proxy), then the strongest association.
    return sorted(rows, key=lambda row: (row["value"] is not None, -(row["value"] or 0.0), row["feature"],
                                         row["attribute"]))


def explanations_light(explanations: Mapping[str, Any] | None) -> dict[str, str]:
    """The Overview's explanations light from a snapshot's ``results["explanations"]``."""
    if not explanations:
        return {"status": "not_evaluated", "reason": "no explanations in the snapshot"}
    proxies = [p for p in explanations.get("proxies", []) if p["flagged"]]
    proxy_text = "; ".join(f"proxy {p['label']} ~ {p['attribute_label']} (Cramér's V {p['value']:.2f})"
                           for p in proxies[:2])
    if explanations["status"] != "available":
        reason = explanations["reason"]
        if reason == NO_SCORING_BATCH:
            return {"status": "not_evaluated", "reason": reason}
        broken = (explanations.get("additivity_max_error") or 0) > ADDITIVITY_TOLERANCE
        status = "fail" if broken else "warn"
        return {"status": status, "reason": "; ".join(filter(None, [f"no explanation available: {reason}",
                                                                    proxy_text]))}
    if proxies:
        return {"status": "warn", "reason": proxy_text}
    top = explanations["importance"][0]["label"] if explanations["importance"] else "none"
    return {"status": "pass", "reason": f"{explainer_text(explanations)}, additivity ok; top feature: {top}"}


def distribution_summary(points: pd.DataFrame, *, order: Sequence[str]) -> pd.DataFrame:
    """Per feature label (in ``order``): leads drawn, lowest, highest and mean |SHAP| (the beeswarm's numbers)."""
    if points.empty:
        return pd.DataFrame(columns=["label", "leads", "min_shap", "max_shap", "mean_abs_shap"])
    summary = points.assign(abs_shap=points["shap"].abs()).groupby("label").agg(
        leads=("shap", "size"), min_shap=("shap", "min"), max_shap=("shap", "max"), mean_abs_shap=("abs_shap", "mean"))
    return summary.reindex([label for label in order if label in summary.index]).reset_index()


def dependence(leads: pd.DataFrame, *, feature: str) -> pd.DataFrame:
    """A feature's SHAP values by value band over every lead: ``lowest, highest, leads, mean_shap``.

    A category's band is one value, named in ``lowest`` and ``highest`` alike, in alphabetical order;
    missing values are one band (:data:`NOT_GIVEN` for text, NaN bounds for numbers), last.
    """
    values = leads[feature]
    codes = categories(values)
    shap_values = leads[SHAP_PREFIX + feature].to_numpy()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        frame = pd.DataFrame({"band": codes, "value": values.to_numpy(dtype=np.float64, na_value=np.nan),
                              "shap": shap_values})
        summary = frame.groupby("band").agg(lowest=("value", "min"), highest=("value", "max"),
                                            leads=("shap", "size"), mean_shap=("shap", "mean"))
        return summary.sort_values("lowest").reset_index(drop=True)
    text = [format_value(v, "") for v in values]
    frame = pd.DataFrame({"value": text, "missing": values.isna().to_numpy(), "shap": shap_values})
    summary = frame.groupby(["missing", "value"]).agg(leads=("shap", "size"), mean_shap=("shap", "mean"))
    summary = summary.reset_index().sort_values(["missing", "value"])
    return pd.DataFrame({"lowest": summary["value"], "highest": summary["value"], "leads": summary["leads"],
                         "mean_shap": summary["mean_shap"]}).reset_index(drop=True)
