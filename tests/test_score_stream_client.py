"""The router's Score hop on a ScoreStream (router.score_stream via ScorerClient): answers and
refusals as unary Score gives them, a timeout that fails one request alone, a new call for a new
token, a new call after the scorer restarts, and unary calls to a scorer without ScoreStream."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc import aio

from orchestrouter.router.scorer_client import ScorerClient, ScorerUnavailable
from orchestrouter.scorer.config import ScorerConfig
from orchestrouter.scorer.server import ScorerServer
from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc

ROW = np.full((1, 256), 0.5, np.float32)


class FakeScorer(scorer_pb2_grpc.ScorerServiceServicer):
    """A real gRPC Score service: every row scores 0.25, a request of SLOW_ROWS rows is answered only
    after `delay_s`; records each ScoreStream call's token and every unary Score call."""

    SLOW_ROWS = 2

    def __init__(self, stream: bool = True, delay_s: float = 0.0) -> None:
        self.stream, self.delay_s = stream, delay_s
        self.stream_tokens: list[str] = []
        self.unary_calls = 0

    @staticmethod
    def reply(request: scorer_pb2.ScoreRequest) -> scorer_pb2.ScoreResponse:
        return scorer_pb2.ScoreResponse(
            win_probabilities=[0.25] * request.embeddings.rows, router_id="fake", router_version="1"
        )

    async def Score(self, request, context):
        self.unary_calls += 1
        return self.reply(request)

    async def ScoreStream(self, request_iterator, context):
        if not self.stream:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")
        self.stream_tokens.append(dict(context.invocation_metadata()).get("authorization", ""))
        answers: asyncio.Queue = asyncio.Queue()

        async def answer(message):
            if message.request.embeddings.rows == self.SLOW_ROWS:
                await asyncio.sleep(self.delay_s)
            await answers.put(scorer_pb2.ScoreStreamResponse(id=message.id, response=self.reply(message.request)))

        async def read():
            async for message in request_iterator:
                asyncio.ensure_future(answer(message))

        reader = asyncio.ensure_future(read())
        try:
            while True:
                yield await answers.get()
        finally:
            reader.cancel()


async def serve(servicer: scorer_pb2_grpc.ScorerServiceServicer) -> tuple[aio.Server, str]:
    server = aio.server()
    scorer_pb2_grpc.add_ScorerServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


def test_scores_and_refusals_come_back_as_unary_score_gives_them(scorer_factory, loop_thread, random_model):
    scorer = scorer_factory(random_model, max_request_rows=64)

    async def main():
        client = ScorerClient(scorer.target, 5.0)
        unary = ScorerClient(scorer.target, 5.0, stream=False)
        matrix = np.random.default_rng(5).normal(size=(3, 256)).astype(np.float32)
        try:
            streamed, plain = await client.score(matrix), await unary.score(matrix)
            with pytest.raises(ScorerUnavailable, match="scorer refused the embeddings: embedding dimension 8"):
                await client.score(np.zeros((1, 8), np.float32))
            after = await client.score(matrix)  # the refusal did not end the call
            return streamed, plain, after
        finally:
            await client.close()
            await unary.close()

    streamed, plain, after = loop_thread.run(main())
    np.testing.assert_allclose(streamed.win_probabilities, plain.win_probabilities, atol=1e-6)
    np.testing.assert_array_equal(after.win_probabilities, streamed.win_probabilities)
    assert (streamed.router_id, streamed.router_version) == (plain.router_id, plain.router_version)


def test_a_late_answer_fails_its_request_alone_and_is_dropped(loop_thread):
    fake = FakeScorer(delay_s=0.5)

    async def main():
        server, target = await serve(fake)
        client = ScorerClient(target, 0.1)
        try:
            slow = asyncio.ensure_future(client.score(np.zeros((FakeScorer.SLOW_ROWS, 256), np.float32)))
            fast = await client.score(ROW)
            with pytest.raises(ScorerUnavailable, match="deadline_exceeded"):
                await slow
            await asyncio.sleep(0.6)  # the slow request's answer comes now, to no one
            later = await client.score(ROW)
            return fast, later
        finally:
            await client.close()
            await server.stop(0)

    fast, later = loop_thread.run(main())
    assert fast.win_probabilities.tolist() == later.win_probabilities.tolist() == [0.25]
    assert len(fake.stream_tokens) == 1, "all on one call: the timeout did not end it"


def test_a_new_token_opens_a_new_call(loop_thread):
    fake = FakeScorer()
    tokens = ["token-one-0123456789"]

    async def main():
        server, target = await serve(fake)
        client = ScorerClient(target, 5.0, token=lambda: tokens[-1])
        try:
            await client.score(ROW)
            await client.score(ROW)
            tokens.append("token-two-0123456789")
            await client.score(ROW)
        finally:
            await client.close()
            await server.stop(0)

    loop_thread.run(main())
    assert fake.stream_tokens == ["Bearer token-one-0123456789", "Bearer token-two-0123456789"]
    assert fake.unary_calls == 0


def test_a_scorer_without_score_stream_gets_unary_calls(loop_thread):
    fake = FakeScorer(stream=False)

    async def main():
        server, target = await serve(fake)
        client = ScorerClient(target, 5.0)
        try:
            return [await client.score(ROW) for _ in range(3)]
        finally:
            await client.close()
            await server.stop(0)

    scores = loop_thread.run(main())
    assert [s.win_probabilities.tolist() for s in scores] == [[0.25]] * 3
    assert fake.unary_calls == 3


def test_after_the_scorer_restarts_scoring_resumes_on_a_new_call(loop_thread, random_model: Path):
    async def start(listen: str) -> ScorerServer:
        config = ScorerConfig(listen=listen, model_path=random_model, grace_seconds=1.0)
        return await ScorerServer(config).start()

    async def main():
        first = await start("127.0.0.1:0")
        port = first.port
        client = ScorerClient(first.target, 2.0)
        try:
            before = await client.score(ROW)
            await first.close(5.0)  # drains: the open call ends
            second = await start(f"127.0.0.1:{port}")
            try:
                for _ in range(100):  # the channel reconnects on its own backoff (at most a second)
                    try:
                        return before, await client.score(ROW)
                    except ScorerUnavailable:
                        await asyncio.sleep(0.1)
                raise AssertionError("scoring did not resume after the restart")
            finally:
                await second.close(0)
        finally:
            await client.close()

    before, after = loop_thread.run(main())
    np.testing.assert_array_equal(before.win_probabilities, after.win_probabilities)


class EndingScorer(scorer_pb2_grpc.ScorerServiceServicer):
    """Ends every call, unary or stream, with UNAVAILABLE once it has a request."""

    async def Score(self, request, context):
        await context.abort(grpc.StatusCode.UNAVAILABLE, "going away")

    async def ScoreStream(self, request_iterator, context):
        async for _ in request_iterator:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "going away")
        yield scorer_pb2.ScoreStreamResponse()  # pragma: no cover - abort raises


def test_a_stream_the_scorer_ends_fails_its_request_in_the_words_a_unary_call_would(loop_thread):
    async def main():
        server, target = await serve(EndingScorer())
        streamed, unary = ScorerClient(target, 5.0), ScorerClient(target, 5.0, stream=False)
        reasons = []
        try:
            for client in (streamed, unary):
                with pytest.raises(ScorerUnavailable) as err:
                    await client.score(ROW)
                reasons.append(str(err.value))
        finally:
            await streamed.close()
            await unary.close()
            await server.stop(0)
        return reasons

    streamed, unary = loop_thread.run(main())
    assert unary == "scorer unavailable: going away"
    assert streamed == unary
