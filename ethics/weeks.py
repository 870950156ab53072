"""ISO weeks, the unit of the weekly review ("2026-W48")."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ethics.errors import BAD_WEEK, ValidationError

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def utcnow() -> datetime:
    """The current time in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """A UTC timestamp as ISO 8601 text."""
    return moment.astimezone(UTC).isoformat()


def week_of(day: date | datetime) -> str:
    """The ISO week containing ``day``, e.g. ``"2026-W48"``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> str:
    """Validate an ISO week string and return it unchanged.

    Raises
    ------
    ValidationError
        When ``text`` is not a real ISO week.
    """
    match = _WEEK.match(text or "")
    if not match:
        raise ValidationError(BAD_WEEK.format(week=text))
    year, week = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValidationError(BAD_WEEK.format(week=text)) from None
    return text


def monday(week: str) -> date:
    """The Monday that starts an ISO week."""
    parse_week(week)
    return date.fromisocalendar(int(week[:4]), int(week[6:]), 1)


def weeks_before(week: str, count: int) -> list[str]:
    """``count`` consecutive weeks ending with ``week``, oldest first."""
    start = monday(week)
    return [week_of(start - timedelta(weeks=n)) for n in range(count - 1, -1, -1)]


def parse_time(value: Any) -> datetime | None:
    """A time as an aware UTC datetime (ISO 8601 text, datetime or Timestamp); no offset means UTC.

    Returns None when the value cannot be read as a time.
    """
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
