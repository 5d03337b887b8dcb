"""MicroBatcher: concurrent requests share runs, rows stay in order, limits hold."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from orchestrouter.runtime.errors import ResourceExhausted, Unavailable
from orchestrouter.scorer.batcher import MicroBatcher


def run_in_loop(coro):
    return asyncio.run(coro)


def test_concurrent_requests_share_runs_and_get_their_own_rows():
    runs: list[int] = []

    def run(matrix):
        runs.append(matrix.shape[0])
        return matrix[:, 0] * 2

    async def main():
        b = MicroBatcher(run, max_rows=16, max_wait_s=0.0, max_queue=1000)
        b.start()
        inputs = [np.full((1 + i % 3, 4), float(i), np.float32) for i in range(60)]
        outs = await asyncio.gather(*(b.score(m) for m in inputs))
        await b.stop()
        return inputs, outs

    inputs, outs = run_in_loop(main())
    for m, out in zip(inputs, outs, strict=True):
        np.testing.assert_array_equal(out, m[:, 0] * 2)
    assert len(runs) < 60, "requests queued together must share runs"
    # A run takes whole requests until it reaches max_rows (the last request may cross it).
    assert max(runs) <= 16 + 2


def test_a_lone_request_runs_in_its_callers_task_and_a_burst_after_it_shares_a_run():
    runs: list[tuple[int, asyncio.Task | None]] = []

    def run(matrix):
        runs.append((matrix.shape[0], asyncio.current_task()))
        return matrix[:, 0]

    async def main():
        b = MicroBatcher(run, max_rows=16, max_wait_s=0.0, max_queue=100)
        b.start()
        lone = await b.score_with_run(np.full((1, 2), 5.0, np.float32))
        caller = asyncio.current_task()
        burst = await asyncio.gather(*(b.score_with_run(np.full((1, 2), float(i), np.float32)) for i in range(5)))
        await b.stop()
        return lone, caller, burst

    (scores, lone_run), caller, burst = run_in_loop(main())
    assert scores.tolist() == [5.0] and runs[0] == (1, caller)
    assert (lone_run.requests, lone_run.rows, lone_run.offset) == (1, 1, 0)
    # The burst's first request runs at once; the four that came in the same loop turn share one run.
    assert [rows for rows, _ in runs[1:]] == [1, 4]
    assert [float(s[0]) for s, _ in burst] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert {r.batch_id for _, r in burst[1:]} == {burst[1][1].batch_id} and burst[1][1].requests == 4


def test_with_a_batch_delay_every_request_queues():
    tasks: list[asyncio.Task | None] = []

    def run(matrix):
        tasks.append(asyncio.current_task())
        return matrix[:, 0]

    async def main():
        b = MicroBatcher(run, max_rows=16, max_wait_s=0.001, max_queue=100)
        b.start()
        await b.score(np.zeros((1, 2), np.float32))
        await b.stop()
        return asyncio.current_task()

    caller = run_in_loop(main())
    assert tasks and tasks[0] is not caller, "max_wait_s asks to wait for company: no run at once"


def test_full_queue_is_resource_exhausted_and_stopped_batcher_unavailable():
    async def main():
        b = MicroBatcher(lambda m: m[:, 0], max_rows=4, max_wait_s=0.0, max_queue=2)
        b.start()
        # The first runs at once (nothing queued), the next two fill the queue, the fourth is refused.
        tasks = [asyncio.ensure_future(b.score(np.zeros((1, 2), np.float32))) for _ in range(4)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await b.stop()
        with pytest.raises(Unavailable):
            await b.score(np.zeros((1, 2), np.float32))
        return results

    results = run_in_loop(main())
    assert sum(isinstance(r, ResourceExhausted) for r in results) == 1
    assert sum(isinstance(r, np.ndarray) for r in results) == 3


def test_a_failing_run_fails_its_callers_and_the_batcher_goes_on():
    calls = {"n": 0}

    def run(matrix):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return matrix[:, 0]

    async def main():
        b = MicroBatcher(run, max_rows=4, max_wait_s=0.0, max_queue=10)
        b.start()
        with pytest.raises(RuntimeError):
            await b.score(np.zeros((1, 2), np.float32))
        out = await b.score(np.ones((1, 2), np.float32))
        await b.stop()
        return out

    np.testing.assert_array_equal(run_in_loop(main()), [1.0])
