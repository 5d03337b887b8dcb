"""ONNX graphs in the router model format: the builders training uses, and ``save``.

Each builder returns an ``onnx.ModelProto`` taking ``embeddings`` float32 [N, D] and producing
``win_probability`` float32 [N], with the model's :class:`RouterModelInfo` in its metadata
(the format itself is ``orchestrouter.scorer.artifact``'s). Training-only: serving reads the
files with ONNX Runtime and never imports ``onnx``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from orchestrouter.scorer.artifact import INPUT_NAME, OUTPUT_NAME, ArtifactError, RouterModelInfo

# Opset 17 is read by every onnxruntime release this project supports.
_OPSET = 17


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
    """Writes a built router model to ``path`` (creating its folder) and returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))
    return path
