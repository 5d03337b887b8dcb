"""run_telemetry: the scorer's spans and metrics for ONNX runs.

Micro-batching makes one ONNX run serve several Score requests, each in a trace of its own. A span
has one parent, so a single span per run would sit in one request's trace only, and span links
from the others would leave the run outside their traces (Jaeger shows a link, not the time).
So each request's trace gets its own ``scorer.onnx_run`` span: a child of that request's Score
server span, with the run's real start and end times, and attributes naming the run it shared:
``orchestrouter.batch.id`` (the same for every request of the run, so a Jaeger tag search finds
them all), ``.batch.requests``, ``.batch.rows``, ``.batch.offset`` (where this request's rows
start), and ``orchestrouter.queue_wait_ms`` (how long the request queued before the run).
Batch sizes are counted once per run, through the batcher's on_batch hook.
"""

from __future__ import annotations

import secrets

from opentelemetry import metrics, trace

from orchestrouter.scorer.batcher import BatchRun

_MS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class RunTelemetry:
    """RunTelemetry: records each ONNX run in the traces and metrics of the requests it served."""

    def __init__(self) -> None:
        meter = metrics.get_meter("orchestrouter.scorer")
        self._tracer = trace.get_tracer("orchestrouter.scorer")
        self._batch_requests = meter.create_histogram(
            "orchestrouter.score.batch.requests",
            unit="{request}",
            description="Score requests served by one ONNX run",
            explicit_bucket_boundaries_advisory=_SIZE_BUCKETS,
        )
        self._batch_rows = meter.create_histogram(
            "orchestrouter.score.batch.rows",
            unit="{row}",
            description="Embeddings scored by one ONNX run",
            explicit_bucket_boundaries_advisory=_SIZE_BUCKETS,
        )
        self._hop = meter.create_histogram(
            "orchestrouter.hop.duration",
            unit="ms",
            description="Time a request spent in each hop",
            explicit_bucket_boundaries_advisory=_MS_BUCKETS,
        )
        # Batch ids count per process; the prefix keeps replicas' ids apart in one Jaeger.
        self._instance = secrets.token_hex(4)

    def on_batch(self, requests: int, rows: int) -> None:
        self._batch_requests.record(requests)
        self._batch_rows.record(rows)

    def on_scored(self, run: BatchRun, request_rows: int) -> None:
        """Called in the request's own context once its scores are back."""
        queue_ms = (run.start_ns - run.enqueued_ns) / 1e6
        run_ms = (run.end_ns - run.start_ns) / 1e6
        self._hop.record(queue_ms, {"orchestrouter.hop": "scorer.queue"})
        self._hop.record(run_ms, {"orchestrouter.hop": "scorer.onnx_run"})
        span = self._tracer.start_span(
            "scorer.onnx_run",
            start_time=run.start_ns,
            attributes={
                "orchestrouter.batch.id": f"{self._instance}-{run.batch_id}",
                "orchestrouter.batch.requests": run.requests,
                "orchestrouter.batch.rows": run.rows,
                "orchestrouter.batch.offset": run.offset,
                "orchestrouter.score.rows": request_rows,
                "orchestrouter.queue_wait_ms": queue_ms,
            },
        )
        span.end(end_time=run.end_ns)
