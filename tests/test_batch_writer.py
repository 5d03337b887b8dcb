"""BatchWriter: the queue and writer thread behind the decision log and the traffic recorder."""

from __future__ import annotations

import threading

from orchestrouter.runtime.batch_writer import BatchWriter


def test_batches_are_at_most_max_batch_and_in_order():
    batches: list[list[int]] = []
    gate = threading.Event()

    def write(batch: list[int]) -> None:
        gate.wait(10)
        batches.append(batch)

    writer = BatchWriter(write, name="test-writer", max_queued=100, max_batch=3)
    for i in range(8):
        assert writer.put(i)
    gate.set()
    assert writer.flush(10)
    assert [i for batch in batches for i in batch] == list(range(8))
    assert all(len(batch) <= 3 for batch in batches)
    assert writer.close(10)


def test_a_full_queue_refuses_and_a_closed_writer_ignores():
    taken, gate = threading.Event(), threading.Event()

    def write(batch: list[int]) -> None:
        taken.set()
        gate.wait(10)

    writer = BatchWriter(write, name="test-writer", max_queued=2, max_batch=1)
    assert writer.put(0)
    assert taken.wait(10)  # the writer holds item 0 and blocks on the gate
    assert writer.put(1) and writer.put(2)
    assert writer.full and not writer.put(3)
    gate.set()
    assert writer.close(10)
    assert writer.put(4)  # closed: ignored, not refused
    assert writer.flush(1)


def test_a_batch_that_raises_costs_only_itself(caplog):
    written: list[int] = []

    def write(batch: list[int]) -> None:
        if 0 in batch:
            raise OSError("disk full")
        written.extend(batch)

    writer = BatchWriter(write, name="test-writer", max_queued=10, max_batch=1)
    for i in range(3):
        writer.put(i)
    assert writer.flush(10) and written == [1, 2]
    assert "test-writer: a batch of 1 was not written: OSError: disk full" in caplog.text
    assert writer.close(10)
