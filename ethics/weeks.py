"""ISO weeks, the unit of the weekly review ("2026-W48")."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

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
