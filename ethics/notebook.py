"""Registering a fitted scikit-learn model from a notebook: ``ethics.register(model, manifest=..., reference=...)``.

The model is serialised with ``skops.io.dumps`` here, never pickled, and registered through
:func:`ethics.registry.register_model`, so it meets exactly the checks of ``python -m ethics
register``: the allow-list of types, the features, the classifier rules and the reference scores,
each in the artifact worker.
"""

from __future__ import annotations

import getpass
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ethics import registry, store
from ethics.config import load_settings
from ethics.errors import NOTEBOOK_KIND, ValidationError
from ethics.manifest import manifest_toml, read_manifest, validate_manifest

KIND = "skops"
#: How a manifest given as a dict is named in messages.
DICT_NAME = "manifest (a dict)"


def register(model: Any, *, manifest: str | os.PathLike[str] | Mapping[str, Any],
             reference: pd.DataFrame | str | os.PathLike[str] | None = None,
             home: str | os.PathLike[str] | None = None, actor: str | None = None) -> dict[str, Any]:
    """Register a fitted scikit-learn estimator or pipeline as a model version.

    Parameters
    ----------
    model : estimator
        Fitted on a pandas DataFrame (its columns are the features), with ``predict_proba``.
    manifest : path or dict
        A ``manifest.toml``, or the same document as a dict; its ``[artifact] kind`` is
        ``"skops"`` (a dict without ``[artifact]`` gets it).  ``[artifact] file`` is ignored.
    reference : DataFrame or path
        The features and the ``score`` your production system gave each row; required for skops.
    home : path, optional
        The data home; ``$ETHICS_HOME`` (or ``data/``) when omitted.
    actor : str, optional
        Who registers it; ``notebook:<login>`` when omitted.

    Returns
    -------
    dict
        The version row, as :func:`ethics.registry.get_version` returns it.

    Raises
    ------
    ValidationError
        Anything ``python -m ethics register`` refuses; nothing is registered.
    """
    import skops.io  # only here: importing ethics stays light

    env = dict(os.environ) | ({"ETHICS_HOME": str(home)} if home is not None else {})
    settings = load_settings(env)
    data = skops.io.dumps(model)
    with tempfile.TemporaryDirectory(prefix="ethics-register-") as tmp:
        if isinstance(manifest, Mapping):
            document = {**manifest, "artifact": {"kind": KIND, **manifest.get("artifact", {})}}
            document["artifact"].pop("file", None)
            checked = validate_manifest(dict(document), file=DICT_NAME)
            path = Path(tmp) / "manifest.toml"
            path.write_text(manifest_toml(document), encoding="utf-8")
        else:
            path = Path(manifest)
            checked = read_manifest(path)
        if checked["artifact"]["kind"] != KIND:
            raise ValidationError(NOTEBOOK_KIND.format(file=path if not isinstance(manifest, Mapping) else DICT_NAME,
                                                       kind=checked["artifact"]["kind"]))
        artifact = Path(tmp) / "model.skops"
        artifact.write_bytes(data)
        db = store.open_db(settings.db_path)
        try:
            store.migrate(db)
            return registry.register_model(
                db, path, home=settings.home, artifact_path=artifact, reference=reference, policy=settings.policy,
                actor=actor or f"notebook:{getpass.getuser()}")
        finally:
            db.close()
