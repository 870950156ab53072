"""The ``manifest.toml`` that describes a model version, and its validation.

A manifest is read and checked completely before anything is written; the result
is a plain dict with every optional field filled in.

Every field has a type: ids (``id``, attribute and offer names) are lower-case ASCII;
feature names are as the data names them (:func:`_feature_name` says what is refused);
``version`` is ASCII letters, digits and ``. - _ +``, ``team`` a team name; free
text (name, owner, labels, units, the impact assessment, ...) is text without control
characters (tab and line breaks aside) or bidirectional overrides; band edges are
finite numbers in increasing order; ``consent_purpose`` is one of :data:`CONSENT_PURPOSES`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from ethics.artifacts import ARTIFACT_KINDS
from ethics.errors import (
    MANIFEST_CAPACITY,
    MANIFEST_CHOICE,
    MANIFEST_FEATURE_LOOK_ALIKE,
    MANIFEST_INPUT_BANDS,
    MANIFEST_MISSING,
    MANIFEST_OUTCOME_ARTIFACT,
    MANIFEST_OUTCOME_FIELD,
    MANIFEST_OUTCOME_THRESHOLD,
    MANIFEST_RULE,
    MANIFEST_TODO,
    MANIFEST_TOML,
    MANIFEST_TYPE,
    MANIFEST_UNREADABLE,
    MANIFEST_VALUE_LABEL,
    MANIFEST_VALUE_LABEL_REPEATED,
    MANIFEST_VALUE_LABELS,
    ValidationError,
)
from ethics.id_codes import character_name, id_problem
from ethics.spreadsheet import formula_start

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
#: What a customer can consent to (consent events' purposes; a manifest's ``consent_purpose``).
CONSENT_PURPOSES = ("ai_scoring", "marketing", "profiling")
#: What a model decides: a yes/no per lead (binary), an amount (continuous), one of several
#: offers (multiclass) or an order of a call list with room for k leads (ranking).
OUTCOMES = ("binary", "continuous", "multiclass", "ranking")
FAVOURABLE = ("higher", "lower")
#: What a feature holds: a number, or text from a set of values (a category, such as a contract type).
FEATURE_TYPES = ("number", "category")
#: Columns that may key a ranking's call list: the team, and the day the list was scored.
RANKING_LISTS = ("team", "scored_on")
# Top-level fields that belong to one outcome only; any other outcome refuses them.
_OUTCOME_FIELDS = {
    "unit": "continuous", "favourable": "continuous", "resolution": "continuous", "control": "continuous",
    "classes": "multiclass", "value_unit": "multiclass", "ranking": "ranking",
}
# Columns every dataset may carry besides features and sensitive attributes.
RESERVED_COLUMNS = ("lead_id", "customer_id", "team", "label", "score")
#: What a feature may not be called, compared case-insensitively: the reserved columns, and the other
#: columns a scoring batch or a snapshot's per-lead file holds beside the features (ethics.explain).
FEATURE_RESERVED = (*RESERVED_COLUMNS, "scored_at", "output", "offer", "capacity", "scored_on", "consent_status")
#: Per-lead SHAP columns are named this prefix + the feature (ethics.explain.SHAP_PREFIX); no feature starts with it.
SHAP_PREFIX = "shap__"
FEATURE_NAME_LENGTH = 128
IMPACT_FIELDS = ("purpose", "data_categories", "legal_basis", "affected", "human_oversight")
_EXPECTED = {str: "text", list: "a list", dict: "a table"}
# Matched with fullmatch: "$" alone would let a name end in a line break.
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{1,62}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,39}")
#: A team's name, as ``python -m ethics teams add`` takes it (ethics.teams); rows and manifests name teams too.
TEAM_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
TEAM_RULE = "1-40 lower-case letters, digits, '-' or '_', starting with a letter"
# Free text may hold tabs and line breaks, but no other control character and no bidirectional
# embedding, override or isolate (they reorder what a reader sees: U+202E turns "exe.txt" into "txt.exe").
_TEXT_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: How a value ``python -m ethics manifest init`` could not know starts; a manifest holding one is refused.
TODO = "TODO:"


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
    if isinstance(value, str):
        _plain_text(value, field, file=file)
    return value


def _plain_text(value: str, field: str, *, file: str) -> str:
    if (found := _TEXT_REFUSED.search(value)) is not None:
        rule = (f"field {field!r} holds {character_name(found.group())}; text may not hold control characters "
                "or bidirectional overrides")
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    return value


def refused_character(text: str) -> str | None:
    """The first character free text may not hold (a control character or bidirectional override), or None."""
    found = _TEXT_REFUSED.search(text)
    return found.group() if found else None


def _optional_text(raw: dict[str, Any], field: str, default: str, *, file: str) -> str:
    """An optional text field: absent gives ``default``, present must be text (it may be empty)."""
    if field not in raw:
        return default
    value = raw[field]
    if not isinstance(value, str):
        raise ValidationError(MANIFEST_TYPE.format(file=file, field=field, expected="text", got=value))
    return _plain_text(value, field, file=file)


def _text_list(raw: dict[str, Any], field: str, *, file: str) -> list[str]:
    """A list of at least one non-empty text, such as the impact assessment's data categories."""
    values = _require(raw, field, list, file=file)
    if not values:
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=f"{field} must name at least one entry"))
    for index, value in enumerate(values):
        where = f"{field}[{index}]"
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(MANIFEST_TYPE.format(file=file, field=where, expected="non-empty text", got=value))
        _plain_text(value, where, file=file)
    return list(values)


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
        if field == "features":
            _feature_name(name, where=where, file=file)
        elif not _NAME.fullmatch(name) or name in RESERVED_COLUMNS:
            rule = (
                f"{where}.name {name!r} must be lower-case letters, digits and '_' "
                f"and not one of {', '.join(RESERVED_COLUMNS)}"
            )
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
        kind = entry.get("type", "number")
        if field == "features" and kind not in FEATURE_TYPES:
            rule = f"{where}.type must be one of {', '.join(FEATURE_TYPES)}, got {kind!r}"
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
        if field != "features" and "type" in entry:
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=f"{where}.type is for features only"))
        if field == "features" and "labels" in entry:
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=f"{where}.labels is for sensitive attributes"))
        bands = entry.get("bands")
        if bands is not None and not _increasing_numbers(bands):
            rule = (f"{where}.bands must be increasing numbers, each finite (band edges such as "
                    f"[25, 35, 45, 55]), got {bands!r}")
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
        result.append(
            {
                "name": name,
                "label": _require(entry, "label", str, file=f"{file}: {where}"),
                "unit": _optional_text(entry, "unit", "", file=f"{file}: {where}"),
                "description": _optional_text(entry, "description", "", file=f"{file}: {where}"),
                **({"bands": list(entry["bands"])} if "bands" in entry else {}),
                # Stored only when given, so manifests without value labels hash as before.
                **({"labels": _value_labels(entry["labels"], where=where, file=file)} if "labels" in entry else {}),
                # Stored only when not a number, so manifests written before types existed hash as before.
                **({"type": kind} if field == "features" and kind != "number" else {}),
            }
        )
    names = [entry["name"] for entry in result]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        rule = f"{field} names must be unique; repeated: {', '.join(duplicates)}"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    if field == "features":
        _refuse_look_alikes(names, file=file)
    return result


def _feature_name(name: str, *, where: str, file: str) -> None:
    """A feature is named as the data names it (``Total Charges``, ``contract_month-to-month``, ``MOSTYPE``).

    Refused: more than :data:`FEATURE_NAME_LENGTH` characters, spaces at either end, what
    :func:`ethics.id_codes.id_problem` refuses in an id (control, zero-width and bidirectional
    characters, text not in NFKC form, Latin mixed with Greek or Cyrillic letters), a start a
    spreadsheet runs as a formula, the names of :data:`FEATURE_RESERVED` in any case, and
    :data:`SHAP_PREFIX`.
    """
    problem = None
    if len(name) > FEATURE_NAME_LENGTH:
        problem = f"has {len(name)} characters; at most {FEATURE_NAME_LENGTH}"
    elif name != name.strip():
        problem = "starts or ends with white space"
    elif (found := id_problem(name, noun="name")) is not None:
        problem = found
    elif (char := formula_start(name)) is not None:
        problem = f"starts with {char!r} and would run as a spreadsheet formula"
    elif name.casefold() in FEATURE_RESERVED:
        problem = f"is a column every dataset may carry ({', '.join(FEATURE_RESERVED)}, in any case)"
    elif name.casefold().startswith(SHAP_PREFIX):
        problem = f"starts with {SHAP_PREFIX!r}, which names the per-lead SHAP columns"
    if problem is not None:
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=f"{where}.name {name!r} {problem}"))


def _refuse_look_alikes(names: list[str], *, file: str) -> None:
    """Two feature names may not differ only in case: ``Age`` and ``age`` are one column to SQL and spreadsheets."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            rule = MANIFEST_FEATURE_LOOK_ALIKE.format(first=other, second=name)
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))


def _value_labels(labels: Any, *, where: str, file: str) -> dict[str, str]:
    """A sensitive attribute's ``labels``: each value as text (``"0"``, ``"1"``, a band) to plain, non-empty text."""
    if not isinstance(labels, dict) or not labels:
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=MANIFEST_VALUE_LABELS.format(
            where=where, got=labels)))
    for value, label in labels.items():
        if not isinstance(value, str) or not value.strip() or not isinstance(label, str) or not label.strip():
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=MANIFEST_VALUE_LABEL.format(
                where=where, value=value, got=label)))
        _plain_text(value, f"{where}.labels key {value!r}", file=file)
        _plain_text(label, f"{where}.labels.{value}", file=file)
    shown = list(labels.values())
    # A label that is another value ({"0" = "1"}) would show two groups under one name.
    repeated = sorted({label for label in shown if shown.count(label) > 1}
                      | {label for value, label in labels.items() if label != value and label in labels})
    if repeated:
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=MANIFEST_VALUE_LABEL_REPEATED.format(
            where=where, labels=", ".join(repeated))))
    return dict(labels)


def _increasing_numbers(values: Any) -> bool:
    return (
        isinstance(values, list)
        and bool(values)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
        and all(a < b for a, b in zip(values, values[1:], strict=False))
    )


def _threshold(raw: dict[str, Any], *, outcome: str, file: str) -> float | None:
    """Binary models need a threshold; a ranking may give one; amounts and offers are never thresholded."""
    if outcome in ("continuous", "multiclass"):
        if "threshold" in raw:
            rule = MANIFEST_OUTCOME_THRESHOLD.format(outcome=outcome)
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
        return None
    if outcome == "ranking" and "threshold" not in raw:
        return None
    threshold = _require(raw, "threshold", (int, float), file=file)
    if not (math.isfinite(threshold) and 0 < threshold < 1):
        rule = f"threshold {threshold!r} must lie strictly between 0 and 1"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    return float(threshold)


def _positive_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _binary_fields(raw: dict[str, Any], *, file: str, reserved: set[str]) -> dict[str, Any]:
    return {}


def _continuous_fields(raw: dict[str, Any], *, file: str, reserved: set[str]) -> dict[str, Any]:
    unit = _require(raw, "unit", str, file=file)
    favourable = _choice(raw, "favourable", FAVOURABLE, file=file) if "favourable" in raw else "higher"
    resolution = raw.get("resolution")
    if resolution is not None and not _positive_number(resolution):
        rule = f"resolution {resolution!r} must be a positive number (amounts are rounded to its multiples)"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    control = raw.get("control")
    if control is not None:
        control = _require(raw, "control", str, file=file)
        if not _NAME.fullmatch(control) or control in RESERVED_COLUMNS or control in reserved:
            rule = (f"control {control!r} must be lower-case letters, digits and '_' and not a feature, a sensitive "
                    f"attribute or one of {', '.join(RESERVED_COLUMNS)}")
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    return {"unit": unit, "favourable": favourable,
            "resolution": None if resolution is None else float(resolution), "control": control}


def _multiclass_fields(raw: dict[str, Any], *, file: str, reserved: set[str]) -> dict[str, Any]:
    entries = _require(raw, "classes", list, file=file)
    classes = []
    for index, entry in enumerate(entries):
        where = f"classes[{index}]"
        if not isinstance(entry, dict):
            raise ValidationError(MANIFEST_TYPE.format(file=file, field=where, expected="a table", got=entry))
        name = _require(entry, "name", str, file=f"{file}: {where}")
        if not _NAME.fullmatch(name):
            rule = f"{where}.name {name!r} must be lower-case letters, digits and '_'"
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
        item = {"name": name, "label": _require(entry, "label", str, file=f"{file}: {where}")}
        if "value" in entry:
            value = entry["value"]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValidationError(MANIFEST_TYPE.format(file=file, field=f"{where}.value", expected="a number",
                                                           got=value))
            item["value"] = float(value)
        classes.append(item)
    if len(classes) < 2:
        raise ValidationError(MANIFEST_RULE.format(file=file, rule="classes must list at least two offers"))
    names = [item["name"] for item in classes]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        rule = f"classes names must be unique; repeated: {', '.join(duplicates)}"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    valued = [item["name"] for item in classes if "value" in item]
    if valued and len(valued) < len(classes):
        missing = ", ".join(item["name"] for item in classes if "value" not in item)
        rule = f"classes {missing} have no value but {', '.join(valued)} do: give every offer a value, or none"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    value_unit = raw.get("value_unit")
    if value_unit is not None:
        value_unit = _require(raw, "value_unit", str, file=file)
        if not valued:
            rule = "value_unit is given but no class has a value"
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    return {"classes": classes, "value_unit": value_unit}


def _capacity_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _ranking_fields(raw: dict[str, Any], *, file: str, reserved: set[str]) -> dict[str, Any]:
    table = raw.get("ranking", {})
    if not isinstance(table, dict):
        raise ValidationError(MANIFEST_TYPE.format(file=file, field="ranking", expected="a table", got=table))
    capacity = table.get("capacity")
    if isinstance(capacity, dict):
        for team in capacity:
            _team_name(team, field=f"[ranking] capacity team {team!r}", file=file)
        bad = {team: k for team, k in capacity.items() if not _capacity_number(k)}
        if not capacity or bad:
            rule = MANIFEST_CAPACITY.format(got=bad or capacity)
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
        capacity = dict(capacity)
    elif capacity is not None and not _capacity_number(capacity):
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=MANIFEST_CAPACITY.format(got=capacity)))
    lists = table.get("lists", ["team"])
    if (not isinstance(lists, list) or not lists or any(key not in RANKING_LISTS for key in lists)
            or len(set(lists)) < len(lists)):
        rule = f"[ranking] lists {lists!r} must be distinct columns out of {', '.join(RANKING_LISTS)}"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    if isinstance(capacity, dict) and lists != ["team"]:
        rule = "[ranking] capacity per team needs lists = [\"team\"]; give one k for lists keyed by other columns"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    return {"ranking": {"capacity": capacity, "lists": list(lists)}}


def _team_name(name: str, *, field: str, file: str) -> str:
    if not TEAM_NAME.fullmatch(name):
        rule = f"{field} {name!r} must be a team name: {TEAM_RULE}"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    return name


def _version(raw: dict[str, Any], *, file: str) -> str:
    version = str(_require(raw, "version", (str, int, float), file=file))
    if not _VERSION.fullmatch(version):
        rule = (f"version {version!r} must be 1-40 ASCII letters, digits, '.', '-', '_' or '+', starting with a "
                "letter or digit")
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    return version


_OUTCOME_READERS = {
    "binary": _binary_fields, "continuous": _continuous_fields, "multiclass": _multiclass_fields,
    "ranking": _ranking_fields,
}


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
    _refuse_placeholders(raw, file=file)
    model_id = _require(raw, "id", str, file=file)
    if not _ID.fullmatch(model_id):
        rule = f"id {model_id!r} must be 2-63 lower-case letters, digits, '-' or '_'"
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    outcome = _choice(raw, "outcome", OUTCOMES, file=file) if "outcome" in raw else "binary"
    for field, owner in _OUTCOME_FIELDS.items():
        if field in raw and owner != outcome:
            rule = MANIFEST_OUTCOME_FIELD.format(field=field, owner=owner, outcome=outcome)
            raise ValidationError(MANIFEST_RULE.format(file=file, rule=rule))
    threshold = _threshold(raw, outcome=outcome, file=file)
    features = _named_entries(raw, "features", file=file)
    if not features:
        raise ValidationError(MANIFEST_RULE.format(file=file, rule="features must list at least one feature"))
    sensitive = _named_entries(raw, "sensitive_attributes", file=file)
    feature_names = {f["name"] for f in features}
    # A sensitive attribute may also be a model input (an age): one column, read as the feature and
    # grouped as the attribute; band edges then need the feature to be a number.
    categories = {f["name"] for f in features if f.get("type") == "category"}
    for attribute in sensitive:
        if attribute["name"] in categories and attribute.get("bands"):
            rule = MANIFEST_INPUT_BANDS.format(name=attribute["name"])
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
    if "file" in artifact:
        _require(artifact, "file", str, file=f"{file}: [artifact]")
    if outcome != "binary" and kind != "none":
        raise ValidationError(MANIFEST_RULE.format(file=file, rule=MANIFEST_OUTCOME_ARTIFACT.format(
            outcome=outcome, kind=kind)))
    taken = feature_names | {s["name"] for s in sensitive}
    outcome_fields = _OUTCOME_READERS[outcome](raw, file=file, reserved=taken)
    impact = _require(raw, "impact_assessment", dict, file=file)
    where = f"{file}: [impact_assessment]"
    assessment = {field: _text_list(impact, field, file=where) if field == "data_categories"
                  else _require(impact, field, str, file=where) for field in IMPACT_FIELDS}
    owner = _require(raw, "owner", str, file=file)
    return {
        "id": model_id,
        "name": _require(raw, "name", str, file=file),
        "version": _version(raw, file=file),
        "purpose": _choice(raw, "purpose", PURPOSES, file=file),
        "owner": owner,
        "team": _team_name(_require(raw, "team", str, file=file), field="team", file=file),
        "risk_tier": _choice(raw, "risk_tier", RISK_TIERS, file=file),
        "outcome": outcome,
        "threshold": threshold,
        **outcome_fields,
        "consent_purpose": _choice(raw, "consent_purpose", CONSENT_PURPOSES, file=file),
        "description": _optional_text(raw, "description", "", file=file),
        "features": features,
        "sensitive_attributes": sensitive,
        "proxy_candidates": list(proxies),
        "artifact": {"kind": kind, **({"file": artifact["file"]} if "file" in artifact else {})},
        "impact_assessment": assessment,
        "contact": _optional_text(raw, "contact", owner, file=file),
    }


def _refuse_placeholders(raw: Any, *, file: str, where: str = "") -> None:
    """Refuse a value still starting with :data:`TODO` (``manifest init`` writes them for what only a person knows)."""
    items = raw.items() if isinstance(raw, dict) else enumerate(raw) if isinstance(raw, list) else ()
    for key, value in items:
        at = f"{where}[{key}]" if isinstance(raw, list) else f"{where}.{key}" if where else str(key)
        if isinstance(value, str) and value.lstrip().startswith(TODO):
            raise ValidationError(MANIFEST_TODO.format(file=file, field=at, value=value))
        _refuse_placeholders(value, file=file, where=at)


def outcome_of(manifest: dict[str, Any]) -> str:
    """The model's outcome type; manifests stored before outcomes existed are binary."""
    return manifest.get("outcome", "binary")


def stored_form(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest as the registry stores and hashes it.

    A binary manifest is stored without ``outcome``, so it hashes
    exactly as before outcomes existed and re-registering an old version still matches.
    """
    if outcome_of(manifest) == "binary":
        return {key: value for key, value in manifest.items() if key != "outcome"}
    return manifest


def with_defaults(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored manifest read back, with ``outcome`` filled in (the inverse of :func:`stored_form`)."""
    return {**stored, "outcome": outcome_of(stored)} if "outcome" not in stored else stored


def feature_names(manifest: dict[str, Any]) -> list[str]:
    """The model's input columns, in manifest order."""
    return [feature["name"] for feature in manifest["features"]]


def category_features(manifest: dict[str, Any]) -> list[str]:
    """The features that hold text (``type = "category"``), in manifest order."""
    return [feature["name"] for feature in manifest["features"] if feature.get("type") == "category"]


def sensitive_names(manifest: dict[str, Any]) -> list[str]:
    """The sensitive attributes (used for fairness; never a reason shown to a manager)."""
    return [attribute["name"] for attribute in manifest["sensitive_attributes"]]


def input_attributes(manifest: dict[str, Any]) -> list[str]:
    """The sensitive attributes that are also model inputs (an age the model reads), in manifest order."""
    inputs = set(feature_names(manifest))
    return [name for name in sensitive_names(manifest) if name in inputs]


def value_labels(manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Per sensitive attribute that gives them, its values' labels (``{"sex": {"0": "Male", "1": "Female"}}``)."""
    return {a["name"]: dict(a["labels"]) for a in manifest["sensitive_attributes"] if a.get("labels")}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):  # an inline table, such as a ranking's capacity per team
        return "{" + ", ".join(f"{_key(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


@dataclasses.dataclass(frozen=True)
class Commented:
    """A value written with a comment after it on its line (``threshold = 0.5  # ...``)."""

    value: Any
    comment: str


@dataclasses.dataclass(frozen=True)
class Candidates:
    """An array written one entry a line, each candidate commented out: a person confirms one by uncommenting it.

    Attributes
    ----------
    candidates : list of (value, why)
        Entries to confirm, each with the reason it was proposed.
    confirmed : list
        Entries written as they are.
    """

    candidates: list[tuple[Any, str]]
    confirmed: list[Any] = dataclasses.field(default_factory=list)


#: A table's key whose text is written as comment lines above the table (``[[features]]``).
COMMENT_KEY = "#"


def _key(key: str) -> str:
    """A TOML key: bare when it is a plain name, else quoted."""
    return key if _NAME.fullmatch(key) else _toml_string(key)


def _line(key: str, value: Any) -> list[str]:
    name = _key(key)
    if isinstance(value, Commented):
        return [f"{name} = {_toml_value(value.value)}  # {value.comment}"]
    if isinstance(value, Candidates):
        return [f"{name} = [", *(f"    {_toml_value(v)}," for v in value.confirmed),
                *(f"    # {_toml_value(v)},  # {why}" for v, why in value.candidates), "]"]
    return [f"{name} = {_toml_value(value)}"]


def _table(header: str, values: dict[str, Any]) -> list[str]:
    comment = values.get(COMMENT_KEY)
    lines = ["", *(f"# {text}" for text in (comment.splitlines() if comment else ())), header]
    for key, value in values.items():
        if key != COMMENT_KEY and value is not None:
            lines += _line(key, value)
    return lines


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes, with DEL escaped too (TOML refuses it raw).

    Characters beyond U+FFFF stay as they are: JSON would write surrogate pairs, which TOML refuses.
    """
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def manifest_toml(document: dict[str, Any]) -> str:
    """Write a manifest document (values, tables, arrays of tables) as TOML text.

    The inverse of reading a manifest for the shapes manifests use; the demo and the
    benchmarks write their manifests with it.  ``None`` (an optional field left out, as a
    read manifest holds it) is not written.  A :class:`Commented` value gets a comment on
    its line, :class:`Candidates` an array of commented-out entries, and a table's
    :data:`COMMENT_KEY` comment lines above it (``python -m ethics manifest init``).
    """
    head, tail = [], []
    for key, value in document.items():
        if value is None:
            continue
        if isinstance(value, dict):
            tail += _table(f"[{key}]", value)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                tail += _table(f"[[{key}]]", item)
        else:
            head += _line(key, value)
    return "\n".join(head + tail) + "\n"
