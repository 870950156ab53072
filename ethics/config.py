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

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULTS_FILE = Path(__file__).with_name("default.toml")
SETTINGS_FILE = "ethics.toml"
DB_FILE = "ethics.db"
ARTIFACTS_DIR = "artifacts"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and which policy is in force."""

    home: Path
    policy: dict[str, Any] = field(default_factory=dict)
    debug: bool = False

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
    """
    env = os.environ if env is None else env
    home = Path(env.get("ETHICS_HOME") or REPO_ROOT / "data").expanduser().resolve()
    settings = _read_toml(DEFAULTS_FILE)
    local = home / SETTINGS_FILE
    if local.exists():
        settings = _merge(settings, _read_toml(local))
        from ethics.policy import check_policy

        check_policy(settings.get("policy", {}), file=str(local))
    return Settings(
        home=home,
        policy=settings.get("policy", {}),
        debug=env.get("ETHICS_DEBUG", "") in {"1", "true", "yes"},
    )
