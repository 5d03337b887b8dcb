"""BatchWriter: the queue and writer thread behind the decision log and the traffic recorder."""

from __future__ import annotations

import threading
import time

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


def test_a_linger_gathers_items_into_one_batch_and_flush_and_close_cut_it_short():
    batches: list[list[int]] = []
    writer = BatchWriter(batches.append, name="test-writer", max_queued=100, linger_s=60.0)
    for i in range(5):
        assert writer.put(i)
    started = time.monotonic()
    assert writer.flush(10)  # does not wait out the 60 s linger
    assert time.monotonic() - started < 5
    assert batches == [[0, 1, 2, 3, 4]]  # one wake-up for the five
    assert writer.put(5)
    started = time.monotonic()
    assert writer.close(10)  # writes the lingering item at once
    assert time.monotonic() - started < 5
    assert batches[-1] == [5]
