import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from ethics import drift
from ethics.drift import EPSILON, drift_report, psi, status_for
from ethics.errors import ValidationError

POLICY = {"warn_above": 0.1, "fail_above": 0.25}


def numpy_psi(reference, current, bins=10):
    """Independent PSI: np.histogram on the reference's quantile edges, outer edges opened to +-inf."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    ref = np.histogram(reference, bins=edges)[0] / len(reference)
    cur = np.histogram(current, bins=edges)[0] / len(current)
    ref, cur = np.where(ref == 0, EPSILON, ref), np.where(cur == 0, EPSILON, cur)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def sample_with_shares(edges, counts):
    """Values placed in the middle of each bin [edges[i], edges[i+1]), counts[i] of them."""
    mids = [(lo + hi) / 2 for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return np.repeat(mids, counts)


def test_identical_samples_have_zero_psi():
    values = np.random.default_rng(0).normal(size=5_000)
    assert psi(values, values) == pytest.approx(0.0, abs=1e-12)
    assert psi(values, values.copy()[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_same_distribution_different_draws_is_small():
    rng = np.random.default_rng(1)
    assert psi(rng.normal(size=20_000), rng.normal(size=20_000)) < 0.01


@pytest.mark.parametrize("shift", [0.1, 0.5, 1.5])
@pytest.mark.parametrize("bins", [5, 10, 20])
def test_shifted_normal_matches_independent_numpy_computation(shift, bins):
    rng = np.random.default_rng(2)
    reference, current = rng.normal(size=4_000), rng.normal(loc=shift, size=3_000)
    assert psi(reference, current, bins=bins) == pytest.approx(numpy_psi(reference, current, bins), rel=1e-12)


def test_textbook_two_bins():
    # Half/half in the reference, 25 % / 75 % now: PSI = -0.25 ln 0.5 + 0.25 ln 1.5 = 0.25 ln 3.
    reference = np.arange(100.0)
    current = np.concatenate([np.arange(25.0), np.arange(50.0, 125.0)])
    assert psi(reference, current, bins=2) == pytest.approx(0.25 * math.log(3), rel=1e-12)


def test_textbook_deciles():
    # Ten equal deciles; now 5,5,10,10,10,10,10,10,15,15 %:
    # PSI = 2 (-0.05 ln 0.5) + 2 (0.05 ln 1.5) = 0.1 ln 3 = 0.10986.
    reference = np.arange(1000.0)
    edges = np.quantile(reference, np.linspace(0, 1, 11))
    current = sample_with_shares(edges, [50, 50, 100, 100, 100, 100, 100, 100, 150, 150])
    assert psi(reference, current) == pytest.approx(0.1 * math.log(3), rel=1e-12)
    assert psi(reference, current) == pytest.approx(0.109861228867, abs=1e-12)


def test_monotonic_in_shift_size():
    rng = np.random.default_rng(3)
    reference, noise = rng.normal(size=5_000), rng.normal(size=5_000)
    values = [psi(reference, noise + shift) for shift in (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)]
    assert values == sorted(values)
    assert len(set(values)) == len(values)
    assert values[-1] > 1.0


def test_values_outside_the_reference_range_land_in_the_outer_bins():
    reference = np.arange(1000.0)
    assert psi(reference, reference + 10_000) == pytest.approx(psi(reference, np.full(1000, 999.0)))
    assert psi(reference, reference - 10_000) == pytest.approx(psi(reference, np.full(1000, 0.0)))


def test_constant_column():
    same = psi(np.full(50, 5.0), np.full(80, 5.0))
    assert same == 0.0
    # Half of the current rows take a value never seen in the reference.
    expected = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - EPSILON) * math.log(0.5 / EPSILON)
    assert psi(np.full(50, 5.0), np.repeat([5.0, 6.0], 40)) == pytest.approx(expected, rel=1e-12)


def test_binary_column_is_compared_by_category():
    # Quantile edges of a 70/30 flag collapse to one bin; categories still see the change.
    reference = np.repeat([0.0, 1.0], [70, 30])
    current = np.repeat([0.0, 1.0], [40, 60])
    expected = (0.4 - 0.7) * math.log(0.4 / 0.7) + (0.6 - 0.3) * math.log(0.6 / 0.3)
    assert psi(reference, current) == pytest.approx(expected, rel=1e-12)


def test_missing_values_form_their_own_bin():
    reference = np.arange(1000.0)
    current = np.where(np.arange(1000) % 10 == 0, np.nan, reference)
    value = psi(reference, current)
    assert value > 0.1
    assert psi(current, current) == pytest.approx(0.0, abs=1e-12)


def test_non_numeric_categories():
    reference = np.array(["a"] * 50 + ["b"] * 50, dtype=object)
    current = np.array(["a"] * 25 + ["b"] * 75, dtype=object)
    assert psi(reference, current) == pytest.approx(0.25 * math.log(3), rel=1e-12)


@pytest.mark.parametrize(
    ("value", "status"),
    [(0.0, "pass"), (0.1, "pass"), (0.1000001, "warn"), (0.25, "warn"), (0.2500001, "fail"), (3.0, "fail")],
)
def test_status_at_the_thresholds(value, status):
    assert status_for(value, warn_above=0.1, fail_above=0.25) == status


def test_drift_report_rows():
    rng = np.random.default_rng(4)
    n = 5_000
    reference = pd.DataFrame(
        {"score": rng.random(n), "calm": rng.normal(size=n), "moved": rng.normal(size=n), "gone": rng.normal(size=n)}
    )
    current = pd.DataFrame(
        {
            "score": rng.random(n),
            "calm": rng.normal(size=n),
            "moved": rng.normal(loc=0.4, size=n),
            "gone": rng.normal(loc=2.0, size=n),
        }
    )
    rows = drift_report(reference, current, columns=["score", "calm", "moved", "gone"], policy=POLICY)
    assert [row["column"] for row in rows] == ["score", "calm", "moved", "gone"]
    assert [row["status"] for row in rows] == ["pass", "pass", "warn", "fail"]
    for row in rows:
        assert set(row) == {
            "column",
            "psi",
            "status",
            "reference_mean",
            "current_mean",
            "reference_rows",
            "current_rows",
        }
        assert row["reference_rows"] == row["current_rows"] == n
        assert row["psi"] == round(psi(reference[row["column"]], current[row["column"]]), 12)
    assert rows[3]["reference_mean"] == pytest.approx(reference["gone"].mean(), abs=1e-11)
    assert rows[3]["current_mean"] == pytest.approx(current["gone"].mean(), abs=1e-11)
    json.dumps(rows, allow_nan=False)


def test_drift_report_status_uses_the_policy():
    reference = pd.DataFrame({"x": np.arange(100.0)})
    current = pd.DataFrame({"x": np.concatenate([np.arange(25.0), np.arange(50.0, 125.0)])})  # PSI 0.275 at bins=2
    for policy, status in [
        ({"warn_above": 0.1, "fail_above": 0.25}, "fail"),
        ({"warn_above": 0.1, "fail_above": 0.3}, "warn"),
        ({"warn_above": 0.3, "fail_above": 0.5}, "pass"),
    ]:
        [row] = drift_report(reference, current, columns=["x"], policy=policy, bins=2)
        assert row["status"] == status


def test_drift_report_pyarrow_and_string_columns():
    reference = pd.DataFrame(
        {
            "score": pd.array([0.1, 0.2, None, 0.4] * 25, dtype="double[pyarrow]"),
            "region": pd.array(["n", "s", None, "s"] * 25, dtype="string[pyarrow]"),
        }
    )
    rows = drift_report(reference, reference.copy(), columns=["score", "region"], policy=POLICY)
    assert [row["psi"] for row in rows] == [0.0, 0.0]
    assert rows[0]["reference_mean"] == pytest.approx(0.7 / 3)
    assert rows[1]["reference_mean"] is None
    json.dumps(rows, allow_nan=False)


@pytest.mark.parametrize("which", ["reference", "current"])
def test_missing_column_is_named(which):
    frame = pd.DataFrame({"score": [0.1, 0.2], "tenure": [1.0, 2.0]})
    other = frame.drop(columns="tenure")
    reference, current = (other, frame) if which == "reference" else (frame, other)
    message = drift.COLUMN_MISSING.format(column="tenure", which=which)
    assert message == f"Drift: column 'tenure' is missing from the {which} data."
    with pytest.raises(ValidationError, match=re.escape(message)):
        drift_report(reference, current, columns=["score", "tenure"], policy=POLICY)


def test_empty_frame():
    frame = pd.DataFrame({"score": [0.1, 0.2]})
    with pytest.raises(ValidationError, match=re.escape(drift.FRAME_EMPTY.format(which="current"))):
        drift_report(frame, frame.iloc[:0], columns=["score"], policy=POLICY)
    with pytest.raises(ValidationError, match=re.escape(drift.FRAME_EMPTY.format(which="reference"))):
        drift_report(frame.iloc[:0], frame, columns=["score"], policy=POLICY)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"warn_above": 0.1}, drift.POLICY_MISSING.format(key="fail_above")),
        ({"warn_above": "high", "fail_above": 0.25}, drift.POLICY_NOT_NUMBER.format(key="warn_above", value="high")),
        ({"warn_above": 0.3, "fail_above": 0.25}, drift.POLICY_ORDER.format(warn=0.3, fail=0.25)),
    ],
)
def test_bad_policy(policy, message):
    frame = pd.DataFrame({"score": [0.1, 0.2]})
    with pytest.raises(ValidationError, match=re.escape(message)):
        drift_report(frame, frame, columns=["score"], policy=policy)


def test_bad_samples():
    with pytest.raises(ValidationError, match=re.escape(drift.BINS_INVALID.format(bins=1))):
        psi(np.arange(5.0), np.arange(5.0), bins=1)
    with pytest.raises(ValidationError, match=re.escape(drift.SAMPLE_EMPTY.format(which="current"))):
        psi(np.arange(5.0), np.array([]))
    with pytest.raises(ValidationError, match="infinite"):
        psi(np.arange(5.0), np.array([1.0, np.inf]))
    with pytest.raises(ValidationError, match="one-dimensional"):
        psi(np.ones((2, 2)), np.arange(5.0))
    with pytest.raises(ValidationError, match="differ in kind"):
        psi(np.arange(5.0), np.array(["a", "b"], dtype=object))
    frame = pd.DataFrame({"score": [0.1, 0.2]})
    with pytest.raises(ValidationError, match=re.escape(drift.COLUMNS_EMPTY)):
        drift_report(frame, frame, columns=[], policy=POLICY)
