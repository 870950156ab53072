"""ethics: a governance dashboard for the machine-learning models of a sales organisation."""

from typing import Any

from ethics.errors import EthicsError

__all__ = ["EthicsError", "register"]


def __getattr__(name: str) -> Any:
    # ``ethics.register`` (the notebook API) is imported on first use: ``import ethics`` stays light.
    if name == "register":
        from ethics.notebook import register

        return register
    raise AttributeError(f"module 'ethics' has no attribute {name!r}")
