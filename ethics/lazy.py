"""Heavy libraries imported on first use, so that commands which never compute start fast (issue 19).

The modules that compute (fairness, continuous, consent, ...) also define the names the
policy, the registry and the CLI read at start-up (metric specs, thresholds, purposes).
Importing numpy, pandas and pyarrow there costs ~0.4 s that a ``python -m ethics models``
never uses, so those modules bind the library to a :class:`LazyModule` instead::

    np = lazy_module("numpy", globals())

The first attribute read (``np.asarray``) imports numpy and rebinds ``np`` in that
module's namespace to the real module, so every later use is a plain global lookup.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name`` in ``namespace`` until one of its attributes is read.

    Parameters
    ----------
    name : str
        The module to import, e.g. ``"pyarrow.parquet"``.
    namespace : dict
        The ``globals()`` of the module that uses it: on first use every name there bound
        to this object is rebound to the imported module.
    """

    __slots__ = ("_name", "_namespace")

    def __init__(self, name: str, namespace: dict[str, Any]) -> None:
        self._name = name
        self._namespace = namespace

    def load(self) -> ModuleType:
        """Import the module (once; Python caches it) and rebind the names that stand for it."""
        imported = importlib.import_module(self._name)
        for key, value in list(self._namespace.items()):
            if value is self:
                self._namespace[key] = imported
        return imported

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.load(), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_module(name: str, namespace: dict[str, Any]) -> Any:
    """A stand-in for ``import name`` that imports it on first attribute access (see :class:`LazyModule`)."""
    return LazyModule(name, namespace)
