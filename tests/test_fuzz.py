"""Fuzzing Route, RouteStream and Score through real servers (issue 10): every request, however odd,
ends with a status a caller can act on, never UNKNOWN or INTERNAL, and the servers log no traceback.

Hypothesis generates well-shaped requests with extreme values (NaN, infinities, huge and negative
numbers, empty and repeated fields, text with control characters), requests whose strings are not
UTF-8 (lone surrogates, stray bytes: built on the wire by hand, since protobuf will not encode them),
and raw bytes. ``make test`` runs a small, derandomized sample; ``make fuzz`` sets FUZZ_EXAMPLES (per
test, four tests) and prints the figures: requests per RPC, status counts, tracebacks.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrouter.router.config import RouterConfig, TierConfig
from orchestrouter.router.embedders import WORDLLAMA_DIM
from orchestrouter.v1 import router_pb2, scorer_pb2
from tests.support.fake_openai import FakeOpenAI
from tests.support.pair import Pair, start_pair

ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNAVAILABLE,
}
ROUTE = "/orchestrouter.v1.RouterService/Route"
ROUTE_STREAM = "/orchestrouter.v1.RouterService/RouteStream"
SCORE = "/orchestrouter.v1.ScorerService/Score"
FULL_RUN = "FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not FULL_RUN,  # the sample in `make test` is the same every run
    suppress_health_check=list(HealthCheck),
)

# What the run saw: (rpc, status name) -> requests; printed at the end of the module.
FIGURES: Counter[tuple[str, str]] = Counter()


class LogRecords(logging.Handler):
    """LogRecords: keeps every record the servers log during the run."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def tracebacks(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.exc_info or r.levelno >= logging.ERROR or "Traceback" in r.getMessage()]


@pytest.fixture(scope="module")
def servers(loop_thread, random_model) -> Iterator[tuple[Pair, grpc.Channel, LogRecords]]:
    """A scorer, a router whose tiers both answer from one fake endpoint, and a channel to the scorer."""
    fake = loop_thread.run(FakeOpenAI("fuzz").start())
    config = RouterConfig(
        listen="127.0.0.1:0",
        grace_seconds=0.5,
        decision_log="off",
        small=TierConfig("small", base_url=fake.base_url, model="small-model", api_key="sk-fuzz"),
        premium=TierConfig("premium", base_url=fake.base_url, model="premium-model", api_key="sk-fuzz"),
    )
    records = LogRecords()
    root = logging.getLogger()
    root.addHandler(records)
    level, root.level = root.level, logging.DEBUG
    pair = loop_thread.run(start_pair(random_model, config))
    scorer = grpc.insecure_channel(pair.scorer.target)
    yield pair, scorer, records
    scorer.close()
    loop_thread.run(pair.close())
    loop_thread.run(fake.stop())
    root.removeHandler(records)
    root.setLevel(level)
    _print_figures(records)


def _print_figures(records: LogRecords) -> None:
    per_rpc = Counter[str]()
    per_status = Counter[str]()
    for (rpc, status), n in FIGURES.items():
        per_rpc[rpc] += n
        per_status[status] += n
    print(f"\nfuzz: {sum(per_rpc.values())} requests ({'full run' if FULL_RUN else 'sample'})")
    for rpc, n in sorted(per_rpc.items()):
        print(f"  {rpc}: {n}")
    print("  statuses: " + ", ".join(f"{s} {n}" for s, n in sorted(per_status.items())))
    crashes = sum(n for (_, s), n in FIGURES.items() if s not in {c.name for c in ALLOWED})
    print(
        f"  crashes {crashes}, UNKNOWN {per_status['UNKNOWN']}, INTERNAL {per_status['INTERNAL']}, "
        f"traceback lines {len(records.tracebacks())}"
    )


def _call(channel: grpc.Channel, path: str, data: bytes, stream: bool) -> grpc.StatusCode:
    identity = dict(request_serializer=None, response_deserializer=None)
    try:
        if stream:
            for _ in channel.unary_stream(path, **identity)(data, timeout=10):
                pass
        else:
            channel.unary_unary(path, **identity)(data, timeout=10)
    except grpc.RpcError as err:
        return err.code()
    return grpc.StatusCode.OK


def _check(servers, path: str, data: bytes) -> None:
    pair, scorer, records = servers
    channel = scorer if path == SCORE else pair.channel
    code = _call(channel, path, data, stream=path == ROUTE_STREAM)
    FIGURES[(path.rsplit("/", 1)[1], code.name)] += 1
    assert code in ALLOWED, (path, data[:200], code)
    assert not records.tracebacks(), records.tracebacks()[0].getMessage()


# --- strategies --------------------------------------------------------------------------------------

# Any text protobuf can carry: control characters, NUL, every plane; long now and then.
texts = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(max_codepoint=0x1F), max_size=20),
    st.sampled_from(["x" * 70_000, "hi", "What is six times seven?"]),
)
any_float = st.floats(allow_nan=True, allow_infinity=True)
# Mostly values the router accepts, so that requests get past validation to scoring and dispatch too.


def mostly(usual: st.SearchStrategy, odd: st.SearchStrategy) -> st.SearchStrategy:
    """usual nine times in ten, odd otherwise."""
    return st.sampled_from([True] * 9 + [False]).flatmap(lambda u: usual if u else odd)


roles = mostly(st.sampled_from(["user", "system", "assistant", "developer", "tool"]), st.one_of(st.just(""), texts))
dial_values = mostly(st.floats(0, 1), st.one_of(st.sampled_from([-0.0, 5e-324, 1.0000001]), any_float))


@st.composite
def route_requests(draw) -> router_pb2.RouteRequest:
    req = router_pb2.RouteRequest(dry_run=draw(st.booleans()))
    for _ in range(draw(st.integers(0, 3))):
        message = req.messages.add(role=draw(roles), content=draw(texts))
        if draw(st.integers(0, 3)) == 0:
            _add_chat_extras(draw, message)
    if draw(mostly(st.just(True), st.just(False))):  # most requests end with a user's question
        req.messages.add(role="user", content=draw(st.text(min_size=1, max_size=200)))
    dial = draw(st.sampled_from(["none", "threshold", "premium_share"]))
    if dial != "none":
        setattr(req, dial, draw(dial_values))
    if draw(st.booleans()):
        p = req.params
        for name in ("temperature", "top_p"):
            if draw(st.booleans()):
                setattr(p, name, draw(mostly(st.floats(0.01, 1), any_float)))
        if draw(st.booleans()):
            p.max_tokens = draw(st.integers(0, 2**32 - 1))
        if draw(st.booleans()):
            p.seed = draw(st.integers(-(2**63), 2**63 - 1))
        p.stop.extend(draw(st.lists(texts, max_size=6, unique=draw(st.booleans()))))
        if draw(st.integers(0, 2)) == 0:
            _add_generation_extras(draw, p)
    return req


# JSON strings: objects the router accepts, and some it must refuse (not JSON, not objects, NaN, deep).
json_texts = st.one_of(
    st.sampled_from(['{"type": "object"}', '{"type": "image_url", "image_url": {"url": "x"}}', "", "{"]),
    st.sampled_from(["[1]", '{"a": NaN}', "[" * 5000, '{"type": "text"}', "null"]),
    texts,
)


def _add_chat_extras(draw, message: router_pb2.ChatMessage) -> None:
    """Names, tool calls, tool results and content parts, well-formed or not."""
    message.name = draw(texts)
    message.tool_call_id = draw(texts)
    for _ in range(draw(st.integers(0, 2))):
        message.tool_calls.add(id=draw(texts), type=draw(texts), name=draw(texts), arguments=draw(texts))
    for _ in range(draw(st.integers(0, 2))):
        if draw(st.booleans()):
            message.parts.add(text=draw(texts))
        else:
            message.parts.add(json=draw(json_texts))


def _add_generation_extras(draw, p: router_pb2.GenerationParams) -> None:
    """Tools, tool_choice, response_format, logprobs, penalties, logit_bias, n and extra fields."""
    for _ in range(draw(st.integers(0, 2))):
        p.tools.add(name=draw(mostly(st.just("get_weather"), texts)), parameters_json=draw(json_texts))
    if draw(st.booleans()):
        p.tool_choice.mode = draw(st.sampled_from(["none", "auto", "required", "function", ""]))
        p.tool_choice.function_name = draw(texts)
    if draw(st.booleans()):
        p.response_format.type = draw(st.sampled_from(["text", "json_object", "json_schema", ""]))
        p.response_format.schema_name = draw(texts)
        p.response_format.schema_json = draw(json_texts)
    if draw(st.booleans()):
        p.logprobs = draw(st.booleans())
        p.top_logprobs = draw(st.integers(0, 2**32 - 1))
    for name in ("presence_penalty", "frequency_penalty"):
        if draw(st.booleans()):
            setattr(p, name, draw(mostly(st.floats(-2, 2), any_float)))
    for _ in range(draw(st.integers(0, 2))):
        p.logit_bias[draw(mostly(st.just("50256"), texts))] = draw(mostly(st.floats(-100, 100), any_float))
    if draw(st.booleans()):
        p.n = draw(st.integers(0, 2**32 - 1))
    p.extra_json = draw(json_texts)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


@st.composite
def non_utf8_route_requests(draw) -> bytes:
    """A valid request with one more message appended on the wire whose text is not UTF-8."""
    valid = draw(route_requests()).SerializeToString()
    text = draw(st.text(st.characters(categories=["Cs", "Cc", "Lu"]), min_size=1, max_size=10))
    raw = text.encode("utf-8", "surrogatepass") + draw(st.sampled_from([b"", b"\xff", b"\xc3", b"\xed\xa0\x80"]))
    role, content = draw(st.sampled_from([(b"user", raw), (raw, b"hi")]))
    return valid + _field(1, _field(1, role) + _field(2, content))


@st.composite
def score_requests(draw) -> scorer_pb2.ScoreRequest:
    shape = draw(st.sampled_from(["model", "random"]))
    if shape == "model":
        rows, dim = draw(st.integers(0, 6)), WORDLLAMA_DIM
        fill = draw(st.sampled_from(["normal", "extreme", "special"]))
        if fill == "normal":
            matrix = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal((rows, dim))
        elif fill == "extreme":
            matrix = np.full((rows, dim), draw(st.floats(width=32)), dtype=np.float64)
        else:
            matrix = np.zeros((rows, dim))
            if rows:
                matrix[draw(st.integers(0, rows - 1)), draw(st.integers(0, dim - 1))] = draw(
                    st.sampled_from([math.nan, math.inf, -math.inf, 3.4e38, -3.4e38])
                )
        data = matrix.astype("<f4").tobytes()
    else:
        rows, dim = draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1))
        data = draw(st.binary(max_size=512))
    if draw(st.booleans()) and data:
        data = data[: draw(st.integers(0, len(data)))]  # truncated
    return scorer_pb2.ScoreRequest(embeddings=scorer_pb2.EmbeddingBatch(data=data, rows=rows, dim=dim))


# --- the fuzz tests ----------------------------------------------------------------------------------


@FUZZ
@given(request=route_requests(), stream=st.booleans())
def test_route_and_route_stream_answer_every_request_with_a_known_status(servers, request, stream):
    _check(servers, ROUTE_STREAM if stream else ROUTE, request.SerializeToString())


@FUZZ
@given(data=non_utf8_route_requests(), stream=st.booleans())
def test_text_that_is_not_utf8_is_refused(servers, data, stream):
    _check(servers, ROUTE_STREAM if stream else ROUTE, data)


@FUZZ
@given(request=score_requests())
def test_score_answers_every_request_with_a_known_status(servers, request):
    _check(servers, SCORE, request.SerializeToString())


@FUZZ
@given(data=st.binary(max_size=300), path=st.sampled_from([ROUTE, ROUTE_STREAM, SCORE]))
def test_raw_bytes_get_a_known_status(servers, data, path):
    _check(servers, path, data)
