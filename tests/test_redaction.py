"""Redaction: an endpoint that echoes the request's Authorization header in a 400 body leaks no key.

The router runs as a process (its log filter is installed by its main()), exporting spans to an
OTLP receiver in the test; both tiers answer 400 with the request headers in the error message.
The key must appear in none of: the caller's status details, the router's output (log lines and
the decision log, which goes to stdout here) and the exported spans. One tier's key comes from
the environment, the other's from a file, so both ways a key is configured are covered.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from orchestrouter.runtime import redaction
from orchestrouter.runtime.redaction import MASK, LogRedactionFilter, Redactor
from orchestrouter.runtime.span_redaction import RedactingSpanExporter
from orchestrouter.tools.launcher import start_pair
from orchestrouter.v1 import router_pb2, router_pb2_grpc
from tests.support.fake_openai import FakeOpenAI, Fault
from tests.support.otlp_receiver import OtlpReceiver

ENV_KEY = "sk-env-" + secrets.token_hex(12)
FILE_KEY = "file-key-" + secrets.token_hex(12)  # not shaped like a key: only registration masks it


def test_the_redactor_masks_registered_secrets_and_credential_shapes_only():
    r = Redactor(["a-registered-secret-1234", "unused"])
    out = r.redact("x a-registered-secret-1234 Authorization: Bearer abcdefgh12345678 sk-live-0123456789ab unused")
    assert "a-registered-secret-1234" not in out and "abcdefgh12345678" not in out and "0123456789ab" not in out
    assert out.count(MASK) == 3 and "Bearer [REDACTED]" in out
    assert "unused" in out, "placeholders too short to be secrets are left alone"
    assert r.redact("task-management and disk-usage") == "task-management and disk-usage"


def test_the_shape_prefilter_lets_through_every_spelling_the_regex_matches():
    # Redactor.redact skips the regex when none of _SHAPE_HINTS is in the casefolded text: every
    # character the regex takes (ignoring case) for a letter of "bearer", "basic" or "sk" must keep
    # the text from being skipped.
    every_char = "".join(map(chr, range(sys.maxunicode + 1)))
    for word in ("Bearer", "Basic", "sk"):
        for position, letter in enumerate(word):
            for char in set(re.findall(re.escape(letter), every_char, re.IGNORECASE)) - {letter}:
                variant = word[:position] + char + word[position + 1 :]
                text = f"{variant}-abcdefgh12345678" if word == "sk" else f"{variant} abcdefgh12345678"
                assert redaction._SHAPES.search(text), text
                assert "abcdefgh12345678" not in Redactor().redact(text), f"{variant!r} ({ord(char):#x}) was not masked"


def test_the_log_filter_masks_and_keeps_each_record_on_one_line(caplog):
    logger = logging.getLogger("test.redaction")
    caplog.handler.addFilter(LogRedactionFilter(Redactor(["the-secret-value-42"])))
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("endpoint said %s", "the-secret-value-42\n2026-01-01 ERROR forged line")
    (record,) = caplog.records
    assert "the-secret-value-42" not in caplog.text
    assert "\n2026" not in record.getMessage() and "\\n2026" in record.getMessage()


def test_the_process_redactor_is_what_errors_use():
    redaction.register_secrets("registered-in-this-process-77")
    assert "registered-in-this-process-77" not in redaction.redact("key registered-in-this-process-77")


@pytest.fixture
def echoing_stack(tmp_path, loop_thread, random_model):
    receiver = OtlpReceiver().start()
    endpoint = loop_thread.run(FakeOpenAI("endpoint").start())
    endpoint.always(Fault.echo_headers(400))
    key_file = tmp_path / "premium.key"
    key_file.write_text(FILE_KEY)
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_SDK_DISABLED": "false",
    }
    try:
        pair = start_pair(
            {"ORCHESTROUTER_SCORER_MODEL": str(random_model)},
            {
                **otel,
                "ORCHESTROUTER_SMALL_BASE_URL": endpoint.base_url,
                "ORCHESTROUTER_PREMIUM_BASE_URL": endpoint.base_url,
                "ORCHESTROUTER_SMALL_API_KEY": ENV_KEY,
                "ORCHESTROUTER_PREMIUM_API_KEY_FILE": str(key_file),
                "ORCHESTROUTER_DECISION_LOG": "stdout",
            },
        )
        try:
            yield receiver, endpoint, pair
        finally:
            pair.stop(10)
    finally:
        loop_thread.run(endpoint.stop())
        receiver.stop()


def route(target: str, threshold: float) -> grpc.RpcError:
    request = router_pb2.RouteRequest(
        messages=[router_pb2.ChatMessage(role="user", content="hello")], threshold=threshold
    )
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as caught:
        router_pb2_grpc.RouterServiceStub(channel).Route(request, timeout=30)
    return caught.value


def test_an_echoed_key_reaches_no_reply_log_line_span_or_decision_log(echoing_stack):
    receiver, endpoint, pair = echoing_stack
    # threshold 0 routes premium first (the file key), 1 routes small first (the environment key).
    errors = [route(pair.router.target, 0.0), route(pair.router.target, 1.0)]
    sent = {r.headers.get("authorization") for r in endpoint.requests}
    assert sent == {f"Bearer {ENV_KEY}", f"Bearer {FILE_KEY}"}, "the endpoint did see (and echo) both keys"

    for error in errors:
        details = error.details() or ""
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, details
        assert "refused the request (400)" in details and MASK in details
        assert ENV_KEY not in details and FILE_KEY not in details

    def attempts_failed(r: OtlpReceiver):
        failed = [s for s in r.spans if s.name == "dispatch.attempt" and "refused the request" in s.text]
        # One attempt per request: a rejected request (400) is not sent to the other tier.
        return failed if len(failed) >= 2 else None

    spans = receiver.wait_for(attempts_failed)
    assert not [s.name for s in receiver.spans if ENV_KEY in s.text or FILE_KEY in s.text]
    assert all(MASK in s.text for s in spans)

    pair.stop(10)
    output = "\n".join(pair.router.log_lines)
    assert output.count('"status":"INVALID_ARGUMENT"') == 2, "both requests are in the decision log"
    assert "refused the request (400)" in output and MASK in output, "the lines quoting the endpoint are there"
    assert ENV_KEY not in output and FILE_KEY not in output


def test_exported_spans_are_redacted_whoever_recorded_them():
    secret = "span-secret-" + secrets.token_hex(8)
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(memory, Redactor([secret]))))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("leaky", attributes={"peer.said": f"key {secret}", "n": 3}) as span:
        span.add_event("echo", {"body": "Authorization: Bearer abcdefghijklmnop", "list": [secret, "ok"]})
        span.set_status(Status(StatusCode.ERROR, f"endpoint refused {secret}"))
    with tracer.start_as_current_span("clean", attributes={"n": 1}):
        pass
    leaky, clean = memory.get_finished_spans()
    text = repr((leaky.attributes, leaky.status.description, [(e.name, e.attributes) for e in leaky.events]))
    assert secret not in text and "abcdefghijklmnop" not in text and MASK in (leaky.status.description or "")
    assert dict(leaky.attributes or {})["n"] == 3 and leaky.status.status_code == StatusCode.ERROR
    assert dict(clean.attributes or {}) == {"n": 1}
