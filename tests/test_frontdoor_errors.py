"""The front door's failures, in OpenAI's error JSON with the right HTTP status: authentication, the
caller policy, malformed and oversized requests, unknown paths, rate limits; and fallback, degraded
scoring and a stream cut mid-answer behaving as on gRPC."""

from __future__ import annotations

import json
import threading
import time

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.support.decision_lines import written_text
from tests.support.doubles import replace_file
from tests.support.fake_openai import Fault
from tests.support.frontdoor import HTTP_LISTEN, base_url, decision_headers, sdk_client
from tests.support.pair import QUESTION

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": QUESTION}]
WEB = "web-token-3f9a1c7e5b2d4680"
BATCH = "batch-token-8e6b4a2c9f135700"
WRONG = "not-a-token-of-the-file-1234"


def error_of(response: httpx.Response) -> dict:
    """The error object of an answer, checked to be exactly OpenAI's shape."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert response.headers["content-type"].startswith("application/json")
    return body["error"]


@pytest.fixture
def door(stack):
    return stack(http_listen=HTTP_LISTEN)


@pytest.fixture
def secured(stack, tmp_path):
    """A front door that requires the tokens of a file, with a policy: web may set the dial, batch may not."""
    tokens = tmp_path / "tokens"
    replace_file(tokens, f"web:{WEB}\nbatch:{BATCH}\n")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"callers": {"batch": {"allow_dial_override": False}}}))
    return stack(
        http_listen=HTTP_LISTEN,
        auth_tokens_file=str(tokens),
        caller_policy_file=str(policy),
        decision_log=str(tmp_path / "decisions.jsonl"),
    )


def test_a_wrong_or_missing_key_is_the_sdks_authentication_error(secured, tmp_path):
    with pytest.raises(openai.AuthenticationError) as err:
        sdk_client(secured.router, api_key=WRONG).chat.completions.create(model="orchestrouter-auto", messages=USER)
    assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        sdk_client(secured.router, api_key=WRONG).models.list()
    with httpx.Client(base_url=base_url(secured.router), timeout=10) as http:
        for headers in ({}, {"authorization": WEB}, {"authorization": "Basic " + WEB}):
            refused = http.post("/chat/completions", json={"messages": USER}, headers=headers)
            assert refused.status_code == 401
            assert error_of(refused)["message"] == "missing or invalid bearer token"
    assert secured.small.calls == secured.premium.calls == 0
    answer = sdk_client(secured.router, api_key=WEB).chat.completions.create(model="orchestrouter-auto", messages=USER)
    assert answer.choices[0].message.content == secured.premium.answer_text()
    # The caller's name, never its token, reaches the decision log.
    log = written_text(secured, tmp_path / "decisions.jsonl")
    assert [json.loads(line)["caller"] for line in log.splitlines()] == ["web"]
    assert WEB not in log and WRONG not in log
    # Probes need no token.
    with httpx.Client(base_url=base_url(secured.router).removesuffix("/v1")) as http:
        assert http.get("/healthz").status_code == 200 and http.get("/readyz").status_code == 200


def test_the_caller_policy_decides_who_may_set_the_dial_or_pin_a_tier(secured):
    web, batch = sdk_client(secured.router, api_key=WEB), sdk_client(secured.router, api_key=BATCH)
    dial = {"orchestrouter": {"threshold": 0.95}}
    raw = web.chat.completions.with_raw_response.create(model="orchestrouter-auto", messages=USER, extra_body=dial)
    assert raw.headers["x-orchestrouter-tier"] == "small"
    for model, extra_body in (("orchestrouter-auto", dial), ("premium-model", None)):
        with pytest.raises(openai.PermissionDeniedError) as err:
            batch.chat.completions.create(model=model, messages=USER, extra_body=extra_body)
        assert err.value.status_code == 403 and "batch may not set the routing dial" in err.value.message
    assert batch.chat.completions.create(model="orchestrouter-auto", messages=USER).choices[0].message.content


def test_malformed_requests_and_unknown_paths_get_openais_error_shape(stack):
    door = stack(http_listen=HTTP_LISTEN, max_request_bytes=4096)
    with httpx.Client(base_url=base_url(door.router), timeout=10) as http:
        bad_json = http.post(
            "/chat/completions", content=b'{"messages": [', headers={"content-type": "application/json"}
        )
        assert bad_json.status_code == 400 and "not valid JSON" in error_of(bad_json)["message"]
        not_object = http.post("/chat/completions", json=[1, 2])
        assert not_object.status_code == 400 and error_of(not_object)["type"] == "invalid_request_error"
        no_user = http.post("/chat/completions", json={"model": "orchestrouter-auto", "messages": []})
        assert no_user.status_code == 400 and "messages" in error_of(no_user)["message"]
        too_large = http.post("/chat/completions", json={"messages": [{"role": "user", "content": "x" * 8000}]})
        assert too_large.status_code == 413 and error_of(too_large)["code"] == "request_too_large"
        unknown = http.post("/completions", json={})
        assert unknown.status_code == 404 and error_of(unknown)["code"] == "not_found"
        wrong_method = http.get("/chat/completions")
        assert wrong_method.status_code == 405 and error_of(wrong_method)["code"] == "method_not_allowed"
    assert door.small.calls == door.premium.calls == 0
    # Still serving after all of that.
    assert sdk_client(door.router).chat.completions.create(model="orchestrouter-auto", messages=USER).choices


def test_a_failing_premium_tier_falls_back_to_small_and_says_so(door):
    door.premium.always(Fault.status_code(503))
    raw = sdk_client(door.router).chat.completions.with_raw_response.create(model="orchestrouter-auto", messages=USER)
    assert raw.parse().choices[0].message.content == door.small.answer_text()
    headers = decision_headers(raw.headers)
    assert (headers["x-orchestrouter-routed-tier"], headers["x-orchestrouter-tier"]) == ("premium", "small")
    assert headers["x-orchestrouter-fell-back"] == "true"
    assert "503" in headers["x-orchestrouter-fallback-reason"]
    assert raw.parse().model == "small-model"


def test_both_tiers_rate_limited_is_a_429_with_retry_after(door):
    door.premium.always(Fault.status_code(429, retry_after="30"))
    door.small.always(Fault.status_code(429, retry_after="20"))
    with pytest.raises(openai.RateLimitError) as err:
        sdk_client(door.router).chat.completions.create(model="orchestrouter-auto", messages=USER)
    assert err.value.status_code == 429 and err.value.code == "rate_limit_exceeded"
    assert err.value.response.headers["retry-after"] == "20"
    with pytest.raises(openai.RateLimitError):
        sdk_client(door.router).chat.completions.create(model="orchestrouter-auto", messages=USER, stream=True)


def test_both_tiers_down_is_a_503_before_any_stream_starts(door):
    door.premium.always(Fault.status_code(500))
    door.small.always(Fault.status_code(502))
    for stream in (False, True):
        with pytest.raises(openai.InternalServerError) as err:
            sdk_client(door.router).chat.completions.create(model="orchestrouter-auto", messages=USER, stream=stream)
        assert err.value.status_code == 503 and err.value.code == "service_unavailable"
        assert "premium endpoint answered 500" in err.value.message


def test_scoring_down_routes_degraded_and_says_so(door, loop_thread):
    loop_thread.run(door.scorer.close(0))
    raw = sdk_client(door.router).chat.completions.with_raw_response.create(model="orchestrouter-auto", messages=USER)
    assert raw.parse().choices[0].message.content == door.small.answer_text()
    headers = decision_headers(raw.headers)
    assert headers["x-orchestrouter-degraded"] == "true" and headers["x-orchestrouter-tier"] == "small"
    assert "scorer" in headers["x-orchestrouter-degraded-reason"]


def test_a_stream_cut_mid_answer_ends_with_an_error_event_never_done(door):
    door.premium.enqueue(Fault.reset(after_deltas=2))
    request = {"model": "orchestrouter-auto", "messages": USER, "stream": True}
    with httpx.Client(base_url=base_url(door.router), timeout=20) as http:
        with http.stream("POST", "/chat/completions", json=request) as response:
            assert response.status_code == 200
            decision_headers(response.headers)
            events = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert "[DONE]" not in events
    chunks = [json.loads(e) for e in events]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1])
    assert text == " ".join(door.premium.answer_words()[:2])
    error = chunks[-1]["error"]
    assert error["code"] == "service_unavailable" and "premium" in error["message"]
    # The SDK reports it as an error, never as a finished answer; no fallback after the first token.
    door.premium.enqueue(Fault.reset(after_deltas=2))
    stream = sdk_client(door.router).chat.completions.create(model="orchestrouter-auto", messages=USER, stream=True)
    with pytest.raises(openai.APIError):
        list(stream)
    assert door.small.calls == 0


def test_closing_the_router_lets_an_in_flight_http_request_finish(door, loop_thread):
    door.premium.enqueue(Fault.slow_first_token(0.5))
    outcome: dict[str, object] = {}

    def call() -> None:
        client = sdk_client(door.router)
        outcome["answer"] = client.chat.completions.create(model="orchestrouter-auto", messages=USER)

    caller = threading.Thread(target=call)
    caller.start()
    door.premium.wait_for_requests(1)
    loop_thread.run(door.router.close(5.0))
    caller.join(10)
    answer = outcome["answer"]
    assert isinstance(answer, openai.types.chat.ChatCompletion)
    assert answer.choices[0].message.content == door.premium.answer_text()
    with pytest.raises(openai.APIConnectionError):
        sdk_client(door.router).chat.completions.create(model="orchestrouter-auto", messages=USER)


def test_a_caller_that_goes_away_cancels_its_request(stack, tmp_path):
    log = tmp_path / "decisions.jsonl"
    door = stack(http_listen=HTTP_LISTEN, decision_log=str(log))
    for stream in (False, True):
        door.premium.enqueue(Fault.slow_first_token(30))
        with pytest.raises(openai.APITimeoutError):
            sdk_client(door.router, timeout=0.5).chat.completions.create(
                model="orchestrouter-auto", messages=USER, stream=stream
            )
    lines = wait_for_lines(log, 2)
    assert [(line["outcome"], line["status"]) for line in lines] == [("cancelled", "CANCELLED")] * 2
    # The router is not left holding the endpoint calls: the next request answers at once.
    answer = sdk_client(door.router, timeout=5).chat.completions.create(model="orchestrouter-auto", messages=USER)
    assert answer.choices[0].message.content == door.premium.answer_text()


def wait_for_lines(path, count: int, timeout_s: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)
    raise AssertionError(f"{path}: fewer than {count} decision-log lines after {timeout_s}s")
