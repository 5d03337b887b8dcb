"""The gated recipe: its ONNX graph equals its numpy form, and λ comes from the validation rule."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from orchestrouter.scorer.artifact import RouterModelInfo
from orchestrouter.training.gated import LAMBDA_TOLERANCE, GatedRouter, choose_weight, load_anchors
from orchestrouter.training.onnx_graphs import build_gated_router, save
from orchestrouter.training.recipes import PairRouter


def random_router(rng: np.random.Generator, dim: int = 256, weight: float = 0.3) -> GatedRouter:
    pair = PairRouter(u=rng.normal(0, 1, dim), bias=-1.2, l2=100.0)
    return GatedRouter(
        pair, task_u=rng.normal(0, 2, dim), task_b=0.4, gate_v=rng.normal(0, 3, dim), gate_c=-0.5, weight=weight
    )


def test_onnx_graph_matches_the_numpy_router(tmp_path):
    rng = np.random.default_rng(11)
    router = random_router(rng)
    info = RouterModelInfo("gated-test", "1", "wordllama-l2-supercat-256", 256, ("a", "b"), "a", "b")
    path = save(router.to_onnx(info), tmp_path / "gated.onnx")
    e = rng.normal(0, 5, (1000, 256)).astype(np.float32)
    onnx_p = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"embeddings": e})[0]
    np.testing.assert_allclose(onnx_p, router.win_probability(e), atol=1e-5)
    # The gate matters: with it forced closed (an exam question) the task term vanishes.
    x = e / np.linalg.norm(e, axis=1, keepdims=True)
    pair_only = 1 / (1 + np.exp(-(x @ router.pair.u + router.pair.bias)))
    assert np.abs(onnx_p - pair_only).max() > 0.05


def test_a_wrong_dimension_is_refused():
    rng = np.random.default_rng(12)
    router = random_router(rng, dim=128)
    info = RouterModelInfo("gated-test", "1", "wordllama-l2-supercat-256", 256, ("a", "b"), "a", "b")
    with pytest.raises(ValueError, match="embedder_dim"):
        build_gated_router(router.pair.u, 0.0, router.task_u, 0.0, router.gate_v, 0.0, 0.3, info)


def test_weight_is_the_largest_within_tolerance_of_the_pair_alone():
    base = 0.590
    validation = {
        0.0: base,
        0.1: base + 0.001,
        0.2: base - LAMBDA_TOLERANCE + 0.001,
        0.3: base - LAMBDA_TOLERANCE - 0.001,
        0.5: base - 0.05,
    }
    assert choose_weight(validation) == 0.2
    assert choose_weight({0.0: base, 0.1: base - 0.2}) == 0.0
    assert choose_weight({}) == 0.0


def test_anchor_prompts_are_labelled_for_both_tiers():
    labels = {a["label"] for a in load_anchors()}
    assert labels == {"premium", "small"}


def test_dressed_requests_keep_their_text_and_end_like_an_exam_question():
    from orchestrouter.training.gated import dress_as_exam

    dressed = dress_as_exam(["What is 2 + 2?", "Write a haiku."], np.random.default_rng(0))
    assert [d.split("\n")[0] for d in dressed] == ["What is 2 + 2?", "Write a haiku."]
    for d in dressed:
        lines = d.split("\n")
        assert [line[:3] for line in lines[1:5]] == ["A. ", "B. ", "C. ", "D. "]
        assert lines[-1] == "Answer:"
