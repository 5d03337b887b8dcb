"""Fuzzing the HTTP front door: whatever body a caller sends (any JSON, chat-shaped JSON with odd
values in every field, bytes that are not JSON), the answer is a status an OpenAI client can act on,
in OpenAI's error shape when it is an error, never a 500, and the router logs no traceback."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.frontdoor import HTTP_LISTEN, base_url

ALLOWED = {200, 400, 403, 404, 413, 429, 503, 504}
FUZZ = settings(
    max_examples=60, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
roles = st.sampled_from(["user", "system", "assistant", "tool", "developer", "robot", ""]) | st.text(max_size=5)
parts = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image_url", "x"]) | json_values}, optional={"text": json_values}
    ),
    max_size=3,
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": roles}, optional={"content": st.text(max_size=40) | parts | json_values, "name": json_values}
    )
    | json_values,
    max_size=4,
)
FIELDS = (
    "model temperature top_p max_tokens max_completion_tokens stop seed n stream stream_options tools tool_choice "
    "response_format logprobs top_logprobs presence_penalty logit_bias user orchestrouter parallel_tool_calls"
).split()
chat_bodies = st.fixed_dictionaries(
    {"messages": messages},
    optional={name: json_values | st.sampled_from(["orchestrouter-auto", "small-model"]) for name in FIELDS},
)

# Nearly valid: one user message, and fields that are mostly in range, so requests reach the endpoint.
nearly_valid = st.fixed_dictionaries(
    {
        "messages": st.lists(
            st.fixed_dictionaries({"role": st.just("user"), "content": st.text(min_size=1)}), min_size=1
        )
    },
    optional={
        "model": st.sampled_from(["orchestrouter-auto", "small-model", "premium-model", "gpt-17"]),
        "stream": st.booleans(),
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
        "temperature": st.floats(0, 2),
        "max_tokens": st.integers(-1, 100),
        "orchestrouter": st.fixed_dictionaries({}, optional={"threshold": st.floats(-1, 2) | json_values}),
    },
)


def check(response: httpx.Response) -> None:
    assert response.status_code in ALLOWED, (response.status_code, response.text[:500])
    if response.status_code != 200:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"]


@pytest.fixture
def no_tracebacks(caplog):
    caplog.set_level(logging.WARNING)
    yield
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]


def _post(client: httpx.Client, data: bytes) -> httpx.Response:
    return client.post("/chat/completions", content=data, headers={"content-type": "application/json"})


def test_fuzzed_bodies_never_crash_the_front_door(stack, no_tracebacks):
    door = stack(http_listen=HTTP_LISTEN)
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=base_url(door.router), timeout=20) as client:

        @FUZZ
        @given(body=nearly_valid | json_values | chat_bodies)
        def any_json(body):
            response = _post(client, json.dumps(body, allow_nan=True).encode())
            check(response)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        @FUZZ
        @given(data=st.binary(max_size=200))
        def any_bytes(data):
            check(_post(client, data))

        any_json()
        any_bytes()
    # The sample reached both outcomes: answers and refusals.
    assert statuses.get(200, 0) > 0 and statuses.get(400, 0) > 0, statuses
