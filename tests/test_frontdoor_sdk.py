"""The OpenAI-compatible front door driven by the official `openai` Python SDK (only base_url and
api_key set): plain and streamed completions, models, tier pinning, the dial, a tool call round trip
(plain and streamed), JSON mode, and each decision header, over a real router whose tiers are
FakeOpenAI endpoints."""

from __future__ import annotations

import json

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from tests.support.dispatch_stack import WIN_PROBABILITY
from tests.support.frontdoor import HTTP_LISTEN, decision_headers, sdk_client
from tests.support.pair import QUESTION

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": QUESTION}]


@pytest.fixture
def door(stack):
    """A stack whose router also serves the front door; premium answers by default (p = 0.9)."""
    return stack(http_listen=HTTP_LISTEN)


def test_a_plain_completion_is_routed_and_carries_the_decision(door):
    client = sdk_client(door.router)
    raw = client.chat.completions.with_raw_response.create(model="orchestrouter-auto", messages=USER)
    completion = raw.parse()
    assert completion.choices[0].message.content == door.premium.answer_text()
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "premium-model"
    prompt, answer = door.premium.usage_for(QUESTION)
    usage = completion.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (prompt, answer)
    headers = decision_headers(raw.headers)
    assert headers["x-orchestrouter-tier"] == "premium"
    assert headers["x-orchestrouter-model"] == "premium-model"
    assert float(headers["x-orchestrouter-win-probability"]) == pytest.approx(WIN_PROBABILITY, abs=1e-3)
    assert float(headers["x-orchestrouter-threshold"]) == pytest.approx(0.2)
    assert headers["x-orchestrouter-fell-back"] == "false"
    assert headers["x-orchestrouter-degraded"] == "false"
    assert headers["x-orchestrouter-request-id"] == completion.id
    assert headers["x-orchestrouter-router-version"] == completion.system_fingerprint != ""
    # The endpoint got the tier's model and key, never the caller's.
    sent = door.premium.requests[-1]
    assert sent.body["model"] == "premium-model" and sent.body["messages"] == USER
    assert "unused-key" not in sent.headers["authorization"]


def test_a_streamed_completion_ends_with_the_usage_chunk_and_done(door):
    client = sdk_client(door.router)
    raw = client.chat.completions.with_raw_response.create(
        model="orchestrouter-auto", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    headers = decision_headers(raw.headers)
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert {c.id for c in chunks} == {headers["x-orchestrouter-request-id"]}
    assert {c.model for c in chunks} == {"premium-model"}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == door.premium.answer_text()
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage is not None
    assert usage_chunk.usage.total_tokens == sum(door.premium.usage_for(QUESTION))


def test_a_stream_without_include_usage_has_no_usage_chunk(door):
    client = sdk_client(door.router)
    chunks = list(client.chat.completions.create(model="orchestrouter-auto", messages=USER, stream=True))
    assert all(c.choices and c.usage is None for c in chunks)


def test_models_lists_the_router_and_both_tiers_and_a_tier_model_pins_its_tier(door):
    client = sdk_client(door.router)
    assert [m.id for m in client.models.list()] == ["orchestrouter-auto", "small-model", "premium-model"]
    raw = client.chat.completions.with_raw_response.create(model="small-model", messages=USER)
    assert raw.parse().choices[0].message.content == door.small.answer_text()
    headers = decision_headers(raw.headers)
    assert headers["x-orchestrouter-tier"] == headers["x-orchestrouter-routed-tier"] == "small"
    # The score is still reported: what the router would have chosen.
    assert float(headers["x-orchestrouter-win-probability"]) == pytest.approx(WIN_PROBABILITY, abs=1e-3)


def test_an_unknown_model_is_openais_model_not_found(door):
    with pytest.raises(openai.NotFoundError) as err:
        sdk_client(door.router).chat.completions.create(model="gpt-17", messages=USER)
    assert err.value.code == "model_not_found"
    assert err.value.param == "model"
    assert "gpt-17" in err.value.message and "orchestrouter-auto" in err.value.message
    assert door.small.calls == door.premium.calls == 0


def test_the_dial_is_set_by_header_or_extra_body(door):
    client = sdk_client(door.router)
    by_body = client.chat.completions.with_raw_response.create(
        model="orchestrouter-auto", messages=USER, extra_body={"orchestrouter": {"threshold": 0.95}}
    )
    assert decision_headers(by_body.headers)["x-orchestrouter-tier"] == "small"
    assert float(by_body.headers["x-orchestrouter-threshold"]) == pytest.approx(0.95)
    by_header = client.chat.completions.with_raw_response.create(
        model="orchestrouter-auto", messages=USER, extra_headers={"x-orchestrouter-threshold": "0.95"}
    )
    assert by_header.headers["x-orchestrouter-tier"] == "small"
    # What only the router reads never reaches the endpoint.
    assert "orchestrouter" not in door.small.requests[0].body


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ({"extra_body": {"orchestrouter": {"threshold": 1.5}}}, "threshold must be in [0, 1]"),
        ({"extra_headers": {"x-orchestrouter-premium-share": "lots"}}, "must be a number"),
        ({"extra_body": {"orchestrouter": {"threshold": 0.5, "premium_share": 0.1}}}, "not both"),
        ({"extra_body": {"orchestrouter": {"tier": "premium"}}}, "orchestrouter.tier is not known"),
        ({"temperature": 9}, "temperature must be in [0, 2]"),
    ],
)
def test_a_bad_dial_or_parameter_is_a_bad_request(door, extra, fragment):
    with pytest.raises(openai.BadRequestError) as err:
        sdk_client(door.router).chat.completions.create(model="orchestrouter-auto", messages=USER, **extra)
    assert err.value.status_code == 400 and fragment in err.value.message
    assert err.value.type == "invalid_request_error"
    assert door.small.calls == door.premium.calls == 0


TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Looks a fact up.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        },
    }
]


def test_a_tool_call_round_trip(door):
    client = sdk_client(door.router)
    raw = client.chat.completions.with_raw_response.create(model="orchestrouter-auto", messages=USER, tools=TOOLS)
    decision_headers(raw.headers)
    first = raw.parse().choices[0]
    assert first.finish_reason == "tool_calls" and first.message.content is None
    assert first.message.tool_calls is not None
    (call,) = first.message.tool_calls
    assert call.type == "function" and call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"query": QUESTION}
    # As an SDK user does it: the assistant message object itself goes back, then the tool's result.
    messages: list[ChatCompletionMessageParam] = [
        *USER,
        first.message,  # type: ignore[list-item]
        {"role": "tool", "tool_call_id": call.id, "content": "forty-two"},
    ]
    final = client.chat.completions.create(model="orchestrouter-auto", messages=messages, tools=TOOLS)
    assert final.choices[0].message.content == "premium: the tool said forty-two"
    assert final.choices[0].finish_reason == "stop"
    sent = door.premium.requests[-1].body
    assert sent["tools"] == TOOLS
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.id
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": call.id, "content": "forty-two"}


def test_a_streamed_tool_call_arrives_as_openai_streams_it(door):
    chunks = list(
        sdk_client(door.router).chat.completions.create(
            model="orchestrouter-auto", messages=USER, tools=TOOLS, stream=True
        )
    )
    deltas = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert deltas[0].id and deltas[0].function is not None and deltas[0].function.name == "lookup"
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function is not None)
    assert len(deltas) > 2 and json.loads(arguments) == {"query": QUESTION}
    assert {d.index for d in deltas} == {0}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_json_mode_passes_through(door):
    client = sdk_client(door.router)
    raw = client.chat.completions.with_raw_response.create(
        model="orchestrouter-auto", messages=USER, response_format={"type": "json_object"}, seed=7
    )
    decision_headers(raw.headers)
    assert json.loads(raw.parse().choices[0].message.content or "") == {"answer": "42", "from": "premium"}
    sent = door.premium.requests[-1].body
    assert sent["response_format"] == {"type": "json_object"} and sent["seed"] == 7


def test_models_retrieve_answers_served_names_only(door):
    client = sdk_client(door.router)
    assert client.models.retrieve("premium-model").id == "premium-model"
    assert client.models.retrieve("orchestrouter-auto").owned_by == "orchestrouter"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-17")
