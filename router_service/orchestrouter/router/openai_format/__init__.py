"""The OpenAI chat-completions JSON <-> the router's domain objects, in both directions.

One package for the one format: dispatch builds endpoint requests and reads their answers and
stream chunks with it; the OpenAI-compatible front door reads callers' requests and renders its
answers and chunks with it. Reading a caller's request checks only its shape (JSON types) and
raises InvalidArgument naming the field; the range and consistency checks (roles, n, penalties,
tool names...) are validation.py's, shared with the gRPC API. Reading an endpoint's answer raises
MalformedAnswer instead: a bad answer is the endpoint's failure, not the caller's.
"""

from orchestrouter.router.openai_format.answer import (
    ChatAnswer,
    ChatChunk,
    MalformedAnswer,
    TokenUsage,
    parse_answer,
    parse_chunk,
)
from orchestrouter.router.openai_format.json_shape import json_from_text, json_object_from_text
from orchestrouter.router.openai_format.messages import (
    messages_from_openai,
    messages_to_openai,
    tool_call_to_openai,
    turn_to_openai,
)
from orchestrouter.router.openai_format.params import (
    FRAMING_FIELDS,
    RESERVED_EXTRA_FIELDS,
    TYPED_PARAM_FIELDS,
    params_from_openai,
    params_to_openai,
    tool_to_openai,
)
from orchestrouter.router.openai_format.render import (
    chunk_to_openai,
    completion_to_openai,
    delta_to_openai,
    usage_to_openai,
)
from orchestrouter.router.openai_format.request import ChatRequest, chat_request_from_openai

__all__ = [
    "FRAMING_FIELDS",
    "RESERVED_EXTRA_FIELDS",
    "TYPED_PARAM_FIELDS",
    "ChatAnswer",
    "ChatChunk",
    "ChatRequest",
    "MalformedAnswer",
    "TokenUsage",
    "chat_request_from_openai",
    "chunk_to_openai",
    "completion_to_openai",
    "delta_to_openai",
    "json_from_text",
    "json_object_from_text",
    "messages_from_openai",
    "messages_to_openai",
    "params_from_openai",
    "params_to_openai",
    "parse_answer",
    "parse_chunk",
    "tool_call_to_openai",
    "tool_to_openai",
    "turn_to_openai",
    "usage_to_openai",
]
