"""run_telemetry: the scorer's spans and metrics for ONNX runs.

Micro-batching makes one ONNX run serve several Score requests, each in a trace of its own. A span
has one parent, so a single span per run would sit in one request's trace only, and span links
from the others would leave the run outside their traces (Jaeger shows a link, not the time).
So each request's trace gets its own ``scorer.onnx_run`` span: a child of that request's Score
server span, with the run's real start and end times, and attributes naming the run it shared:
``orchestrouter.batch.id`` (the same for every request of the run, so a Jaeger tag search finds
them all), ``.batch.requests``, ``.batch.rows``, ``.batch.offset`` (where this request's rows
start), and ``orchestrouter.queue_wait_ms`` (how long the request queued before the run).
Batch sizes are counted once per run, through the batcher's on_batch hook. Every name (and the
hop.duration histogram the router records too) comes from ``orchestrouter.runtime.semconv``.
"""

from __future__ import annotations

import secrets

from opentelemetry import metrics, trace

from orchestrouter.runtime import semconv, telemetry
from orchestrouter.scorer.batcher import BatchRun


class RunTelemetry:
    """RunTelemetry: records each ONNX run in the traces and metrics of the requests it served."""

    def __init__(self) -> None:
        meter = metrics.get_meter(semconv.SCORER_METER)
        self._tracer = trace.get_tracer(semconv.SCORER_METER)
        self._batch_requests = semconv.create_histogram(meter, semconv.METRIC_SCORE_BATCH_REQUESTS)
        self._batch_rows = semconv.create_histogram(meter, semconv.METRIC_SCORE_BATCH_ROWS)
        self._hop = semconv.create_histogram(meter, semconv.METRIC_HOP_DURATION)
        # Batch ids count per process; the prefix keeps replicas' ids apart in one Jaeger.
        self._instance = secrets.token_hex(4)

    def on_batch(self, requests: int, rows: int) -> None:
        self._batch_requests.record(requests)
        self._batch_rows.record(rows)

    def on_scored(self, run: BatchRun, request_rows: int) -> None:
        """Called in the request's own context once its scores are back."""
        queue_ms = (run.start_ns - run.enqueued_ns) / 1e6
        run_ms = (run.end_ns - run.start_ns) / 1e6
        self._hop.record(queue_ms, {semconv.HOP: semconv.HOP_SCORER_QUEUE})
        self._hop.record(run_ms, {semconv.HOP: semconv.HOP_SCORER_ONNX_RUN})
        if not telemetry.in_trace():
            return  # tracing off (or this request untraced): the span would be dropped unseen
        span = self._tracer.start_span(
            semconv.SPAN_SCORER_ONNX_RUN,
            start_time=run.start_ns,
            attributes={
                semconv.BATCH_ID: f"{self._instance}-{run.batch_id}",
                semconv.BATCH_REQUESTS: run.requests,
                semconv.BATCH_ROWS: run.rows,
                semconv.BATCH_OFFSET: run.offset,
                semconv.SCORE_ROWS: request_rows,
                semconv.QUEUE_WAIT_MS: queue_ms,
            },
        )
        span.end(end_time=run.end_ns)
