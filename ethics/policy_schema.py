"""What a policy may say: the tables and keys of ``[policy]``, their types, ranges and order.

``config.load_policy`` validates the merged policy (``ethics/default.toml`` with the data
home's ``ethics.toml`` over it) here, when the file is read: a misspelt key, a table the code
does not know or an inverted threshold is refused with the file, table and key, instead of
silently falling back to a default or failing at snapshot time.  The tables and keys are
exactly those of ``default.toml`` (a test holds the two together); the defaults live only
there, the schema knows no values.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ethics import continuous, drift, multiclass, ranking
from ethics.errors import ValidationError
from ethics.fairness import DISPARITIES
from ethics.policy import THRESHOLD_KEYS, describe_threshold

UNKNOWN = "{file}: {where}: unknown {noun}; {advice}"
NOT_TABLE = "{file}: {where} = {value}: must be a table {shape}."
BAD_VALUE = "{file}: {where} = {value}: must be {wanted}."
BAD_LIMIT_KEY = "{file}: {where}: {key} = {value} is not one of {allowed}{close}."
BAD_LIMIT = "{file}: {where}: {key} = {value} must be {wanted}."
LIMITS_INVERTED = (
    "{file}: {where}: {first} = {low} is {wrong} {second} = {high}; limits must run "
    "fail_below ≤ warn_below < warn_above ≤ fail_above."
)
MERGED_HINT = "ethics.toml is merged key by key over ethics/default.toml: set every limit of the table."


@dataclass(frozen=True)
class Number:
    """A finite number within bounds; a bool is never a number, and ``integer`` refuses 2.5."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    open_low: bool = False
    open_high: bool = False
    note: str = ""

    @property
    def wanted(self) -> str:
        """The rule in words: "an integer ≥ 1", "a number in (0, 1] (a Cramér's V)"."""
        text = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            text += f" in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}{')' if self.open_high else ']'}"
        elif self.low is not None:
            text += f" {'>' if self.open_low else '≥'} {self.low:g}"
        return f"{text} ({self.note})" if self.note else text

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a number of the right kind within the bounds."""
        if isinstance(value, bool) or not isinstance(value, int if self.integer else (int, float)):
            return False
        if not math.isfinite(value):
            return False
        above = self.low is None or (value > self.low if self.open_low else value >= self.low)
        below = self.high is None or (value < self.high if self.open_high else value <= self.high)
        return above and below


@dataclass(frozen=True)
class Flag:
    """``true`` or ``false``."""

    wanted: str = "true or false"

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a bool."""
        return isinstance(value, bool)


@dataclass(frozen=True)
class Threshold:
    """A table of limits (some of ``keys``) judged by :func:`ethics.policy.judge`."""

    limit: Number
    example: str
    keys: tuple[str, ...] = THRESHOLD_KEYS


@dataclass(frozen=True)
class Table:
    """A table whose entries are known by name; ``noun`` names an entry in messages."""

    entries: Mapping[str, Number | Flag | Threshold | Table]
    noun: str = "key"
    #: The rule of every entry not named in ``entries`` (a table keyed by model ids); None refuses them.
    each: Table | None = None

    def rule(self, key: str) -> Number | Flag | Threshold | Table | None:
        """The rule of entry ``key``, or None for an entry the table does not know."""
        return self.entries.get(key, self.each)


SHARE = Number(low=0, high=1, note="a share")
COUNT = Number(low=1, integer=True)
# Every disparity compares rates: a ratio (lowest / highest) and a difference of two rates
# both lie in [0, 1].
_DISPARITY = Threshold(limit=SHARE, example="{ fail_below = 0.8 }")

# A disparity of amounts is in the model's unit (or a ratio, or a KS statistic): any number ≥ 0.
_AMOUNT = Threshold(limit=Number(low=0), example="{ warn_above = 0.5, fail_above = 1.0 }")


def _disparities(names: Mapping[str, Any], rule: Threshold) -> Table:
    return Table({name: rule for name in names}, noun="metric")


# What a model's own table in [policy.models."<model id>"] may set: its thresholds, over the global ones.
_MODEL = Table({
    "fairness": _disparities(DISPARITIES, _DISPARITY),
    "continuous": _disparities(continuous.DISPARITIES, _AMOUNT),
    "multiclass": _disparities(multiclass.DISPARITIES, _AMOUNT),
    "ranking": _disparities(ranking.DISPARITIES, _DISPARITY),
})

POLICY = Table({
    "min_group_size": COUNT,
    "review_every_days": COUNT,
    "amount_quantile": Number(low=0, high=1, open_low=True, open_high=True, note="p of the overall quantile"),
    **_MODEL.entries,
    "models": Table({}, noun="model", each=_MODEL),
    "bootstrap": Table({
        # At least 1: the policy always asks for intervals (fairness.assess takes 0 to skip them, for tests).
        "resamples": COUNT,
        "confidence": Number(low=0, high=1, open_low=True, open_high=True),
        "seed": Number(low=0, integer=True),
    }),
    "sampling": Table({"max_share_difference": SHARE}),
    "drift": Table({
        # A PSI is bad when high; ethics.drift judges it on these two limits.
        "psi": Threshold(limit=Number(low=0, note="a PSI"), keys=drift.POLICY_KEYS,
                         example="{ warn_above = 0.1, fail_above = 0.25 }"),
    }),
    "consent": Table({
        # Coverage is bad when low; an upper limit would make no sense.
        "coverage": Threshold(limit=SHARE, keys=("fail_below", "warn_below"),
                              example="{ warn_below = 0.98, fail_below = 0.95 }"),
        "fail_on_objection": Flag(),
    }),
    "explanations": Table({"proxy_threshold": Number(low=0, high=1, open_low=True, note="a Cramér's V")}),
    "equivalence": Table({"tolerance": Number(low=0, note="a score difference")}),
})
SETTINGS = Table({"policy": POLICY})


def validate_settings(settings: Mapping[str, Any], *, file: str) -> dict[str, Any]:
    """Refuse a settings document (``default.toml`` merged with ``ethics.toml``) the code does not understand.

    Parameters
    ----------
    settings : mapping
        The whole merged document; its only table is ``[policy]``.
    file : str
        The file named in messages (the data home's ``ethics.toml``).

    Returns
    -------
    dict
        The validated ``[policy]`` table.

    Raises
    ------
    ValidationError
        The first problem, naming the file, the table and the key (see :func:`validate_policy`),
        or a table other than ``[policy]``.
    """
    _check_table(SETTINGS, settings, path=(), file=file)
    return dict(settings.get("policy", {}))


def validate_policy(policy: Mapping[str, Any], *, file: str) -> dict[str, Any]:
    """Refuse a ``[policy]`` table with unknown entries, wrong types, ranges or inverted thresholds.

    Every entry present is checked; an entry may be missing (the merged policy has them all).

    Parameters
    ----------
    policy : mapping
        The ``[policy]`` table.
    file : str
        The file named in messages.

    Returns
    -------
    dict
        The same policy as a dict.

    Raises
    ------
    ValidationError
        The first problem, naming the file, the table and the key: an unknown table or key
        (with the near-miss name when there is one), a value of the wrong type or out of
        range, or threshold limits out of order (``fail_below ≤ warn_below < warn_above ≤
        fail_above``).
    """
    _check(POLICY, policy, path=(), key="policy", file=file)
    return dict(policy)


def describe_policy(policy: Mapping[str, Any]) -> list[str]:
    """A validated policy as readable lines: ``min_group_size = 30``, ``[drift] psi = warn above 0.1, …``.

    Parameters
    ----------
    policy : mapping
        A ``[policy]`` table that passed :func:`validate_policy`.

    Returns
    -------
    list of str
        One line per key, in the policy's order.
    """
    return list(_lines(POLICY, policy, prefix=""))


def _lines(table: Table, values: Mapping[str, Any], *, prefix: str) -> Iterator[str]:
    for key, value in values.items():
        rule = table.rule(key)
        if isinstance(rule, Table):
            yield from _lines(rule, value, prefix=f"{prefix}[{key}] ")
        elif isinstance(rule, Threshold):
            yield f"{prefix}{key} = {describe_threshold(value)}"
        else:
            yield f"{prefix}{key} = {_shown(value)}"


def _shown(value: Any) -> str:
    """A value as TOML spells it: ``true``, ``"yes"``, ``{ fail_below = 0.8 }``."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_shown(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, (bool, str)):
        return json.dumps(value)
    return str(value)


def _section(path: tuple[str, ...]) -> str:
    return f"[{'.'.join(path)}]"


def _where(path: tuple[str, ...], key: str) -> str:
    return f"{_section(path)} {key}" if path else key


def _check(rule: Number | Flag | Threshold | Table, value: Any, *, path: tuple[str, ...], key: str,
           file: str) -> None:
    where = _where(path, key)
    if isinstance(rule, Table):
        if not isinstance(value, Mapping):
            raise ValidationError(NOT_TABLE.format(file=file, where=where, value=_shown(value),
                                                   shape=f"of {', '.join(rule.entries)}"))
        _check_table(rule, value, path=(*path, key), file=file)
    elif isinstance(rule, Threshold):
        _check_threshold(rule, value, where=where, file=file)
    elif not rule.accepts(value):
        raise ValidationError(BAD_VALUE.format(file=file, where=where, value=_shown(value), wanted=rule.wanted))


def _check_table(table: Table, values: Mapping[str, Any], *, path: tuple[str, ...], file: str) -> None:
    for key, value in values.items():
        rule = table.rule(key)
        if rule is None:
            raise ValidationError(_unknown(table, key, value, path=path, file=file))
        _check(rule, value, path=path, key=key, file=file)


def _unknown(table: Table, key: str, value: Any, *, path: tuple[str, ...], file: str) -> str:
    """The message of an unknown entry: a ``[section]`` when a table was written where tables are."""
    tables = [name for name, rule in table.entries.items() if isinstance(rule, Table)]
    if isinstance(value, Mapping) and tables:
        where, noun, names = _section((*path, key)), "table", {name: _section((*path, name)) for name in tables}
    else:
        where, noun, names = _where(path, key), table.noun, {name: name for name in table.entries}
    close = difflib.get_close_matches(key, list(names), n=1)
    if close:
        advice = f"did you mean {names[close[0]]}?"
    else:
        advice = f"use {'one of ' if len(names) > 1 else ''}{', '.join(names.values())}."
    return UNKNOWN.format(file=file, where=where, noun=noun, advice=advice)


def _check_threshold(rule: Threshold, value: Any, *, where: str, file: str) -> None:
    if not isinstance(value, Mapping) or not value:
        raise ValidationError(NOT_TABLE.format(file=file, where=where, value=_shown(value),
                                               shape=f"such as {rule.example}"))
    for key, limit in value.items():
        if key not in rule.keys:
            # A limit known elsewhere (fail_above of the coverage) is no typo: no suggestion.
            close = [] if key in THRESHOLD_KEYS else difflib.get_close_matches(key, rule.keys, n=1)
            raise ValidationError(BAD_LIMIT_KEY.format(
                file=file, where=where, key=key, value=_shown(limit), allowed=", ".join(rule.keys),
                close=f" (did you mean {close[0]}?)" if close else ""))
        if not rule.limit.accepts(limit):
            raise ValidationError(BAD_LIMIT.format(file=file, where=where, key=key, value=_shown(limit),
                                                   wanted=rule.limit.wanted))
    _check_order(value, where=where, file=file)


def _check_order(limits: Mapping[str, float], *, where: str, file: str) -> None:
    """Warn is reached before fail on each side, and every lower limit is below every upper one."""
    present = [key for key in THRESHOLD_KEYS if key in limits]
    for first, second in zip(present, present[1:], strict=False):
        crossing = first.endswith("_below") and second.endswith("_above")
        low, high = limits[first], limits[second]
        if low > high or (crossing and low == high):
            raise ValidationError(
                LIMITS_INVERTED.format(file=file, where=where, first=first, low=_shown(low),
                                       wrong="not below" if crossing else "above", second=second, high=_shown(high)),
                hint=MERGED_HINT,
            )
