"""Dispatch policies without servers: retry, circuit breaker, key rotation, Retry-After, error mapping, config."""

from __future__ import annotations

import logging
import random

import grpc
import pytest

from orchestrouter.router.config import ConfigError, RouterConfig
from orchestrouter.router.dispatch.api_key import ApiKeySource
from orchestrouter.router.dispatch.breaker import BreakerSettings, CircuitBreaker, CircuitState, Permit
from orchestrouter.router.dispatch.failures import (
    FailureKind,
    UpstreamFailure,
    from_status,
    not_configured,
    to_service_error,
)
from orchestrouter.router.dispatch.retry import RetryPolicy
from orchestrouter.router.dispatch.wire import retry_after_s
from orchestrouter.router.openai_format import parse_chunk
from tests.support.doubles import ManualClock


def failure(status: int, retry_after: float | None = None) -> UpstreamFailure:
    return from_status("premium", status, retry_after, "")


# --- retry -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, retried",
    [
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (429, True),
        (501, False),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (408, False),
    ],
)
def test_which_statuses_are_retried(status, retried):
    policy = RetryPolicy(max_retries=2)
    assert (policy.delay_before_retry(failure(status), 0, 10.0) is not None) == retried


def test_connection_errors_are_retried_and_timeouts_are_not():
    policy = RetryPolicy()
    assert policy.delay_before_retry(UpstreamFailure(FailureKind.CONNECTION, "small", "x"), 0, 10.0) is not None
    assert policy.delay_before_retry(UpstreamFailure(FailureKind.TIMEOUT, "small", "x"), 0, 10.0) is None


def test_backoff_is_jittered_exponential_and_capped():
    policy = RetryPolicy(max_retries=10, base_delay_s=0.1, max_delay_s=0.5, rng=random.Random(3))
    for n, cap in [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.5), (6, 0.5)]:
        maybe = [policy.delay_before_retry(failure(503), n, 100.0) for _ in range(200)]
        delays = [d for d in maybe if d is not None]
        assert len(delays) == len(maybe) and all(0.0 <= d <= cap for d in delays)
        # Jittered: spread over the range, not one fixed value.
        assert max(delays) > 0.8 * cap and min(delays) < 0.2 * cap


def test_retries_stop_at_max_retries():
    policy = RetryPolicy(max_retries=2)
    assert policy.delay_before_retry(failure(500), 1, 10.0) is not None
    assert policy.delay_before_retry(failure(500), 2, 10.0) is None


def test_retry_after_is_honoured_only_when_it_fits():
    policy = RetryPolicy(retry_after_max_s=5.0)
    assert policy.delay_before_retry(failure(429, 1.5), 0, 10.0) == 1.5
    assert policy.delay_before_retry(failure(429, 1.5), 0, 1.5) is None, "no time left for the call after the wait"
    assert policy.delay_before_retry(failure(429, 6.0), 0, 60.0) is None, "beyond ORCHESTROUTER_RETRY_AFTER_MAX_S"


def test_a_rejected_key_is_retried_only_when_the_key_file_changed():
    policy = RetryPolicy()
    assert policy.delay_before_retry(from_status("small", 401, None, ""), 0, 10.0) is None
    assert policy.delay_before_retry(from_status("small", 401, None, "", key_rotated=True), 0, 10.0) is not None


# --- circuit breaker ---------------------------------------------------------------------------


def breaker(clock: ManualClock, **settings) -> CircuitBreaker:
    return CircuitBreaker("premium", BreakerSettings(**settings), clock=clock)


def permit(b: CircuitBreaker) -> Permit:
    granted = b.acquire()
    assert granted is not None, "the breaker refused a call it should have let through"
    return granted


def fail(b: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        b.on_failure(permit(b))


def succeed(b: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        b.on_success(permit(b))


def test_consecutive_failures_open_the_circuit():
    clock = ManualClock()
    b = breaker(clock, consecutive_failures=3, min_calls=1000)
    fail(b, 2)
    succeed(b, 1)
    fail(b, 2)
    assert b.state is CircuitState.CLOSED, "a success resets the consecutive count"
    fail(b, 1)
    assert b.state is CircuitState.OPEN and b.acquire() is None


def test_error_rate_over_the_window_opens_the_circuit():
    clock = ManualClock()
    b = breaker(clock, consecutive_failures=100, error_rate=0.5, window_s=10.0, min_calls=10)
    for _ in range(4):
        fail(b, 1)
        succeed(b, 1)
    assert b.state is CircuitState.CLOSED, "8 calls: fewer than min_calls"
    fail(b, 1)
    assert b.state is CircuitState.CLOSED, "4 of 9 failed, still fewer than 10 calls"
    fail(b, 1)
    assert b.state is CircuitState.OPEN, "6 of 10 failed"


def test_old_calls_leave_the_window():
    clock = ManualClock()
    b = breaker(clock, consecutive_failures=100, error_rate=0.5, window_s=10.0, min_calls=4)
    fail(b, 3)
    clock.now += 11
    succeed(b, 3)
    fail(b, 1)
    assert b.state is CircuitState.CLOSED, "1 of 4 in the window failed; the 3 old failures are gone"


def test_half_open_lets_one_probe_through_and_closes_on_success():
    clock = ManualClock()
    b = breaker(clock, consecutive_failures=1, cooldown_s=5.0)
    fail(b, 1)
    clock.now += 4.9
    assert b.state is CircuitState.OPEN and b.acquire() is None
    clock.now += 0.2
    assert b.state is CircuitState.HALF_OPEN
    probe = b.acquire()
    assert probe is not None and probe.probe
    assert b.acquire() is None, "one probe at a time"
    b.on_success(probe)
    assert b.state is CircuitState.CLOSED and b.acquire() is not None


def test_a_failed_probe_reopens_for_another_cooldown():
    clock = ManualClock()
    b = breaker(clock, consecutive_failures=1, cooldown_s=5.0)
    fail(b, 1)
    clock.now += 5
    b.on_failure(permit(b))
    assert b.state is CircuitState.OPEN and b.times_opened == 2
    clock.now += 5
    assert b.state is CircuitState.HALF_OPEN


def test_a_cancelled_probe_frees_the_probe_slot():
    clock = ManualClock()
    b = breaker(clock, consecutive_failures=1, cooldown_s=1.0)
    fail(b, 1)
    clock.now += 1
    b.on_neutral(permit(b))
    assert b.state is CircuitState.HALF_OPEN and b.acquire() is not None


def test_late_results_of_calls_started_before_opening_change_nothing():
    clock = ManualClock()
    b = breaker(clock, consecutive_failures=2, cooldown_s=5.0)
    early = permit(b)
    fail(b, 2)
    b.on_success(early)
    assert b.state is CircuitState.OPEN


# --- API key file ------------------------------------------------------------------------------


def test_key_file_is_rechecked_after_the_interval(tmp_path):
    clock = ManualClock()
    path = tmp_path / "key"
    path.write_text("sk-one\n")
    source = ApiKeySource("", str(path), "ORCHESTROUTER_SMALL_API_KEY_FILE", recheck_s=1.0, clock=clock)
    assert source.current() == "sk-one"
    path.write_text("sk-two-longer\n")
    assert source.current() == "sk-one", "not re-read before the interval"
    clock.now += 1.0
    assert source.current() == "sk-two-longer"


def test_an_unreadable_or_empty_key_file_keeps_the_last_key(tmp_path, caplog):
    clock = ManualClock()
    path = tmp_path / "key"
    path.write_text("sk-good-123\n")
    source = ApiKeySource("", str(path), "ORCHESTROUTER_SMALL_API_KEY_FILE", recheck_s=0.0, clock=clock)
    path.write_text("\n")
    assert source.current() == "sk-good-123"
    path.unlink()
    with caplog.at_level(logging.WARNING):
        assert source.current() == "sk-good-123"
    assert "ORCHESTROUTER_SMALL_API_KEY_FILE" in caplog.text and "sk-good-123" not in caplog.text


def test_refresh_now_says_whether_the_key_changed(tmp_path):
    path = tmp_path / "key"
    path.write_text("sk-a")
    source = ApiKeySource("", str(path), recheck_s=3600)
    assert not source.refresh_now()
    path.write_text("sk-bb")
    assert source.refresh_now() and source.current() == "sk-bb"
    assert not ApiKeySource("sk-env").refresh_now()


# --- wire --------------------------------------------------------------------------------------


def test_retry_after_forms():
    assert retry_after_s({"retry-after": "3"}) == 3.0
    assert retry_after_s({"retry-after": "0.5"}) == 0.5
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None


def test_stream_chunks_parse_text_finish_usage_and_errors():
    assert parse_chunk('{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]}').delta.text == "Hi"
    done = parse_chunk('{"choices":[{"delta":{},"finish_reason":"length"}]}')
    assert done.finish_reason == "length" and done.delta.text == ""
    usage = parse_chunk('{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}').usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (3, 4)
    assert parse_chunk('{"error":{"message":"overloaded"}}').error == "overloaded"


# --- error mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, code",
    [
        (429, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (500, grpc.StatusCode.UNAVAILABLE),
        (401, grpc.StatusCode.UNAUTHENTICATED),
        (408, grpc.StatusCode.DEADLINE_EXCEEDED),
        (400, grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_upstream_statuses_map_to_grpc_codes(status, code):
    assert to_service_error([failure(status)]).code == code


def test_a_called_tier_decides_the_code_over_an_unconfigured_one():
    error = to_service_error([from_status("premium", 429, None, ""), not_configured("small")])
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "premium endpoint rate-limited" in str(error) and "ORCHESTROUTER_SMALL_BASE_URL" in str(error)
    assert to_service_error([not_configured("premium")]).code == grpc.StatusCode.FAILED_PRECONDITION


# --- configuration -----------------------------------------------------------------------------


def test_dispatch_settings_from_the_environment():
    c = RouterConfig.from_env(
        {
            "ORCHESTROUTER_RETRY_BASE_DELAY_S": "0.2",
            "ORCHESTROUTER_BREAKER_COOLDOWN_S": "30",
            "ORCHESTROUTER_BREAKER_CONSECUTIVE_FAILURES": "4",
            "ORCHESTROUTER_FALLBACK_RESERVE": "0.25",
            "ORCHESTROUTER_API_KEY_RECHECK_S": "0",
        }
    )
    d = c.dispatch
    assert (d.retry.base_delay_s, d.breaker.cooldown_s, d.breaker.consecutive_failures) == (0.2, 30.0, 4)
    assert (d.fallback_reserve, d.api_key_recheck_s) == (0.25, 0.0)


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"ORCHESTROUTER_FALLBACK_RESERVE": "1"}, "ORCHESTROUTER_FALLBACK_RESERVE"),
        ({"ORCHESTROUTER_BREAKER_ERROR_RATE": "0"}, "ORCHESTROUTER_BREAKER_ERROR_RATE"),
        ({"ORCHESTROUTER_BREAKER_CONSECUTIVE_FAILURES": "0"}, "ORCHESTROUTER_BREAKER_CONSECUTIVE_FAILURES"),
        ({"ORCHESTROUTER_BREAKER_MIN_CALLS": "many"}, "ORCHESTROUTER_BREAKER_MIN_CALLS must be an integer"),
        ({"ORCHESTROUTER_RETRY_MAX_DELAY_S": "0"}, "ORCHESTROUTER_RETRY_MAX_DELAY_S"),
        ({"ORCHESTROUTER_DEFAULT_DEADLINE_S": "-5"}, "ORCHESTROUTER_DEFAULT_DEADLINE_S"),
        ({"ORCHESTROUTER_PREMIUM_BASE_URL": "premium.internal:8000"}, "ORCHESTROUTER_PREMIUM_BASE_URL"),
        ({"ORCHESTROUTER_SMALL_CA_BUNDLE": "/nonexistent/ca.pem"}, "ORCHESTROUTER_SMALL_CA_BUNDLE"),
        ({"ORCHESTROUTER_FALLBACK": "sideways"}, "ORCHESTROUTER_FALLBACK"),
    ],
)
def test_dispatch_config_errors_name_the_variable(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        RouterConfig.from_env(env)
