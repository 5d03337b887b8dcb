"""Helpers for the OpenAI-compatible HTTP front door's tests: an SDK client on a started router, and
the decision headers an answer must carry."""

from __future__ import annotations

from collections.abc import Mapping

import openai

from orchestrouter.router.http.headers import ALL_DECISION_HEADERS
from orchestrouter.router.server import RouterServer

# What the front door's fixtures listen on: loopback, any free port.
HTTP_LISTEN = "127.0.0.1:0"


def base_url(router: RouterServer) -> str:
    assert router.front_door is not None, "the router was started without http_listen"
    return router.front_door.base_url


def sdk_client(router: RouterServer, api_key: str = "unused-key", **options: object) -> openai.OpenAI:
    """The official OpenAI SDK, unmodified but for base_url and api_key (no retries: tests see each answer)."""
    options.setdefault("max_retries", 0)
    options.setdefault("timeout", 20.0)
    return openai.OpenAI(base_url=base_url(router), api_key=api_key, **options)  # type: ignore[arg-type]


def decision_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The x-orchestrouter-* headers of an answer; AssertionError if one is missing."""
    missing = [name for name in ALL_DECISION_HEADERS if name not in headers]
    assert not missing, f"answer lacks decision headers {missing}"
    return {name: headers[name] for name in ALL_DECISION_HEADERS}
