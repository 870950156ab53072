"""ethics: a governance dashboard for the machine-learning models of a sales organisation."""

from ethics.errors import EthicsError

__all__ = ["EthicsError"]
