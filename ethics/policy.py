"""The policy in force (``ethics.toml``) turned into verdicts: pass, warn, fail.

A threshold is a table such as ``{fail_below = 0.8, warn_below = 0.9}`` or
``{warn_above = 0.1, fail_above = 0.2}``.  Every verdict carries the metric, the groups,
the value, its interval, the threshold and one plain sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ethics.fairness import DISPARITIES, JOIN, METRICS, MISSING_GROUP

STATUSES = ("pass", "warn", "fail", "too_few")
_RANK = {"pass": 0, "too_few": 1, "warn": 2, "fail": 3}
DATA_NAMES = {"eval": "evaluation set", "scores": "scoring batch"}
# The limits of a threshold table, in the order they must run (see ethics.policy_schema).
THRESHOLD_KEYS = ("fail_below", "warn_below", "warn_above", "fail_above")


def judge(value: float | None, threshold: Mapping[str, float]) -> str:
    """``pass``, ``warn`` or ``fail`` of a value against one threshold table."""
    if value is None:
        return "too_few"
    if value < threshold.get("fail_below", float("-inf")) or value > threshold.get("fail_above", float("inf")):
        return "fail"
    if value < threshold.get("warn_below", float("-inf")) or value > threshold.get("warn_above", float("inf")):
        return "warn"
    return "pass"


def describe_threshold(threshold: Mapping[str, float]) -> str:
    """A threshold table in words: "fail below 0.8, warn below 0.9"."""
    return ", ".join(f"{key.replace('_', ' ')} {threshold[key]:g}" for key in THRESHOLD_KEYS if key in threshold)


def interval_crosses(interval: Sequence[float | None] | None, threshold: Mapping[str, float]) -> bool:
    """Whether the interval contains a threshold, so the verdict could go either way."""
    if not interval or interval[0] is None or interval[1] is None:
        return False
    return any(interval[0] <= limit <= interval[1] for limit in threshold.values())


def group_phrase(group: str, attributes: Sequence[str], labels: Mapping[str, str]) -> str:
    """``"Age band 55+"`` or ``"Sex female and Age band 55+"`` for a group label."""
    values = group.split(JOIN)
    return " and ".join(
        f"{labels.get(a, a)} not recorded" if v == MISSING_GROUP else f"{labels.get(a, a)} {v}"
        for a, v in zip(attributes, values, strict=True)
    )


def _sentence(name: str, entry: Mapping[str, Any], worst: str, best: str) -> str:
    value = entry["judged_value"]
    spec = METRICS[entry["metric"]]
    metric = spec.label.lower()
    if name == "demographic_parity_ratio":
        return f"Leads with {worst} are selected {value:.2f} times as often as leads with {best}."
    if DISPARITIES[name].kind == "ratio":
        return f"The {metric} of leads with {worst} is {value:.2f} times that of leads with {best}."
    return (
        f"The {metric} of leads with {worst} ({spec.shown.text(entry['worst_value'])}) is "
        f"{DISPARITIES[name].shown.text(value)} below that of leads with {best} "
        f"({spec.shown.text(entry['best_value'])})."
    )


def fairness_verdicts(
    assessments: Mapping[str, list[dict[str, Any]]],
    *,
    policy: Mapping[str, Any],
    labels: Mapping[str, str],
) -> list[dict[str, Any]]:
    """One verdict per data set, grouping and policy metric.

    Parameters
    ----------
    assessments : mapping
        ``{"eval": fairness.assess(...), "scores": ...}``.
    policy : mapping
        The ``[policy]`` table; thresholds come from ``policy["fairness"]``.
    labels : mapping
        Plain labels of the sensitive attributes, for the sentences.

    Returns
    -------
    list of dict
        Keys ``data, grouping, metric, label, status, value, interval, threshold,
        interval_crosses, worst_group, best_group, sentence``.
    """
    thresholds = policy.get("fairness", {})
    minimum = policy.get("min_group_size", 30)
    verdicts = []
    for data, groupings in assessments.items():
        for grouping in groupings:
            for name, threshold in thresholds.items():
                entry = grouping["disparities"].get(name)
                if entry is None:
                    continue
                verdicts.append(
                    _verdict(data, grouping, name, entry, threshold=threshold, minimum=minimum, labels=labels)
                )
    return verdicts


def _verdict(
    data: str,
    grouping: Mapping[str, Any],
    name: str,
    entry: Mapping[str, Any],
    *,
    threshold: Mapping[str, float],
    minimum: int,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    base = {
        "data": data,
        "grouping": grouping["grouping"],
        "metric": name,
        "label": DISPARITIES[name].label,
        "threshold": dict(threshold),
        "value": entry.get("judged_value"),
        "interval": entry.get("interval"),
    }
    too_small = [g["group"] for g in grouping["groups"] if not g["judged"]]
    if "judged_value" not in entry:
        return {
            **base,
            "status": "too_few",
            "interval_crosses": False,
            "worst_group": None,
            "best_group": None,
            "too_few_groups": too_small,
            "sentence": (
                f"Too few to judge: {grouping['grouping']} has fewer than two groups with at least "
                f"{minimum} rows in the {DATA_NAMES[data]}."
            ),
        }
    if entry["judged_value"] is None:
        return {
            **base,
            "status": "too_few",
            "interval_crosses": False,
            "worst_group": entry.get("worst_group"),
            "best_group": entry.get("best_group"),
            "too_few_groups": too_small,
            "sentence": (
                f"Cannot judge: the {DISPARITIES[name].label.lower()} is undefined for {grouping['grouping']} in "
                f"the {DATA_NAMES[data]} (the {METRICS[entry['metric']].label.lower()} is 0 in every group)."
            ),
        }
    attributes = grouping["attributes"]
    worst = group_phrase(entry["worst_group"], attributes, labels)
    best = group_phrase(entry["best_group"], attributes, labels)
    status = judge(entry["judged_value"], threshold)
    crosses = interval_crosses(entry.get("interval"), threshold)
    sentence = _sentence(name, entry, worst, best)
    low, high = entry.get("interval") or (None, None)
    if low is not None:
        sentence += f" 95% interval {low:.2f}–{high:.2f}"
        sentence += "; it crosses the threshold, so the verdict is uncertain." if crosses else "."
    if too_small:
        sentence += f" Too few to judge and left out: {', '.join(too_small)}."
    return {
        **base,
        "status": status,
        "interval_crosses": crosses,
        "worst_group": entry["worst_group"],
        "best_group": entry["best_group"],
        "too_few_groups": too_small,
        "sentence": sentence,
    }


def worst_status(statuses: Sequence[str]) -> str | None:
    """The most severe status (fail > warn > too_few > pass); None for none."""
    return max(statuses, key=_RANK.__getitem__) if statuses else None


def fairness_light(verdicts: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The Overview's fairness light from a snapshot's verdicts."""
    if not verdicts:
        return {"status": "not_evaluated", "reason": "no fairness verdicts in the snapshot"}
    status = worst_status([v["status"] for v in verdicts])
    failing = [v for v in verdicts if v["status"] == status]
    if status == "pass":
        return {"status": "pass", "reason": f"{len(verdicts)} verdicts pass"}
    if status == "too_few":
        return {"status": "warn", "reason": "too few rows to judge any group"}
    first = failing[0]
    return {
        "status": status,
        "reason": f"{len(failing)} {status}: {first['label'].lower()} {first['value']:.2f} on {first['grouping']}",
    }


def sampling_bias(
    evaluation: Mapping[str, Any] | None,
    scoring: Mapping[str, Any] | None,
    *,
    max_difference: float,
) -> list[dict[str, Any]]:
    """Group shares of the evaluation set against the scoring batch, per single attribute.

    Parameters
    ----------
    evaluation, scoring : list of dict
        ``fairness.assess`` results of the two data sets.
    max_difference : float
        Largest allowed absolute difference of a group's share.
    """
    if not evaluation or not scoring:
        return []
    rows = []
    scoring_by_name = {g["grouping"]: g for g in scoring}
    for grouping in evaluation:
        if len(grouping["attributes"]) != 1 or grouping["grouping"] not in scoring_by_name:
            continue
        shares = {}
        for kind, source in (("eval", grouping), ("scores", scoring_by_name[grouping["grouping"]])):
            total = sum(g["count"] for g in source["groups"]) or 1
            for g in source["groups"]:
                shares.setdefault(g["group"], {})[kind] = g["count"] / total
        for group, share in shares.items():  # the groups in the evaluation set's order (group_values)
            difference = share.get("eval", 0.0) - share.get("scores", 0.0)
            rows.append({
                "attribute": grouping["grouping"],
                "group": group,
                "eval_share": round(share.get("eval", 0.0), 12),
                "scores_share": round(share.get("scores", 0.0), 12),
                "difference": round(difference, 12),
                "flagged": abs(difference) > max_difference,
            })
    return rows


def drift_light(drift: Mapping[str, Any] | None) -> dict[str, str]:
    """The Overview's drift light: the worst PSI status of the score and the features."""
    if not drift or not drift.get("columns"):
        return {"status": "not_evaluated", "reason": "no scoring batch to compare"}
    columns = drift["columns"]
    status = worst_status([c["status"] for c in columns])
    if status == "pass":
        return {"status": "pass", "reason": f"stable since {drift['reference_week']}"}
    moved = [c for c in columns if c["status"] == status]
    names = ", ".join(f"{c['column']} PSI {c['psi']:.2f}" for c in moved[:3])
    return {"status": status, "reason": f"moved since {drift['reference_week']}: {names}"}


def for_model(policy: Mapping[str, Any], model_id: str) -> dict[str, Any]:
    """The policy one model is judged by: its ``[models."<id>"]`` tables merged over the global ones.

    The result has no ``models`` table: it is what a snapshot of the model records as the policy in force.
    """
    merged = {key: value for key, value in policy.items() if key != "models"}
    for table, values in policy.get("models", {}).get(model_id, {}).items():
        merged[table] = {**merged.get(table, {}), **values}
    return merged


def equivalence_tolerance(policy: Mapping[str, Any]) -> float:
    """The largest difference allowed between a score recomputed here and production's (``[equivalence]``)."""
    return float(policy["equivalence"]["tolerance"])
