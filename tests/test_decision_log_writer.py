"""The decision log's writer thread (issue 14): write() only queues; the thread writes batches of
whole lines; a full queue drops and counts; close() writes everything queued; a failing sink never
reaches the caller of write()."""

from __future__ import annotations

import io
import json
import threading

from orchestrouter.router.decision_log import CHUNK_BYTES, DecisionLog, QueueFull


class GatedSink(io.StringIO):
    """A sink whose writes wait for the gate to open, and which records each write's size."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()  # the writer is inside write(), waiting at the gate
        self.writes: list[str] = []
        self.writer_threads: set[str] = set()

    def write(self, text: str) -> int:
        self.entered.set()
        self.gate.wait(10)
        self.writes.append(text)
        self.writer_threads.add(threading.current_thread().name)
        return super().write(text)


def test_write_returns_at_once_and_the_writer_thread_writes_the_lines():
    sink = GatedSink()
    log = DecisionLog(sink)
    for i in range(50):
        log.write({"request_id": str(i)})  # returns although the sink does not take anything yet
    assert sink.getvalue() == ""
    sink.gate.set()
    assert log.flush(timeout_s=10)
    assert [json.loads(line)["request_id"] for line in sink.getvalue().splitlines()] == [str(i) for i in range(50)]
    assert sink.writer_threads == {"decision-log-writer"}, "the caller's thread never writes"
    log.close()


def test_lines_are_batched_into_whole_line_writes_of_at_most_pipe_buf_bytes():
    sink = GatedSink()
    log = DecisionLog(sink)
    log.write({"request_id": "first"})
    for i in range(200):  # queued while the writer is held at the first write
        log.write({"request_id": str(i), "padding": "x" * 100})
    sink.gate.set()
    assert log.flush(timeout_s=10)
    later = sink.writes[1:]
    assert 200 // len(later) >= 10, f"batched: {len(later)} writes for 200 lines"
    assert all(w.endswith("\n") and len(w.encode()) <= CHUNK_BYTES for w in later)
    assert len(sink.getvalue().splitlines()) == 201
    log.close()


def test_a_full_queue_drops_and_counts_and_never_blocks():
    sink = GatedSink()
    log = DecisionLog(sink, max_queued=10)
    lost: list[tuple[type[BaseException], int]] = []
    log.on_failure = lambda exc, lines: lost.append((type(exc), lines))
    log.write({"request_id": "held"})  # the writer takes it and waits at the gate
    assert sink.entered.wait(10)
    for i in range(15):
        log.write({"request_id": str(i)})
    assert lost == [(QueueFull, 1)] * 5
    sink.gate.set()
    log.close()
    assert len(sink.getvalue().splitlines()) == 11, "the held line and the ten that fitted"


def test_close_writes_everything_queued_then_closes_an_owned_file(tmp_path):
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog.open(str(path))
    for i in range(1000):
        log.write({"request_id": str(i)})
    log.close()
    assert [json.loads(line)["request_id"] for line in path.read_text().splitlines()] == [str(i) for i in range(1000)]
    log.write({"request_id": "after close"})  # ignored, never raises
    log.close()
    assert len(path.read_text().splitlines()) == 1000


def test_a_failing_sink_counts_each_lost_line_and_the_writer_goes_on():
    class FailsOnce(io.StringIO):
        failed = False

        def flush(self) -> None:
            if not self.failed:
                self.failed = True
                raise OSError(28, "No space left on device")

    sink = FailsOnce()
    log = DecisionLog(sink)
    lost: list[int] = []
    log.on_failure = lambda exc, lines: lost.append(lines)
    log.write({"request_id": "1"})
    assert log.flush(timeout_s=10) and lost == [1]
    log.write({"request_id": "2"})
    assert log.flush(timeout_s=10) and lost == [1]
    assert json.loads(sink.getvalue().splitlines()[-1])["request_id"] == "2"
    log.close()
