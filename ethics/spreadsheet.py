"""Spreadsheet formula injection: cells that a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice and Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A CSV cell that cannot start a formula: text starting with a formula prefix gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(
    rows: Sequence[Mapping[str, Any]], *, columns: Sequence[str] | None = None, note: str | None = None
) -> str:
    """Rows as CSV text whose cells cannot start a spreadsheet formula.

    Parameters
    ----------
    rows : sequence of mapping
    columns : sequence of str, optional
        The header; the first row's keys when omitted (then no rows give an empty text).
    note : str, optional
        A line before the header that a reader must see first (e.g. that the model is suspended).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if note:
        writer.writerow([safe_cell(note)])
    header = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    if header:
        writer.writerow([safe_cell(c) for c in header])
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in header])
    return buffer.getvalue()
