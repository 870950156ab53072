"""The artifact worker: every model library call runs in a separate, limited process.

A malformed LightGBM or XGBoost file can abort or crash the native library that parses
it (SIGABRT, SIGSEGV, SIGFPE), allocate without bound or never return.  So the command
line and the app never load an artifact themselves: they start ``python -m
ethics.worker`` and speak a small protocol over its stdin and stdout.  The worker
process runs under a memory limit (``RLIMIT_AS``), a CPU-time limit per request
(``RLIMIT_CPU``) and the parent's wall-clock timeout per request; whatever happens to
it, the parent raises one :class:`~ethics.errors.ArtifactRefused` that names the file
and what happened, and nothing was written.

Protocol
--------
A message is an 8-byte big-endian length, a UTF-8 JSON header of that length, then the
raw bytes of each array the header lists under ``"arrays"`` (``{"name", "shape"}``,
little-endian float64, C order).  Nothing else crosses the pipe, so only numbers, names
and texts come back, never a Python object of the model.  Requests, one reply each:

``{"op": "load", "kind": K, "path": P, "sha256": H}``
    Read the file, check its SHA-256 against ``H``, parse it with the loader of kind
    ``K`` (see :data:`LOADERS`) and keep it.  Reply ``facts``: ``features`` (in the
    model's order), ``objective``, ``num_class``, ``link``, ``nonfinite`` (where a
    leaf or coefficient is not a finite number, or None), ``categorical`` (the features
    it reads as text), ``missing`` (the features whose missing values it handles) and
    ``explainer`` (``tree``, ``linear`` or ``sampled``: how its SHAP values are found);
    ``margin_is_probability`` is true where an identity link's margin is the
    probability itself (a scikit-learn forest or tree from a skops file).
``{"op": "score", "vocabulary": {feature: [text, ...]}, "arrays": [x]}``
    Probabilities of rows ``x`` (columns in the model's feature order): array ``scores``.
    A feature the model reads as text (``facts["categorical"]``) crosses as float codes
    into its entry of ``vocabulary``; NaN is a missing value, for numbers and text alike.
    ``margin`` and ``explain`` take the same ``vocabulary``.
``{"op": "margin", "arrays": [x]}``
    The raw output before the link (log-odds): array ``margin``.
``{"op": "explain", "threads": n, "arrays": [x]}``
    SHAP values: arrays ``values`` (rows × features), ``base`` (one number) and
    ``margin`` (computed by a separate call, for the additivity check).  For a sampled
    explainer the header says ``"background": k``: the first ``k`` rows of ``x`` are the
    background, and the other rows are explained.

Errors come back as ``{"ok": false, "error": "refused" | "not-allowed" | "failed" | "memory" |
"hash", ...}`` (``not-allowed``: a skops file names a type outside ethics' list; its reason
is the whole sentence).  A new artifact format (skops, ONNX) is a new entry in :data:`LOADERS`.

Test-only requests (``test-allocate``, ``test-hang``, ``test-spin``) exist to prove the
limits; the worker answers them only when started with ``--allow-test-requests``, which
no production caller passes.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import math
import os
import resource
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ethics.lazy import lazy_module

np = lazy_module("numpy", globals())

# -- limits: the defaults, in one place ----------------------------------------------------

MEMORY_BYTES = 2 * 1024**3
CPU_SECONDS = 60
WALL_SECONDS = 120
ENV_MEMORY_MB = "ETHICS_WORKER_MEMORY_MB"
ENV_CPU_SECONDS = "ETHICS_WORKER_CPU_SECONDS"
ENV_WALL_SECONDS = "ETHICS_WORKER_WALL_SECONDS"
PREDICT_THREADS = 2
_HEADER = struct.Struct(">Q")
_MAX_HEADER = 64 * 1024**2
# Optional imports of the model libraries that the worker never needs: blocking them makes
# ``import lightgbm`` take 0.2 s instead of 1.1 s (it would import pandas and scikit-learn).
_NOT_NEEDED = ("pandas", "sklearn", "dask", "matplotlib", "graphviz", "pyarrow", "datatable", "polars", "cffi")


@dataclass(frozen=True)
class Limits:
    """What one worker process may use.

    Attributes
    ----------
    memory_bytes : int
        Address space of the process (``RLIMIT_AS``).
    cpu_seconds : int
        CPU time of one request (``RLIMIT_CPU``, moved on before each request).
    wall_seconds : float
        Wall-clock time of one request, enforced by the parent.
    """

    memory_bytes: int = MEMORY_BYTES
    cpu_seconds: int = CPU_SECONDS
    wall_seconds: float = WALL_SECONDS

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Limits:
        """The defaults, each overridden by its environment variable when set.

        ``ETHICS_WORKER_MEMORY_MB``, ``ETHICS_WORKER_CPU_SECONDS`` and
        ``ETHICS_WORKER_WALL_SECONDS`` (tests lower them).
        """
        env = os.environ if environ is None else environ
        memory = env.get(ENV_MEMORY_MB)
        cpu = env.get(ENV_CPU_SECONDS)
        wall = env.get(ENV_WALL_SECONDS)
        return cls(
            memory_bytes=int(float(memory) * 1024**2) if memory else MEMORY_BYTES,
            cpu_seconds=max(1, int(float(cpu))) if cpu else CPU_SECONDS,
            wall_seconds=float(wall) if wall else WALL_SECONDS,
        )

    def memory_text(self) -> str:
        """The memory limit for messages, e.g. ``2 GiB``."""
        mib = self.memory_bytes / 1024**2
        return f"{mib / 1024:g} GiB" if mib >= 1024 else f"{mib:g} MiB"


# -- framing (both sides) ----------------------------------------------------------------


def encode(header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> list[bytes | memoryview]:
    """The parts of one message: length, JSON header, then each array's float64 bytes."""
    arrays = arrays or {}
    blobs = {name: np.ascontiguousarray(value, dtype="<f8") for name, value in arrays.items()}
    specs = [{"name": name, "shape": list(blob.shape)} for name, blob in blobs.items()]
    raw = json.dumps({**header, "arrays": specs}).encode()
    return [_HEADER.pack(len(raw)), raw, *(memoryview(blob).cast("B") for blob in blobs.values())]


def decode_header(raw: bytes) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...], int]]]:
    """The header and, per array, its name, shape and byte count."""
    header = json.loads(raw)
    specs = []
    for spec in header.pop("arrays", []):
        shape = tuple(int(n) for n in spec["shape"])
        specs.append((str(spec["name"]), shape, 8 * math.prod(shape)))
    return header, specs


def _read_message(stream: IO[bytes]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One message from a blocking stream (the worker's side); EOFError at the end."""

    def exact(n: int) -> bytes:
        data = stream.read(n)
        if data is None or len(data) < n:
            raise EOFError
        return data

    (length,) = _HEADER.unpack(exact(_HEADER.size))
    if length > _MAX_HEADER:
        raise EOFError
    header, specs = decode_header(exact(length))
    arrays = {name: np.frombuffer(exact(size), dtype="<f8").reshape(shape) for name, shape, size in specs}
    return header, arrays


# -- the worker's side: loaders ----------------------------------------------------------


class Refused(Exception):
    """The file is not a model of its declared kind (the worker's side; the parent names the file)."""


class NotAllowed(Refused):
    """The file names a type outside ethics' allowed list (skops); the reason is the whole sentence."""


@dataclass(frozen=True)
class Rows:
    """One batch as a loader that reads text gets it.

    Attributes
    ----------
    x : ndarray
        Rows × features in the model's order; a text feature's column holds codes.
    features : list of str
        The model's features.
    vocabulary : dict
        Per text feature, the values its codes index; NaN codes are missing.
    """

    x: np.ndarray
    features: list[str]
    vocabulary: dict[str, list[str]]

    def column(self, name: str) -> np.ndarray:
        """One feature: float64 numbers (NaN missing), or an object array of text (None missing)."""
        values = self.x[:, self.features.index(name)]
        if name not in self.vocabulary:
            return values
        words = np.array([*self.vocabulary[name], None], dtype=object)
        codes = np.where(np.isnan(values), len(words) - 1, values).astype(np.int64)
        return words[codes]


def _sigmoid(margin: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-margin))


def _NATIVE_TREE_FACTS(features: list[str]) -> dict[str, Any]:  # noqa: N802 - reads as the constant it is
    """LightGBM and XGBoost read numbers only and send a missing value down each split's default branch."""
    return {"categorical": [], "missing": list(features), "explainer": "tree"}


class _LightGBM:
    """A LightGBM text model."""

    def __init__(self, data: bytes) -> None:
        if not data.startswith(b"tree\n"):
            raise Refused("the file does not start like a LightGBM text model ('tree')")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Refused(f"it is not UTF-8 text ({exc})") from None
        import lightgbm

        try:
            self.booster = lightgbm.Booster(model_str=text)
        except lightgbm.basic.LightGBMError as exc:
            raise _library_error("LightGBM", exc) from None
        self.features = list(self.booster.feature_name())
        self.text = text

    def facts(self) -> dict[str, Any]:
        head: dict[str, str] = {}
        nonfinite = None
        tree = -1
        for line in self.text.splitlines():
            key, _, value = line.partition("=")
            if key == "Tree":
                tree += 1
            elif tree < 0 and key in ("objective", "num_class", "num_tree_per_iteration"):
                head[key] = value
            elif nonfinite is None and key in ("leaf_value", "leaf_const", "leaf_coeff"):
                bad = [v for v in value.split() if not _finite_text(v)]
                if bad:
                    nonfinite = f"tree {tree} has {key} {bad[0]}"
        return {"features": self.features, "objective": head.get("objective", "").split(" ")[0],
                "num_class": _int(head.get("num_class")), "outputs": _int(head.get("num_tree_per_iteration")),
                "link": "logistic", "nonfinite": nonfinite, **_NATIVE_TREE_FACTS(self.features)}

    def score(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(x, num_threads=PREDICT_THREADS), dtype=np.float64)

    def margin(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(x, raw_score=True, num_threads=PREDICT_THREADS), dtype=np.float64)

    def explain(self, x: np.ndarray, *, threads: int) -> tuple[np.ndarray, float]:
        contributions = np.asarray(self.booster.predict(x, pred_contrib=True, num_threads=threads), dtype=np.float64)
        return contributions[:, :-1], float(contributions[0, -1]) if len(contributions) else 0.0


class _XGBoost:
    """An XGBoost JSON or UBJ model."""

    def __init__(self, data: bytes) -> None:
        if not data.startswith(b"{"):
            raise Refused("the file is neither XGBoost JSON nor UBJ")
        import xgboost

        self.xgboost = xgboost
        self.booster = xgboost.Booster()
        try:
            self.booster.load_model(bytearray(data))
        except xgboost.core.XGBoostError as exc:
            raise _library_error("XGBoost", exc) from None
        if not self.booster.feature_names:
            raise Refused("the model was saved without feature names")
        self.features = list(self.booster.feature_names)
        config = json.loads(self.booster.save_config())["learner"]
        self.objective = config["objective"]["name"]
        self.num_class = _int(config["learner_model_param"].get("num_class"))

    def facts(self) -> dict[str, Any]:
        model = json.loads(bytes(self.booster.save_raw("json")))
        return {"features": self.features, "objective": self.objective, "num_class": self.num_class, "outputs": 1,
                "link": "logistic", "nonfinite": _xgboost_nonfinite(model["learner"]["gradient_booster"]),
                **_NATIVE_TREE_FACTS(self.features)}

    def _matrix(self, x: np.ndarray, threads: int = PREDICT_THREADS) -> Any:
        return self.xgboost.DMatrix(x, feature_names=self.features, nthread=threads)

    def score(self, x: np.ndarray) -> np.ndarray:
        if self.objective == "binary:logitraw":  # raw log-odds: the probability is their sigmoid
            return _sigmoid(self.margin(x))
        return np.asarray(self.booster.predict(self._matrix(x)), dtype=np.float64)

    def margin(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(self._matrix(x), output_margin=True), dtype=np.float64)

    def explain(self, x: np.ndarray, *, threads: int) -> tuple[np.ndarray, float]:
        contributions = np.asarray(self.booster.predict(self._matrix(x, threads), pred_contribs=True),
                                   dtype=np.float64)
        return contributions[:, :-1], float(contributions[0, -1]) if len(contributions) else 0.0


def _xgboost_nonfinite(booster: dict[str, Any]) -> str | None:
    """Where a leaf value or weight of the model is not finite, or None."""
    if "gbtree" in booster:  # dart wraps its trees
        booster = booster["gbtree"]
    model = booster.get("model", {})
    if "weights" in model:  # gblinear
        return None if np.isfinite(np.asarray(model["weights"], dtype=np.float64)).all() else "a weight"
    for number, tree in enumerate(model.get("trees", [])):
        for key in ("split_conditions", "base_weights"):
            if not np.isfinite(np.asarray(tree.get(key, []), dtype=np.float64)).all():
                return f"tree {number} has a {key} value that is not finite"
    return None


LINEAR_FORMAT = "ethics-linear-v1"
LINEAR_LINKS = ("logistic", "identity")


class _Linear:
    """A linear model as JSON coefficients (``ethics-linear-v1``)."""

    def __init__(self, data: bytes) -> None:
        try:
            spec = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
        except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
            raise Refused(f"it is not JSON ({exc})") from None
        except RecursionError:
            raise Refused("it is not JSON a model can be read from (nested too deeply)") from None
        if not isinstance(spec, dict) or spec.get("format") != LINEAR_FORMAT:
            raise Refused(f"its 'format' is not {LINEAR_FORMAT!r}")
        coefficients, intercept = spec.get("coefficients"), spec.get("intercept")
        if not isinstance(coefficients, dict) or not coefficients or not _is_number(intercept):
            raise Refused("it needs a number 'intercept' and a non-empty 'coefficients' table")
        bad = [name for name, weight in coefficients.items() if not _is_number(weight)]
        if bad:
            raise Refused(f"coefficient {bad[0]!r} is not a finite number")
        self.link = spec.get("link", "logistic")
        if self.link not in LINEAR_LINKS:
            raise Refused("'link' must be 'logistic' or 'identity'")
        scaling = spec.get("scaling", {})
        if not isinstance(scaling, dict):
            raise Refused("'scaling' must be a table of {mean, scale} per feature")
        self.features = list(coefficients)
        for name in self.features:
            entry = scaling.get(name, {})
            if not isinstance(entry, dict):
                raise Refused(f"scaling of {name!r} must be a table with 'mean' and 'scale'")
            for key in ("mean", "scale"):
                if key in entry and not _is_number(entry[key]):
                    raise Refused(f"scaling {key} of {name!r} is {entry[key]!r}, not a finite number")
            if entry.get("scale", 1.0) == 0:
                raise Refused(f"scaling scale of {name!r} is 0, which divides by zero (every score would be NaN)")
        self.weights = np.array([coefficients[n] for n in self.features], dtype=np.float64)
        self.intercept = float(intercept)
        self.means = {n: float(scaling[n]["mean"]) for n in self.features if "mean" in scaling.get(n, {})}
        self.scales = np.array([scaling.get(n, {}).get("scale", 1.0) for n in self.features], dtype=np.float64)

    def facts(self) -> dict[str, Any]:
        return {"features": self.features, "objective": "linear", "num_class": 1, "outputs": 1, "link": self.link,
                "nonfinite": None, "categorical": [], "missing": [], "explainer": "linear"}

    def _unscaled(self) -> tuple[np.ndarray, float]:
        """``intercept + sum(w * (x - mean) / scale)`` as ``b + sum(c * x)``."""
        coefficients = self.weights / self.scales
        means = np.array([self.means.get(n, 0.0) for n in self.features])
        return coefficients, float(self.intercept - coefficients @ means)

    def margin(self, x: np.ndarray) -> np.ndarray:
        means = np.array([self.means.get(n, 0.0) for n in self.features])
        return self.intercept + ((x - means) / self.scales) @ self.weights

    def score(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(self.margin(x)) if self.link == "logistic" else self.margin(x)

    def explain(self, x: np.ndarray, *, threads: int) -> tuple[np.ndarray, float]:
        """Interventional SHAP with independent features: ``c * (x - background mean)``.

        The background mean is the artifact's scaling mean, else the rows' mean (what
        ``shap.LinearExplainer`` gives with that background).
        """
        coefficients, intercept = self._unscaled()
        background = np.array([self.means.get(n, x[:, i].mean() if len(x) else 0.0)
                               for i, n in enumerate(self.features)])
        return coefficients * (x - background), float(intercept + coefficients @ background)


#: Loader per artifact kind.  A loader with ``reads_text = True`` gets a :class:`Rows` per
#: request; the others get the float matrix alone.  A ``"module:Class"`` entry is imported
#: when a file of its kind is loaded (it needs pandas and scikit-learn, which the others block).
LOADERS: dict[str, type | str] = {"lightgbm": _LightGBM, "xgboost": _XGBoost, "linear": _Linear,
                                  "skops": "ethics.skops_model:SkopsModel", "onnx": "ethics.onnx_model:OnnxModel"}


def loader_for(kind: str) -> type | None:
    """The loader class of ``kind`` (importing its module when the entry names one), or None."""
    loader = LOADERS.get(kind)
    if isinstance(loader, str):
        module, _, name = loader.partition(":")
        loader = getattr(importlib.import_module(module), name)
    return loader


def _library_error(library: str, exc: Exception) -> Exception:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if "bad_alloc" in text:
        return MemoryError(text)
    return Refused(f"{library} cannot parse it ({text})")


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _finite_text(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class _Session:
    """The worker's state: at most one loaded model."""

    def __init__(self, *, cpu_seconds: int, allow_test_requests: bool) -> None:
        self.model: Any = None
        self.cpu_seconds = cpu_seconds
        self.allow_test_requests = allow_test_requests

    def handle(self, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[dict[str, Any], dict]:
        self._cpu_budget()
        op = header.get("op")
        if op == "load":
            return self._load(header), {}
        if op in ("score", "margin", "explain"):
            if self.model is None:
                return {"ok": False, "error": "failed", "reason": "no model is loaded"}, {}
            x = arrays["x"]
            if getattr(self.model, "reads_text", False):
                x = Rows(x, list(self.model.features), dict(header.get("vocabulary") or {}))
            if op == "score":
                return {"ok": True}, {"scores": self.model.score(x)}
            if op == "margin":
                return {"ok": True}, {"margin": self.model.margin(x)}
            threads = int(header.get("threads", PREDICT_THREADS))
            background = int(header.get("background", 0))  # a sampled explainer's background: the first rows
            if not background:
                values, base = self.model.explain(x, threads=threads)
                return {"ok": True}, {"values": values, "base": np.array([base]), "margin": self.model.margin(x)}
            values, base = self.model.explain(x, threads=threads, background=background)
            return {"ok": True}, {"values": values, "base": np.array([base]),
                                  "margin": self.model.margin(x)[background:]}
        if isinstance(op, str) and op.startswith("test-") and self.allow_test_requests:
            return _test_request(op, header), {}
        return {"ok": False, "error": "failed", "reason": f"unknown request {op!r}"}, {}

    def _load(self, header: dict[str, Any]) -> dict[str, Any]:
        loader = loader_for(header["kind"])
        if loader is None:
            raise Refused("that kind has no loader")
        data = Path(header["path"]).read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != header["sha256"]:
            return {"ok": False, "error": "hash", "actual": actual}
        if not getattr(loader, "reads_text", False):  # skops and ONNX pipelines need pandas and scikit-learn
            _block_optional_imports()
        self.model = loader(data)
        return {"ok": True, "facts": self.model.facts()}

    def _cpu_budget(self) -> None:
        """Each request gets ``cpu_seconds`` of CPU time from now (SIGXCPU ends the process after)."""
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(used.ru_utime + used.ru_stime) + self.cpu_seconds
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def _test_request(op: str, header: dict[str, Any]) -> dict[str, Any]:
    """What the limits must stop: allocate, sleep or spin (only with ``--allow-test-requests``)."""
    if op == "test-allocate":
        block = np.ones(int(header["bytes"]) // 8)
        return {"ok": True, "allocated": int(block.nbytes)}
    if op == "test-hang":
        time.sleep(float(header.get("seconds", 3600)))
    elif op == "test-spin":
        while True:
            pass
    return {"ok": True}


def _block_optional_imports() -> None:
    for name in _NOT_NEEDED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def _set_limits(*, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main(argv: list[str] | None = None) -> int:
    """Serve requests on stdin/stdout until stdin closes (``python -m ethics.worker``)."""
    parser = argparse.ArgumentParser(prog="python -m ethics.worker")
    parser.add_argument("--memory-bytes", type=int, default=MEMORY_BYTES)
    parser.add_argument("--cpu-seconds", type=int, default=CPU_SECONDS)
    parser.add_argument("--allow-test-requests", action="store_true")
    args = parser.parse_args(argv)
    # The protocol owns the original stdout; anything a library prints goes to stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    _set_limits(memory_bytes=args.memory_bytes)
    session = _Session(cpu_seconds=args.cpu_seconds, allow_test_requests=args.allow_test_requests)
    while True:
        try:
            header, arrays = _read_message(requests)
        except EOFError:  # the parent closed the pipe: every reply is flushed, skip the interpreter's teardown
            os._exit(0)
        try:
            reply, out = session.handle(header, arrays)
        except NotAllowed as exc:
            reply, out = {"ok": False, "error": "not-allowed", "reason": str(exc)}, {}
        except Refused as exc:
            reply, out = {"ok": False, "error": "refused", "reason": str(exc)}, {}
        except MemoryError:
            out = {}
            reply = {"ok": False, "error": "memory"}
        except Exception as exc:  # a library's error while scoring: its text, for the parent's message
            text = (str(exc).strip().splitlines() or [""])[0]
            error = "memory" if "bad_alloc" in text else "failed"
            reply, out = {"ok": False, "error": error, "reason": f"{type(exc).__name__}: {text}"}, {}
        for part in encode(reply, out):
            replies.write(part)
        replies.flush()


# -- the parent's side --------------------------------------------------------------------


class WorkerDied(Exception):
    """The worker process ended or was stopped during a request (the parent names the file)."""

    def __init__(self, *, reason: str, signal_number: int | None = None, code: int | None = None,
                 stderr: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.signal_number = signal_number
        self.code = code
        self.stderr = stderr


class Worker:
    """One worker process, started on the first request and stopped by :meth:`close`.

    One caller at a time: requests are answered in order, so a thread that shares a
    worker must hold it for a whole request.  A process that died is started again by
    the next request.

    Parameters
    ----------
    limits : Limits, optional
        Default: :meth:`Limits.from_environ`.
    allow_test_requests : bool, default False
        Let the worker answer the ``test-*`` requests (tests of the limits only).
    """

    def __init__(self, *, limits: Limits | None = None, allow_test_requests: bool = False) -> None:
        self.limits = limits or Limits.from_environ()
        self.allow_test_requests = allow_test_requests
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self._deadline: float | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
               "PYTHONDONTWRITEBYTECODE": "1"}
        command = [sys.executable, "-m", "ethics.worker", "--memory-bytes", str(self.limits.memory_bytes),
                   "--cpu-seconds", str(self.limits.cpu_seconds)]
        if self.allow_test_requests:
            command.append("--allow-test-requests")
        self._stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._stderr, env=env, cwd=tempfile.gettempdir(), close_fds=True)
        self._finalizer = weakref.finalize(self, _stop, self._process, self._stderr)
        return self._process

    def request(self, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None
                ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Send one request and wait for its reply (at most the wall-clock limit).

        Raises
        ------
        WorkerDied
            The process crashed, exceeded a limit, or did not answer in time; it is stopped.
        """
        self.send(header, arrays)
        return self.receive()

    def send(self, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
        """Send a request without waiting (the process starts if needed); :meth:`receive` gets its reply.

        Raises
        ------
        WorkerDied
            The process ended before it read the request.
        """
        if self._deadline is not None:
            raise RuntimeError("a request is already waiting for its reply")
        process = self._process if self._process is not None and self._process.poll() is None else self._start()
        self._deadline = time.monotonic() + self.limits.wall_seconds
        try:
            for part in encode(header, arrays):
                process.stdin.write(part)
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None

    def receive(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The reply to the request :meth:`send` sent.

        Raises
        ------
        WorkerDied
            As for :meth:`request`.
        """
        deadline = self._deadline
        if deadline is None:
            raise RuntimeError("no request is waiting for its reply")
        try:
            (length,) = _HEADER.unpack(self._read(_HEADER.size, deadline))
            if length > _MAX_HEADER:
                raise self._died()
            reply, specs = decode_header(self._read(length, deadline))
            out = {name: np.frombuffer(self._read(size, deadline), dtype="<f8").reshape(shape)
                   for name, shape, size in specs}
        except TimeoutError:
            self.close()
            raise WorkerDied(reason="timeout") from None
        self._deadline = None
        return reply, out

    @property
    def waiting(self) -> bool:
        """True while a sent request has not been received."""
        return self._deadline is not None

    def _read(self, size: int, deadline: float) -> bytes:
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        chunks = bytearray()
        while len(chunks) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(size - len(chunks), 1 << 22))
            if not chunk:
                raise self._died()
            chunks += chunk
        return bytes(chunks)

    def _died(self) -> WorkerDied:
        """Why the process ended (waited for), and the tail of what it printed."""
        assert self._process is not None
        try:
            code = self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        stderr = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            stderr = self._stderr.read()[-4000:].decode("utf-8", "replace")
        self.close()
        if code < 0:
            number = -code
            reason = "cpu" if number == signal.SIGXCPU else "signal"
            if "bad_alloc" in stderr or "MemoryError" in stderr:
                reason = "memory"
            return WorkerDied(reason=reason, signal_number=number, stderr=stderr)
        reason = "memory" if "MemoryError" in stderr or "bad_alloc" in stderr else "exit"
        return WorkerDied(reason=reason, code=code, stderr=stderr)

    def close(self) -> None:
        """Stop the process: closing its stdin ends it; one still busy with a request is killed."""
        if self._deadline is not None and self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._finalizer is not None:
            self._finalizer()
        self._process = None
        self._deadline = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop(process: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
    try:
        if process.poll() is None:
            try:
                process.stdin.close()
                process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
        elif process.stdin:
            process.stdin.close()
        if process.stdout:
            process.stdout.close()
    finally:
        stderr.close()


def signal_name(number: int) -> str:
    """``SIGABRT`` for 6, and so on."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


if __name__ == "__main__":
    # A loader module imports ``ethics.worker`` (Refused, Rows): let it find this module, not a second copy.
    sys.modules.setdefault("ethics.worker", sys.modules[__name__])
    sys.exit(main())
