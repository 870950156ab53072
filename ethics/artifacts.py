"""Model artifacts in formats that cannot run code when loaded.

Accepted: LightGBM text models, XGBoost JSON or UBJ, and linear models as JSON
coefficients.  Pickle, joblib and archive formats are refused by their magic bytes
before anything else is read.  Nothing in an artifact is ever executed, and no model
library parses one in this process: a :class:`Scorer` sends the file to its own
artifact worker (:mod:`ethics.worker`), which runs under memory and time limits and
sends back only numbers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from ethics import worker
from ethics.errors import (
    ARTIFACT_CHANGED,
    ARTIFACT_FEATURES,
    ARTIFACT_HASH,
    ARTIFACT_KIND,
    ARTIFACT_NOT_CLASSIFIER,
    ARTIFACT_PICKLE,
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

ArtifactKind = Literal["lightgbm", "xgboost", "linear", "none"]
ARTIFACT_KINDS: tuple[str, ...] = ("lightgbm", "xgboost", "linear", "none")
NOTHING_STORED = "nothing was stored"
# Objectives whose prediction is the probability of the positive class (the sigmoid of the margin).
_PROBABILITY_OBJECTIVES = {
    "lightgbm": ("binary", "cross_entropy", "xentropy"),
    "xgboost": ("binary:logistic", "binary:logitraw"),
    "linear": ("linear",),
}

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


def refuse_executable(data: bytes, *, file: str) -> None:
    """Raise ``ArtifactRefused`` when ``data`` starts like pickle, joblib or an archive."""
    for magic, description in _REFUSED_MAGIC:
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
        ``lightgbm``, ``xgboost`` or ``linear`` (a key of :data:`ethics.worker.LOADERS`).
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
    """

    def __init__(self, path: Path, *, kind: str, expected_sha256: str, file: str,
                 consequence: str = NOTHING_STORED, owner: tuple[str, str] | None = None,
                 limits: worker.Limits | None = None) -> None:
        self.kind = kind
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
        """Input columns in the order the model expects them."""
        return list(self.facts["features"])

    @property
    def link(self) -> str:
        """``logistic`` when the score is the sigmoid of the model's raw output, else ``identity``."""
        return str(self.facts["link"])

    def _rows(self, frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, list[str]]]:
        """The features as float64 in the model's order, and the vocabulary of the text ones (see ethics.worker)."""
        text = set(self.facts.get("categorical", ()))
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

    def contributions(self, frame: pd.DataFrame, *, threads: int) -> tuple[np.ndarray, float, np.ndarray]:
        """SHAP values (rows × raw features), the base value and the margin, in one round trip."""
        x, vocabulary = self._rows(frame)
        out = self._call({"op": "explain", "threads": threads, "vocabulary": vocabulary}, {"x": x},
                         step="explaining")[1]
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


def check_features(scorer: Scorer, manifest_features: list[str], *, file: str) -> None:
    """The artifact must use exactly the manifest's features."""
    if sorted(scorer.features) != sorted(manifest_features):
        raise ArtifactRefused(
            ARTIFACT_FEATURES.format(
                file=file, artifact=sorted(scorer.features), manifest=sorted(manifest_features)
            )
        )


def check_classifier(facts: dict[str, Any], *, kind: str, outcome: str, file: str) -> None:
    """The artifact must be a classifier of the outcome type: one probability per row, from finite numbers.

    Rules (README "Manifest"): LightGBM objective ``binary`` or ``cross_entropy``, XGBoost
    ``binary:logistic`` or ``binary:logitraw`` (the sigmoid of its margin is the score), a
    linear model with ``link = "logistic"``; one class (one output per row); every leaf
    value and coefficient finite.  An identity link is refused: nothing keeps a linear
    function of the features inside [0, 1], and a binary model's score is a probability.

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
    elif facts.get("link") != "logistic":
        reason = (f"its link is {facts.get('link')!r}: a linear score is a probability only through "
                  "link = 'logistic'")
    elif facts.get("nonfinite"):
        reason = f"{facts['nonfinite']} (scores would be NaN or infinite)"
    else:
        return
    raise ArtifactRefused(ARTIFACT_NOT_CLASSIFIER.format(file=file, outcome=outcome, reason=reason))


def load_verified(
    path: Path, *, kind: str, expected_sha256: str, model_id: str, version: str,
    consequence: str = NOTHING_STORED,
) -> Scorer:
    """A registered artifact's :class:`Scorer`; its worker checks the SHA-256 again when it loads the file."""
    return Scorer(path, kind=kind, expected_sha256=expected_sha256, file=str(path), consequence=consequence,
                  owner=(model_id, version))
