"""Meta-tests: the rules in DESIGN.md that keep the code easy to change."""

import ast
import re

import pytest

from tests.conftest import REPO

PACKAGE_FILES = sorted((REPO / "ethics").glob("*.py"))
PAGE_FILES = sorted((REPO / "pages").glob("*.py"))


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


@pytest.mark.parametrize("path", PACKAGE_FILES, ids=lambda p: p.name)
def test_only_ui_imports_streamlit(path):
    streamlit = [name for name in _imports(path) if name.split(".")[0] == "streamlit"]
    assert not streamlit or path.name == "ui.py", f"{path.name} imports {streamlit}"


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_pages_never_touch_sql(path):
    forbidden = {"sqlite3", "sqlite_utils", "ethics.store", "ethics.migrations"}
    assert not forbidden & set(_imports(path))
    text = path.read_text()
    assert not re.search(r"\.execute\(|\.query\(|\bselect\b.+\bfrom\b", text, re.IGNORECASE)


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_every_page_is_registered_and_guarded(path):
    from ethics import ui

    assert f"pages/{path.name}" in {spec.path for spec in ui.PAGES}
    assert "ui.run_page(" in path.read_text()


def test_no_pickle_or_joblib_anywhere_in_the_package():
    for path in PACKAGE_FILES:
        names = set(_imports(path))
        assert not names & {"pickle", "joblib", "cloudpickle", "dill"}, path.name
