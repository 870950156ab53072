"""Model artifacts in formats that cannot run code when loaded.

Accepted: LightGBM text models, XGBoost JSON or UBJ, and linear models as JSON
coefficients.  Pickle, joblib and archive formats are refused by their magic bytes
before anything else is read.  Nothing in an artifact is ever executed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ethics.errors import (
    ARTIFACT_FEATURES,
    ARTIFACT_HASH,
    ARTIFACT_KIND,
    ARTIFACT_PICKLE,
    ArtifactRefused,
)

ArtifactKind = Literal["lightgbm", "xgboost", "linear", "none"]
ARTIFACT_KINDS: tuple[str, ...] = ("lightgbm", "xgboost", "linear", "none")
LINEAR_FORMAT = "ethics-linear-v1"
PREDICT_THREADS = 2

# (prefix, description).  Checked before any parser sees the bytes.
_REFUSED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x80\x02", "Python pickle (protocol 2)"),
    (b"\x80\x03", "Python pickle (protocol 3)"),
    (b"\x80\x04", "Python pickle / joblib (protocol 4)"),
    (b"\x80\x05", "Python pickle / joblib (protocol 5)"),
    (b"x\x01", "zlib-compressed joblib"),
    (b"x^", "zlib-compressed joblib"),
    (b"x\x9c", "zlib-compressed joblib"),
    (b"x\xda", "zlib-compressed joblib"),
    (b"ZF", "joblib (old compressed format)"),
    (b"\x1f\x8b", "gzip-compressed file (joblib or pickle)"),
    (b"BZh", "bz2-compressed file (joblib or pickle)"),
    (b"\xfd7zXZ\x00", "xz-compressed file (joblib or pickle)"),
    (b"\x5d\x00\x00", "lzma-compressed file (joblib or pickle)"),
    (b"\x04\x22\x4d\x18", "lz4-compressed file (joblib or pickle)"),
    (b"PK\x03\x04", "zip archive (torch, cloudpickle or skops)"),
)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def refuse_executable(data: bytes, *, file: str) -> None:
    """Raise ``ArtifactRefused`` when ``data`` starts like pickle, joblib or an archive."""
    for magic, description in _REFUSED_MAGIC:
        if data.startswith(magic):
            raise ArtifactRefused(
                ARTIFACT_PICKLE.format(file=file, format=description, magic=magic.hex(" "))
            )


@dataclass(frozen=True)
class Scorer:
    """A loaded model that turns feature rows into scores in [0, 1].

    Attributes
    ----------
    kind : str
        ``lightgbm``, ``xgboost`` or ``linear``.
    features : list of str
        Input columns in the order the model expects them.
    model : object
        The LightGBM/XGBoost booster, or the parsed linear-model dict.
    """

    kind: str
    features: list[str]
    model: Any

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Scores for the rows of ``frame`` (which must hold every feature)."""
        values = frame[self.features].to_numpy(dtype=np.float64)
        if self.kind == "lightgbm":
            return np.asarray(self.model.predict(values, num_threads=PREDICT_THREADS))
        if self.kind == "xgboost":
            import xgboost

            matrix = xgboost.DMatrix(values, feature_names=self.features, nthread=PREDICT_THREADS)
            return np.asarray(self.model.predict(matrix))
        margin = linear_margin(self.model, values, self.features)
        return 1.0 / (1.0 + np.exp(-margin)) if self.link == "logistic" else margin

    @property
    def link(self) -> str:
        """``logistic`` when the score is the sigmoid of the model's raw output, else ``identity``."""
        return self.model.get("link", "logistic") if self.kind == "linear" else "logistic"

    def margin(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's raw output before its link: log-odds for the logistic link."""
        values = frame[self.features].to_numpy(dtype=np.float64)
        if self.kind == "lightgbm":
            return np.asarray(self.model.predict(values, raw_score=True, num_threads=PREDICT_THREADS))
        if self.kind == "xgboost":
            import xgboost

            matrix = xgboost.DMatrix(values, feature_names=self.features, nthread=PREDICT_THREADS)
            return np.asarray(self.model.predict(matrix, output_margin=True), dtype=np.float64)
        return linear_margin(self.model, values, self.features)


def linear_weights(spec: dict[str, Any], features: list[str]) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of a linear model on the unscaled feature values.

    ``intercept + sum(w * (x - mean) / scale)`` equals ``b + sum(c * x)`` with
    ``c = w / scale`` and ``b = intercept - sum(c * mean)``.
    """
    weights = np.array([spec["coefficients"][name] for name in features], dtype=np.float64)
    scaling = spec.get("scaling", {})
    means = np.array([scaling.get(n, {}).get("mean", 0.0) for n in features], dtype=np.float64)
    scales = np.array([scaling.get(n, {}).get("scale", 1.0) for n in features], dtype=np.float64)
    coefficients = weights / scales
    return coefficients, float(spec["intercept"] - coefficients @ means)


def linear_margin(spec: dict[str, Any], values: np.ndarray, features: list[str]) -> np.ndarray:
    """The linear model's output before its link (log-odds for the logistic link)."""
    weights = np.array([spec["coefficients"][name] for name in features], dtype=np.float64)
    scaling = spec.get("scaling", {})
    means = np.array([scaling.get(n, {}).get("mean", 0.0) for n in features])
    scales = np.array([scaling.get(n, {}).get("scale", 1.0) for n in features])
    return spec["intercept"] + ((values - means) / scales) @ weights


def _parse_linear(data: bytes, *, file: str) -> tuple[dict[str, Any], list[str]]:
    try:
        spec = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactRefused(
            ARTIFACT_KIND.format(file=file, kind="linear", reason=f"it is not JSON ({exc})")
        ) from None
    if not isinstance(spec, dict) or spec.get("format") != LINEAR_FORMAT:
        reason = f"its 'format' is not {LINEAR_FORMAT!r}"
        raise ArtifactRefused(ARTIFACT_KIND.format(file=file, kind="linear", reason=reason))
    coefficients = spec.get("coefficients")
    intercept = spec.get("intercept")
    if not isinstance(coefficients, dict) or not coefficients or not _is_number(intercept):
        reason = "it needs a number 'intercept' and a non-empty 'coefficients' table"
        raise ArtifactRefused(ARTIFACT_KIND.format(file=file, kind="linear", reason=reason))
    bad = [name for name, weight in coefficients.items() if not _is_number(weight)]
    if bad:
        reason = f"coefficient {bad[0]!r} is not a finite number"
        raise ArtifactRefused(ARTIFACT_KIND.format(file=file, kind="linear", reason=reason))
    if spec.get("link", "logistic") not in {"logistic", "identity"}:
        reason = "'link' must be 'logistic' or 'identity'"
        raise ArtifactRefused(ARTIFACT_KIND.format(file=file, kind="linear", reason=reason))
    return spec, list(coefficients)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_artifact(data: bytes, *, kind: str, file: str) -> Scorer:
    """Parse artifact bytes of a declared kind without executing anything.

    Parameters
    ----------
    data : bytes
        The artifact's content.
    kind : {"lightgbm", "xgboost", "linear"}
        The kind the manifest declares.
    file : str
        Name used in error messages.

    Returns
    -------
    Scorer

    Raises
    ------
    ArtifactRefused
        For pickle/joblib/archives, or content that is not of the declared kind.
    """
    refuse_executable(data, file=file)
    if kind == "lightgbm":
        if not data.startswith(b"tree\n"):
            reason = "the file does not start like a LightGBM text model ('tree')"
            raise ArtifactRefused(ARTIFACT_KIND.format(file=file, kind=kind, reason=reason))
        import lightgbm

        try:
            booster = lightgbm.Booster(model_str=data.decode("utf-8"))
        except (UnicodeDecodeError, lightgbm.basic.LightGBMError) as exc:
            reason = f"LightGBM cannot parse it ({exc})"
            raise ArtifactRefused(ARTIFACT_KIND.format(file=file, kind=kind, reason=reason)) from None
        return Scorer(kind, list(booster.feature_name()), booster)
    if kind == "xgboost":
        if not data.startswith(b"{"):
            reason = "the file is neither XGBoost JSON nor UBJ"
            raise ArtifactRefused(ARTIFACT_KIND.format(file=file, kind=kind, reason=reason))
        import xgboost

        booster = xgboost.Booster()
        try:
            booster.load_model(bytearray(data))
        except xgboost.core.XGBoostError as exc:
            reason = f"XGBoost cannot parse it ({str(exc).splitlines()[0]})"
            raise ArtifactRefused(ARTIFACT_KIND.format(file=file, kind=kind, reason=reason)) from None
        if not booster.feature_names:
            reason = "the model was saved without feature names"
            raise ArtifactRefused(ARTIFACT_KIND.format(file=file, kind=kind, reason=reason))
        return Scorer(kind, list(booster.feature_names), booster)
    if kind == "linear":
        spec, features = _parse_linear(data, file=file)
        return Scorer(kind, features, spec)
    raise ArtifactRefused(ARTIFACT_KIND.format(file=file, kind=kind, reason="that kind has no loader"))


def check_features(scorer: Scorer, manifest_features: list[str], *, file: str) -> None:
    """The artifact must use exactly the manifest's features."""
    if sorted(scorer.features) != sorted(manifest_features):
        raise ArtifactRefused(
            ARTIFACT_FEATURES.format(
                file=file, artifact=sorted(scorer.features), manifest=sorted(manifest_features)
            )
        )


def load_verified(
    path: Path, *, kind: str, expected_sha256: str, model_id: str, version: str
) -> Scorer:
    """Load a registered artifact after checking its SHA-256 again."""
    data = path.read_bytes()
    actual = sha256_bytes(data)
    if actual != expected_sha256:
        raise ArtifactRefused(
            ARTIFACT_HASH.format(
                model_id=model_id,
                version=version,
                file=path,
                actual=actual,
                expected=expected_sha256,
            )
        )
    return parse_artifact(data, kind=kind, file=str(path))
