"""Settings from the environment and ``ethics.toml``.

Only the entry points (``cli``, ``ui``) read settings; services get what they need
as arguments.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ethics.errors import ValidationError
from ethics.policy_schema import validate_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULTS_FILE = Path(__file__).with_name("default.toml")
SETTINGS_FILE = "ethics.toml"
DB_FILE = "ethics.db"
ARTIFACTS_DIR = "artifacts"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and which policy is in force (``policy_file`` over the defaults, if any)."""

    home: Path
    policy: dict[str, Any] = field(default_factory=dict)
    debug: bool = False
    policy_file: Path | None = None

    @property
    def db_path(self) -> Path:
        """The governance database file."""
        return self.home / DB_FILE

    @property
    def artifacts(self) -> Path:
        """The folder of registered model artifacts."""
        return self.home / ARTIFACTS_DIR


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{path}: not valid TOML: {exc}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot read the file ({exc}).") from None


def load_policy(local: Path | None = None) -> dict[str, Any]:
    """The policy in force: ``default.toml`` with ``local`` merged over it key by key, validated.

    Parameters
    ----------
    local : Path, optional
        An ``ethics.toml``; only the shipped defaults when omitted.

    Returns
    -------
    dict
        The ``[policy]`` table.

    Raises
    ------
    ValidationError
        A file that is not TOML, or a policy :func:`ethics.policy_schema.validate_settings`
        refuses; the message names ``local`` (``default.toml`` without it).
    """
    settings = _read_toml(DEFAULTS_FILE)
    if local is not None:
        settings = _merge(settings, _read_toml(local))
    return validate_settings(settings, file=str(local or DEFAULTS_FILE))


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment and the data home's ``ethics.toml``.

    Parameters
    ----------
    env : Mapping[str, str], optional
        The environment; ``os.environ`` when omitted.  ``ETHICS_HOME`` names the
        data home (default ``data/`` of the checkout), ``ETHICS_DEBUG=1`` shows
        tracebacks in the app.

    Returns
    -------
    Settings

    Raises
    ------
    ValidationError
        The policy is refused (see :func:`load_policy`).
    """
    env = os.environ if env is None else env
    home = Path(env.get("ETHICS_HOME") or REPO_ROOT / "data").expanduser().resolve()
    local: Path | None = home / SETTINGS_FILE
    if not local.exists():
        local = None
    return Settings(
        home=home,
        policy=load_policy(local),
        debug=env.get("ETHICS_DEBUG", "") in {"1", "true", "yes"},
        policy_file=local,
    )
