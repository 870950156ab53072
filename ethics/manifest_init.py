"""A starting manifest, written from a model and a sample of its rows (``python -m ethics manifest init``).

What the model and the sample tell is filled in: the features in the model's order with
their types and labels derived from their names, the values a category takes, candidate
sensitive attributes (sample columns whose names suggest one) and proxy candidates (features
associated with a candidate above the policy's proxy threshold), both written as commented
lines a person confirms.  What only a person knows (name, owner, team, purpose, the impact
assessment) is a placeholder starting with ``TODO:``, which :func:`ethics.manifest.read_manifest`
refuses until it is replaced.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ethics import artifacts, datasets, explain, registry
from ethics.errors import INIT_SAMPLE_COLUMNS, ValidationError
from ethics.manifest import (
    CONSENT_PURPOSES,
    PURPOSES,
    RESERVED_COLUMNS,
    RISK_TIERS,
    TODO,
    Candidates,
    Commented,
    manifest_toml,
)

NOTHING_WRITTEN = "no manifest was written"
#: Words (whole parts of a column name) that suggest a sensitive attribute (GDPR Art. 9 and the usual protected
#: grounds), and stems that suggest one at the start of a part ("ethnicity", "pregnant", "disabled").
SENSITIVE_WORDS = frozenset({"age", "sex", "gender", "race", "dob", "birth", "birthdate", "citizenship",
                             "orientation", "caste", "tribe"})
SENSITIVE_STEMS = ("ethnic", "relig", "national", "marit", "disab", "pregnan", "handicap")
#: Category values listed in a feature's comment.
SHOWN_VALUES = 12
_HEADER = """\
# Starting manifest written by `python -m ethics manifest init` from {source}.
# Replace every "TODO: ..." (registration refuses the file until none is left), then confirm the
# candidate sensitive attributes and proxy candidates by removing the '#' in front of them.
"""


def label_of(name: str) -> str:
    """A label a person reads, from a column name: ``total_charges`` → "Total charges"."""
    text = " ".join(name.replace("_", " ").split())
    return text[:1].upper() + text[1:] if text else name


def suggests_sensitive(name: str) -> bool:
    """Whether a column name suggests a sensitive attribute: ``age_band``, ``Gender``, ``marital_status``."""
    parts = [part for part in re.split(r"[^a-z0-9]+", name.lower()) if part]
    return any(part in SENSITIVE_WORDS or part.startswith(SENSITIVE_STEMS) for part in parts)


def model_facts(artifact: Path, *, kind: str) -> dict[str, Any]:
    """The loader facts of an artifact (features in the model's order, the text ones), read in its worker.

    Raises
    ------
    ValidationError, ArtifactRefused
        A file that cannot be an artifact of ``kind``, refused as at registration.
    """
    data = registry.read_artifact(kind, artifact, manifest_file=str(artifact))
    assert data is not None  # kind "none" has no artifact; callers do not ask for its facts
    file = str(artifact)
    artifacts.refuse_executable(data, file=file, kind=kind)
    with artifacts.Scorer(artifact, kind=kind, expected_sha256=artifacts.sha256_bytes(data), file=file,
                          consequence=NOTHING_WRITTEN) as scorer:
        return dict(scorer.facts)


def starting_manifest(*, kind: str, artifact: Path | None, sample: Path | None, out: Path,
                      policy: Mapping[str, Any]) -> str:
    """The text of a starting ``manifest.toml`` for a model.

    Parameters
    ----------
    kind : str
        The artifact's kind (``none`` for a scores-only model: its features are the sample's columns).
    artifact : Path, optional
        The model file (not for ``none``); the manifest names it relative to ``out``.
    sample : Path, optional
        Rows as the model reads them (CSV or Parquet), for types, category values and candidates.
    out : Path
        Where the manifest will be written.
    policy : mapping
        The policy in force (its ``[explanations] proxy_threshold``).

    Raises
    ------
    ValidationError
        An unreadable artifact or sample, or a sample without a feature of the model.
    """
    frame = datasets.read_table(Path(sample)) if sample is not None else None
    columns = [c for c in (frame.columns if frame is not None else ()) if c not in RESERVED_COLUMNS]
    candidates = [c for c in columns if suggests_sensitive(c)]
    if kind == "none" or artifact is None:
        features = [c for c in columns if c not in candidates]
        text = {c for c in features if not pd.api.types.is_numeric_dtype(frame[c])} if frame is not None else set()
    else:
        facts = model_facts(Path(artifact), kind=kind)
        features, text = list(facts["features"]), set(facts.get("categorical", ()))
        for name in features if frame is not None else ():
            if name not in frame.columns:
                raise ValidationError(INIT_SAMPLE_COLUMNS.format(file=Path(sample).name, column=name))
    threshold = float(policy["explanations"]["proxy_threshold"])
    document = {
        "id": _model_id(Path(artifact).stem if artifact is not None else out.parent.name),
        "name": f"{TODO} the model's name as the sales teams know it",
        "version": Commented("1.0.0", "a new file of the model is a new version"),
        "purpose": f"{TODO} one of {', '.join(PURPOSES)}",
        "owner": f"{TODO} Name <email> of the person accountable for the model",
        "team": f"{TODO} the sales team that owns and uses the model",
        "risk_tier": f"{TODO} one of {', '.join(RISK_TIERS)}",
        "threshold": Commented(0.5, "a lead with score >= threshold is selected: give production's"),
        "consent_purpose": f"{TODO} one of {', '.join(CONSENT_PURPOSES)}: what a customer consents to",
        "proxy_candidates": Candidates(_proxies(frame, features, candidates, threshold) if frame is not None else []),
        "sensitive_attributes": Candidates([_attribute(frame, name, features) for name in candidates]),
        "artifact": {"kind": kind, **({"file": _relative(Path(artifact), out)} if artifact is not None else {})},
        "features": [_feature(frame, name, category=name in text) for name in features],
        "impact_assessment": {
            "purpose": f"{TODO} what the model decides, and for whom",
            "data_categories": [f"{TODO} the kinds of personal data the features hold"],
            "legal_basis": f"{TODO} e.g. Legitimate interest (GDPR Art. 6(1)(f)), with its assessment",
            "affected": f"{TODO} who is scored",
            "human_oversight": f"{TODO} who sees the score and may decide otherwise",
        },
    }
    source = " and ".join(str(p) for p in (artifact, sample) if p is not None) or "nothing"
    return _HEADER.format(source=source) + manifest_toml(document)


def _model_id(stem: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")[:63]
    return slug if len(slug) >= 2 else f"{TODO} an id of 2-63 lower-case letters, digits, '-' or '_'"


def _relative(artifact: Path, out: Path) -> str:
    return Path(os.path.relpath(artifact.resolve(), out.resolve().parent)).as_posix()


def _values_seen(values: pd.Series) -> str:
    seen = sorted(values.dropna().astype(str).unique())
    more = f" and {len(seen) - SHOWN_VALUES} more" if len(seen) > SHOWN_VALUES else ""
    return ", ".join(f'"{v}"' for v in seen[:SHOWN_VALUES]) + more


def _feature(frame: pd.DataFrame | None, name: str, *, category: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "label": label_of(name)}
    if category:
        entry["type"] = "category"
        if frame is not None:
            entry["#"] = f"values seen in the sample: {_values_seen(frame[name])}"
    return entry


def _bands(values: pd.Series) -> list[float] | None:
    """Band edges for a numeric attribute with many values (quintiles of the sample, as whole numbers)."""
    if not pd.api.types.is_numeric_dtype(values) or values.nunique() <= explain.PROXY_MAX_CATEGORIES:
        return None
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    edges = np.unique(np.round(np.nanquantile(numbers, [0.2, 0.4, 0.6, 0.8])))
    return [int(e) if float(e).is_integer() else float(e) for e in edges] or None


def _attribute(frame: pd.DataFrame, name: str, features: list[str]) -> tuple[dict[str, Any], str]:
    entry: dict[str, Any] = {"name": name, "label": label_of(name)}
    bands = _bands(frame[name])
    if bands:
        entry["bands"] = bands
    why = f"sample column; values seen: {_values_seen(frame[name])}" if not bands else "sample column, banded"
    return entry, why + (" (also a model input)" if name in features else "")


def _proxies(frame: pd.DataFrame, features: list[str], attributes: list[str], threshold: float
             ) -> list[tuple[str, str]]:
    """Features whose Cramér's V with a candidate attribute is above the threshold, strongest association first."""
    codes = {a: explain.categories(frame[a], bands=_bands(frame[a])) for a in attributes}
    found = []
    for name in features:
        if name in attributes:
            continue
        feature_codes = explain.categories(frame[name])
        value, attribute = max(((explain.cramers_v(feature_codes, codes[a]), a) for a in attributes),
                               default=(0.0, None))
        if attribute is not None and value > threshold:
            found.append((value, name, f"Cramér's V {value:.2f} with {attribute} (proxy threshold {threshold:g})"))
    return [(name, why) for _, name, why in sorted(found, key=lambda item: -item[0])]
