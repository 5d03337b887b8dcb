"""CoalescingScorer: concurrent requests share Score RPCs; each gets its own rows; failures spread."""

from __future__ import annotations

import asyncio
from typing import cast

import numpy as np
import pytest

from orchestrouter.router.scorer_client import CoalescingScorer, ScorerClient, ScorerUnavailable, Scores
from tests.support.doubles import replace_file

ROUTER_TOKEN = "router-token-0c9e2f4b7d1a3856"


class RecordingClient:
    """Stands in for ScorerClient: scores rows as their first value, records each call's size."""

    timeout_s = 1.0
    timeout_for = ScorerClient.timeout_for

    def __init__(self, fail: bool = False, hang: bool = False) -> None:
        self.calls: list[int] = []
        self.fail, self.hang = fail, hang

    async def score(self, matrix, timeout_s=None):
        self.calls.append(matrix.shape[0])
        await asyncio.sleep(0)  # yield, as a real RPC would, so others queue meanwhile
        if self.hang:
            await asyncio.Event().wait()
        if self.fail:
            raise ScorerUnavailable("scorer unavailable: test")
        return Scores(matrix[:, 0].copy(), "m", "1")


def test_a_lone_request_goes_out_at_once_and_concurrent_ones_share_rpcs():
    client = RecordingClient()

    async def main():
        c = CoalescingScorer(cast(ScorerClient, client), max_in_flight=1, max_rows=64)
        lone = await c.score(np.full((1, 4), 7.0, np.float32))
        outs = await asyncio.gather(*(c.score(np.full((1, 4), float(i), np.float32)) for i in range(100)))
        return lone, outs

    lone, outs = asyncio.run(main())
    assert client.calls[0] == 1 and lone.win_probabilities.tolist() == [7.0]
    assert [float(o.win_probabilities[0]) for o in outs] == [float(i) for i in range(100)]
    assert len(client.calls) - 1 < 10, "100 concurrent requests should need only a few RPCs"
    assert max(client.calls) <= 64


def test_a_failed_rpc_fails_every_request_in_it():
    async def main():
        c = CoalescingScorer(cast(ScorerClient, RecordingClient(fail=True)))
        return await asyncio.gather(*(c.score(np.zeros((1, 4), np.float32)) for _ in range(5)), return_exceptions=True)

    assert all(isinstance(r, ScorerUnavailable) for r in asyncio.run(main()))


def test_a_hung_scorer_times_out_as_unavailable():
    async def main():
        c = CoalescingScorer(cast(ScorerClient, RecordingClient(hang=True)))
        with pytest.raises(ScorerUnavailable, match="did not answer within 50 ms"):
            await c.score(np.zeros((1, 4), np.float32), timeout_s=0.05)

    asyncio.run(main())


def test_a_lone_request_makes_its_rpc_in_its_own_task():
    tasks: list[asyncio.Task | None] = []

    class TaskRecordingClient(RecordingClient):
        async def score(self, matrix, timeout_s=None):
            tasks.append(asyncio.current_task())
            return await super().score(matrix, timeout_s)

    async def main():
        c = CoalescingScorer(cast(ScorerClient, TaskRecordingClient()), max_in_flight=1)
        scores = await c.score(np.full((1, 4), 3.0, np.float32))
        return scores, asyncio.current_task()

    scores, caller = asyncio.run(main())
    assert scores.win_probabilities.tolist() == [3.0]
    assert tasks == [caller], "a lone request needs no task of the coalescer's"


def test_a_queued_request_times_out_while_the_rpc_ahead_of_it_hangs():
    async def main():
        c = CoalescingScorer(cast(ScorerClient, RecordingClient(hang=True)), max_in_flight=1)
        ahead = asyncio.ensure_future(c.score(np.zeros((1, 4), np.float32), timeout_s=30))
        await asyncio.sleep(0)  # the first call is now in its RPC: the next one queues
        try:
            with pytest.raises(ScorerUnavailable, match="did not answer within 50 ms"):
                await c.score(np.zeros((1, 4), np.float32), timeout_s=0.05)
        finally:
            ahead.cancel()

    asyncio.run(main())


def test_the_client_sends_the_token_current_at_each_call(scorer_factory, random_model, tmp_path, loop_thread):
    tokens = tmp_path / "tokens"
    replace_file(tokens, f"router:{ROUTER_TOKEN}\n")
    scorer = scorer_factory(random_model, auth_tokens_file=str(tokens))
    current = [ROUTER_TOKEN]

    async def main() -> list[str]:
        client = ScorerClient(scorer.target, 5.0, token=lambda: current[0])
        outcomes = []
        try:
            for token in (ROUTER_TOKEN, "rotated-away-token-11112222", ROUTER_TOKEN):
                current[0] = token
                try:
                    await client.score(np.zeros((1, 256), np.float32))
                    outcomes.append("scored")
                except ScorerUnavailable as exc:
                    outcomes.append(str(exc).split(":")[0])
        finally:
            await client.close()
        return outcomes

    assert loop_thread.run(main()) == ["scored", "scorer unauthenticated", "scored"]


def test_with_linger_an_rpc_returning_under_load_waits_for_more_and_a_lone_call_still_goes_at_once():
    client = RecordingClient()

    async def main():
        c = CoalescingScorer(cast(ScorerClient, client), max_in_flight=1, linger_s=0.5)
        # The first call makes its RPC; the second, started with it, waits for the slot.
        first = asyncio.ensure_future(c.score(np.full((1, 4), 0.0, np.float32)))
        second = asyncio.ensure_future(c.score(np.full((1, 4), 1.0, np.float32)))
        await first  # it returned with a call waiting: the slot is held for the linger
        later = [c.score(np.full((1, 4), float(i), np.float32)) for i in (2, 3)]
        outs = await asyncio.gather(second, *later)
        # Nothing waits now: a lone call goes out at once (a linger here would outlast the guard).
        lone = await asyncio.wait_for(c.score(np.full((1, 4), 4.0, np.float32)), 0.4)
        return outs, lone

    outs, lone = asyncio.run(main())
    assert [float(o.win_probabilities[0]) for o in outs] == [1.0, 2.0, 3.0]
    assert client.calls == [1, 3, 1], "the calls that came during the linger rode with the waiting one"
    assert lone.win_probabilities.tolist() == [4.0]


def test_a_linger_ends_once_the_loop_has_nothing_else_to_run():
    client = RecordingClient()

    async def main():
        c = CoalescingScorer(cast(ScorerClient, client), max_in_flight=1, linger_s=30.0)
        first = asyncio.ensure_future(c.score(np.full((1, 4), 0.0, np.float32)))
        second = asyncio.ensure_future(c.score(np.full((1, 4), 1.0, np.float32)))
        await first  # returned with a call waiting; nothing else runs, so no one else is coming
        return await asyncio.wait_for(second, 1.0)  # well before the 30 s linger

    assert asyncio.run(main()).win_probabilities.tolist() == [1.0]
    assert client.calls == [1, 1]


def test_while_the_loop_stays_busy_the_linger_holds_the_slot_for_the_calls_that_come():
    client = RecordingClient()

    async def main():
        c = CoalescingScorer(cast(ScorerClient, client), max_in_flight=1, linger_s=30.0)
        busy = asyncio.Event()
        busy.set()

        async def spin() -> None:  # other work on the loop, every turn
            while busy.is_set():
                await asyncio.sleep(0)

        spinner = asyncio.ensure_future(spin())
        first = asyncio.ensure_future(c.score(np.full((1, 4), 0.0, np.float32)))
        second = asyncio.ensure_future(c.score(np.full((1, 4), 1.0, np.float32)))
        await first
        for _ in range(10):
            await asyncio.sleep(0)
        third = asyncio.ensure_future(c.score(np.full((1, 4), 2.0, np.float32)))
        for _ in range(10):
            await asyncio.sleep(0)
        held = not second.done() and not third.done()
        busy.clear()  # the loop goes quiet: the slot goes to both waiting calls together
        outs = await asyncio.wait_for(asyncio.gather(second, third), 1.0)
        await spinner
        return held, outs

    held, outs = asyncio.run(main())
    assert held, "the slot was handed on while the loop was still busy"
    assert [float(o.win_probabilities[0]) for o in outs] == [1.0, 2.0]
    assert client.calls == [1, 2]
