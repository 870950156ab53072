"""Spreadsheet formula injection: cells that a spreadsheet would run as a formula.

Two rules, one for each direction:

* **Import** (:func:`formula_start`): a text cell is refused when it starts with ``=`` or
  ``@``, with ``+`` or ``-`` followed by anything but a phone number or a plain number
  (digits, spaces, ``-``, ``.``, ``(``, ``)``, at least one digit), or with a tab or a
  carriage return.  ``+44 20 7946 0958``, ``+1-555-0100`` and ``-12.5`` are data;
  ``+cmd|' /C calc'!A0``, ``-2+3`` and ``=HYPERLINK(...)`` are not.
* **Export** (:func:`safe_cell`): every text cell starting with one of
  :data:`FORMULA_PREFIXES`, the accepted phone numbers included, gets a leading ``'``,
  so a spreadsheet shows it as typed and never computes it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice and Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# After a leading + or -: what a phone number or a plain number holds, with at least one digit.
_PHONE_OR_NUMBER = re.compile(r"[+-](?=[^0-9]*[0-9])[0-9 ().-]*")


def formula_start(text: str) -> str | None:
    """The first character of ``text`` if a spreadsheet would run it as a formula, else None.

    Phone numbers and plain numbers after ``+`` or ``-`` are not formulas (see the module's rule).
    """
    if not text or not text.startswith(FORMULA_PREFIXES):
        return None
    if text[0] in "+-" and _PHONE_OR_NUMBER.fullmatch(text):
        return None
    return text[0]


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
