"""Spreadsheet formula injection: cells that a spreadsheet would run as a formula."""

from __future__ import annotations

from typing import Any

# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice and Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A CSV cell that cannot start a formula: text starting with a formula prefix gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
