"""Models and their immutable versions.

A version is registered from a validated manifest and an optional artifact.  The
artifact is copied into the data home under its SHA-256 and checked against that
hash again every time it is loaded.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics import artifacts, audit, store, teams
from ethics.artifacts import Scorer
from ethics.config import ARTIFACTS_DIR, SETTINGS_FILE, load_policy
from ethics.errors import (
    ARTIFACT_NOT_FILE,
    ARTIFACT_REQUIRED,
    ARTIFACT_TOO_LARGE,
    ARTIFACT_UNEXPECTED,
    MODEL_NOT_VISIBLE,
    REFERENCE_REQUIRED,
    REFERENCE_WITHOUT_ARTIFACT,
    UNKNOWN_MODEL,
    UNKNOWN_VERSION,
    VERSION_EXISTS,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from ethics.manifest import category_features, feature_names, outcome_of, read_manifest, stored_form, with_defaults
from ethics.policy import equivalence_tolerance
from ethics.weeks import iso, utcnow

if TYPE_CHECKING:
    import pandas as pd

    from ethics.equivalence import Equivalence, Reference

SUSPENDED = (
    "{name} is suspended since {since} ({review}): its decisions must not be used until a new review approves it."
)
_SUFFIX = {"lightgbm": ".txt", "xgboost": ".model", "linear": ".json", "skops": ".skops", "onnx": ".onnx"}
# Larger files are refused before they are read (a model of this size would not be a sales model).
MAX_ARTIFACT_BYTES = 512 * 1024**2
REGISTERED_NOTHING = "nothing was registered"
#: Kinds registered only with reference rows: a re-serialised model is where production and governance can part.
REFERENCE_REQUIRED_KINDS = ("skops", "onnx")
EQUIVALENT = ("The model governed here reproduces production scores to {difference} on {rows:,} rows "
              "(tolerance {tolerance:g}).")
NOT_CHECKED = "No reference scores were given at registration: equivalence with production was not checked."
SCORES_ONLY = "Scores only: the scores are imported from production, so there is no artifact to compare with it."


def register_model(
    db: store.Database,
    manifest_path: Path,
    *,
    home: Path,
    artifact_path: Path | None = None,
    reference: Path | pd.DataFrame | None = None,
    policy: Mapping[str, Any] | None = None,
    actor: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Register a model version from its manifest (and artifact).

    Parameters
    ----------
    db : Database
        The governance database.
    manifest_path : Path
        A ``manifest.toml``.
    home : Path
        The data home; the artifact is copied to ``home/artifacts``.
    artifact_path : Path, optional
        The artifact file; defaults to the manifest's ``[artifact] file``, relative to
        the manifest.
    reference : Path or DataFrame, optional
        Reference rows: the features and the ``score`` production gave each row (see
        :mod:`ethics.equivalence`).  Required for the kinds of :data:`REFERENCE_REQUIRED_KINDS`.
    policy : mapping, optional
        The policy in force (its ``[equivalence] tolerance``); the data home's when omitted.
    actor : str
        Who registers it.
    now : datetime, optional
        Registration time (UTC); the current time when omitted.

    Returns
    -------
    dict
        The version row.  Registering the identical version again returns it unchanged.

    Raises
    ------
    ValidationError
        Bad manifest, refused or mismatching artifact, bad reference rows or scores the
        artifact does not reproduce within the tolerance, or a changed re-registration.
    """
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    kind = manifest["artifact"]["kind"]
    if artifact_path is None and "file" in manifest["artifact"]:
        artifact_path = manifest_path.parent / manifest["artifact"]["file"]
    data = read_artifact(kind, artifact_path, manifest_file=str(manifest_path))
    rows = _read_reference(reference, kind=kind, manifest=manifest, manifest_file=str(manifest_path))
    sha = artifacts.sha256_bytes(data) if data is not None else None
    equivalence = None
    if data is not None:
        tolerance = equivalence_tolerance(policy if policy is not None else _home_policy(home))
        equivalence = _check_artifact(data, sha, path=Path(artifact_path), kind=kind, manifest=manifest,
                                      reference=rows, tolerance=tolerance)
    manifest_json = store.to_json(stored_form(manifest))
    manifest_sha = artifacts.sha256_bytes(manifest_json.encode())
    model_id, version = manifest["id"], manifest["version"]

    existing = _find_version(db, model_id, version)
    if existing is not None:
        if existing["artifact_sha256"] != sha:
            raise ValidationError(VERSION_EXISTS.format(model_id=model_id, version=version, what="artifact"))
        if existing["manifest_sha256"] != manifest_sha:
            raise ValidationError(VERSION_EXISTS.format(model_id=model_id, version=version, what="manifest"))
        if rows is not None and existing["reference_sha256"] != rows.sha256:
            raise ValidationError(VERSION_EXISTS.format(model_id=model_id, version=version, what="reference rows"))
        return existing

    relative = None
    if data is not None:
        relative = f"{ARTIFACTS_DIR}/{sha}{_SUFFIX[kind]}"
        target = home / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            tmp = target.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(target)
    stamp = iso(now or utcnow())
    with store.transaction(db):
        model = {key: manifest[key] for key in ("name", "purpose", "owner", "team", "risk_tier")}
        # Not upsert: sqlite-utils 4 upserts with INSERT ... ON CONFLICT, whose insert half already fails NOT NULL
        # on the status and creation time a later version must not change.
        if db[store.MODELS].count_where("id = ?", [model_id]):
            db[store.MODELS].update(model_id, model)
        else:
            db[store.MODELS].insert({"id": model_id, **model, "status": "active", "created_at": stamp})
        seen = teams.record_model_teams(db, model_id, [manifest["team"]], actor=actor, now=now)
        version_id = db[store.VERSIONS].insert(
            {
                "model_id": model_id,
                "version": version,
                # None for outcomes not cut at a threshold: continuous, multiclass, a ranking without one.
                "threshold": manifest["threshold"],
                "artifact_kind": kind,
                "artifact_sha256": sha,
                "artifact_file": relative,
                "manifest_json": manifest_json,
                "manifest_sha256": manifest_sha,
                "registered_at": stamp,
                "registered_by": actor,
                # Covered by the entry's record digest like every other column (NULL when none was given).
                **(equivalence.columns() if equivalence is not None else {}),
            }
        ).last_pk
        audit.record(db, audit.ModelRegistered(actor, "model_version", f"{model_id} {version}", version=version,
                                               artifact_sha256=sha, manifest_sha256=manifest_sha, created=now),
                     records=[(store.VERSIONS, version_id), (store.MODELS, model_id), *seen])
    return get_version(db, model_id, version)


def _check_artifact(data: bytes, sha: str, *, path: Path, kind: str, manifest: dict[str, Any],
                    reference: Reference | None, tolerance: float) -> Equivalence | None:
    """Refuse code formats by their bytes, then let one worker check features, classifier rules and references."""
    file = str(path)
    artifacts.refuse_executable(data, file=file, kind=kind)
    with artifacts.Scorer(path, kind=kind, expected_sha256=sha, file=file, consequence=REGISTERED_NOTHING,
                          columns=feature_names(manifest)) as scorer:
        artifacts.check_features(scorer, feature_names(manifest), file=file)
        artifacts.check_feature_types(scorer, category_features(manifest), file=file)
        artifacts.check_classifier(scorer.facts, kind=kind, outcome=outcome_of(manifest), file=file)
        if reference is None:
            if kind in REFERENCE_REQUIRED_KINDS:  # after the artifact's own checks: those name its real problem
                raise ValidationError(REFERENCE_REQUIRED.format(file=file, kind=kind))
            return None
        from ethics import equivalence

        return equivalence.check(scorer, reference, tolerance=tolerance)


def _read_reference(source: Path | pd.DataFrame | None, *, kind: str, manifest: dict[str, Any],
                    manifest_file: str) -> Reference | None:
    if source is None:
        return None
    if kind == "none":
        raise ValidationError(REFERENCE_WITHOUT_ARTIFACT.format(file=manifest_file))
    from ethics import equivalence  # imports ethics.datasets, which imports this module

    return equivalence.read_reference(source, manifest=manifest)


def _home_policy(home: Path) -> dict[str, Any]:
    local = Path(home) / SETTINGS_FILE
    return load_policy(local if local.exists() else None)


def equivalence_text(version_row: dict[str, Any]) -> str:
    """The one sentence on a version's equivalence with production, for page, report, model card and CLI.

    Examples
    --------
    "The model governed here reproduces production scores to 3e-08 on 500 rows (tolerance 1e-06)."
    """
    if version_row["artifact_kind"] == "none":
        return SCORES_ONLY
    if version_row.get("reference_rows") is None:
        return NOT_CHECKED
    difference = version_row["reference_max_difference"]
    return EQUIVALENT.format(difference=f"{difference:.2g}" if difference else "0 (identical)",
                             rows=version_row["reference_rows"], tolerance=version_row["reference_tolerance"])


def read_artifact(kind: str, path: Path | None, *, manifest_file: str) -> bytes | None:
    """The artifact's bytes, after the checks every file gets (a regular file, within the size limit); None for "none".

    Raises
    ------
    ValidationError
        A missing, unexpected, unreadable, special or too large file.
    """
    if kind == "none":
        if path is not None:
            raise ValidationError(ARTIFACT_UNEXPECTED.format(file=path))
        return None
    if path is None:
        raise ValidationError(ARTIFACT_REQUIRED.format(file=manifest_file, kind=kind))
    try:
        info = Path(path).stat()
        if not stat.S_ISREG(info.st_mode):  # /dev/zero, a FIFO or a folder: never ends, blocks or fails late
            raise ValidationError(ARTIFACT_NOT_FILE.format(file=path))
        if info.st_size > MAX_ARTIFACT_BYTES:
            raise ValidationError(ARTIFACT_TOO_LARGE.format(file=path, size=info.st_size, limit=MAX_ARTIFACT_BYTES))
        with open(path, "rb") as handle:
            return handle.read(MAX_ARTIFACT_BYTES + 1)
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read the artifact ({exc.strerror}).") from None


def _find_version(db: store.Database, model_id: str, version: str) -> dict[str, Any] | None:
    rows = store.list_rows(db, store.VERSIONS, "model_id = ? and version = ?", [model_id, version])
    return rows[0] if rows else None


def get_model(db: store.Database, model_id: str) -> dict[str, Any]:
    """One model row.

    Raises
    ------
    NotFound
        When no model has that id.
    """
    return store.get_row(db, store.MODELS, model_id, message=UNKNOWN_MODEL.format(model_id=model_id))


def list_models(db: store.Database, *, scope: str | None = None) -> list[dict[str, Any]]:
    """Every model a reader may see, with its latest version, version count and the teams it scores.

    Each model also carries ``equivalence``: the :func:`equivalence_text` of its latest version.

    Parameters
    ----------
    db : Database
    scope : str, optional
        A sales manager's team (``Actor.scope``): only the models the team owns or whose
        batches hold leads of the team.  None lists every model.
    """
    models = store.list_rows(db, store.MODELS, order_by="id")
    if scope is not None:
        visible = teams.visible_model_ids(db, scope)
        models = [m for m in models if m["id"] in visible]
    for model in models:
        versions = list_versions(db, model["id"])
        model["versions"] = len(versions)
        model["latest_version"] = versions[-1]["version"] if versions else None
        model["equivalence"] = equivalence_text(versions[-1]) if versions else None
        model["teams"] = teams.model_teams(db, model["id"])
    return models


def visible_model(db: store.Database, model_id: str, *, scope: str | None) -> dict[str, Any]:
    """The model row, if a reader scoped to ``scope`` may see it (see :func:`list_models`).

    Raises
    ------
    NotFound
        Unknown model (unscoped readers).
    PermissionDenied
        The model scores no lead of the team, or does not exist (scoped readers: one message for both).
    """
    if scope is None:
        return get_model(db, model_id)
    if model_id not in teams.visible_model_ids(db, scope):
        raise hidden_model(model_id, scope=scope)
    return get_model(db, model_id)


def hidden_model(model_id: str, *, scope: str | None) -> NotFound | PermissionDenied:
    """The error for a model a reader may not see: unknown to an unscoped reader, "not allowed" to a scoped one."""
    if scope is None:
        return NotFound(UNKNOWN_MODEL.format(model_id=model_id))
    return PermissionDenied(MODEL_NOT_VISIBLE.format(model_id=model_id, team=scope))


def suspension(db: store.Database, model_id: str) -> dict[str, Any] | None:
    """When and by which review a suspended model was suspended; None for a model in use."""
    model = get_model(db, model_id)
    if model["status"] != "suspended":
        return None
    found = store.list_rows(db, store.REVIEWS, "model_id = ? and decision = 'suspend'", [model_id],
                            order_by="id desc", select="id, signed_at, reviewer, comment")
    review = found[0] if found else {"id": None, "signed_at": None, "reviewer": None, "comment": ""}
    since = (review["signed_at"] or "")[:10] or "an unknown date"
    return {"model_id": model_id, "name": model["name"], "since": review["signed_at"], "review_id": review["id"],
            "reviewer": review["reviewer"], "comment": review["comment"],
            "text": SUSPENDED.format(name=model["name"], since=since,
                                     review=f"review {review['id']}" if review["id"] else "a review")}


def list_versions(db: store.Database, model_id: str) -> list[dict[str, Any]]:
    """A model's versions, oldest first, each with its parsed manifest."""
    rows = store.list_rows(db, store.VERSIONS, "model_id = ?", [model_id], order_by="id")
    for row in rows:
        row["manifest"] = with_defaults(json.loads(row["manifest_json"]))
    return rows


def get_version(db: store.Database, model_id: str, version: str | None = None) -> dict[str, Any]:
    """One version (the latest when ``version`` is None), with its parsed manifest.

    Raises
    ------
    NotFound
        Unknown model or version.
    """
    get_model(db, model_id)
    versions = list_versions(db, model_id)
    if version is None and versions:
        return versions[-1]
    for row in versions:
        if row["version"] == version:
            return row
    raise NotFound(UNKNOWN_VERSION.format(model_id=model_id, version=version))


def load_scorer(
    version_row: dict[str, Any], *, home: Path, consequence: str = artifacts.NOTHING_STORED
) -> Scorer | None:
    """A version's artifact, loaded in its worker on first use (hash checked again); None for scores-only models.

    Parameters
    ----------
    version_row : dict
    home : Path
    consequence : str
        Ends every message of a failure ("nothing was imported").
    """
    if version_row["artifact_kind"] == "none":
        return None
    return artifacts.load_verified(
        home / version_row["artifact_file"],
        kind=version_row["artifact_kind"],
        expected_sha256=version_row["artifact_sha256"],
        model_id=version_row["model_id"],
        version=version_row["version"],
        consequence=consequence,
        columns=feature_names(version_row["manifest"]),
    )


@contextmanager
def scorer_for(
    version_row: dict[str, Any], *, home: Path, consequence: str = artifacts.NOTHING_STORED
) -> Iterator[Scorer | None]:
    """:func:`load_scorer` whose worker process is stopped when the block ends."""
    scorer = load_scorer(version_row, home=home, consequence=consequence)
    try:
        yield scorer
    finally:
        if scorer is not None:
            scorer.close()
