"""The ``manifest.toml`` that describes a model version, and its validation.

A manifest is read and checked completely before anything is written; the result
is a plain dict with every optional field filled in.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from ethics.artifacts import ARTIFACT_KINDS
from ethics.errors import (
    MANIFEST_CHOICE,
    MANIFEST_MISSING,
    MANIFEST_RULE,
    MANIFEST_TOML,
    MANIFEST_TYPE,
    MANIFEST_UNREADABLE,
    ValidationError,
)

PURPOSES = (
    "lead_scoring",
    "churn",
    "upsell",
    "cross_sell",
    "discount",
    "next_best_offer",
    "win_probability",
)
RISK_TIERS = ("low", "medium", "high")
# Columns every dataset may carry besides features and sensitive attributes.
RESERVED_COLUMNS = ("lead_id", "customer_id", "team", "label", "score")
IMPACT_FIELDS = ("purpose", "data_categories", "legal_basis", "affected", "human_oversight")
_EXPECTED = {str: "text", list: "a list", dict: "a table"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")


def read_manifest(path: Path) -> dict[str, Any]:
    """Read and validate a manifest file.

    Raises
    ------
    ValidationError
        Naming the file and the field or rule that failed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(MANIFEST_UNREADABLE.format(file=path, reason=exc)) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(MANIFEST_TOML.format(file=path, reason=exc)) from None
    return validate_manifest(raw, file=str(path))


def _require(raw: dict[str, Any], field: str, kind: type | tuple[type, ...], *, file: str) -> Any:
    if field not in raw:
        raise ValidationError(MANIFEST_MISSING.format(file=file, field=field))
    value = raw[field]
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = _EXPECTED.get(kind, "a number") if isinstance(kind, type) else "a number or text"
        raise ValidationError(MANIFEST_TYPE.format(file=file, field=field, expected=expected, got=value))
    if isinstance(value, str) and not value.strip():
        raise ValidationError(MANIFEST_MISSING.format(file=file, field=field))
    return value


def _choice(raw: dict[str, Any], field: str, allowed: tuple[str, ...], *, file: str) -> str:
    value = _require(raw, field, str, file=file)
    if value not in allowed:
        raise ValidationError(
            MANIFEST_CHOICE.format(file=file, field=field, got=value, allowed=", ".join(allowed))
        )
    return value


def _named_entries(raw: dict[str, Any], field: str, *, file: str) -> list[dict[str, Any]]:
    entries = _require(raw, field, list, file=file)
    result = []
    for index, entry in enumerate(entries):
        where = f"{field}[{index}]"
        if not isinstance(entry, dict):
            raise ValidationError(
                MANIFEST_TYPE.format(file=file, field=where, expected="a table", got=entry)
            )
        name = _require(entry, "name", str, file=f"{file}: {where}")
        if not _NAME.match(name) or name in RESERVED_COLUMNS:
            rule = (
                f"{where}.name {name!r} must be lower-case letters, digits and '_' "
                f"and not one of {', '.join(RESERVED_COLUMNS)}"
            )
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
        bands = entry.get("bands")
        if bands is not None and not _increasing_numbers(bands):
            rule = f"{where}.bands must be increasing numbers (band edges such as [25, 35, 45, 55]), got {bands!r}"
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
        result.append(
            {
                "name": name,
                "label": _require(entry, "label", str, file=f"{file}: {where}"),
                "unit": str(entry.get("unit", "")),
                "description": str(entry.get("description", "")),
                **({"bands": list(entry["bands"])} if "bands" in entry else {}),
            }
        )
    names = [entry["name"] for entry in result]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        rule = f"{field} names must be unique; repeated: {', '.join(duplicates)}"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    return result


def _increasing_numbers(values: Any) -> bool:
    return (
        isinstance(values, list)
        and bool(values)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        and all(a < b for a, b in zip(values, values[1:], strict=False))
    )


def validate_manifest(raw: dict[str, Any], *, file: str) -> dict[str, Any]:
    """Check a parsed manifest and return it normalised.

    Parameters
    ----------
    raw : dict
        The parsed TOML.
    file : str
        The manifest's name, used in every message.

    Returns
    -------
    dict
        The manifest with defaults filled in.
    """
    model_id = _require(raw, "id", str, file=file)
    if not _ID.match(model_id):
        rule = f"id {model_id!r} must be 2-63 lower-case letters, digits, '-' or '_'"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    threshold = _require(raw, "threshold", (int, float), file=file)
    if not (math.isfinite(threshold) and 0 < threshold < 1):
        rule = f"threshold {threshold!r} must lie strictly between 0 and 1"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    features = _named_entries(raw, "features", file=file)
    if not features:
        raise ValidationError(MANIFEST_RULE.format(file=file, rule="features must list at least one feature"))
    sensitive = _named_entries(raw, "sensitive_attributes", file=file)
    feature_names = {f["name"] for f in features}
    overlap = sorted(feature_names & {s["name"] for s in sensitive})
    if overlap:
        rule = f"sensitive attributes are never model inputs, but {', '.join(overlap)} is also a feature"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    proxies = raw.get("proxy_candidates", [])
    if not isinstance(proxies, list) or not all(isinstance(p, str) for p in proxies):
        raise ValidationError(
            MANIFEST_TYPE.format(file=file, field="proxy_candidates", expected="a list", got=proxies)
        )
    unknown = sorted(set(proxies) - feature_names)
    if unknown:
        rule = f"proxy_candidates must be features; not features: {', '.join(unknown)}"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    artifact = raw.get("artifact", {})
    if not isinstance(artifact, dict):
        raise ValidationError(MANIFEST_TYPE.format(file=file, field="artifact", expected="a table", got=artifact))
    kind = _choice(artifact, "kind", ARTIFACT_KINDS, file=f"{file}: [artifact]")
    impact = _require(raw, "impact_assessment", dict, file=file)
    for field in IMPACT_FIELDS:
        _require(impact, field, list if field == "data_categories" else str, file=f"{file}: [impact_assessment]")
    return {
        "id": model_id,
        "name": _require(raw, "name", str, file=file),
        "version": str(_require(raw, "version", (str, int, float), file=file)),
        "purpose": _choice(raw, "purpose", PURPOSES, file=file),
        "owner": _require(raw, "owner", str, file=file),
        "team": _require(raw, "team", str, file=file),
        "risk_tier": _choice(raw, "risk_tier", RISK_TIERS, file=file),
        "threshold": float(threshold),
        "consent_purpose": _require(raw, "consent_purpose", str, file=file),
        "description": str(raw.get("description", "")),
        "features": features,
        "sensitive_attributes": sensitive,
        "proxy_candidates": list(proxies),
        "artifact": {"kind": kind, **({"file": artifact["file"]} if "file" in artifact else {})},
        "impact_assessment": {field: impact[field] for field in IMPACT_FIELDS},
        "contact": str(raw.get("contact", raw["owner"])),
    }


def feature_names(manifest: dict[str, Any]) -> list[str]:
    """The model's input columns, in manifest order."""
    return [feature["name"] for feature in manifest["features"]]


def sensitive_names(manifest: dict[str, Any]) -> list[str]:
    """The sensitive attributes (used for fairness, never as inputs)."""
    return [attribute["name"] for attribute in manifest["sensitive_attributes"]]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def manifest_toml(document: dict[str, Any]) -> str:
    """Write a manifest document (values, tables, arrays of tables) as TOML text.

    The inverse of reading a manifest for the shapes manifests use; the demo and the
    benchmarks write their manifests with it.
    """
    head, tail = [], []
    for key, value in document.items():
        if isinstance(value, dict):
            tail += ["", f"[{key}]", *(f"{k} = {_toml_value(v)}" for k, v in value.items())]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                tail += ["", f"[[{key}]]", *(f"{k} = {_toml_value(v)}" for k, v in item.items())]
        else:
            head.append(f"{key} = {_toml_value(value)}")
    return "\n".join(head + tail) + "\n"
