"""ONNX models, run by onnxruntime in the artifact worker, and their model-agnostic SHAP values.

Only the worker imports this module (through ``ethics.worker.LOADERS["onnx"]``): ``onnx``
and ``onnxruntime`` are never loaded in the app or the command line.

Before a session exists, the file is parsed with ``onnx`` (protobuf only) and refused
when a node, function or opset is outside the standard domains (a custom op would be
looked up in a library), when a tensor keeps its data in another file, or when the graph
has no inputs or outputs.  The session runs on the CPU provider alone, with
:data:`INTRA_OP_THREADS` threads, and no custom-op library is ever registered.

Inputs are either one ``[N, 1]`` tensor per feature, named like the feature (what
skl2onnx writes for a pipeline with per-column ``initial_types``; string inputs are the
text features), or one 2-D float tensor whose columns are named by the model's
``metadata_props`` entry ``feature_names``.  The output is the class probabilities,
``[N, 2]`` or the ZipMap that skl2onnx writes by default; the score is class 1.

SHAP values are found by :func:`permutation_shap`: model-agnostic, within a fixed budget
of model evaluations (:data:`PERMUTATIONS` antithetic permutations over a background of at
most :data:`BACKGROUND_ROWS` rows of the batch, which ``ethics.explain`` picks and sends
with each part of the batch), exactly additive in the probability.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np

from ethics.errors import (
    ONNX_CLASSES,
    ONNX_CUSTOM_OP,
    ONNX_EXTERNAL_DATA,
    ONNX_FEATURE_NAMES,
    ONNX_INPUT,
    ONNX_NO_GRAPH_IO,
    ONNX_NOT_ONNX,
    ONNX_OUTPUT,
    ONNX_TOO_LARGE,
    ONNX_UNKNOWN_OP,
)
from ethics.worker import Refused

#: Operator domains that onnxruntime implements itself; any other would need a custom-op library.
ALLOWED_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
MAX_ONNX_BYTES = 512 * 1024**2
INTRA_OP_THREADS = 2
#: The sample budget of the explainer, per lead: each permutation is walked forward and back.
PERMUTATIONS = 10
BACKGROUND_ROWS = 100
SEED = 20261202
#: Hybrid rows per session run (about 64 MiB of float32 inputs for 64 features).
CHUNK_ROWS = 1 << 18
FEATURE_NAMES_KEY = "feature_names"
_INPUT_TYPES = {1: np.float32, 11: np.float64, 7: np.int64, 8: object}  # TensorProto FLOAT, DOUBLE, INT64, STRING
_TYPE_NAMES = {1: "float", 11: "double", 7: "int64", 8: "string"}


class Unsafe(Refused):
    """The file is not an ONNX model this worker runs."""


def sampling_facts(features: int) -> dict[str, int]:
    """The explainer's budget, as the facts carry it (``facts["sampling"]``).

    ``rows_per_lead`` is the most model evaluations one lead costs: its distinct inner
    coalitions (at most two per step of each permutation, at most all but the empty and
    the full one) times the background rows.  The parent sizes its requests by it.
    """
    coalitions = min(2 * PERMUTATIONS * max(features - 1, 0), 2**min(features, 62) - 2)
    return {"permutations": PERMUTATIONS, "background": BACKGROUND_ROWS,
            "rows_per_lead": max(coalitions, 1) * BACKGROUND_ROWS}


# -- checks before a session exists ---------------------------------------------------------


def _graphs(body: Any) -> Any:
    """A graph or function and every subgraph of its nodes' attributes (Loop, If and Scan bodies), depth first."""
    yield body
    for node in body.node:
        for attribute in node.attribute:
            for sub in [attribute.g] if attribute.HasField("g") else []:
                yield from _graphs(sub)
            for sub in attribute.graphs:
                yield from _graphs(sub)


def _nodes(model: Any) -> Any:
    """(where, node) for every node: the graph's, the local functions' and their subgraphs'."""
    bodies = [("node", graph) for graph in _graphs(model.graph)]
    bodies += [(f"function {function.name!r} node", graph) for function in model.functions
               for graph in _graphs(function)]
    for where, body in bodies:
        for node in body.node:
            yield f"{where} {node.name or '(unnamed)'!r}", node


def _tensors(model: Any) -> Any:
    """(where, tensor) for every tensor the model stores: initializers and tensor attributes, subgraphs included."""
    for graph in _graphs(model.graph):
        for tensor in graph.initializer:
            yield f"initializer {tensor.name!r}", tensor
        for sparse in graph.sparse_initializer:
            yield f"sparse initializer {sparse.values.name!r}", sparse.values
            yield f"sparse initializer {sparse.values.name!r}", sparse.indices
    for where, node in _nodes(model):
        for attribute in node.attribute:
            at = f"{where} ({node.op_type}) attribute {attribute.name!r}"
            if attribute.HasField("t"):
                yield at, attribute.t
            if attribute.HasField("sparse_tensor"):
                yield at, attribute.sparse_tensor.values
            yield from ((at, tensor) for tensor in attribute.tensors)


def check_model(model: Any) -> None:
    """Refuse what onnxruntime would need a custom library or another file for, before any session exists.

    Raises
    ------
    Unsafe
        Naming the node, op and domain, the tensor, or the missing inputs or outputs.
    """
    import onnx

    if not model.graph.input or not model.graph.output:
        raise Unsafe(ONNX_NO_GRAPH_IO)
    for opset in model.opset_import:
        if opset.domain not in ALLOWED_DOMAINS:
            raise Unsafe(ONNX_CUSTOM_OP.format(what="the opset import", op="any",
                                               domain=opset.domain))
    for function in model.functions:
        if function.domain not in ALLOWED_DOMAINS:
            raise Unsafe(ONNX_CUSTOM_OP.format(what=f"function {function.name!r}", op=function.name,
                                               domain=function.domain))
    for what, node in _nodes(model):
        if node.domain not in ALLOWED_DOMAINS:
            raise Unsafe(ONNX_CUSTOM_OP.format(what=what, op=node.op_type, domain=node.domain))
        if not onnx.defs.has(node.op_type, "" if node.domain == "ai.onnx" else node.domain):
            raise Unsafe(ONNX_UNKNOWN_OP.format(what=what, op=node.op_type, domain=node.domain))
    for where, tensor in _tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            location = next((entry.value for entry in tensor.external_data if entry.key == "location"), "?")
            raise Unsafe(ONNX_EXTERNAL_DATA.format(where=where, tensor=tensor.name, location=location))


def _nonfinite(model: Any) -> str | None:
    """Where a stored float (tensor or float attribute) is not a finite number, or None."""
    from onnx import numpy_helper

    for where, tensor in _tensors(model):
        if tensor.data_type in (1, 10, 11, 16):  # FLOAT, FLOAT16, DOUBLE, BFLOAT16
            if not np.isfinite(numpy_helper.to_array(tensor).astype(np.float64)).all():
                return f"{where} holds a value that is not finite"
    for where, node in _nodes(model):
        for attribute in node.attribute:
            values = [attribute.f] if attribute.type == attribute.FLOAT else list(attribute.floats)
            if not all(math.isfinite(v) for v in values):
                return f"{where} ({node.op_type}) attribute {attribute.name!r} is not finite"
    return None


# -- inputs and outputs ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Input:
    name: str
    dtype: Any


def _dims(value: Any) -> list[int | None]:
    """A tensor value's dimensions, None where not fixed (empty for a value without a tensor shape)."""
    shape = value.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]


def _inputs(model: Any) -> tuple[list[str], list[_Input], bool]:
    """The features, the graph inputs and whether one matrix input holds every feature."""
    stored = {tensor.name for tensor in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in stored]  # IR < 4 lists initializers too
    if not inputs:
        raise Unsafe(ONNX_NO_GRAPH_IO)
    parsed = []
    for value in inputs:
        elem = value.type.tensor_type.elem_type if value.type.HasField("tensor_type") else None
        dims = _dims(value) if elem is not None else []
        if elem not in _INPUT_TYPES or len(dims) != 2:
            raise Unsafe(ONNX_INPUT.format(name=value.name, found=_type_text(value)))
        parsed.append((value, elem, dims))
    if len(parsed) == 1 and parsed[0][2][1] != 1:
        value, elem, dims = parsed[0]
        if elem not in (1, 11):
            raise Unsafe(ONNX_INPUT.format(name=value.name, found=_type_text(value)))
        features = _feature_names(model, input_name=value.name)
        if dims[1] is not None and dims[1] != len(features):
            raise Unsafe(ONNX_FEATURE_NAMES.format(input=value.name, problem=(
                f"it lists {len(features)} names for {dims[1]} columns")))
        return features, [_Input(value.name, _INPUT_TYPES[elem])], True
    for value, _, dims in parsed:
        if dims[1] != 1:
            raise Unsafe(ONNX_INPUT.format(name=value.name, found=_type_text(value)))
    return [v.name for v, _, _ in parsed], [_Input(v.name, _INPUT_TYPES[e]) for v, e, _ in parsed], False


def _type_text(value: Any) -> str:
    if not value.type.HasField("tensor_type"):
        return "not a tensor"
    elem = value.type.tensor_type.elem_type
    dims = ", ".join("None" if d is None else str(d) for d in _dims(value))
    return f"a {_TYPE_NAMES.get(elem, f'type-{elem}')} tensor of shape [{dims}]"


def _feature_names(model: Any, *, input_name: str) -> list[str]:
    """The matrix input's column names from ``metadata_props["feature_names"]`` (JSON list or comma-separated)."""
    text = next((p.value for p in model.metadata_props if p.key == FEATURE_NAMES_KEY), None)
    if text is None:
        raise Unsafe(ONNX_FEATURE_NAMES.format(input=input_name, problem="there is none"))
    try:
        names = json.loads(text) if text.lstrip().startswith("[") else text.split(",")
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        raise Unsafe(ONNX_FEATURE_NAMES.format(input=input_name, problem="it is not a list of names"))
    names = [n.strip() for n in names]
    if len(set(names)) != len(names):
        raise Unsafe(ONNX_FEATURE_NAMES.format(input=input_name, problem="it names a column twice"))
    return names


def _probability_output(model: Any) -> str:
    """The name of the [N, 2] probability tensor; a ZipMap's input is added as a graph output."""
    from onnx import TensorProto, helper

    candidates = [o for o in model.graph.output
                  if o.type.HasField("sequence_type") or (o.type.HasField("tensor_type") and len(_dims(o)) == 2
                                                          and o.type.tensor_type.elem_type in (1, 11))]
    if len(candidates) > 1:
        candidates = [o for o in candidates if "prob" in o.name.lower()] or candidates
    if len(candidates) != 1:
        raise Unsafe(ONNX_OUTPUT.format(outputs=", ".join(repr(o.name) for o in model.graph.output)))
    output = candidates[0]
    if output.type.HasField("tensor_type"):
        classes = _dims(output)[1]
        name = output.name
    else:
        zipmap = next((n for n in model.graph.node if n.op_type == "ZipMap" and output.name in n.output), None)
        if zipmap is None:
            raise Unsafe(ONNX_OUTPUT.format(outputs=repr(output.name)))
        labels = next((a for a in zipmap.attribute if a.name in ("classlabels_int64s", "classlabels_strings")), None)
        classes = len(labels.ints) + len(labels.strings) if labels is not None else None
        name = zipmap.input[0]
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, classes]))
    if classes != 2:
        raise Unsafe(ONNX_CLASSES.format(output=output.name, classes="an unknown number of" if classes is None
                                         else classes))
    return name


# -- the loader ----------------------------------------------------------------------------------


class OnnxModel:
    """An ONNX binary classifier in an onnxruntime session (CPU provider only).

    Parameters
    ----------
    data : bytes
        The ``.onnx`` file.

    Raises
    ------
    Unsafe
        Not ONNX, or refused by :func:`check_model` or the input and output rules.
    MemoryError
        onnxruntime could not allocate what the graph needs while creating the session.
    """

    reads_text = True

    def __init__(self, data: bytes) -> None:
        if len(data) > MAX_ONNX_BYTES:
            raise Unsafe(ONNX_TOO_LARGE.format(size=len(data), limit=MAX_ONNX_BYTES))
        import onnx
        from google.protobuf.message import DecodeError

        try:
            model = onnx.ModelProto.FromString(data)
        except (DecodeError, RecursionError, ValueError) as exc:
            raise Unsafe(ONNX_NOT_ONNX.format(reason=str(exc) or type(exc).__name__)) from None
        if not model.HasField("graph"):
            raise Unsafe(ONNX_NOT_ONNX.format(reason="it has no graph"))
        check_model(model)
        self.features, self._inputs, self._matrix = _inputs(model)
        self._output = _probability_output(model)
        self._nonfinite = _nonfinite(model)
        self._session = _session(model.SerializeToString())

    def facts(self) -> dict[str, Any]:
        """What the worker replies to ``load`` (see :mod:`ethics.worker`), with the explainer's ``sampling``."""
        text = [i.name for i in self._inputs if i.dtype is object]
        return {"features": list(self.features), "objective": "binary", "num_class": 1, "outputs": 1,
                "link": "identity", "margin_is_probability": True, "nonfinite": self._nonfinite, "categorical": text,
                # NaN reaches the graph as is: whether it means "missing" as in the original framework
                # is not something the file says, so no feature may be missing.
                "missing": [], "explainer": "sampled", "sampling": sampling_facts(len(self.features))}

    def _feed(self, rows: Any) -> dict[str, np.ndarray]:
        if self._matrix:
            return {self._inputs[0].name: np.ascontiguousarray(rows.x, dtype=self._inputs[0].dtype)}
        feed = {}
        for spec in self._inputs:
            values = rows.column(spec.name)
            if spec.dtype is object:
                values = np.where(values == None, "", values)  # noqa: E711 - elementwise on an object array
            elif spec.dtype is np.int64:
                if not np.array_equal(values, np.round(values)):
                    raise ValueError(f"input {spec.name!r} takes whole numbers")
            feed[spec.name] = values.astype(spec.dtype).reshape(-1, 1)
        return feed

    def score(self, rows: Any) -> np.ndarray:
        """Probability of class 1 per row, in chunks of :data:`CHUNK_ROWS`."""
        parts = [self._run(dataclasses.replace(rows, x=rows.x[start:start + CHUNK_ROWS]))
                 for start in range(0, len(rows.x), CHUNK_ROWS)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def _run(self, rows: Any) -> np.ndarray:
        try:
            (probabilities,) = self._session.run([self._output], self._feed(rows))
        except Exception as exc:  # onnxruntime raises its own classes, all with the C++ message
            raise _runtime_error(exc) from None
        return np.asarray(probabilities, dtype=np.float64)[:, 1]

    def margin(self, rows: Any) -> np.ndarray:
        """The probability itself (identity link)."""
        return self.score(rows)

    def explain(self, rows: Any, *, threads: int, background: int = 0) -> tuple[np.ndarray, float]:
        """Permutation SHAP values of the probability (see :func:`permutation_shap`).

        The first ``background`` rows are the background, the others the leads explained
        (``ethics.explain`` sends the same background with each part of a batch).
        """
        if background <= 0:
            raise ValueError("the sampled explainer needs its background rows first in the request")
        return permutation_shap(rows, background=background, score=self.score)


def _session(model_bytes: bytes) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = INTRA_OP_THREADS
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    try:
        return onnxruntime.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        error = _runtime_error(exc)
        raise error if isinstance(error, MemoryError) else Unsafe(f"onnxruntime cannot load it ({error})") from None


def _runtime_error(exc: Exception) -> Exception:
    """The error of onnxruntime as a MemoryError when it could not allocate, else one line of its text."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if "bad_alloc" in text or "allocate" in text.lower():
        return MemoryError(text)
    return RuntimeError(text)


# -- permutation SHAP --------------------------------------------------------------------------------


def orderings(features: int, *, permutations: int = PERMUTATIONS, seed: int = SEED) -> np.ndarray:
    """The feature orders walked: ``permutations`` seeded random ones, each followed by its reverse (antithetic)."""
    rng = np.random.default_rng(seed)
    forward = np.array([rng.permutation(features) for _ in range(permutations)], dtype=np.int64)
    return np.stack([forward, forward[:, ::-1]], axis=1).reshape(-1, features)


def permutation_shap(rows: Any, *, background: int, score: Any, permutations: int = PERMUTATIONS,
                     seed: int = SEED) -> tuple[np.ndarray, float]:
    """Interventional SHAP values estimated on sampled feature orders, exactly additive.

    For each order, the features of a lead are switched from a background row to the lead's
    value one at a time; a feature's value is the mean change of the score it causes,
    averaged over the background rows and the orders (as ``shap.PermutationExplainer``).
    A walk starts at ``base = mean f(background)`` and ends at ``f(lead)``, so
    ``values.sum(axis=1) + base == f(lead)`` by construction.  onnxruntime's float32 sums
    may change in the last bits with the batch size, so ``f(lead)`` is scored on the very
    rows of the request (what the worker's ``margin`` scores) and ``base`` on the background
    alone (the same in every request of a batch): the identity then holds to rounding.

    Parameters
    ----------
    rows : Rows
        The background rows, then the leads (``ethics.worker.Rows``); text columns hold
        codes, so a background value is substituted as its code.
    background : int
        How many of the first rows are the background.
    score : callable
        ``score(rows) -> ndarray`` of one number per row.
    permutations : int, default PERMUTATIONS
        Random orders, each also walked backwards.
    seed : int
        Seeds the orders: the same batch gets the same values.

    Returns
    -------
    values : ndarray
        Leads × features, in the batch's feature order.
    base : float
        The mean score of the background.
    """
    everything = np.asarray(rows.x, dtype=np.float64)
    x, background = everything[background:], everything[:background]
    n, m = x.shape
    base = float(np.mean(score(dataclasses.replace(rows, x=background))))
    if n == 0 or m == 0:
        return np.zeros((n, m)), base
    full = score(rows)[len(background):]
    walks = orderings(m, permutations=permutations, seed=seed)
    # The coalition after step k of each walk (k = 1 .. m-1; step 0 is the background, step m the lead).
    steps = np.zeros((len(walks), m + 1, m), dtype=bool)
    for w, walk in enumerate(walks):
        for k in range(1, m + 1):
            steps[w, k, walk[:k]] = True
    inner = steps[:, 1:m].reshape(-1, m)
    coalitions, where = np.unique(inner, axis=0, return_inverse=True)
    value = np.empty((n, len(walks), m + 1))
    value[:, :, 0] = base
    value[:, :, m] = full[:, None]
    if len(coalitions):
        per_lead = len(coalitions) * len(background)
        chunk = max(1, CHUNK_ROWS // per_lead)
        means = np.empty((n, len(coalitions)))
        for start in range(0, n, chunk):
            leads = x[start:start + chunk]
            # leads × coalitions × background rows × features: the lead's value where the coalition holds it.
            hybrid = np.where(coalitions[None, :, None, :], leads[:, None, None, :], background[None, None, :, :])
            scores = score(dataclasses.replace(rows, x=hybrid.reshape(-1, m)))
            means[start:start + chunk] = scores.reshape(len(leads), len(coalitions), len(background)).mean(axis=2)
        value[:, :, 1:m] = means[:, where.reshape(-1)].reshape(n, len(walks), m - 1)
    gains = np.diff(value, axis=2)  # leads × walks × step: the change when walk[step] joins
    values = np.zeros((n, m))
    for w, walk in enumerate(walks):
        values[:, walk] += gains[:, w, :]
    return values / len(walks), base
