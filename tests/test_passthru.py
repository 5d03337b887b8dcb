"""What real chat traffic carries, through the router over real gRPC to a real (fake) endpoint and back:
tools and tool calls, tool results, response_format, names, multi-part content, seed and logprobs."""

from __future__ import annotations

import json

import grpc
import pytest

from orchestrouter.v1 import router_pb2
from tests.support.dispatch_stack import with_dispatch
from tests.support.fake_openai import ARGUMENT_FRAGMENT, Fault, word_logprob
from tests.support.pair import QUESTION

PREMIUM, SMALL = router_pb2.TIER_PREMIUM, router_pb2.TIER_SMALL

# A schema with integers in it: they must reach the endpoint as integers, not 3.0.
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 3}},
    "required": ["city"],
}
WEATHER_TOOL = router_pb2.Tool(
    name="get_weather", description="The weather in a city", parameters_json=json.dumps(WEATHER_SCHEMA), strict=True
)
WEATHER_TOOL_JSON = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": WEATHER_SCHEMA,
        "strict": True,
    },
}


def user(text: str = QUESTION, **fields) -> router_pb2.ChatMessage:
    return router_pb2.ChatMessage(role="user", content=text, **fields)


def route_request(*messages: router_pb2.ChatMessage, **params) -> router_pb2.RouteRequest:
    return router_pb2.RouteRequest(messages=list(messages) or [user()], params=router_pb2.GenerationParams(**params))


def stream_request(*messages: router_pb2.ChatMessage, **params) -> router_pb2.RouteStreamRequest:
    return router_pb2.RouteStreamRequest(
        messages=list(messages) or [user()], params=router_pb2.GenerationParams(**params)
    )


def stream_events(s, request: router_pb2.RouteStreamRequest) -> list[router_pb2.RouteStreamResponse]:
    return list(s.stub.RouteStream(request, timeout=10))


def rejected(s, request: router_pb2.RouteRequest) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        s.stub.Route(request, timeout=10)
    return info.value


# --- tools -------------------------------------------------------------------------------------------


def test_tool_call_round_trip(stack):
    s = stack()
    first = s.stub.Route(route_request(tools=[WEATHER_TOOL]), timeout=10)
    assert first.finish_reason == "tool_calls" and first.answer == ""
    assert len(first.tool_calls) == 1
    call = first.tool_calls[0]
    assert (call.type, call.name) == ("function", "get_weather") and call.id
    assert json.loads(call.arguments) == {"query": QUESTION}
    sent = s.premium.requests[0].body
    assert sent["tools"] == [WEATHER_TOOL_JSON]
    assert isinstance(sent["tools"][0]["function"]["parameters"]["properties"]["days"]["minimum"], int)

    # The caller runs the tool and sends its result back with the call it answers.
    assistant = router_pb2.ChatMessage(role="assistant", tool_calls=[call])
    result = router_pb2.ChatMessage(role="tool", tool_call_id=call.id, content="18C")
    final = s.stub.Route(route_request(user(), assistant, result, tools=[WEATHER_TOOL]), timeout=10)
    assert final.finish_reason == "stop" and not final.tool_calls
    assert final.answer == "premium: the tool said 18C"
    messages = s.premium.requests[1].body["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": call.arguments}}
        ],
    }
    assert messages[2] == {"role": "tool", "content": "18C", "tool_call_id": call.id}


def test_streamed_tool_call_arrives_as_openai_streams_it(stack):
    s = stack()
    events = stream_events(s, stream_request(tools=[WEATHER_TOOL]))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "decision" and kinds[-1] == "done" and set(kinds[1:-1]) == {"delta"}
    deltas = events[1:-1]
    assert all(e.delta == "" for e in deltas)  # no text, only tool-call pieces
    pieces = [p for e in deltas for p in e.tool_calls]
    assert {p.index for p in pieces} == {0}
    assert pieces[0].id and pieces[0].name == "get_weather" and pieces[0].arguments == ""
    assert all(not p.id and not p.name for p in pieces[1:])
    arguments = "".join(p.arguments for p in pieces)
    assert json.loads(arguments) == {"query": QUESTION}
    # Each fragment the endpoint sent reached the caller as its own delta.
    assert len(pieces) - 1 == -(-len(arguments) // ARGUMENT_FRAGMENT) > 2
    done = events[-1].done
    assert done.finish_reason == "tool_calls" and not done.tool_calls and done.usage.completion_tokens > 0


def test_tool_choice_and_parallel_tool_calls_pass_through(stack):
    s = stack()
    other = router_pb2.Tool(name="get_time")
    answer = s.stub.Route(
        route_request(
            tools=[other, WEATHER_TOOL],
            tool_choice=router_pb2.ToolChoice(mode="function", function_name="get_weather"),
            parallel_tool_calls=False,
        ),
        timeout=10,
    )
    assert answer.tool_calls[0].name == "get_weather"
    sent = s.premium.requests[0].body
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False
    assert sent["tools"][0] == {"type": "function", "function": {"name": "get_time"}}

    plain = s.stub.Route(route_request(tools=[WEATHER_TOOL], tool_choice=router_pb2.ToolChoice(mode="none")))
    assert plain.answer == s.premium.answer_text() and s.premium.requests[1].body["tool_choice"] == "none"


def test_tool_calls_fall_back_to_the_other_tier(stack):
    s = stack(dispatch=with_dispatch(max_retries=0))
    s.premium.always(Fault.status_code(503))
    answer = s.stub.Route(route_request(tools=[WEATHER_TOOL]), timeout=10)
    assert answer.decision.fell_back and answer.decision.tier == SMALL
    assert answer.finish_reason == "tool_calls" and answer.tool_calls[0].id.startswith("call_small")
    assert s.premium.requests[0].body["tools"] == s.small.requests[0].body["tools"] == [WEATHER_TOOL_JSON]

    events = stream_events(s, stream_request(tools=[WEATHER_TOOL]))
    assert events[0].decision.fell_back and events[-1].done.finish_reason == "tool_calls"
    assert json.loads("".join(p.arguments for e in events[1:-1] for p in e.tool_calls)) == {"query": QUESTION}


def test_tool_calls_survive_a_retry(stack):
    s = stack(dispatch=with_dispatch(max_retries=1))
    s.premium.enqueue(Fault.status_code(500))
    answer = s.stub.Route(route_request(tools=[WEATHER_TOOL]), timeout=10)
    assert answer.decision.attempts == 2 and not answer.decision.fell_back
    assert answer.tool_calls[0].name == "get_weather"
    assert [r.body["tools"] for r in s.premium.requests] == [[WEATHER_TOOL_JSON]] * 2


def test_a_tool_call_cut_mid_stream_is_unavailable_never_a_short_call(stack):
    s = stack()
    s.premium.enqueue(Fault.truncate(after_deltas=3))  # the call's head and two argument fragments
    call = s.stub.RouteStream(stream_request(tools=[WEATHER_TOOL]), timeout=10)
    events = []
    with pytest.raises(grpc.RpcError) as info:
        for event in call:
            events.append(event)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "the answer is incomplete" in (info.value.details() or "")
    assert [e.WhichOneof("event") for e in events] == ["decision", "delta", "delta", "delta"]
    assert len("".join(p.arguments for e in events for p in e.tool_calls)) == 2 * ARGUMENT_FRAGMENT
    assert not s.small.requests, "no fallback once a piece of the call has reached the caller"


def test_a_tool_call_stream_that_fails_before_its_first_piece_falls_back(stack):
    s = stack(dispatch=with_dispatch(max_retries=0))
    s.premium.enqueue(Fault.reset(after_deltas=0))
    events = stream_events(s, stream_request(tools=[WEATHER_TOOL]))
    assert events[0].decision.fell_back and events[0].decision.tier == SMALL
    assert events[1].tool_calls[0].id.startswith("call_small") and events[-1].done.finish_reason == "tool_calls"


# --- response_format, names, parts, other parameters --------------------------------------------------


def test_json_schema_response_format_passes_through(stack):
    s = stack()
    fmt = router_pb2.ResponseFormat(
        type="json_schema", schema_name="answer", schema_json=json.dumps(WEATHER_SCHEMA), strict=True
    )
    answer = s.stub.Route(route_request(response_format=fmt), timeout=10)
    assert json.loads(answer.answer) == {"answer": "42", "from": "premium"}
    assert s.premium.requests[0].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": WEATHER_SCHEMA, "strict": True},
    }


def test_json_mode_streams_a_json_object(stack):
    s = stack()
    events = stream_events(s, stream_request(response_format=router_pb2.ResponseFormat(type="json_object")))
    text = "".join(e.delta for e in events if e.WhichOneof("event") == "delta")
    assert json.loads(text) == {"answer": "42", "from": "premium"}
    assert s.premium.requests[0].body["response_format"] == {"type": "json_object"}


def test_names_pass_through(stack):
    s = stack()
    system = router_pb2.ChatMessage(role="system", content="Be brief.", name="house_rules")
    s.stub.Route(route_request(system, user(name="alice")), timeout=10)
    assert s.premium.requests[0].body["messages"] == [
        {"role": "system", "content": "Be brief.", "name": "house_rules"},
        {"role": "user", "content": QUESTION, "name": "alice"},
    ]


def test_multi_part_content_text_scored_other_parts_untouched(stack):
    s = stack()
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K", "detail": "low"}}
    parts = [
        router_pb2.ContentPart(text="What is"),
        router_pb2.ContentPart(json=json.dumps(image)),
        router_pb2.ContentPart(text="six times seven?"),
    ]
    answer = s.stub.Route(route_request(router_pb2.ChatMessage(role="user", parts=parts)), timeout=10)
    assert answer.answer == s.premium.answer_text()
    assert s.premium.requests[0].body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is"}, image, {"type": "text", "text": "six times seven?"}],
        }
    ]
    # Only text is scored: a user message of an image alone leaves nothing to score.
    error = rejected(s, route_request(router_pb2.ChatMessage(role="user", parts=[parts[1]])))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "non-empty user message" in (error.details() or "")


def test_seed_logprobs_and_other_parameters_pass_through(stack):
    s = stack()
    params = dict(
        seed=7,
        logprobs=True,
        top_logprobs=2,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        logit_bias={"50256": -100.0, "42": 2.5},
        user="user-123",
        max_completion_tokens=64,
        reasoning_effort="low",
        extra_json=json.dumps({"metadata": {"team": "search"}, "service_tier": "flex"}),
    )
    answer = s.stub.Route(route_request(**params), timeout=10)
    sent = s.premium.requests[0].body
    assert {k: sent[k] for k in ("seed", "logprobs", "top_logprobs", "presence_penalty", "frequency_penalty")} == {
        "seed": 7,
        "logprobs": True,
        "top_logprobs": 2,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
    }
    assert sent["logit_bias"] == {"50256": -100, "42": 2.5} and isinstance(sent["logit_bias"]["50256"], int)
    assert (sent["user"], sent["max_completion_tokens"], sent["reasoning_effort"]) == ("user-123", 64, "low")
    assert (sent["metadata"], sent["service_tier"]) == ({"team": "search"}, "flex")
    logprobs = json.loads(answer.logprobs_json)["content"]
    assert [e["logprob"] for e in logprobs] == [word_logprob(i) for i in range(len(s.premium.answer_words()))]

    events = stream_events(s, stream_request(**params))
    deltas = [e for e in events if e.WhichOneof("event") == "delta"]
    assert [json.loads(e.logprobs_json)["content"][0]["token"] for e in deltas] == [e.delta for e in deltas]


def test_a_plain_request_sends_no_new_fields(stack):
    s = stack()
    s.stub.Route(route_request(), timeout=10)
    assert set(s.premium.requests[0].body) == {"model", "messages"}


# --- refused requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (route_request(n=2), "params.n must be 1"),
        (route_request(user(), router_pb2.ChatMessage(role="tool", content="18C")), "no tool_call_id"),
        (
            route_request(
                user(),
                router_pb2.ChatMessage(
                    role="user", tool_calls=[router_pb2.ToolCall(id="c", type="function", name="f", arguments="{}")]
                ),
            ),
            "only an assistant message calls tools",
        ),
        (route_request(tools=[router_pb2.Tool(name="no spaces")]), "tools[0].function.name"),
        (route_request(tools=[router_pb2.Tool(name="f", parameters_json="{")]), "parameters_json is not valid JSON"),
        (route_request(tools=[router_pb2.Tool(name="f", parameters_json="[1]")]), "must be a JSON object"),
        (route_request(tools=[router_pb2.Tool(name="f", parameters_json='{"x": NaN}')]), "NaN is not a JSON value"),
        (route_request(tools=[router_pb2.Tool(name="f", parameters_json="[" * 100_000)]), "nested too deeply"),
        (route_request(tool_choice=router_pb2.ToolChoice(mode="function", function_name="f")), "not in params.tools"),
        (route_request(tool_choice=router_pb2.ToolChoice(mode="sometimes")), "params.tool_choice"),
        (route_request(response_format=router_pb2.ResponseFormat(type="yaml")), "response_format.type"),
        (route_request(response_format=router_pb2.ResponseFormat(type="json_schema", schema_name="a")), "schema"),
        (route_request(top_logprobs=3), "needs params.logprobs"),
        (route_request(logprobs=True, top_logprobs=21), "top_logprobs must be in [0, 20]"),
        (route_request(presence_penalty=3.0), "presence_penalty must be in [-2, 2]"),
        (route_request(logit_bias={"42": 101.0}), "must be in [-100, 100]"),
        (route_request(logit_bias={"the": 1.0}), "must be a token id"),
        (route_request(extra_json='{"temperature": 3}'), "params.extra may not set temperature"),
        (route_request(extra_json='{"stream": false}'), "params.extra may not set stream"),
        (route_request(router_pb2.ChatMessage(role="user", parts=[router_pb2.ContentPart()])), "set text or json"),
        (
            route_request(router_pb2.ChatMessage(role="user", parts=[router_pb2.ContentPart(json='{"text": "x"}')])),
            'needs a "type"',
        ),
    ],
)
def test_bad_requests_are_invalid_argument_before_any_call(stack, request_, message):
    s = stack()
    error = rejected(s, request_)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (error.details() or "")
    stream_request_ = router_pb2.RouteStreamRequest.FromString(request_.SerializeToString())
    with pytest.raises(grpc.RpcError) as info:
        stream_events(s, stream_request_)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not s.premium.requests and not s.small.requests
