"""A sensitive attribute's values as people read them: their text, their order, their labels.

The one producer of a group's name and place in a list.  :func:`ethics.fairness.groupings`
codes every attribute through it, so every table, chart, sentence, PDF, model card, CSV and
CLI line that lists groups shows them the same way:

* a value's text is the value as typed: ``0``/``1`` (never ``0.0``/``1.0``, the form a 0/1
  column takes once stored as numbers), ``True``/``False``, a band such as ``25-34``;
* groups are listed numbers first, by value, with bands by their edges
  (``<25, 25-34, …, 65+``, not as text, which puts ``<25`` last), then text, alphabetically;
* with ``labels`` in the manifest (``labels = { "0" = "Male", "1" = "Female" }``) a group
  shows its label; the order stays the values' order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ethics.lazy import lazy_module

np = lazy_module("numpy", globals())


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")
_WHOLE = re.compile(r"(-?\d+)\.0+")
_BAND = re.compile(rf"({_NUMBER.pattern})-({_NUMBER.pattern})")


def value_text(value: Any) -> str:
    """One attribute value as text: whole numbers without a decimal point (``1.0`` is ``"1"``)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    text = str(value)
    whole = _WHOLE.fullmatch(text)
    return str(int(whole.group(1))) if whole else text


def _number(text: str) -> float | None:
    if not _NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def value_order(text: str) -> tuple[int, float, int, str]:
    """Sort key of a value's text: numbers and bands by their value (a band by its lower edge), then text."""
    if (number := _number(text)) is not None:
        return (0, number, 0, "")
    if text.startswith("<") and (number := _number(text[1:])) is not None:
        return (0, number, -1, "")  # "<25" comes before "25-34"
    if text.endswith("+") and (number := _number(text[:-1])) is not None:
        return (0, number, 1, "")
    if (band := _BAND.fullmatch(text)) is not None:
        return (0, float(band.group(1)), 0, "")
    return (1, 0.0, 0, text)


def shown_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    """A manifest's ``labels`` keyed by each value's text (a key written ``"1.0"`` labels the value ``1``)."""
    return {value_text(value): label for value, label in (labels or {}).items()}
