"""The scorer's telemetry as a separate process: micro-batched ONNX runs in each request's trace,
and everything buffered flushed to the collector on SIGTERM.

Export delays are a minute here, so what the receiver holds after the process exits can only
have come from the flush at shutdown.
"""

from __future__ import annotations

import secrets
from collections import defaultdict

import grpc
import numpy as np
import pytest

from orchestrouter.tools.launcher import start
from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc
from tests.support.models import linear_model
from tests.support.otlp_receiver import INTERNAL, SERVER, OtlpReceiver

SCORER = "orchestrouter-scorer"
SCORE = "/orchestrouter.v1.ScorerService/Score"
CALLERS = 4


@pytest.fixture(scope="module")
def batched(tmp_path_factory):
    """CALLERS concurrent Score requests, each in its own trace, then SIGTERM; the receiver and the
    callers' (trace id, span id) pairs."""
    receiver = OtlpReceiver().start()
    model = linear_model(
        tmp_path_factory.mktemp("telemetry") / "random.onnx",
        u=np.random.default_rng(3).normal(0, 0.1, 256).astype(np.float32),
    )
    scorer = start(
        "serve-scorer",
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_BSP_SCHEDULE_DELAY": "60000",
            "OTEL_METRIC_EXPORT_INTERVAL": "60000",
            "OTEL_SERVICE_NAME": "",
            "OTEL_RESOURCE_ATTRIBUTES": "",
            "OTEL_SDK_DISABLED": "false",
            "ORCHESTROUTER_SCORER_LISTEN": "127.0.0.1:0",
            "ORCHESTROUTER_SCORER_MODEL": str(model),
            # Long enough that requests sent together share a run.
            "ORCHESTROUTER_SCORER_BATCH_MAX_WAIT_MS": "200",
        },
        name="scorer",
    )
    try:
        callers = [(secrets.token_hex(16), secrets.token_hex(8)) for _ in range(CALLERS)]
        with grpc.insecure_channel(scorer.target) as channel:
            stub = scorer_pb2_grpc.ScorerServiceStub(channel)
            calls = []
            for i, (trace_id, span_id) in enumerate(callers):
                rows = 1 + i % 2
                data = np.random.default_rng(i).normal(0, 1, (rows, 256)).astype("<f4")
                request = scorer_pb2.ScoreRequest(
                    embeddings=scorer_pb2.EmbeddingBatch(data=data.tobytes(), rows=rows, dim=256)
                )
                calls.append(
                    stub.Score.future(request, timeout=10, metadata=[("traceparent", f"00-{trace_id}-{span_id}-01")])
                )
            for call in calls:
                call.result()
        exported_while_running = list(receiver.spans)
        assert scorer.stop(30) == 0, "\n".join(scorer.log_lines[-20:])
        yield receiver, callers, exported_while_running
    finally:
        scorer.stop(5)
        receiver.stop()


def test_spans_wait_for_the_batch_delay_and_sigterm_flushes_them(batched):
    receiver, callers, exported_while_running = batched
    assert not exported_while_running, "with a one-minute batch delay nothing leaves before shutdown"
    traces = {trace_id for trace_id, _ in callers}
    spans = receiver.wait_for(
        lambda r: {s.trace_id for s in r.spans if s.name == "scorer.onnx_run"} >= traces and r.spans, timeout_s=5
    )
    assert {s.service for s in spans} == {SCORER}
    points = receiver.wait_for(
        lambda r: [p for p in r.points if p.metric == "orchestrouter.score.batch.requests"], timeout_s=5
    )
    assert sum(p.value for p in points) >= 1, "the last metrics collection was exported at shutdown too"


def test_each_request_trace_holds_the_onnx_run_that_served_it(batched):
    receiver, callers, _ = batched
    runs_by_batch = defaultdict(list)
    for trace_id, caller_span_id in callers:
        spans = receiver.trace(trace_id)
        (server,) = [s for s in spans if (s.name, s.kind) == (SCORE, SERVER)]
        assert server.parent_span_id == caller_span_id
        (run,) = [s for s in spans if (s.name, s.kind) == ("scorer.onnx_run", INTERNAL)]
        assert run.parent_span_id == server.span_id
        assert server.start_ns <= run.start_ns <= run.end_ns <= server.end_ns
        runs_by_batch[run.attributes["orchestrouter.batch.id"]].append(run)

    shared = [runs for runs in runs_by_batch.values() if len(runs) > 1]
    assert shared, f"requests sent together share an ONNX run: {dict(runs_by_batch)}"
    for runs in runs_by_batch.values():
        # One run, seen from each request it served: same times, same size, its own rows.
        assert len({(r.start_ns, r.end_ns) for r in runs}) == 1
        assert {r.attributes["orchestrouter.batch.requests"] for r in runs} >= {len(runs)}
        offsets = sorted(
            (r.attributes["orchestrouter.batch.offset"], r.attributes["orchestrouter.score.rows"]) for r in runs
        )
        assert all(a + rows <= b for (a, rows), (b, _) in zip(offsets, offsets[1:], strict=False)), (
            "rows do not overlap"
        )
        assert offsets[-1][0] + offsets[-1][1] <= runs[0].attributes["orchestrouter.batch.rows"]
