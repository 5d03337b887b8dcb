"""The router with an OpenAI-compatible /v1/embeddings endpoint (what RouteLLM's checkpoint needs)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from orchestrouter.router.embedders import EmbedderError, OpenAIEmbedder
from orchestrouter.v1 import router_pb2
from tests.support.fake_openai import Fault, fake_embedding
from tests.support.models import linear_model

TOKEN = "sk-embeddings-test-token-123"


def test_embedder_returns_the_endpoint_vectors_and_sends_the_token(endpoint):
    embedder = OpenAIEmbedder(endpoint.base_url, "text-embedding-3-small", 1536, api_key=TOKEN)
    out = embedder.embed(["first", "second"])
    np.testing.assert_array_equal(out, np.stack([fake_embedding("first", 1536), fake_embedding("second", 1536)]))
    assert endpoint.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    assert endpoint.requests[-1].body["model"] == "text-embedding-3-small"


def test_embedder_errors_are_clear_and_carry_no_token(endpoint):
    endpoint.always(Fault.status_code(503))
    embedder = OpenAIEmbedder(endpoint.base_url, "text-embedding-3-small", 1536, api_key=TOKEN, max_retries=0)
    with pytest.raises(EmbedderError) as err:
        embedder.embed(["x"])
    assert "answered 503" in str(err.value) and TOKEN not in str(err.value)


def test_embedder_refuses_a_wrong_dimension(endpoint):
    embedder = OpenAIEmbedder(endpoint.base_url, "text-embedding-3-small", 768)
    with pytest.raises(EmbedderError, match="shape"):
        embedder.embed(["x"])


def test_router_scores_endpoint_embeddings_and_degrades_when_the_endpoint_fails(endpoint, pair, tmp_path):
    u = np.random.default_rng(5).normal(0, 1.0, 1536).astype(np.float32)
    model = linear_model(tmp_path / "te3.onnx", u=u, bias=-0.5, dim=1536, embedder="text-embedding-3-small")
    embedder = OpenAIEmbedder(endpoint.base_url, "text-embedding-3-small", 1536, api_key=TOKEN, max_retries=0)
    stub = pair(model, embedder=embedder).stub

    text = "Implement Dijkstra's algorithm with a binary heap."
    request = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=text)], dry_run=True)
    decision = stub.Route(request, timeout=10).decision
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    expected = session.run(["win_probability"], {"embeddings": fake_embedding(text, 1536)[None, :]})[0][0]
    assert decision.win_probability == pytest.approx(float(expected), abs=1e-6)
    assert not decision.degraded

    endpoint.always(Fault.status_code(500))
    decision = stub.Route(request, timeout=10).decision
    assert decision.degraded and "embeddings endpoint answered 500" in decision.degraded_reason
