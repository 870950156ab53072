"""The weekly evaluation run: compute once, store immutably, show many times.

A snapshot records the SHA-256 of its inputs, the package versions, the policy in
force and the results.  Its own hash covers all of these; a review signs it and a
report prints it.  Pages read snapshots and never recompute them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ethics import aggregates, audit, consent, datasets, drift, explain, fairness, lights, outcomes, registry, store
from ethics import policy as rules
from ethics import results as contract
from ethics.errors import NO_DATA_FOR_WEEK, NO_SNAPSHOT, UNKNOWN_SNAPSHOT, NotFound, ValidationError
from ethics.lazy import lazy_module
from ethics.manifest import feature_names, outcome_of, sensitive_names, value_labels
from ethics.store import json_number
from ethics.weeks import iso, parse_week, utcnow, week_of

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())

DEFAULT_PSI = {"warn_above": 0.1, "fail_above": 0.25}
PACKAGES = ("ethics", "numpy", "pandas", "scikit-learn", "fairlearn", "shap", "lightgbm", "xgboost")


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Versions of Python and of ``names`` (by default the packages whose code shapes a snapshot's numbers)."""
    from importlib import metadata  # ~50 ms that only a snapshot needs

    versions = {"python": platform.python_version()}
    for name in names:
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
    lead_explanations: bool = True,
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
    lead_explanations : bool, default True
        Store every lead's SHAP values (for the Lead lookup); when False only a
        sample is explained for the global importance (the demo's older weeks).

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
    outcome = outcome_of(manifest)
    policy = rules.for_model(policy, model_id)
    inputs: dict[str, Any] = {"artifact_sha256": version_row["artifact_sha256"]}
    frames: dict[str, pd.DataFrame] = {}
    found_rows: dict[str, dict[str, Any]] = {}
    handled = _missing_handled(version_row, home=home)
    for kind in datasets.KINDS:
        found = datasets.find_dataset(db, model_id, version=version_row["version"], kind=kind, week=week)
        if found:
            inputs[kind] = {"dataset_id": found["id"], "sha256": found["parquet_sha256"], "rows": found["rows"]}
            frames[kind] = datasets.read_rows(found, home=home)
            datasets.refuse_non_finite(frames[kind], columns=[*feature_names(manifest), "score"], dataset=found,
                                       missing=handled)
            found_rows[kind] = found
    statistics: dict[str, pd.DataFrame] = {}
    found = datasets.find_dataset(db, model_id, version=version_row["version"], kind=aggregates.KIND, week=week)
    if found:
        inputs[aggregates.KIND] = {"dataset_id": found["id"], "sha256": found["parquet_sha256"], "rows": found["rows"]}
        stored = datasets.read_rows(found, home=home)
        statistics = aggregates.parts(stored) if outcome == "binary" else outcomes.split_cells(stored)
    if not frames and not statistics:
        raise ValidationError(NO_DATA_FOR_WEEK.format(model_id=model_id, week=week))
    purpose = manifest.get("consent_purpose")
    states: dict[str, pd.DataFrame] = {}
    if purpose and "scores" in frames and "scores" not in statistics:
        inputs["consent_events"] = consent.events_state(db)
        states = consent_states(db, frames, found_rows, purpose=purpose)
    # One path: rows are reduced to cells (with each lead's consent state), then every area reads the cells.
    counted = {kind: frame.assign(consent_status=consent.status_names(states[kind]["status"])) if kind in states
               else frame for kind, frame in frames.items()}
    cells = week_cells(counted, manifest=manifest, statistics=statistics)
    results = evaluate(frames, manifest=manifest, policy=policy, statistics=statistics, cells=cells)
    if "explanations" not in results:  # aggregates without a sample of rows say so themselves
        with registry.scorer_for(version_row, home=home, consequence="no snapshot was taken") as scorer:
            results["explanations"] = explain.snapshot_explanations(
                frames.get("scores"), scorer=scorer, manifest=manifest,
                policy=policy, home=home, previous=_previous_importance(db, model_id, week),
                lead_explanations=lead_explanations,
            )
    if purpose and "scores" in cells:
        found_coverage = aggregates.consent_coverage(cells["scores"], purpose=purpose)
        if found_coverage is not None:
            results["consent"] = found_coverage
            if states:  # what only the rows can tell: customers to route, fairness on consented rows
                results["consent"].update(consent_from_rows(frames, states, manifest=manifest, policy=policy,
                                                            assessed=results.get("fairness", {})))
    if "scores" in cells:
        drift_inputs = _score_drift(db, version_row, cells["scores"], home=home, policy=policy)
        if drift_inputs is not None:
            inputs["drift_reference"], results["drift"] = drift_inputs
            if "scores" in frames and drift_inputs[0]["kind"] == "scores":  # feature drift needs rows on both sides
                reference = store.get_row(db, store.DATASETS, drift_inputs[0]["dataset_id"], message="reference")
                results["drift"]["columns"] += drift.drift_report(
                    datasets.read_rows(reference, home=home), frames["scores"], columns=feature_names(manifest),
                    policy=policy.get("drift", {}).get("psi", DEFAULT_PSI))
                results["drift"]["note"] = (("score on fixed bins (as from aggregates)" if outcome == "binary"
                                             else results["drift"]["note"])
                                            + "; features on the reference's quantile bins, from rows")
            if not results["drift"]["columns"]:  # a call list's week from cells: nothing to compare
                del inputs["drift_reference"], results["drift"]
    results = contract.stamp(results, outcome=outcome)
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
        "summary_json": store.to_json(lights.summarize(results, policy=policy)),
    }
    with store.transaction(db):
        snapshot_id = db[store.SNAPSHOTS].insert(row).last_pk
        audit.record(db, audit.SnapshotTaken(actor, "snapshot", str(snapshot_id), week=week, hash=digest, created=now),
                     records=[(store.SNAPSHOTS, snapshot_id)])
    return _parsed({"id": snapshot_id, **row})


def _missing_handled(version_row: dict[str, Any], *, home: Path) -> datasets.MissingHandled | None:
    """The features whose missing values the version's model handles; its worker starts only if a value is missing."""
    if version_row["artifact_kind"] == "none":
        return None

    @functools.cache
    def features() -> frozenset[str]:
        with registry.scorer_for(version_row, home=home, consequence="no snapshot was taken") as scorer:
            return datasets.missing_handled(scorer)()

    return features


def _previous_importance(db: store.Database, model_id: str, week: str) -> list[dict[str, Any]] | None:
    """The global importance of the model's latest snapshot before ``week``, if any."""
    row = db.execute(
        f"select results_json from {store.SNAPSHOTS} where model_id = ? and week < ? "
        "order by week desc, id desc limit 1",
        [model_id, week],
    ).fetchone()
    return json.loads(row[0]).get("explanations", {}).get("importance") if row else None


def consent_states(
    db: store.Database, frames: dict[str, pd.DataFrame], dataset_rows: dict[str, dict[str, Any]], *, purpose: str
) -> dict[str, pd.DataFrame]:
    """Each row's consent state for ``purpose`` when it was scored (evaluation rows: when imported)."""
    index = consent.EventIndex.from_db(db, purposes={purpose, *consent.OBJECTION_PURPOSES})
    return {kind: consent.lead_states(frame, consent.scoring_times(frame, dataset_rows[kind]), index, purpose=purpose)
            for kind, frame in frames.items()}


def consent_from_rows(
    frames: dict[str, pd.DataFrame],
    states: dict[str, pd.DataFrame],
    *,
    manifest: dict[str, Any],
    policy: dict[str, Any],
    assessed: dict[str, Any],
) -> dict[str, Any]:
    """What only rows add to consent coverage: the customers to route, and fairness on consented rows.

    ``assessed`` is the fairness assessment of all rows (``results["fairness"]``); the
    consented rows' group shares are compared with it (does consent filtering skew the
    population?).
    """
    scores = frames["scores"]
    routed = scores.loc[states["scores"]["objected"].to_numpy(), "customer_id"].nunique()
    consented = {kind: frame[consent.covered(states[kind])] for kind, frame in frames.items()}
    # A data set without a single consented row has no fairness to recompute.
    judged = {kind: frame for kind, frame in consented.items() if len(frame)}
    if outcome_of(manifest) == "binary":
        fair = fairness_results(judged, manifest=manifest, policy=policy)
    else:  # a call list of consented leads only is ranked anew: the others would not be called
        cells = {kind: outcomes.row_cells(frame, manifest=manifest, kind=kind) for kind, frame in judged.items()}
        fair = outcomes.assess_week(cells, manifest=manifest, policy=policy)
    return {
        "source": "rows",
        "human_routing": int(routed),
        "fairness_consented": {
            "rows": {kind: len(frame) for kind, frame in consented.items()},
            "verdicts": fair.get("verdicts", []),
            "sampling": consent.consent_sampling(assessed.get("scores"), fair.get("fairness", {}).get("scores"),
                                                 max_difference=policy.get("sampling", {}).get(
                                                     "max_share_difference", 0.05)),
        },
    }


#: The column of a non-binary model's cells whose distribution drifts (a call list's cells carry no score).
DRIFT_COLUMNS = {"continuous": "value", "multiclass": "offer"}
DRIFT_NAMES = {"value": "amount", "offer": "offer"}


def _score_drift(
    db: store.Database, version_row: dict[str, Any], current: pd.DataFrame, *, home: Path, policy: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Drift of this week's cells against the version's earliest scoring data (rows or aggregates).

    A binary model's score is compared on the cells' fixed bins, whatever they came from,
    so a snapshot from rows and one from statistics of the same rows give the same PSI.
    An amount or an offer is compared from its counts per value (:func:`drift.counts_report`),
    again the same from rows and from imported cells; a call list has only its features' drift, from rows.
    """
    manifest = version_row["manifest"]
    outcome = outcome_of(manifest)
    thresholds = policy.get("drift", {}).get("psi", DEFAULT_PSI)
    found = datasets.list_datasets(db, version_row["model_id"], version=version_row["version"])
    for reference in (row for row in found if row["kind"] in ("scores", aggregates.KIND)):
        stored = datasets.read_rows(reference, home=home)
        if outcome not in ("binary", *DRIFT_COLUMNS):  # a call list: its features only, from rows on both sides
            if reference["kind"] != "scores":
                continue
            row, note = None, "a call list's cells carry no score"
        elif outcome != "binary":
            cells = (outcomes.row_cells(stored, manifest=manifest, kind="scores") if reference["kind"] == "scores"
                     else outcomes.split_cells(stored).get("scores"))
            if cells is None:
                continue
            column = DRIFT_COLUMNS[outcome]
            row = drift.counts_report(cells.groupby(column)["leads"].sum(), current.groupby(column)["leads"].sum(),
                                      column=DRIFT_NAMES[column], policy=thresholds)
            note = f"the {DRIFT_NAMES[column]} decided, from its counts per value (cells of rows or imported)"
        else:
            if reference["kind"] == "scores":
                histogram = np.bincount(aggregates.score_bins(stored["score"].to_numpy()), minlength=aggregates.BINS)
            elif "scores" in aggregates.parts(stored):
                histogram = aggregates.histogram(aggregates.parts(stored)["scores"])
            else:
                continue
            row = drift.histogram_report(histogram, aggregates.histogram(current), column="score", policy=thresholds)
            note = "score only, fixed bins: aggregates carry score histograms, not features"
        return ({"dataset_id": reference["id"], "sha256": reference["parquet_sha256"], "week": reference["week"],
                 "kind": reference["kind"]},
                {"reference_week": reference["week"], "columns": [] if row is None else [row], "note": note})
    return None


def _version_for_week(db: store.Database, model_id: str, version: str | None, week: str) -> dict[str, Any]:
    if version is not None:
        return registry.get_version(db, model_id, version)
    versions = registry.list_versions(db, model_id) or [registry.get_version(db, model_id)]
    with_data = {row["version"] for row in datasets.list_datasets(db, model_id) if row["week"] == week}
    candidates = [row for row in versions if row["version"] in with_data]
    return (candidates or versions)[-1]


NOT_AT_SCALE = (
    "not available at this scale: only aggregates were imported for this week; import a sample of rows "
    "(python -m ethics import scores) to explain leads"
)


def week_cells(
    frames: dict[str, pd.DataFrame], *, manifest: dict[str, Any], statistics: dict[str, pd.DataFrame] | None = None
) -> dict[str, pd.DataFrame]:
    """The week's sufficient statistics per dataset kind: imported ones as they are, rows reduced to cells.

    Imported statistics cover the whole population and take precedence over rows of the
    same kind (which are then a sample, kept for explanations).
    """
    statistics = statistics or {}
    bands = {a["name"]: a["bands"] for a in manifest["sensitive_attributes"] if a.get("bands")}
    cells = dict(statistics)
    for kind, frame in frames.items():
        if kind in cells:
            continue
        if outcome_of(manifest) != "binary":
            cells[kind] = outcomes.row_cells(frame, manifest=manifest, kind=kind)
        else:
            cells[kind] = aggregates.from_rows(frame, attributes=sensitive_names(manifest), bands=bands,
                                               threshold=manifest["threshold"], dataset=kind, by_team=True)
    return {kind: cells[kind] for kind in datasets.KINDS if kind in cells}


def evaluate(
    frames: dict[str, pd.DataFrame],
    *,
    manifest: dict[str, Any],
    policy: dict[str, Any],
    statistics: dict[str, pd.DataFrame] | None = None,
    cells: dict[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """The snapshot's results from the week's cells (:func:`week_cells`), whatever they were computed from.

    Every figure comes from the cells, so rows and imported statistics of the same data
    give the same results; what only rows can give is added on top and marked: the exact
    AUC (``performance["auc_source"] == "rows"``; from cells it is the binned estimate
    within ``auc_bounds``).  ``results["source"]`` says what each kind came from.
    """
    statistics = statistics or {}
    cells = week_cells(frames, manifest=manifest, statistics=statistics) if cells is None else cells
    results: dict[str, Any] = {
        "source": {kind: aggregates.KIND if kind in statistics else "rows" for kind in cells},
        "rows": {kind: int(part["leads"].sum()) for kind, part in cells.items()},
    }
    if statistics and not frames:
        results["explanations"] = {"status": "unavailable", "reason": NOT_AT_SCALE}
    consent_counts = {kind: aggregates.consent_counts(part, attributes=sensitive_names(manifest))
                      for kind, part in cells.items()}
    if any(consent_counts.values()):
        results["consent_counts"] = consent_counts
    if outcome_of(manifest) != "binary":
        return results | outcomes.assess_week(cells, manifest=manifest, policy=policy)
    results["threshold"] = manifest["threshold"]
    if "eval" in cells:
        results["performance"] = aggregates.performance(cells["eval"]) | {"auc_source": "cells"}
        if "eval" not in statistics:
            results["performance"] |= {"auc": exact_auc(frames["eval"]), "auc_source": "rows"}
    if "scores" in cells:
        results["scoring"] = aggregates.scoring(cells["scores"])
    results.update(fairness_results(frames, manifest=manifest, policy=policy, statistics=statistics))
    return results


def fairness_results(
    frames: dict[str, pd.DataFrame],
    *,
    manifest: dict[str, Any],
    policy: dict[str, Any],
    statistics: dict[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """Group metrics, disparities with intervals, verdicts and sampling bias of a week."""
    statistics = statistics or {}
    attributes = sensitive_names(manifest)
    if not attributes:
        return {"fairness": {}, "verdicts": [], "sampling": []}
    bootstrap = policy.get("bootstrap", {})
    options = {
        "attributes": attributes,
        "min_group_size": policy.get("min_group_size", 30),
        "resamples": bootstrap.get("resamples", 1000),
        "confidence": bootstrap.get("confidence", 0.95),
        "seed": bootstrap.get("seed", 0),
        "group_names": value_labels(manifest),
    }
    bands = {a["name"]: a["bands"] for a in manifest["sensitive_attributes"] if a.get("bands")}
    assessments = {
        kind: fairness.assess_statistics(statistics[kind], **options) if kind in statistics
        else fairness.assess(frames[kind], threshold=manifest["threshold"], bands=bands, **options)
        for kind in datasets.KINDS if kind in statistics or kind in frames
    }
    labels = {a["name"]: a["label"] for a in manifest["sensitive_attributes"]}
    return {
        "fairness": assessments,
        "verdicts": rules.fairness_verdicts(assessments, policy=policy, labels=labels),
        "sampling": rules.sampling_bias(
            assessments.get("eval"), assessments.get("scores"),
            max_difference=policy.get("sampling", {}).get("max_share_difference", 0.05),
        ),
    }


def exact_auc(frame: pd.DataFrame) -> float | None:
    """The ROC AUC of labelled rows (a rank statistic: only rows give it exactly); None with one class."""
    from sklearn.metrics import roc_auc_score

    labels = frame["label"].to_numpy()
    return json_number(roc_auc_score(labels, frame["score"])) if len(np.unique(labels)) == 2 else None


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    """A snapshot row with its JSON columns parsed exactly as stored (what its hash covers)."""
    row = dict(row)
    for key in ("inputs", "packages", "policy", "results", "summary"):
        row[key] = json.loads(row.pop(f"{key}_json") or "{}")
    return row


def _parsed(row: dict[str, Any]) -> dict[str, Any]:
    """A snapshot for readers: its results in the current contract (``results.read`` upgrades old ones)."""
    parsed = _stored(row)
    parsed["results"] = contract.read(parsed["results"])
    return parsed


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


def latest_snapshot(db: store.Database, model_id: str, *, week: str | None = None) -> dict[str, Any]:
    """The newest snapshot of a model, or of one week of it.

    Raises
    ------
    NotFound
        When the model has none (for that week).
    """
    found = [s for s in list_snapshots(db, model_id) if week is None or s["week"] == parse_week(week)]
    if not found:
        raise NotFound(NO_SNAPSHOT.format(model_id=model_id) if week is None
                       else f"Model {model_id!r} has no snapshot for week {week}.")
    return get_snapshot(db, found[0]["id"])


def verify_snapshot(db: store.Database, snapshot_id: int) -> bool:
    """Recompute a stored snapshot's hash from its stored content."""
    snap = _stored(store.get_row(db, store.SNAPSHOTS, snapshot_id,
                                 message=UNKNOWN_SNAPSHOT.format(snapshot_id=snapshot_id)))
    content = {key: snap[key] for key in ("model_id", "version", "week", "inputs", "packages", "policy", "results")}
    return hashlib.sha256(store.to_json(content).encode()).hexdigest() == snap["hash"]


def _latest_per_week(db: store.Database, model_id: str) -> list[tuple[str, str, dict[str, Any]]]:
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
    return [(week, version, json.loads(results_json)) for week, version, results_json in rows]


def performance_trend(db: store.Database, model_id: str) -> list[dict[str, Any]]:
    """Per week (latest snapshot of each), the evaluation performance and scoring selection rate."""
    trend = []
    for week, version, results in _latest_per_week(db, model_id):
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


def consent_trend(db: store.Database, model_id: str) -> list[dict[str, Any]]:
    """Per week (latest snapshot of each): consent coverage and the counts of leads scored without it."""
    keys = ("scored", "coverage", "without_consent", "after_withdrawal", "after_objection", "human_routing")
    return [
        {"week": week, **{key: results["consent"].get(key) for key in keys}}
        for week, _, results in _latest_per_week(db, model_id)
        if results.get("consent")
    ]


def disparity_trend(
    db: store.Database, model_id: str, *, data: str, grouping: str, metric: str
) -> list[dict[str, Any]]:
    """One disparity across weeks (latest snapshot of each week): value and interval."""
    trend = []
    for week, _, results in _latest_per_week(db, model_id):
        for entry in results.get("fairness", {}).get(data, []):
            if entry["grouping"] == grouping and metric in entry["disparities"]:
                found = entry["disparities"][metric]
                low, high = found.get("interval") or (None, None)
                trend.append({"week": week, "value": found.get("judged_value"), "low": low, "high": high})
    return trend


def what_if(db: store.Database, snapshot_id: int, *, home: Path, attribute: str) -> list[dict[str, Any]]:
    """ThresholdOptimizer what-if on a snapshot's evaluation set for one sensitive attribute.

    Changes nothing: it reports accuracy and disparities before and after.

    Raises
    ------
    ValidationError
        No evaluation set in the snapshot, or groups the optimiser cannot handle.
    """
    from ethics import mitigation

    snap = get_snapshot(db, snapshot_id)
    if "eval" not in snap["inputs"]:
        scaled = snap["results"].get("source", {}).get("eval") == aggregates.KIND
        raise ValidationError(f"Snapshot {snapshot_id} has no evaluation set"
                              + (" rows (it was computed from aggregates)" if scaled else "")
                              + ": the what-if needs labelled rows.")
    dataset = store.get_row(db, store.DATASETS, snap["inputs"]["eval"]["dataset_id"],
                            message=UNKNOWN_SNAPSHOT.format(snapshot_id=snapshot_id))
    frame = datasets.read_rows(dataset, home=home)
    if attribute not in frame.columns:
        raise ValidationError(f"Sensitive attribute {attribute!r} is not in snapshot {snapshot_id}'s evaluation set.")
    return mitigation.threshold_optimizer_what_if(
        frame["label"], frame["score"], frame[attribute].rename(attribute), threshold=snap["results"]["threshold"]
    )


def headline_trend(db: store.Database, model_id: str, *, kind: str = "eval") -> list[dict[str, Any]]:
    """The headline figures of ``kind`` (``outcomes.headline``) week by week (latest snapshot of each).

    The week-by-week view of a model of any outcome type, where :func:`performance_trend`
    holds a binary model's accuracy and AUC.  One row per figure (the first: the version),
    with ``Figure`` and one column per week, so many long labels stay readable.
    """
    weeks = {week: (version, outcomes.headline(results, kind)) for week, version, results in _latest_per_week(
        db, model_id)}
    weeks = {week: found for week, found in weeks.items() if found[1]}
    rows: dict[str, dict[str, Any]] = {"Version": {"Figure": "Version"}}
    for week, (version, figures) in weeks.items():
        rows["Version"][week] = version
        for figure in figures:
            rows.setdefault(figure["label"], {"Figure": figure["label"]})[week] = figure["value"]
    return list(rows.values()) if weeks else []
