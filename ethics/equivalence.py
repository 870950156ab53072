"""Equivalence with production, checked at registration.

The data scientist gives reference rows: the model's features and the score their own
production system gave each row.  The artifact recomputes them in its worker; the
largest difference is stored with the version, and above the policy's tolerance
(``[policy.equivalence] tolerance``) nothing is registered.  Cells follow the rules of
every other file (:mod:`ethics.datasets`): a bad cell is refused naming file, row and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ethics import artifacts, datasets
from ethics.errors import COLUMN_MISSING, REFERENCE_COLUMN_EXTRA, REFERENCE_DIFFERS, REFERENCE_EMPTY, ValidationError
from ethics.manifest import category_features, feature_names

SCORE = "score"
#: Name used in messages for reference rows given as a data frame (the notebook API).
FRAME_NAME = "reference rows"


@dataclass(frozen=True)
class Reference:
    """Validated reference rows.

    Attributes
    ----------
    features : DataFrame
        The manifest's features (numbers as float, categories as text).
    scores : ndarray
        The production scores, in [0, 1].
    sha256 : str
        SHA-256 of the file's bytes (of the frame's CSV text for a data frame).
    file : str
        The name used in messages.
    """

    features: pd.DataFrame
    scores: np.ndarray
    sha256: str
    file: str


@dataclass(frozen=True)
class Equivalence:
    """How closely the artifact reproduced the reference scores."""

    rows: int
    max_difference: float
    tolerance: float
    sha256: str

    def columns(self) -> dict[str, Any]:
        """The version row's columns that record it (migration 0014)."""
        return {"reference_rows": self.rows, "reference_max_difference": self.max_difference,
                "reference_tolerance": self.tolerance, "reference_sha256": self.sha256}


def read_reference(source: Path | pd.DataFrame, *, manifest: dict[str, Any]) -> Reference:
    """Read and check reference rows: every feature of the manifest and ``score``; id columns are ignored.

    Parameters
    ----------
    source : Path or DataFrame
        A CSV or Parquet file (read as :func:`ethics.datasets.read_table` reads imports), or a frame.
    manifest : dict
        The validated manifest of the version being registered.

    Raises
    ------
    ValidationError
        No row, a missing or unexpected column, or a bad cell (naming file, row and column).
    """
    if isinstance(source, pd.DataFrame):
        raw, file = source.reset_index(drop=True), FRAME_NAME
        sha = artifacts.sha256_bytes(raw.to_csv(index=False).encode())
    else:
        path = Path(source)
        raw, file = datasets.read_table(path), path.name
        sha = artifacts.sha256_file(path)
    if not len(raw):
        raise ValidationError(REFERENCE_EMPTY.format(file=file))
    names = feature_names(manifest)
    for column in (*names, SCORE):
        if column not in raw.columns:
            raise ValidationError(COLUMN_MISSING.format(file=file, column=column))
    for column in raw.columns:
        if column not in {*names, SCORE, *datasets.ID_COLUMNS}:
            raise ValidationError(REFERENCE_COLUMN_EXTRA.format(file=file, column=column))
    text = set(category_features(manifest))
    features = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    for column in names:
        if column in text:
            features[column] = datasets._text_column(raw[column], file=file, column=column, required=True)
        else:
            features[column] = datasets._number_column(raw[column], file=file, column=column)
    scores = datasets._score_column(raw[SCORE], file=file).to_numpy(dtype=np.float64)
    return Reference(features=features, scores=scores, sha256=sha, file=file)


def check(scorer: artifacts.Scorer, reference: Reference, *, tolerance: float) -> Equivalence:
    """Recompute the reference scores with the artifact; refuse when one differs by more than ``tolerance``.

    Raises
    ------
    ValidationError
        Naming the worst row, both scores and the tolerance.
    """
    computed = scorer.score(reference.features)
    difference = np.abs(computed - reference.scores)
    difference = np.where(np.isfinite(difference), difference, np.inf)  # a NaN score differs without bound
    worst = int(np.argmax(difference))
    if difference[worst] > tolerance:
        raise ValidationError(REFERENCE_DIFFERS.format(
            file=reference.file, row=worst + 1, computed=float(computed[worst]),
            reported=float(reference.scores[worst]), difference=float(difference[worst]), tolerance=tolerance))
    return Equivalence(rows=len(difference), max_difference=float(difference[worst]), tolerance=float(tolerance),
                       sha256=reference.sha256)
