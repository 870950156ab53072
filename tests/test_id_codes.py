"""Numbering and matching ids by sorting: the same partition and matches as a dict, whatever the input."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ethics import id_codes
from ethics.id_codes import IdCodes

CONTAINERS = {
    "list": list,
    "object ndarray": lambda ids: np.array(ids, dtype=object),
    "pandas object": lambda ids: pd.Series(ids, dtype=object),
    "pandas arrow string": lambda ids: pd.Series(ids, dtype="string[pyarrow]"),
    "arrow string": lambda ids: pa.array(ids, type=pa.string()),
    "arrow sliced": lambda ids: pa.array(["pad", *ids], type=pa.large_string())[1:],
    "arrow chunked": lambda ids: pa.chunked_array([ids[: len(ids) // 2], ids[len(ids) // 2:]]),
}


def _pseudonyms(rng, count):
    return [f"p-{value:032x}" for value in rng.integers(0, 2**62, count)]


def _assert_numbering(codes, ids):
    """Same id, same number; different ids, different numbers; numbers 0 .. n-1."""
    by_id = {}
    for code, value in zip(codes.tolist(), ids, strict=True):
        assert by_id.setdefault(value, code) == code, value
    assert sorted(by_id.values()) == list(range(len(by_id)))


def _assert_lookup(index, events, wanted, container):
    """Each wanted id's number is the number its events got; -1 for ids without events."""
    number = dict(zip(events, index.codes.tolist(), strict=True))
    found = index.codes_of(container(wanted)).tolist()
    assert found == [number.get(value, -1) for value in wanted]


@pytest.mark.parametrize("container", CONTAINERS.values(), ids=CONTAINERS.keys())
def test_pseudonyms_are_numbered_and_matched_like_a_dict(container):
    rng = np.random.default_rng(3)
    pool = _pseudonyms(rng, 300)
    events = [pool[i] for i in rng.integers(0, len(pool), 5_000)]
    index = IdCodes(container(events))
    assert index.width == 34  # the sorting path, not Arrow's hashing
    _assert_numbering(index.codes, events)
    wanted = [*pool[::7], "p-unknown", "p-" + "f" * 32, pool[0][:-1] + "X", "", pool[5]]
    _assert_lookup(index, events, wanted, container)


def test_ids_of_differing_widths_are_hashed_with_the_same_result():
    events = ["C1", "C22", "C1", "C333", "C22", "C22"]
    index = IdCodes(events)
    assert index.width is None
    _assert_numbering(index.codes, events)
    _assert_lookup(index, events, ["C22", "C4", "C333", "C1"], list)


def test_missing_lookups_and_empty_inputs_find_nothing():
    index = IdCodes(["p-" + "a" * 32] * 3)
    assert index.codes.tolist() == [0, 0, 0]
    assert index.codes_of(pd.Series(["p-" + "a" * 32, None, "short"], dtype=object)).tolist() == [0, -1, -1]
    assert index.codes_of([]).tolist() == []
    assert IdCodes(pa.array([], type=pa.string())).codes_of(["p-" + "a" * 32]).tolist() == [-1]


def test_two_ids_with_the_same_mix_are_still_told_apart():
    """Forge a second 16-byte id whose 64-bit mix equals the first's: the bytes decide, not the mix."""
    first = np.array([0x1111111111111111, 0x2222222222222222], dtype="<u8")
    second = first.copy()
    second[0] = 0x3333333333333333
    # mix = ((w0 * M) ^ w1) * M, so choosing w1 to cancel the different w0 keeps the mix.
    products = np.array([first[0], second[0]], dtype="<u8") * id_codes._MULTIPLIER  # wraps like the mix
    second[1] = products[0] ^ first[1] ^ products[1]
    data = np.concatenate([first, second, first]).tobytes()
    offsets = np.array([0, 16, 32, 48], dtype=np.int64).tobytes()
    ids = pa.Array.from_buffers(pa.large_binary(), 3, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    columns = id_codes._word_columns(ids, 16)
    assert id_codes._mix(columns)[0] == id_codes._mix(columns)[1]  # the forgery worked
    index = IdCodes(ids)
    assert index.width is None  # fell back to hashing the bytes
    assert index.codes.tolist()[0] == index.codes.tolist()[2] != index.codes.tolist()[1]


@pytest.mark.parametrize("mixes", [
    [3, 2],  # same top bits, low bits out of order: needs the full argsort
    [5, 3, 5, 1, 0, 2**64 - 1, 2**63],
    list(np.random.default_rng(5).integers(0, 2**64 - 1, 10_000, dtype=np.uint64)),
    list(np.random.default_rng(6).integers(0, 40, 10_000, dtype=np.uint64)),  # many equal mixes
])
def test_sort_order_is_a_stable_argsort(mixes):
    mixes = np.array(mixes, dtype=np.uint64)
    order, ordered = id_codes._sort_order(mixes)
    assert order.tolist() == np.argsort(mixes, kind="stable").tolist()
    assert ordered.tolist() == np.sort(mixes).tolist()
