"""The router with an OpenAI-compatible /v1/embeddings endpoint (what RouteLLM's checkpoint needs)."""

from __future__ import annotations

import grpc
import numpy as np
import onnxruntime as ort
import pytest

from orchestrouter.router.config import RouterConfig
from orchestrouter.router.embedders import EmbedderError, OpenAIEmbedder
from orchestrouter.router.server import create_server
from orchestrouter.v1 import router_pb2, router_pb2_grpc
from tests.support.chat_endpoint import ChatEndpoint, fake_embedding
from tests.support.models import linear_model

TOKEN = "sk-embeddings-test-token-123"


@pytest.fixture
def endpoint():
    ep = ChatEndpoint().start()
    yield ep
    ep.stop()


def test_embedder_returns_the_endpoint_vectors_and_sends_the_token(endpoint):
    embedder = OpenAIEmbedder(endpoint.base_url, "text-embedding-3-small", 1536, api_key=TOKEN)
    out = embedder.embed(["first", "second"])
    np.testing.assert_array_equal(out, np.stack([fake_embedding("first", 1536), fake_embedding("second", 1536)]))
    assert endpoint.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    assert endpoint.requests[-1].body["model"] == "text-embedding-3-small"


def test_embedder_errors_are_clear_and_carry_no_token(endpoint):
    endpoint.status = 503
    embedder = OpenAIEmbedder(endpoint.base_url, "text-embedding-3-small", 1536, api_key=TOKEN, max_retries=0)
    with pytest.raises(EmbedderError) as err:
        embedder.embed(["x"])
    assert "answered 503" in str(err.value) and TOKEN not in str(err.value)


def test_embedder_refuses_a_wrong_dimension(endpoint):
    embedder = OpenAIEmbedder(endpoint.base_url, "text-embedding-3-small", 768)
    with pytest.raises(EmbedderError, match="shape"):
        embedder.embed(["x"])


def test_router_scores_endpoint_embeddings_and_degrades_when_the_endpoint_fails(
    endpoint, scorer_factory, loop_thread, tmp_path
):
    u = np.random.default_rng(5).normal(0, 1.0, 1536).astype(np.float32)
    model = linear_model(tmp_path / "te3.onnx", u=u, bias=-0.5, dim=1536, embedder="text-embedding-3-small")
    scorer = scorer_factory(model)
    config = RouterConfig(listen="127.0.0.1:0", scorer_target=f"127.0.0.1:{scorer.port}", grace_seconds=0.5)
    embedder = OpenAIEmbedder(endpoint.base_url, "text-embedding-3-small", 1536, api_key=TOKEN, max_retries=0)

    async def boot():
        r = await create_server(config, embedder=embedder)
        await r.server.start()
        await r.connect_scorer(timeout_s=5)
        return r

    router = loop_thread.run(boot())
    try:
        text = "Implement Dijkstra's algorithm with a binary heap."
        request = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=text)], dry_run=True)
        with grpc.insecure_channel(f"127.0.0.1:{router.port}") as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            decision = stub.Route(request, timeout=10).decision
            session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
            expected = session.run(["win_probability"], {"embeddings": fake_embedding(text, 1536)[None, :]})[0][0]
            assert decision.win_probability == pytest.approx(float(expected), abs=1e-6)
            assert not decision.degraded

            endpoint.status = 500
            decision = stub.Route(request, timeout=10).decision
            assert decision.degraded and "embeddings endpoint answered 500" in decision.degraded_reason
    finally:
        loop_thread.run(router.stop(0.5))
