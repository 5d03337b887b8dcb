"""ScorerService over a real channel: scores match ONNX Runtime, bad input is INVALID_ARGUMENT."""

from __future__ import annotations

import concurrent.futures

import grpc
import numpy as np
import onnxruntime as ort
import pytest

from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc


def batch(matrix: np.ndarray, rows: int | None = None, dim: int | None = None, data: bytes | None = None):
    m = np.ascontiguousarray(matrix, dtype="<f4")
    return scorer_pb2.ScoreRequest(
        embeddings=scorer_pb2.EmbeddingBatch(
            data=m.tobytes() if data is None else data,
            rows=m.shape[0] if rows is None else rows,
            dim=m.shape[1] if dim is None else dim,
        )
    )


@pytest.fixture
def scorer(scorer_factory, random_model):
    s = scorer_factory(random_model, max_request_rows=64)
    with grpc.insecure_channel(f"127.0.0.1:{s.port}") as channel:
        yield scorer_pb2_grpc.ScorerServiceStub(channel)


def onnx_scores(model_path, matrix):
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    return session.run(["win_probability"], {"embeddings": matrix.astype(np.float32)})[0]


def test_scores_equal_onnx_runtime_output(scorer, random_model):
    matrix = np.random.default_rng(1).normal(size=(17, 256)).astype(np.float32)
    reply = scorer.Score(batch(matrix), timeout=10)
    assert len(reply.win_probabilities) == 17
    np.testing.assert_allclose(reply.win_probabilities, onnx_scores(random_model, matrix), atol=1e-6)
    assert reply.router_id == "test-linear" and reply.router_version == "test-1"


def test_concurrent_requests_are_batched_and_each_gets_its_own_rows(scorer, random_model):
    rng = np.random.default_rng(2)
    matrices = [rng.normal(size=(int(rng.integers(1, 9)), 256)).astype(np.float32) for _ in range(64)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda m: scorer.Score(batch(m), timeout=10), matrices))
    for m, reply in zip(matrices, replies, strict=True):
        np.testing.assert_allclose(reply.win_probabilities, onnx_scores(random_model, m), atol=1e-6)


def test_model_info_describes_the_model(scorer):
    info = scorer.GetModelInfo(scorer_pb2.GetModelInfoRequest(), timeout=10)
    assert (info.embedder.name, info.embedder.dim) == ("wordllama-l2-supercat-256", 256)
    assert list(info.model_names) == ["premium", "small"]
    assert len(info.calibration_quantiles) == 101


def assert_invalid(scorer, request, *fragments):
    with pytest.raises(grpc.RpcError) as err:
        scorer.Score(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for fragment in fragments:
        assert fragment in (err.value.details() or "")


def test_empty_batch_is_invalid(scorer):
    assert_invalid(scorer, batch(np.zeros((0, 256))), "empty batch")


def test_missing_batch_is_invalid(scorer):
    assert_invalid(scorer, scorer_pb2.ScoreRequest(), "empty batch")


def test_bytes_that_do_not_match_the_shape_are_invalid(scorer):
    m = np.zeros((2, 256), np.float32)
    assert_invalid(scorer, batch(m, data=m.tobytes()[:-4]), "2044 bytes", "rows=2 x dim=256", "needs 2048")


def test_wrong_dimension_is_invalid(scorer):
    assert_invalid(scorer, batch(np.zeros((3, 128))), "dimension 128", "model's 256")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_invalid(scorer, bad):
    m = np.zeros((4, 256), np.float32)
    m[2, 5] = bad
    assert_invalid(scorer, batch(m), "NaN or infinite", "row 2")


def test_batch_over_the_limit_is_invalid(scorer):
    assert_invalid(scorer, batch(np.zeros((65, 256))), "65 rows", "limit of 64")


def test_a_bad_request_does_not_break_the_next_one(scorer, random_model):
    assert_invalid(scorer, batch(np.zeros((3, 128))), "dimension")
    m = np.ones((1, 256), np.float32)
    np.testing.assert_allclose(
        scorer.Score(batch(m), timeout=10).win_probabilities, onnx_scores(random_model, m), atol=1e-6
    )
