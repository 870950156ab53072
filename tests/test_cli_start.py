"""The commands that neither score nor draw import no heavy library (issue 19: start-up under 0.5 s).

Asserted on values, not time: each command runs in a fresh ``python -m ethics`` process
(through the benchmark's ``runpy`` probe) against the example model with one snapshot,
and the names in ``sys.modules`` at exit whose top-level package is heavy must be none.
The timings are printed by ``benchmarks/cli_start.py``.
"""

import sqlite3
import sys

import pytest

from ethics import lazy, store
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

from cli_start import CHEAP_COMMANDS, build_example_home, command_args, heavy_modules  # noqa: E402


@pytest.fixture(scope="module")
def example_home(tmp_path_factory):
    """The example model registered, imported and snapshotted through the CLI, once for this file; read only.

    Returns the home and the model's (id, version).
    """
    home = tmp_path_factory.mktemp("cli-start") / "home"
    return home, build_example_home(home)


@pytest.mark.parametrize("command", CHEAP_COMMANDS, ids=" ".join)
def test_a_command_that_does_not_compute_imports_no_heavy_library(command, example_home):
    home, model = example_home
    returncode, heavy = heavy_modules(command_args(command, model=model), home=home)
    assert returncode in (0, 1)  # 1: a failed check (the example's review is overdue, its consent light fails)
    assert heavy == []


def test_the_probe_sees_the_heavy_libraries_of_a_command_that_computes(example_home):
    # explain --lead reads the lead's row from Parquet with pandas: the probe must report it.
    home, model = example_home
    returncode, heavy = heavy_modules(["explain", "--model", model[0], "--lead", "WB-01000"], home=home)
    assert returncode == 0
    assert "pandas" in heavy and "pyarrow" in heavy


def test_a_lazy_module_imports_on_first_use_and_rebinds_its_name():
    namespace: dict = {}
    namespace["json_module"] = lazy.lazy_module("json", namespace)
    assert isinstance(namespace["json_module"], lazy.LazyModule)
    assert namespace["json_module"].dumps([1, 2]) == "[1, 2]"
    assert namespace["json_module"] is sys.modules["json"]


def test_sqlite_utils_types_numpy_and_pandas_columns_as_it_does_when_it_imports_them():
    """The SQL types sqlite-utils gives numpy and pandas values, although it was imported without them."""
    import numpy as np
    import pandas as pd

    db = store.open_db(memory=True)
    row = {"i8": np.int8(1), "i64": np.int64(2), "u32": np.uint32(3), "u64": np.uint64(4), "f16": np.float16(0.5),
           "f32": np.float32(1.5), "f64": np.float64(2.5), "ts": pd.Timestamp("2026-11-25"), "plain": 1}
    db["typed"].create({name: type(value) for name, value in row.items()})
    declared = {name: kind for _, name, kind, *_ in db.execute("PRAGMA table_info(typed)").fetchall()}
    assert declared == {"i8": "INTEGER", "i64": "INTEGER", "u32": "INTEGER", "u64": "INTEGER", "f16": "REAL",
                        "f32": "REAL", "f64": "REAL", "ts": "TEXT", "plain": "INTEGER"}
    with pytest.raises(KeyError):  # a type sqlite-utils does not know stays unknown
        db["other"].create({"x": sqlite3.Connection})
