"""Scores are checked on both sides (issue 10, defect 5).

The scorer refuses a model whose output is not one probability per row ([N, 2] used to hand out
other rows' scores) or whose warm-up gives NaN or values outside [0, 1], and answers UNAVAILABLE for a
request whose rows the model cannot score. The router treats a reply with the wrong count, NaN or
out-of-range probabilities like an unreachable scorer: a degraded decision, flagged with the reason.
"""

from __future__ import annotations

import math
import re

import grpc
import numpy as np
import pytest
from grpc import aio
from onnx import TensorProto, helper, numpy_helper

from orchestrouter.router.config import RouterConfig
from orchestrouter.router.embedders import WORDLLAMA_DIM, WORDLLAMA_NAME
from orchestrouter.router.server import RouterServer
from orchestrouter.scorer.artifact import INPUT_NAME, OUTPUT_NAME, ArtifactError
from orchestrouter.scorer.engine import ScoringEngine
from orchestrouter.training.onnx_graphs import save
from orchestrouter.v1 import router_pb2, router_pb2_grpc, scorer_pb2, scorer_pb2_grpc
from tests.support.models import ConstantEmbedder, model_info
from tests.support.pair import request

INFO = model_info("bad-model", "b-1")


def affine_model(path, columns: int, offset: float, sigmoid: bool):
    """embeddings [N, D] -> (sigmoid of) embeddings @ W + offset, W [D, columns]: [N] when columns is 1."""
    w = numpy_helper.from_array(np.full((WORDLLAMA_DIM, columns), 0.001, np.float32), "w")
    b = numpy_helper.from_array(np.array([offset], np.float32), "b")
    flat = numpy_helper.from_array(np.array([-1], np.int64), "flat")
    nodes = [helper.make_node("MatMul", [INPUT_NAME, "w"], ["dot"]), helper.make_node("Add", ["dot", "b"], ["z"])]
    last, inits = "z", [w, b]
    if columns == 1:
        nodes.append(helper.make_node("Reshape", ["z", "flat"], ["z_flat"]))
        last, inits = "z_flat", [*inits, flat]
    nodes.append(helper.make_node("Sigmoid" if sigmoid else "Identity", [last], [OUTPUT_NAME]))
    out_shape: list[str | int] = ["N"] if columns == 1 else ["N", columns]
    graph = helper.make_graph(
        nodes,
        "bad",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", WORDLLAMA_DIM])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, out_shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, INFO.to_metadata())
    return save(model, path)


@pytest.mark.parametrize(
    "columns, offset, sigmoid, fragment",
    [
        (2, 0.0, True, "one probability per row"),
        (1, 2.0, False, "outside [0, 1]"),
        (1, float("nan"), True, "NaN"),
    ],
    ids=["two-columns", "out-of-range", "nan"],
)
def test_a_model_whose_output_is_not_probabilities_is_refused_at_load(tmp_path, columns, offset, sigmoid, fragment):
    path = affine_model(tmp_path / "bad.onnx", columns, offset, sigmoid)
    with pytest.raises(ArtifactError, match=re.escape(fragment)):
        ScoringEngine(path)


def fragile_model(path):
    """sigmoid(z) + (z - z), z = embeddings @ 1e30: a probability for ordinary rows, NaN once z overflows."""
    w = numpy_helper.from_array(np.full((WORDLLAMA_DIM, 1), 1e30, np.float32), "w")
    flat = numpy_helper.from_array(np.array([-1], np.int64), "flat")
    nodes = [
        helper.make_node("MatMul", [INPUT_NAME, "w"], ["dot"]),
        helper.make_node("Reshape", ["dot", "flat"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["s"]),
        helper.make_node("Sub", ["z", "z"], ["zero"]),
        helper.make_node("Add", ["s", "zero"], [OUTPUT_NAME]),
    ]
    graph = helper.make_graph(
        nodes,
        "fragile",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", WORDLLAMA_DIM])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N"])],
        [w, flat],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, INFO.to_metadata())
    return save(model, path)


def test_rows_the_model_cannot_score_are_unavailable_and_the_next_request_is_served(scorer_factory, tmp_path):
    scorer = scorer_factory(fragile_model(tmp_path / "fragile.onnx"))
    rows = np.zeros((2, WORDLLAMA_DIM), np.float32)
    rows[0, :2] = (1e10, 1e10)
    with grpc.insecure_channel(scorer.target) as channel:
        stub = scorer_pb2_grpc.ScorerServiceStub(channel)

        def score(matrix: np.ndarray) -> scorer_pb2.ScoreResponse:
            batch = scorer_pb2.EmbeddingBatch(data=matrix.tobytes(), rows=matrix.shape[0], dim=matrix.shape[1])
            return stub.Score(scorer_pb2.ScoreRequest(embeddings=batch), timeout=5)

        with pytest.raises(grpc.RpcError) as err:
            score(rows)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "probabilit" in (err.value.details() or "")
        assert list(score(rows[1:]).win_probabilities) == [0.5]


# --- the router's side: a scorer that answers nonsense ---------------------------------------------


class LyingScorer(scorer_pb2_grpc.ScorerServiceServicer):
    """LyingScorer: a real Score service whose replies are whatever the test sets."""

    def __init__(self) -> None:
        self.probabilities: list[float] = [0.9]

    async def Score(self, request, context):
        return scorer_pb2.ScoreResponse(win_probabilities=self.probabilities, router_id="liar", router_version="1")

    async def GetModelInfo(self, request, context):
        return scorer_pb2.GetModelInfoResponse(
            router_id="liar",
            router_version="1",
            embedder=scorer_pb2.EmbedderInfo(name=WORDLLAMA_NAME, dim=WORDLLAMA_DIM),
            calibration_quantiles=list(INFO.calibration_quantiles),
        )


@pytest.fixture
def lying_router(loop_thread):
    liar = LyingScorer()

    async def start() -> tuple[aio.Server, RouterServer]:
        server = aio.server()
        scorer_pb2_grpc.add_ScorerServiceServicer_to_server(liar, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        config = RouterConfig(listen="127.0.0.1:0", grace_seconds=0.5, scorer_target=f"127.0.0.1:{port}")
        router = RouterServer(config, embedder=ConstantEmbedder(), scorer_wait_s=5.0)
        await router.start()
        return server, router

    server, router = loop_thread.run(start())
    channel = grpc.insecure_channel(router.target)
    yield liar, router_pb2_grpc.RouterServiceStub(channel)
    channel.close()
    loop_thread.run(router.close(0.5))
    loop_thread.run(server.stop(0))


@pytest.mark.parametrize(
    "probabilities, fragment",
    [
        ([], "0 probabilities for 1 row"),
        ([0.9, 0.8], "2 probabilities for 1 row"),
        ([math.nan], "NaN"),
        ([1.5], "[0, 1]"),
    ],
    ids=["none", "too-many", "nan", "out-of-range"],
)
def test_a_scorer_reply_that_is_not_one_probability_per_row_degrades(lying_router, probabilities, fragment):
    liar, stub = lying_router
    assert stub.Route(request("hi", dry_run=True), timeout=5).decision.degraded is False
    liar.probabilities = probabilities
    d = stub.Route(request("hi", dry_run=True), timeout=5).decision
    assert d.degraded and d.tier == router_pb2.TIER_SMALL and fragment in d.degraded_reason
    assert not math.isnan(d.win_probability)
