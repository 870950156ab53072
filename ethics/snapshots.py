"""The weekly evaluation run: compute once, store immutably, show many times.

A snapshot records the SHA-256 of its inputs, the package versions, the policy in
force and the results.  Its own hash covers all of these; a review signs it and a
report prints it.  Pages read snapshots and never recompute them.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ethics import datasets, registry, store
from ethics.errors import NO_DATA_FOR_WEEK, NO_SNAPSHOT, UNKNOWN_SNAPSHOT, NotFound, ValidationError
from ethics.manifest import sensitive_names
from ethics.weeks import iso, parse_week, utcnow, week_of

PACKAGES = ("ethics", "numpy", "pandas", "scikit-learn", "fairlearn", "shap", "lightgbm", "xgboost")
MISSING_GROUP = "(missing)"


def package_versions() -> dict[str, str]:
    """Versions of the packages whose code shapes a snapshot's numbers."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def take_snapshot(
    db: store.Database,
    *,
    model_id: str,
    week: str | None = None,
    version: str | None = None,
    home: Path,
    policy: dict[str, Any],
    actor: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Evaluate one model for one ISO week and store the result immutably.

    Parameters
    ----------
    db : Database
    model_id : str
    week : str, optional
        ISO week; the current week when omitted.
    version : str, optional
        The model version; by default the latest version with data for ``week``.
    home : Path
        The data home holding the datasets.
    policy : dict
        The policy in force; recorded in the snapshot.
    actor : str
    now : datetime, optional

    Returns
    -------
    dict
        The snapshot row with ``results`` parsed.  Running again on unchanged
        inputs returns the existing snapshot.

    Raises
    ------
    NotFound
        Unknown model or version.
    ValidationError
        No evaluation set or scoring batch for the week.
    """
    moment = now or utcnow()
    week = parse_week(week or week_of(moment))
    version_row = _version_for_week(db, model_id, version, week)
    manifest = version_row["manifest"]
    inputs: dict[str, Any] = {"artifact_sha256": version_row["artifact_sha256"]}
    frames: dict[str, pd.DataFrame] = {}
    for kind in datasets.KINDS:
        found = datasets.find_dataset(db, model_id, version=version_row["version"], kind=kind, week=week)
        if found:
            inputs[kind] = {"dataset_id": found["id"], "sha256": found["parquet_sha256"], "rows": found["rows"]}
            frames[kind] = datasets.read_rows(found, home=home)
    if not frames:
        raise ValidationError(NO_DATA_FOR_WEEK.format(model_id=model_id, week=week))
    results = evaluate(frames, manifest=manifest)
    content = {
        "model_id": model_id,
        "version": version_row["version"],
        "week": week,
        "inputs": inputs,
        "packages": package_versions(),
        "policy": policy,
        "results": results,
    }
    digest = hashlib.sha256(store.to_json(content).encode()).hexdigest()
    existing = store.list_rows(db, store.SNAPSHOTS, "hash = ?", [digest])
    if existing:
        return _parsed(existing[0])
    row = {
        "model_id": model_id,
        "version": version_row["version"],
        "week": week,
        "hash": digest,
        "created_at": iso(moment),
        "created_by": actor,
        "inputs_json": store.to_json(inputs),
        "packages_json": store.to_json(content["packages"]),
        "policy_json": store.to_json(policy),
        "results_json": store.to_json(results),
    }
    with store.transaction(db):
        snapshot_id = db[store.SNAPSHOTS].insert(row).last_pk
    return _parsed({"id": snapshot_id, **row})


def _version_for_week(db: store.Database, model_id: str, version: str | None, week: str) -> dict[str, Any]:
    if version is not None:
        return registry.get_version(db, model_id, version)
    versions = registry.list_versions(db, model_id) or [registry.get_version(db, model_id)]
    with_data = {row["version"] for row in datasets.list_datasets(db, model_id) if row["week"] == week}
    candidates = [row for row in versions if row["version"] in with_data]
    return (candidates or versions)[-1]


def evaluate(frames: dict[str, pd.DataFrame], *, manifest: dict[str, Any]) -> dict[str, Any]:
    """The snapshot's results from the week's evaluation set and scoring batch."""
    threshold = manifest["threshold"]
    results: dict[str, Any] = {"threshold": threshold, "rows": {k: len(v) for k, v in frames.items()}}
    if "eval" in frames:
        results["performance"] = performance(frames["eval"], threshold=threshold)
    if "scores" in frames:
        scores = frames["scores"]["score"].to_numpy()
        results["scoring"] = {
            "rows": len(scores),
            "mean_score": _clean(scores.mean()),
            "selection_rate": _clean((scores >= threshold).mean()),
        }
    results["groups"] = group_selection_rates(frames, attributes=sensitive_names(manifest), threshold=threshold)
    return results


def performance(frame: pd.DataFrame, *, threshold: float) -> dict[str, Any]:
    """Accuracy, AUC, base and selection rate of an evaluation set at the threshold."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    y_true = frame["label"].to_numpy()
    y_pred = (frame["score"].to_numpy() >= threshold).astype(int)
    both_classes = len(np.unique(y_true)) == 2
    return {
        "rows": len(frame),
        "accuracy": _clean(accuracy_score(y_true, y_pred)),
        "auc": _clean(roc_auc_score(y_true, frame["score"])) if both_classes else None,
        "base_rate": _clean(y_true.mean()),
        "selection_rate": _clean(y_pred.mean()),
    }


def group_selection_rates(
    frames: dict[str, pd.DataFrame], *, attributes: list[str], threshold: float
) -> list[dict[str, Any]]:
    """Per sensitive attribute and group: count and selection rate.

    Same semantics as fairlearn's ``MetricFrame`` with ``count`` and
    ``selection_rate`` (the tests use it as the oracle), counted in one groupby;
    missing values form the group ``(missing)``.
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, frame in frames.items():
        selected = pd.Series(frame["score"].to_numpy() >= threshold, index=frame.index)
        for attribute in attributes:
            groups = frame[attribute].astype("string").fillna(MISSING_GROUP)
            stats = selected.groupby(groups, sort=True).agg(["size", "mean"])
            for group, (size, rate) in stats.iterrows():
                entry = rows.setdefault((attribute, str(group)), {"attribute": attribute, "group": str(group)})
                entry[f"{kind}_count"] = int(size)
                entry[f"{kind}_selection_rate"] = _clean(rate)
    return [rows[key] for key in sorted(rows)]


def _clean(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, 12)


def _parsed(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    for key in ("inputs", "packages", "policy", "results"):
        row[key] = json.loads(row.pop(f"{key}_json"))
    return row


def list_snapshots(db: store.Database, model_id: str) -> list[dict[str, Any]]:
    """A model's snapshots without their results, newest week first."""
    registry.get_model(db, model_id)
    return store.list_rows(
        db, store.SNAPSHOTS, "model_id = ?", [model_id],
        order_by="week desc, id desc", select="id, model_id, version, week, hash, created_at, created_by",
    )


def get_snapshot(db: store.Database, snapshot_id: int) -> dict[str, Any]:
    """One snapshot with inputs, packages, policy and results parsed."""
    return _parsed(
        store.get_row(db, store.SNAPSHOTS, snapshot_id, message=UNKNOWN_SNAPSHOT.format(snapshot_id=snapshot_id))
    )


def latest_snapshot(db: store.Database, model_id: str) -> dict[str, Any]:
    """The newest snapshot of a model.

    Raises
    ------
    NotFound
        When the model has none.
    """
    found = list_snapshots(db, model_id)
    if not found:
        raise NotFound(NO_SNAPSHOT.format(model_id=model_id))
    return get_snapshot(db, found[0]["id"])


def verify_snapshot(db: store.Database, snapshot_id: int) -> bool:
    """Recompute a stored snapshot's hash from its stored content."""
    snap = get_snapshot(db, snapshot_id)
    content = {key: snap[key] for key in ("model_id", "version", "week", "inputs", "packages", "policy", "results")}
    return hashlib.sha256(store.to_json(content).encode()).hexdigest() == snap["hash"]


def performance_trend(db: store.Database, model_id: str) -> list[dict[str, Any]]:
    """Per week (latest snapshot of each), the evaluation performance and scoring selection rate."""
    rows = db.execute(
        f"""
        select week, version, results_json from (
            select week, version, results_json,
                   row_number() over (partition by week order by id desc) as rank
            from {store.SNAPSHOTS} where model_id = ?
        ) where rank = 1 order by week
        """,
        [model_id],
    ).fetchall()
    trend = []
    for week, version, results_json in rows:
        results = json.loads(results_json)
        performance = results.get("performance", {})
        trend.append(
            {
                "week": week,
                "version": version,
                "accuracy": performance.get("accuracy"),
                "auc": performance.get("auc"),
                "selection_rate": performance.get("selection_rate"),
                "scored_leads": results.get("scoring", {}).get("rows"),
                "scoring_selection_rate": results.get("scoring", {}).get("selection_rate"),
            }
        )
    return trend
