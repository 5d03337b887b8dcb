"""Health: NOT_SERVING until the model is loaded and warmed, SERVING after, NOT_SERVING on drain."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def check(channel, service=""):
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


def test_scorer_is_not_serving_until_the_model_is_loaded(scorer_factory, random_model, loop_thread):
    s = scorer_factory(random_model, ready=False)
    with grpc.insecure_channel(f"127.0.0.1:{s.port}") as channel:
        assert check(channel) == NOT_SERVING
        assert check(channel, "orchestrouter.v1.ScorerService") == NOT_SERVING
        # Score before the model is loaded is refused as UNAVAILABLE, not crashed.
        stub = scorer_pb2_grpc.ScorerServiceStub(channel)
        m = np.zeros((1, 256), "<f4")
        request = scorer_pb2.ScoreRequest(embeddings=scorer_pb2.EmbeddingBatch(data=m.tobytes(), rows=1, dim=256))
        with pytest.raises(grpc.RpcError) as err:
            stub.Score(request, timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "not loaded" in (err.value.details() or "")

        loop_thread.run(s.become_ready())
        assert check(channel) == SERVING
        assert check(channel, "orchestrouter.v1.ScorerService") == SERVING
        assert len(stub.Score(request, timeout=5).win_probabilities) == 1


def test_scorer_reports_not_serving_when_draining(scorer_factory, random_model, loop_thread):
    s = scorer_factory(random_model)
    with grpc.insecure_channel(f"127.0.0.1:{s.port}") as channel:
        assert check(channel) == SERVING
        loop_thread.run(s.health.drain())
        assert check(channel) == NOT_SERVING
