"""How a metric is shown: its unit, its number format and which direction is worse.

Every metric spec (``fairness.METRICS`` and ``fairness.DISPARITIES``, and the specs of
the other outcome types) carries one :class:`Presentation`; tables, charts, PDF sections,
CLI lines and verdict sentences read it instead of hard-coding ``%`` or a metric's name,
so adding a metric is one entry in its spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

Worse = Literal["higher", "lower", "away_from_one"] | None
#: The unit placeholder of an amount metric, replaced by the model's unit (``"EUR"``) with :meth:`Presentation.in_unit`.
VALUE = "value"


@dataclass(frozen=True)
class Presentation:
    """Unit, format and worse direction of one metric.

    Attributes
    ----------
    unit : str
        ``"share"`` (a rate in [0, 1], shown as a percentage), ``"ratio"``, ``"count"``,
        ``"points"`` (a difference of shares) or the unit of an amount (``"EUR"``, ``"% discount"``).
    format : str
        A ``str.format`` pattern for one value, e.g. ``"{:.1%}"``.
    worse : {"higher", "lower", "away_from_one"} or None
        Which values are worse (a false-positive rate: higher; a selection-rate ratio: lower);
        None when neither is (a count).
    axis : str
        The plotly tick format of a chart axis showing it (``".0%"`` for shares).
    label : str
        The plain label, for specs whose entries carry no label of their own.
    """

    unit: str
    format: str
    worse: Worse
    axis: str = ""
    label: str = ""

    def in_unit(self, unit: str) -> Presentation:
        """The presentation with the :data:`VALUE` placeholder replaced by a real unit (``"EUR"``)."""
        return replace(self, unit=unit) if self.unit == VALUE else self

    def text(self, value: float | None) -> str:
        """One value as a person reads it; an em dash when missing."""
        return "—" if value is None else self.format.format(value)

    def interval(self, bounds: Sequence[float | None] | None) -> str:
        """An interval as "low–high" in this format; an em dash when there is none."""
        if not bounds or bounds[0] is None or bounds[1] is None:
            return "—"
        return f"{self.text(bounds[0])}–{self.text(bounds[1])}"


SHARE = Presentation("share", "{:.1%}", "lower", ".0%")
SHARE_HIGH_IS_WORSE = Presentation("share", "{:.1%}", "higher", ".0%")
COUNT = Presentation("count", "{:,.0f}", "lower", ",d")
RATIO = Presentation("ratio", "{:.2f}", "lower", ".2f")
POINTS = Presentation("points", "{:.2f}", "higher", ".2f")
SCORE = Presentation("score", "{:.3f}", "lower", ".2f")
