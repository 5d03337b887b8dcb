"""ScoreStream, the scorer's side: requests on one call answered by id as Score answers them, a bad
request answered with its error while the call goes on, and drain ending open calls promptly."""

from __future__ import annotations

import asyncio
import queue
import threading

import grpc
import numpy as np
import pytest

from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc
from tests.test_scorer_service import batch


class Stream:
    """A ScoreStream call over a sync channel: send() a request, next() the next answer."""

    def __init__(self, stub: scorer_pb2_grpc.ScorerServiceStub) -> None:
        self._out: queue.Queue = queue.Queue()
        self.call = stub.ScoreStream(iter(self._out.get, None), timeout=30)
        self.answers: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for answer in self.call:
                self.answers.put(answer)
        except grpc.RpcError as exc:
            self.answers.put(exc)
        else:
            self.answers.put(None)

    def send(self, request_id: int, request: scorer_pb2.ScoreRequest) -> None:
        self._out.put(scorer_pb2.ScoreStreamRequest(id=request_id, request=request))

    def next(self):
        return self.answers.get(timeout=20)

    def close(self) -> None:
        self._out.put(None)


@pytest.fixture
def started(scorer_factory, random_model):
    s = scorer_factory(random_model, max_request_rows=64)
    with grpc.insecure_channel(f"127.0.0.1:{s.port}") as channel:
        yield s, scorer_pb2_grpc.ScorerServiceStub(channel)


def test_each_request_is_answered_under_its_id_as_score_answers_it(started):
    _, stub = started
    rng = np.random.default_rng(3)
    matrices = [rng.normal(size=(1 + i % 3, 256)).astype(np.float32) for i in range(5)]
    stream = Stream(stub)
    for i, m in enumerate(matrices):
        stream.send(100 + i, batch(m))
    answers = {a.id: a for a in (stream.next() for _ in matrices)}
    stream.close()
    assert stream.next() is None, "the call ends with OK when the caller closes it"
    for i, m in enumerate(matrices):
        unary = stub.Score(batch(m), timeout=10)
        answer = answers[100 + i]
        assert answer.error_code == 0
        np.testing.assert_allclose(answer.response.win_probabilities, unary.win_probabilities, atol=1e-6)
        assert answer.response.router_id == unary.router_id == "test-linear"


def test_a_bad_request_gets_its_error_and_the_call_goes_on(started):
    _, stub = started
    stream = Stream(stub)
    good = np.random.default_rng(4).normal(size=(1, 256)).astype(np.float32)
    stream.send(1, batch(np.zeros((1, 8), np.float32)))  # a dimension other than the model's
    stream.send(2, batch(good, rows=2))  # bytes that do not match the shape
    stream.send(3, scorer_pb2.ScoreRequest())  # no embeddings
    stream.send(4, batch(good))
    answers = {a.id: a for a in (stream.next() for _ in range(4))}
    stream.close()
    for request_id in (1, 2, 3):
        assert answers[request_id].error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert not answers[request_id].HasField("response")
    assert "dimension 8" in answers[1].error_message and "embeddings is not set" in answers[3].error_message
    assert answers[4].error_code == 0 and len(answers[4].response.win_probabilities) == 1


def test_draining_answers_what_was_read_and_ends_open_calls_without_waiting_for_the_grace(started, loop_thread):
    scorer, stub = started
    stream = Stream(stub)
    stream.send(1, batch(np.ones((1, 256), np.float32)))
    assert stream.next().error_code == 0
    # A grace far longer than the test's own timeouts: an open call that held the drain would fail it.
    closing = asyncio.run_coroutine_threadsafe(scorer.close(120), loop_thread.loop)
    ended = stream.next()
    assert isinstance(ended, grpc.RpcError) and ended.code() == grpc.StatusCode.UNAVAILABLE
    closing.result(timeout=20)


def test_undecodable_bytes_end_that_call_with_invalid_argument_and_others_go_on(started):
    scorer, stub = started
    with grpc.insecure_channel(f"127.0.0.1:{scorer.port}") as channel:
        raw = channel.stream_stream("/orchestrouter.v1.ScorerService/ScoreStream", None, None)
        with pytest.raises(grpc.RpcError) as err:
            list(raw(iter([b"\xff\xff\xff"]), timeout=20))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    stream = Stream(stub)
    stream.send(1, batch(np.ones((1, 256), np.float32)))
    assert stream.next().error_code == 0
    stream.close()
