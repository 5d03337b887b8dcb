"""The router model artifact: one ONNX file that describes itself through its metadata.

Input ``embeddings`` float32 [N, D]; output ``win_probability`` float32 [N], the estimate that
the premium (strong) model's answer is strictly better than the small (weak) model's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT_NAME = "embeddings"
OUTPUT_NAME = "win_probability"
FORMAT_VERSION = "1"
_PREFIX = "orchestrouter."
# Opset 17 is read by every onnxruntime release this project supports.
_OPSET = 17

DEFAULT_MODEL_PATH = Path(__file__).parent / "models" / "default.onnx"


class ArtifactError(ValueError):
    """The file is not a router model this project can load, and the message says why."""


@dataclass(frozen=True)
class RouterModelInfo:
    """RouterModelInfo: what a router model says about itself in its metadata."""

    router_id: str
    version: str
    embedder_name: str
    embedder_dim: int
    model_names: tuple[str, ...]
    strong_model: str
    weak_model: str
    training_data: dict[str, Any] = field(default_factory=dict)
    # Win-probability quantiles over a reference prompt set, for the premium-share dial; their
    # meaning (and the maths on them) is orchestrouter.router.calibration's.
    calibration_reference: str = ""
    calibration_quantiles: tuple[float, ...] = ()

    def to_metadata(self) -> dict[str, str]:
        meta = {
            "format_version": FORMAT_VERSION,
            "router_id": self.router_id,
            "version": self.version,
            "embedder_name": self.embedder_name,
            "embedder_dim": str(self.embedder_dim),
            "model_names": json.dumps(list(self.model_names)),
            "strong_model": self.strong_model,
            "weak_model": self.weak_model,
            "training_data": json.dumps(self.training_data, sort_keys=True),
        }
        if self.calibration_quantiles:
            meta["calibration"] = json.dumps(
                {"reference": self.calibration_reference, "quantiles": list(self.calibration_quantiles)}
            )
        return {_PREFIX + k: v for k, v in meta.items()}

    @classmethod
    def from_metadata(cls, props: dict[str, str], source: str = "model") -> RouterModelInfo:
        meta = {k[len(_PREFIX) :]: v for k, v in props.items() if k.startswith(_PREFIX)}
        required = [
            "format_version",
            "router_id",
            "version",
            "embedder_name",
            "embedder_dim",
            "model_names",
            "strong_model",
            "weak_model",
        ]
        missing = [k for k in required if k not in meta]
        if missing:
            raise ArtifactError(f"{source}: metadata lacks {', '.join(_PREFIX + k for k in missing)}")
        if meta["format_version"] != FORMAT_VERSION:
            raise ArtifactError(f"{source}: format_version {meta['format_version']!r}, expected {FORMAT_VERSION}")
        try:
            dim = int(meta["embedder_dim"])
            names = tuple(json.loads(meta["model_names"]))
            training = json.loads(meta.get("training_data", "{}"))
            cal = json.loads(meta["calibration"]) if "calibration" in meta else {"reference": "", "quantiles": []}
            reference, quantiles = str(cal["reference"]), tuple(float(q) for q in cal["quantiles"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"{source}: malformed metadata ({exc})") from exc
        if dim <= 0:
            raise ArtifactError(f"{source}: embedder_dim must be positive, got {dim}")
        return cls(
            router_id=meta["router_id"],
            version=meta["version"],
            embedder_name=meta["embedder_name"],
            embedder_dim=dim,
            model_names=names,
            strong_model=meta["strong_model"],
            weak_model=meta["weak_model"],
            training_data=training,
            calibration_reference=reference,
            calibration_quantiles=quantiles,
        )


def _finish(graph: onnx.GraphProto, info: RouterModelInfo) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)], producer_name="orchestrouter")
    model.ir_version = 8
    helper.set_model_props(model, info.to_metadata())
    onnx.checker.check_model(model)
    return model


def _io(dim: int) -> tuple[onnx.ValueInfoProto, onnx.ValueInfoProto]:
    inp = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", dim])
    out = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N"])
    return inp, out


def _normalize_nodes(source: str, target: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """x / max(|x|, 1e-12) row-wise: for routers trained on unit-length embeddings."""
    inits = [numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "norm_floor")]
    nodes = [
        helper.make_node("ReduceL2", [source], ["row_norm"], axes=[1], keepdims=1),
        helper.make_node("Max", ["row_norm", "norm_floor"], ["safe_norm"]),
        helper.make_node("Div", [source, "safe_norm"], [target]),
    ]
    return nodes, inits


def _features(normalize_input: bool) -> tuple[str, list[onnx.NodeProto], list[onnx.TensorProto]]:
    """The tensor the heads read (the input, or its unit-length rows) and the nodes making it."""
    if not normalize_input:
        return INPUT_NAME, [], []
    nodes, inits = _normalize_nodes(INPUT_NAME, "unit_embeddings")
    return "unit_embeddings", nodes, inits


def _probability_nodes(logit: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """logit [N, 1] -> win_probability [N]."""
    nodes = [
        helper.make_node("Reshape", [logit, "flat"], ["logit_flat"]),
        helper.make_node("Sigmoid", ["logit_flat"], [OUTPUT_NAME]),
    ]
    return nodes, [numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat")]


def build_linear_router(
    u: np.ndarray, bias: float, info: RouterModelInfo, normalize_input: bool = False
) -> onnx.ModelProto:
    """A router folded to one direction: P = sigmoid(x · u + bias), x = e (or e/|e| if normalize_input)."""
    u = np.asarray(u, dtype=np.float32).reshape(-1, 1)
    if u.shape[0] != info.embedder_dim:
        raise ArtifactError(f"weight length {u.shape[0]} != embedder_dim {info.embedder_dim}")
    inp, out = _io(info.embedder_dim)
    features, prelude, feature_inits = _features(normalize_input)
    tail, tail_inits = _probability_nodes("logit")
    inits = [
        numpy_helper.from_array(u, "u"),
        numpy_helper.from_array(np.array([bias], dtype=np.float32), "bias"),
        *tail_inits,
        *feature_inits,
    ]
    nodes = prelude + [
        helper.make_node("MatMul", [features, "u"], ["dot"]),
        helper.make_node("Add", ["dot", "bias"], ["logit"]),
        *tail,
    ]
    return _finish(helper.make_graph(nodes, "linear_router", [inp], [out], inits), info)


def build_gated_router(
    u_pair: np.ndarray,
    b_pair: float,
    u_task: np.ndarray,
    b_task: float,
    v_gate: np.ndarray,
    c_gate: float,
    weight: float,
    info: RouterModelInfo,
) -> onnx.ModelProto:
    """A pair direction plus a gated task prior, on unit-length embeddings x = e/|e|:

    P = sigmoid(x·u_pair + b_pair + weight · (1 - sigmoid(x·v_gate + c_gate)) · (x·u_task + b_task)).
    """
    heads = np.stack([np.asarray(h, dtype=np.float32).reshape(-1) for h in (u_pair, u_task, v_gate)], axis=1)
    if heads.shape[0] != info.embedder_dim:
        raise ArtifactError(f"weight length {heads.shape[0]} != embedder_dim {info.embedder_dim}")
    inp, out = _io(info.embedder_dim)
    features, prelude, inits = _features(normalize_input=True)
    tail, tail_inits = _probability_nodes("logit")
    inits += [
        numpy_helper.from_array(heads, "heads"),
        numpy_helper.from_array(np.array([b_pair, b_task, c_gate], dtype=np.float32), "head_bias"),
        numpy_helper.from_array(np.array([1, 1, 1], dtype=np.int64), "head_split"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
        numpy_helper.from_array(np.array(weight, dtype=np.float32), "task_weight"),
        *tail_inits,
    ]
    nodes = prelude + [
        helper.make_node("MatMul", [features, "heads"], ["head_dots"]),
        helper.make_node("Add", ["head_dots", "head_bias"], ["head_logits"]),
        helper.make_node("Split", ["head_logits", "head_split"], ["pair_logit", "task_logit", "gate_logit"], axis=1),
        helper.make_node("Sigmoid", ["gate_logit"], ["gate"]),
        helper.make_node("Sub", ["one", "gate"], ["open_request"]),
        helper.make_node("Mul", ["open_request", "task_logit"], ["gated_task"]),
        helper.make_node("Mul", ["gated_task", "task_weight"], ["weighted_task"]),
        helper.make_node("Add", ["pair_logit", "weighted_task"], ["logit"]),
        *tail,
    ]
    return _finish(helper.make_graph(nodes, "gated_router", [inp], [out], inits), info)


def build_mf_router(
    P: np.ndarray,
    W: np.ndarray,
    c: np.ndarray,
    strong: int,
    weak: int,
    info: RouterModelInfo,
    model_bias: np.ndarray | None = None,
    normalize_input: bool = False,
    logit_offset: float = 0.0,
) -> onnx.ModelProto:
    """RouteLLM's MF router in its general form, scoring all M models.

    s(m, e) = c · (P[m]/|P[m]| ⊙ W e) (+ b[m]);  P(strong wins | e) = sigmoid(s(strong) - s(weak) + offset).
    ``logit_offset`` carries a tie width (-θ) so the output is P(strong strictly better);
    ``normalize_input`` scores e/|e|. Also outputs ``model_scores`` [N, M] for N-model routing.
    """
    P = np.asarray(P, dtype=np.float64)
    W = np.asarray(W, dtype=np.float32)
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    if W.shape[1] != info.embedder_dim:
        raise ArtifactError(f"projection input {W.shape[1]} != embedder_dim {info.embedder_dim}")
    p_hat = P / np.linalg.norm(P, axis=1, keepdims=True)
    # (W e) · (c ⊙ p̂_m) for every m: one [k, M] matrix.
    head = (c[:, None] * p_hat.T).astype(np.float32)
    bias = np.zeros(P.shape[0], np.float32) if model_bias is None else np.asarray(model_bias, np.float32)
    diff = np.zeros((P.shape[0],), np.float32)
    diff[strong], diff[weak] = 1.0, -1.0
    inp, out = _io(info.embedder_dim)
    features, prelude, feature_inits = _features(normalize_input)
    tail, tail_inits = _probability_nodes("logit")
    scores = helper.make_tensor_value_info("model_scores", TensorProto.FLOAT, ["N", P.shape[0]])
    inits = [
        numpy_helper.from_array(W.T.copy(), "W_T"),
        numpy_helper.from_array(head, "head"),
        numpy_helper.from_array(bias, "model_bias"),
        numpy_helper.from_array(diff.reshape(-1, 1), "pair"),
        numpy_helper.from_array(np.array([logit_offset], dtype=np.float32), "logit_offset"),
        *tail_inits,
        *feature_inits,
    ]
    nodes = prelude + [
        helper.make_node("MatMul", [features, "W_T"], ["projected"]),
        helper.make_node("MatMul", ["projected", "head"], ["raw_scores"]),
        helper.make_node("Add", ["raw_scores", "model_bias"], ["model_scores"]),
        helper.make_node("MatMul", ["model_scores", "pair"], ["pair_logit"]),
        helper.make_node("Add", ["pair_logit", "logit_offset"], ["logit"]),
        *tail,
    ]
    graph = helper.make_graph(nodes, "mf_router", [inp], [out, scores], inits)
    return _finish(graph, info)


def save(model: onnx.ModelProto, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))
    return path


def read_info(path: str | Path) -> RouterModelInfo:
    """Reads and validates a router model's metadata and I/O signature without running it."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"router model not found: {path}")
    if not path.is_file():
        raise ArtifactError(f"router model path is not a file: {path}")
    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises several types for a corrupt file
        raise ArtifactError(f"{path}: not an ONNX model ({exc})") from exc
    info = RouterModelInfo.from_metadata({p.key: p.value for p in model.metadata_props}, str(path))
    inputs = {i.name: i for i in model.graph.input}
    outputs = {o.name for o in model.graph.output}
    if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
        raise ArtifactError(f"{path}: graph must take {INPUT_NAME!r} and produce {OUTPUT_NAME!r}")
    dims = inputs[INPUT_NAME].type.tensor_type.shape.dim
    if len(dims) != 2 or (dims[1].HasField("dim_value") and dims[1].dim_value != info.embedder_dim):
        raise ArtifactError(f"{path}: input shape does not match embedder_dim {info.embedder_dim}")
    return info
