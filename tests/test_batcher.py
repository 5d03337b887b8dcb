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


def test_full_queue_is_resource_exhausted_and_stopped_batcher_unavailable():
    async def main():
        b = MicroBatcher(lambda m: m[:, 0], max_rows=4, max_wait_s=0.0, max_queue=2)
        b.start()
        tasks = [asyncio.ensure_future(b.score(np.zeros((1, 2), np.float32))) for _ in range(3)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await b.stop()
        with pytest.raises(Unavailable):
            await b.score(np.zeros((1, 2), np.float32))
        return results

    results = run_in_loop(main())
    assert sum(isinstance(r, ResourceExhausted) for r in results) == 1
    assert sum(isinstance(r, np.ndarray) for r in results) == 2


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
