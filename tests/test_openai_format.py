"""openai_format: OpenAI chat JSON <-> the router's domain objects, both ways, and its shape errors."""

from __future__ import annotations

import json

import pytest

from orchestrouter.router import openai_format as fmt
from orchestrouter.router.model import (
    ChatTurn,
    ContentPart,
    Decision,
    GenerationParams,
    RouteResult,
    StreamDelta,
    Timings,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from orchestrouter.router.validation import build_route_input
from orchestrouter.runtime.errors import InvalidArgument

CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
FULL_REQUEST = {
    "model": "orchestrouter-auto",
    "messages": [
        {"role": "developer", "content": "Answer in French.", "name": "rules"},
        {
            "role": "user",
            "name": "alice",
            "content": [{"type": "text", "text": "What is in"}, IMAGE, AUDIO, {"type": "text", "text": "this?"}],
        },
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "content": "18C", "tool_call_id": "call_1"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "d", "parameters": {"type": "object"}, "strict": True},
        }
    ],
    "tool_choice": "required",
    "parallel_tool_calls": True,
    "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": {"maxItems": 3}}},
    "temperature": 0.2,
    "top_p": 1,
    "max_tokens": 10,
    "max_completion_tokens": 20,
    "stop": ["\n\n"],
    "seed": -3,
    "n": 1,
    "logprobs": True,
    "top_logprobs": 5,
    "presence_penalty": 1,
    "frequency_penalty": -1,
    "logit_bias": {"1": -100, "2": 0.5},
    "user": "u",
    "reasoning_effort": "high",
    "metadata": {"a": "b"},
    "service_tier": "auto",
    "stream": True,
    "stream_options": {"include_usage": True},
}


def test_a_full_request_maps_to_the_domain_and_back_unchanged():
    request = fmt.chat_request_from_openai(FULL_REQUEST)
    assert (request.model, request.stream, request.include_usage) == ("orchestrouter-auto", True, True)
    user = request.messages[1]
    assert user.name == "alice" and user.parts[1] == ContentPart.opaque(IMAGE) and user.parts[2].data is AUDIO
    assert request.messages[2].tool_calls == (ToolCall("call_1", "get_weather", '{"city":"Paris"}'),)
    assert request.params.extra == {"metadata": {"a": "b"}, "service_tier": "auto"}

    inp = build_route_input(request.messages, None, None, False, request.params, 1000)
    assert inp.query == "What is in\nthis?"  # text parts joined; image and audio not scored

    framing = {"model", "messages", "stream", "stream_options"}
    back = {**fmt.params_to_openai(request.params), "messages": fmt.messages_to_openai(request.messages)}
    assert back == {k: v for k, v in FULL_REQUEST.items() if k not in framing - {"messages"}}
    assert json.dumps(back["response_format"]) == json.dumps(FULL_REQUEST["response_format"])  # 3, not 3.0


def test_a_single_stop_string_and_nulls_are_read_as_openai_means_them():
    params = fmt.params_from_openai({"stop": "END", "temperature": None, "tools": None, "metadata": None})
    assert params == GenerationParams(stop=("END",))


def test_unknown_message_fields_are_ignored():
    # What an SDK's response message holds when a caller appends it to the chat as it is.
    turns = fmt.messages_from_openai([{"role": "assistant", "content": "hi", "refusal": None, "annotations": []}])
    assert turns == [ChatTurn(role="assistant", content="hi")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "request body must be an object"),
        ({"messages": "hi"}, "messages must be an array, got str"),
        ({"messages": [{"content": "hi"}]}, "messages[0].role must be a string, got null"),
        (
            {"messages": [{"role": "user", "content": 5}]},
            "messages[0].content must be a string or a non-empty array of content parts, got int",
        ),
        ({"messages": [{"role": "user", "content": []}]}, "non-empty array of content parts"),
        ({"messages": [{"role": "user", "content": [{"text": "x"}]}]}, "messages[0].content[0].type must be a string"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text"),
        ({"messages": [{"role": "user", "name": 3, "content": "x"}]}, "messages[0].name must be a string"),
        (
            {"messages": [{"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f", "arguments": {}}}]}]},
            "messages[0].tool_calls[0].function.arguments must be a string, got dict",
        ),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]}, "tool_calls[0].function must be an"),
        ({"messages": [], "tools": [{"type": "custom", "custom": {}}]}, 'tools[0].type must be "function"'),
        ({"messages": [], "tools": [{"type": "function", "function": {}}]}, "tools[0].function.name must be a string"),
        ({"messages": [], "tools": [{"type": "function", "function": {"name": "f", "parameters": 1}}]}, "parameters"),
        ({"messages": [], "tool_choice": {"type": "function"}}, "tool_choice.function must be an object"),
        ({"messages": [], "tool_choice": 3}, "tool_choice must be an object"),
        ({"messages": [], "response_format": {"type": "json_schema"}}, "response_format.json_schema must be an"),
        ({"messages": [], "temperature": "hot"}, "temperature must be a number, got str"),
        ({"messages": [], "max_tokens": True}, "max_tokens must be an integer, got bool"),
        ({"messages": [], "n": 1.5}, "n must be an integer, got float"),
        ({"messages": [], "logprobs": 1}, "logprobs must be true or false"),
        ({"messages": [], "logit_bias": {"1": "x"}}, "logit_bias['1'] must be a number"),
        ({"messages": [], "stop": [1]}, "stop[0] must be a string"),
        ({"messages": [], "stream_options": {"include_usage": "yes"}}, "stream_options.include_usage must be true"),
    ],
)
def test_a_malformed_request_names_the_field(body, message):
    with pytest.raises(InvalidArgument) as info:
        fmt.chat_request_from_openai(body)
    assert message in str(info.value)


def test_json_from_text_reads_a_json_object():
    assert fmt.json_object_from_text('{"a": [1, 2.5]}', "x") == {"a": [1, 2.5]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "x is not valid JSON"),
        ("[1]", "x must be a JSON object, got list"),
        ('{"a": Infinity}', "Infinity is not a JSON value"),
        ("[" * 50_000, "nested too deeply"),
        (b"\xff", "x is not valid JSON"),
    ],
)
def test_json_from_text_refuses_what_is_not_strict_json(text, message):
    with pytest.raises(InvalidArgument) as info:
        fmt.json_object_from_text(text, "x")
    assert message in str(info.value)


# --- endpoint answers ----------------------------------------------------------------------------------


def test_an_answer_with_tool_calls_and_logprobs_is_read():
    logprobs = {"content": [{"token": "a", "logprob": -0.5}]}
    data = {
        "model": "m-2024",
        "choices": [
            {
                "message": {"role": "assistant", "content": None, "tool_calls": [CALL]},
                "finish_reason": "tool_calls",
                "logprobs": logprobs,
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
    }
    answer = fmt.parse_answer(json.dumps(data).encode(), "fallback")
    assert answer == fmt.ChatAnswer(
        text="",
        finish_reason="tool_calls",
        usage=fmt.TokenUsage(3, 4),
        model="m-2024",
        tool_calls=(ToolCall("call_1", "get_weather", '{"city":"Paris"}'),),
        logprobs=logprobs,
    )


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 50_000,
        b'{"choices": [{"message": {"content": 5}}]}',
        b'{"choices": [{"message": {"content": "x", "tool_calls": [{"id": "c"}]}}]}',
        b'{"choices": [{"message": {"content": "x", "tool_calls": 3}}]}',
    ],
)
def test_a_malformed_answer_is_the_endpoints_failure(data):
    with pytest.raises(fmt.MalformedAnswer):
        fmt.parse_answer(data, "m")


def test_stream_chunks_with_tool_call_pieces_are_read():
    head = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    chunk = fmt.parse_chunk(json.dumps({"choices": [{"delta": {"tool_calls": [head]}, "finish_reason": None}]}))
    assert chunk.delta == StreamDelta(tool_calls=(ToolCallDelta(0, "call_1", "get_weather", ""),))
    assert chunk.starts_answer
    piece = fmt.parse_chunk(
        '{"choices": [{"delta": {"tool_calls": [{"index": 1, "function": {"arguments": "{\\""}}]}}]}'
    )
    assert piece.delta.tool_calls == (ToolCallDelta(1, arguments='{"'),)
    role_only = fmt.parse_chunk('{"choices": [{"delta": {"role": "assistant", "content": ""}}]}')
    assert not role_only.starts_answer
    unindexed = fmt.parse_chunk('{"choices": [{"delta": {"tool_calls": [{"id": "a"}, {"id": "b"}]}}]}')
    assert [(d.index, d.id) for d in unindexed.delta.tool_calls] == [(0, "a"), (1, "b")]
    with pytest.raises(fmt.MalformedAnswer):
        fmt.parse_chunk('{"choices": [{"delta": {"tool_calls": [{"index": "first"}]}}]}')


# --- rendering for an OpenAI caller -------------------------------------------------------------------


def test_a_tool_call_answer_renders_with_null_content():
    result = RouteResult(
        decision=Decision(tier="small", model="small-model", win_probability=0.2, threshold=0.5),
        timings=Timings(),
        finish_reason="tool_calls",
        usage=Usage(prompt_tokens=2, completion_tokens=3),
        tool_calls=(ToolCall("call_1", "get_weather", '{"city":"Paris"}'),),
    )
    body = fmt.completion_to_openai(result, "chatcmpl-1", 1700000000, "small-model")
    assert body == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "small-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [CALL]},
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5},
    }


@pytest.mark.parametrize(
    "delta",
    [
        StreamDelta(text="Hello"),
        StreamDelta(tool_calls=(ToolCallDelta(0, "call_1", "get_weather"),)),
        StreamDelta(tool_calls=(ToolCallDelta(0, arguments='{"ci'), ToolCallDelta(1, "call_2", "f", "{}"))),
        StreamDelta(text=" world", logprobs={"content": [{"token": " world", "logprob": -0.1}]}),
    ],
)
def test_a_rendered_chunk_reads_back_as_the_same_delta(delta):
    chunk = fmt.chunk_to_openai("c", 1, "m", delta=fmt.delta_to_openai(delta), logprobs=delta.logprobs)
    assert chunk["object"] == "chat.completion.chunk" and chunk["choices"][0]["finish_reason"] is None
    assert fmt.parse_chunk(json.dumps(chunk)).delta == delta


def test_the_usage_chunk_has_no_choices():
    chunk = fmt.chunk_to_openai("c", 1, "m", usage=Usage(prompt_tokens=1, completion_tokens=2))
    assert chunk["choices"] == [] and chunk["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
