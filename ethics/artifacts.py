"""Model artifacts in formats that cannot run code when loaded.

Accepted: LightGBM text models, XGBoost JSON or UBJ, linear models as JSON
coefficients, scikit-learn pipelines saved with skops (whose types are checked
against ethics' list, :mod:`ethics.allowed_types`, before anything is built) and ONNX
graphs of standard operators (run by onnxruntime).  Pickle, joblib and compressed
formats are refused by their magic bytes before anything else is read, and so are zip
archives for every kind but skops.  Nothing in an artifact is ever executed, and no model
library parses one in this process: a :class:`Scorer` sends the file to its own
artifact worker (:mod:`ethics.worker`), which runs under memory and time limits and
sends back only numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from ethics import worker
from ethics.errors import (
    ARTIFACT_CHANGED,
    ARTIFACT_FEATURE_TYPES,
    ARTIFACT_FEATURES_DIFFER,
    ARTIFACT_HASH,
    ARTIFACT_KIND,
    ARTIFACT_NOT_CLASSIFIER,
    ARTIFACT_PICKLE,
    SKOPS_NOT_ALLOWED,
    WORKER_CPU,
    WORKER_CRASH_HINT,
    WORKER_CRASHED,
    WORKER_EXITED,
    WORKER_FAILED,
    WORKER_HINT,
    WORKER_MEMORY,
    WORKER_TIMEOUT,
    ArtifactRefused,
)
from ethics.lazy import lazy_module

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())

ArtifactKind = Literal["lightgbm", "xgboost", "linear", "skops", "onnx", "none"]
ARTIFACT_KINDS: tuple[str, ...] = ("lightgbm", "xgboost", "linear", "skops", "onnx", "none")
NOTHING_STORED = "nothing was stored"
# Objectives whose prediction is the probability of the positive class (the sigmoid of the margin).
_PROBABILITY_OBJECTIVES = {
    "lightgbm": ("binary", "cross_entropy", "xentropy"),
    "xgboost": ("binary:logistic", "binary:logitraw"),
    "linear": ("linear",),
    "skops": ("binary",),
    "onnx": ("binary",),  # the graph's class-1 probability output, margin = probability
}
# Kinds whose files are zip archives (checked type by type in the worker, never unpickled).
_ZIP_KINDS = ("skops",)
_ZIP_MAGIC = b"PK\x03\x04"

# (prefix, description).  Checked before any parser sees the bytes.
_REFUSED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x80\x02", "Python pickle (protocol 2)"),
    (b"\x80\x03", "Python pickle (protocol 3)"),
    (b"\x80\x04", "Python pickle / joblib (protocol 4)"),
    (b"\x80\x05", "Python pickle / joblib (protocol 5)"),
    (b"x\x01", "zlib-compressed joblib"),
    (b"x^", "zlib-compressed joblib"),
    (b"x\x9c", "zlib-compressed joblib"),
    (b"x\xda", "zlib-compressed joblib"),
    (b"ZF", "joblib (old compressed format)"),
    (b"\x1f\x8b", "gzip-compressed file (joblib or pickle)"),
    (b"BZh", "bz2-compressed file (joblib or pickle)"),
    (b"\xfd7zXZ\x00", "xz-compressed file (joblib or pickle)"),
    (b"\x5d\x00\x00", "lzma-compressed file (joblib or pickle)"),
    (b"\x04\x22\x4d\x18", "lz4-compressed file (joblib or pickle)"),
    (b"PK\x03\x04", "zip archive (torch, cloudpickle or skops)"),
)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def refuse_executable(data: bytes, *, file: str, kind: str | None = None) -> None:
    """Raise ``ArtifactRefused`` when ``data`` starts like pickle, joblib or an archive.

    A zip archive is accepted only for ``kind = "skops"`` (the worker checks each type it
    names); pickle, joblib and compressed files are refused for every kind.
    """
    for magic, description in _REFUSED_MAGIC:
        if magic == _ZIP_MAGIC and kind in _ZIP_KINDS:
            continue
        if data.startswith(magic):
            raise ArtifactRefused(
                ARTIFACT_PICKLE.format(file=file, format=description, magic=magic.hex(" "))
            )


class Scorer:
    """A registered artifact, loaded in its own worker process, that turns feature rows into scores.

    The worker starts on first use (a snapshot without a scoring batch starts none) and
    serves every call on this artifact: scores, raw margins and SHAP values.  Close it
    with :meth:`close` or a ``with`` block; it is also stopped when the object goes.

    Parameters
    ----------
    path : Path
        The artifact file.
    kind : str
        ``lightgbm``, ``xgboost``, ``linear``, ``skops`` or ``onnx`` (a key of :data:`ethics.worker.LOADERS`).
    expected_sha256 : str
        The worker refuses the file when its bytes have another hash.
    file : str
        Name used in messages.
    consequence : str
        What a failure means, ending each message ("nothing was registered").
    owner : tuple of str, optional
        Model id and version, named when a registered file was changed.
    limits : Limits, optional
        The worker's limits (default: from the environment).
    columns : sequence of str, optional
        The manifest's feature names: the columns of the rows, which the model may store in
        its own spelling (:func:`model_columns`).
    """

    def __init__(self, path: Path, *, kind: str, expected_sha256: str, file: str,
                 consequence: str = NOTHING_STORED, owner: tuple[str, str] | None = None,
                 limits: worker.Limits | None = None, columns: Sequence[str] | None = None) -> None:
        self.kind = kind
        self.columns = None if columns is None else list(columns)
        self.path = Path(path).resolve()
        self.expected_sha256 = expected_sha256
        self.file = file
        self.consequence = consequence
        self.owner = owner
        self._worker = worker.Worker(limits=limits)
        self._facts: dict[str, Any] | None = None

    def _load_request(self) -> dict[str, Any]:
        return {"op": "load", "kind": self.kind, "path": str(self.path), "sha256": self.expected_sha256}

    def preload(self) -> None:
        """Start the worker and send it the file now, without waiting: it parses while this process works on."""
        if self._facts is None and not self._worker.waiting:
            try:
                self._worker.send(self._load_request())
            except worker.WorkerDied as died:
                raise self._died(died, step="loading") from None

    @property
    def facts(self) -> dict[str, Any]:
        """What the worker read from the model: features, objective, num_class, link, nonfinite."""
        if self._facts is None:
            reply, _ = self._call(self._load_request(), step="loading")
            self._facts = reply["facts"]
        return self._facts

    @property
    def features(self) -> list[str]:
        """Input columns in the order the model expects them, as the rows (the manifest) name them."""
        return list(self._column_of(self.facts["features"]))

    @property
    def missing(self) -> list[str]:
        """The input columns whose missing values the model handles (its ``missing`` fact)."""
        return self._column_of(self.facts.get("missing", ()))

    @property
    def categorical(self) -> list[str]:
        """The input columns the model reads as text (its ``categorical`` fact)."""
        return self._column_of(self.facts.get("categorical", ()))

    def _column_of(self, stored: Sequence[str]) -> list[str]:
        renamed = dict(zip(self.facts["features"], model_columns(self.facts["features"], self.columns,
                                                                 kind=self.kind), strict=True))
        return [renamed.get(name, name) for name in stored]

    @property
    def link(self) -> str:
        """``logistic`` when the score is the sigmoid of the model's raw output, else ``identity``."""
        return str(self.facts["link"])

    def _rows(self, frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, list[str]]]:
        """The features as float64 in the model's order, and the vocabulary of the text ones (see ethics.worker)."""
        text = set(self.categorical)
        if not text:
            return frame[self.features].to_numpy(dtype=np.float64), {}
        x = np.empty((len(frame), len(self.features)), dtype=np.float64)
        vocabulary: dict[str, list[str]] = {}
        for i, name in enumerate(self.features):
            if name in text:
                codes, values = pd.factorize(frame[name].astype("string"), use_na_sentinel=True)
                x[:, i] = np.where(codes < 0, np.nan, codes)
                vocabulary[name] = [str(v) for v in values]
            else:
                x[:, i] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        return x, vocabulary

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Scores for the rows of ``frame`` (which must hold every feature)."""
        x, vocabulary = self._rows(frame)
        return self._call({"op": "score", "vocabulary": vocabulary}, {"x": x}, step="scoring")[1]["scores"].copy()

    def margin(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's raw output before its link: log-odds for the logistic link."""
        x, vocabulary = self._rows(frame)
        return self._call({"op": "margin", "vocabulary": vocabulary}, {"x": x}, step="scoring")[1]["margin"].copy()

    def contributions(self, frame: pd.DataFrame, *, threads: int, background: pd.DataFrame | None = None
                      ) -> tuple[np.ndarray, float, np.ndarray]:
        """SHAP values (rows × raw features), the base value and the margin, in one round trip.

        ``background``: the background rows of a sampled explainer, sent first with the same text codes.
        """
        header: dict[str, Any] = {"op": "explain", "threads": threads}
        if background is not None:
            frame = pd.concat([background[self.features], frame[self.features]], ignore_index=True)
            header["background"] = len(background)
        x, header["vocabulary"] = self._rows(frame)
        out = self._call(header, {"x": x}, step="explaining")[1]
        return out["values"].copy(), float(out["base"][0]), out["margin"].copy()

    def _call(self, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None, *, step: str
              ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        if header["op"] != "load":
            self.facts  # noqa: B018 - the model is loaded before it scores
        try:
            if header["op"] == "load" and self._worker.waiting:  # sent by preload
                reply, out = self._worker.receive()
            else:
                reply, out = self._worker.request(header, arrays)
        except worker.WorkerDied as died:
            raise self._died(died, step=step) from None
        if not reply.get("ok"):
            raise self._refused(reply, step=step)
        return reply, out

    def _died(self, died: worker.WorkerDied, *, step: str) -> ArtifactRefused:
        limits = self._worker.limits
        common = {"file": self.file, "step": step, "consequence": self.consequence}
        if died.reason == "timeout":
            message = WORKER_TIMEOUT.format(limit=f"{limits.wall_seconds:g}", **common)
        elif died.reason == "cpu":
            message = WORKER_CPU.format(limit=limits.cpu_seconds, **common)
        elif died.reason == "memory":
            message = WORKER_MEMORY.format(limit=limits.memory_text(), **common)
        elif died.reason == "signal":
            message = WORKER_CRASHED.format(number=died.signal_number, name=worker.signal_name(died.signal_number),
                                            **common)
            return ArtifactRefused(message, hint=WORKER_CRASH_HINT)
        else:
            message = WORKER_EXITED.format(code=died.code, **common)
            return ArtifactRefused(message, hint=WORKER_CRASH_HINT)
        return ArtifactRefused(message, hint=WORKER_HINT)

    def _refused(self, reply: dict[str, Any], *, step: str) -> ArtifactRefused:
        error = reply.get("error")
        if error == "hash":
            if self.owner is not None:
                model_id, version = self.owner
                return ArtifactRefused(ARTIFACT_HASH.format(model_id=model_id, version=version, file=self.path,
                                                            actual=reply["actual"], expected=self.expected_sha256))
            return ArtifactRefused(ARTIFACT_CHANGED.format(file=self.file, actual=reply["actual"],
                                                           expected=self.expected_sha256,
                                                           consequence=self.consequence))
        if error == "refused":
            return ArtifactRefused(ARTIFACT_KIND.format(file=self.file, kind=self.kind, reason=reply["reason"]))
        if error == "not-allowed":
            return ArtifactRefused(SKOPS_NOT_ALLOWED.format(file=self.file, reason=reply["reason"],
                                                            consequence=self.consequence))
        if error == "memory":
            return ArtifactRefused(WORKER_MEMORY.format(file=self.file, step=step, consequence=self.consequence,
                                                        limit=self._worker.limits.memory_text()), hint=WORKER_HINT)
        return ArtifactRefused(WORKER_FAILED.format(file=self.file, step=step, reason=reply.get("reason"),
                                                    consequence=self.consequence))

    def close(self) -> None:
        """Stop the worker process (a later call starts a new one)."""
        self._worker.close()
        self._facts = None

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def model_columns(stored: Sequence[str], columns: Sequence[str] | None, *, kind: str) -> list[str]:
    """The column of the rows each feature of a model reads, given the manifest's names (``columns``).

    A name the manifest gives exactly is read as it is.  LightGBM stores a space of a
    feature's name as ``_`` (``Total Charges`` becomes ``Total_Charges``), so its feature
    reads the one manifest column that it spells that way.  A feature no column matches keeps
    its own name (:func:`check_features` then names it).
    """
    if columns is None:
        return list(stored)
    exact = set(columns)
    spelled: dict[str, list[str]] = {}
    if kind == "lightgbm":
        for name in columns:
            spelled.setdefault(name.replace(" ", "_"), []).append(name)
    return [name if name in exact or len(spelled.get(name, ())) != 1 else spelled[name][0] for name in stored]


def check_features(scorer: Scorer, manifest_features: list[str], *, file: str) -> None:
    """The artifact must use exactly the manifest's features (in any order).

    Raises
    ------
    ArtifactRefused
        Naming only the differences (see :func:`feature_differences`), never both full lists.
    """
    if sorted(scorer.features) != sorted(manifest_features):
        differences = feature_differences(scorer.features, manifest_features)
        raise ArtifactRefused(ARTIFACT_FEATURES_DIFFER.format(file=file, differences=differences))


def feature_differences(artifact: list[str], manifest: list[str], *, limit: int = 10) -> str:
    """How two feature lists differ, in words: names that differ only in case, then missing, then extra ones.

    At most about ``limit`` names are shown in all; each group says how many more it holds.

    Examples
    --------
    >>> feature_differences(["Total_Charges", "tenure"], ["total_charges", "tenure", "contract"])
    "missing from the artifact: 'contract'; 'Total_Charges' in the artifact is 'total_charges' in the manifest"
    """
    in_manifest, in_artifact = set(manifest), set(artifact)
    missing = [name for name in manifest if name not in in_artifact]
    extra = [name for name in artifact if name not in in_manifest]
    by_case = {name.casefold(): name for name in missing}
    pairs = [(name, by_case[name.casefold()]) for name in extra if name.casefold() in by_case]
    paired = {name for pair in pairs for name in pair}
    groups = [
        ("missing from the artifact: ", [repr(n) for n in missing if n not in paired]),
        ("not in the manifest: ", [repr(n) for n in extra if n not in paired]),
        ("", [f"{a!r} in the artifact is {m!r} in the manifest" for a, m in pairs]),
    ]
    parts, budget = [], limit
    for prefix, names in groups:
        if not names:
            continue
        shown = max(1, min(len(names), budget))
        budget -= shown
        more = f" and {len(names) - shown} more" if len(names) > shown else ""
        parts.append(prefix + ", ".join(names[:shown]) + more)
    return "; ".join(parts)


def check_feature_types(scorer: Scorer, categories: list[str], *, file: str) -> None:
    """The manifest's text features (``type = "category"``) are exactly those the model reads as text.

    Raises
    ------
    ArtifactRefused
        Naming the features whose type differs.
    """
    text = set(scorer.categorical)
    for manifest_type, model_type, names in (("text", "numbers", sorted(set(categories) - text)),
                                             ("numbers", "text", sorted(text - set(categories)))):
        if names:
            raise ArtifactRefused(ARTIFACT_FEATURE_TYPES.format(file=file, features=", ".join(map(repr, names)),
                                                                manifest=manifest_type, model=model_type))


def check_classifier(facts: dict[str, Any], *, kind: str, outcome: str, file: str) -> None:
    """The artifact must be a classifier of the outcome type: one probability per row, from finite numbers.

    Rules (README "Manifest"): LightGBM objective ``binary`` or ``cross_entropy``, XGBoost
    ``binary:logistic`` or ``binary:logitraw`` (the sigmoid of its margin is the score), a
    linear model with ``link = "logistic"``, a skops binary classifier, an ONNX graph's
    class-1 probability; one class (one output per row); every leaf value and coefficient
    finite.  An identity link is refused unless the facts say the margin is a probability
    (``margin_is_probability``: a scikit-learn forest's or tree's ``predict_proba``, an ONNX
    graph's probability output): nothing keeps a linear function of the features inside
    [0, 1], and a binary model's score is a probability.

    Raises
    ------
    ArtifactRefused
        Naming the file and the fact that breaks the rule.
    """
    objective = facts.get("objective") or "none"
    if outcome != "binary":
        reason = f"outcome {outcome!r} takes no artifact"
    elif objective not in _PROBABILITY_OBJECTIVES.get(kind, ()):
        wanted = " or ".join(repr(o) for o in _PROBABILITY_OBJECTIVES.get(kind, ())[:2])
        reason = f"its objective is {objective!r}, which does not give a probability ({kind} objective {wanted})"
    elif facts.get("num_class") not in (0, 1) or facts.get("outputs") not in (None, 1):
        reason = f"it has {facts.get('num_class')} classes ({facts.get('outputs')} outputs per row); binary needs 1"
    elif facts.get("link") != "logistic" and not _margin_is_probability(facts):
        reason = (f"its link is {facts.get('link')!r}: a linear score is a probability only through "
                  "link = 'logistic'")
    elif facts.get("nonfinite"):
        reason = f"{facts['nonfinite']} (scores would be NaN or infinite)"
    else:
        return
    raise ArtifactRefused(ARTIFACT_NOT_CLASSIFIER.format(file=file, outcome=outcome, reason=reason))


def _margin_is_probability(facts: dict[str, Any]) -> bool:
    """An identity link gives a probability where the loader says its output is one (ONNX, forests)."""
    return facts.get("link") == "identity" and facts.get("margin_is_probability") is True


def load_verified(
    path: Path, *, kind: str, expected_sha256: str, model_id: str, version: str,
    consequence: str = NOTHING_STORED, columns: Sequence[str] | None = None,
) -> Scorer:
    """A registered artifact's :class:`Scorer`; its worker checks the SHA-256 again when it loads the file."""
    return Scorer(path, kind=kind, expected_sha256=expected_sha256, file=str(path), consequence=consequence,
                  owner=(model_id, version), columns=columns)
