"""app: the front door's aiohttp application: chat completions, models, and the probe endpoints.

Handlers are thin: authenticate, parse (chat), call RouterCore in process (route or route_stream,
the one path Route and RouteStream take), render. Every failure, theirs or aiohttp's (an unknown
path, a body over the limit), leaves through ``_errors`` as OpenAI's error JSON (errors.http_error).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from opentelemetry import propagate, trace

from orchestrouter.router.core import RouterCore
from orchestrouter.router.http import headers as decision_headers
from orchestrouter.router.http.chat import ChatCall, ChunkWriter, completion_body, parse_chat_request
from orchestrouter.router.http.errors import HttpError, PayloadTooLarge, RequestTimeout, http_error, http_refusal
from orchestrouter.router.http.models import ModelCatalog
from orchestrouter.router.model import StreamDecision, StreamDelta, StreamDone
from orchestrouter.runtime import semconv
from orchestrouter.runtime.auth import UNAUTHENTICATED_MESSAGE, TokenSet, bearer_token
from orchestrouter.runtime.errors import InvalidArgument, ServiceError, Unauthenticated

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

CHAT_COMPLETIONS = "/v1/chat/completions"
MODELS = "/v1/models"
LIVE = "/healthz"
READY = "/readyz"
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DONE = b"data: [DONE]\n\n"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _error_response(exc: BaseException) -> web.Response:
    return _as_response(http_error(exc))


def _as_response(error: HttpError) -> web.Response:
    return web.Response(
        status=error.status, body=error.json_bytes(), content_type="application/json", headers=error.headers
    )


class FrontDoorApp:
    """FrontDoorApp: the handlers over one RouterCore; auth None leaves the endpoints open."""

    def __init__(
        self,
        core: RouterCore,
        auth: TokenSet | None,
        catalog: ModelCatalog,
        max_prompt_chars: int,
        max_request_bytes: int,
        body_timeout_s: float,
        ready: Callable[[], bool],
    ) -> None:
        self.core = core
        self.auth = auth
        self.catalog = catalog
        self.max_prompt_chars = max_prompt_chars
        self.max_request_bytes = max_request_bytes
        self.body_timeout_s = body_timeout_s
        self.ready = ready
        self.app = web.Application(client_max_size=max_request_bytes, middlewares=[self._errors])
        self.app.router.add_post(CHAT_COMPLETIONS, self.chat_completions)
        self.app.router.add_get(MODELS, self.models)
        # Tier model names hold slashes (Qwen/Qwen3-4B-Instruct-2507).
        self.app.router.add_get(MODELS + "/{model:.+}", self.model)
        self.app.router.add_get(LIVE, self.live)
        self.app.router.add_get(READY, self.readiness)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return _error_response(PayloadTooLarge(f"request body over the limit of {self.max_request_bytes} bytes"))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            # aiohttp's own refusals (no such path, a method the path does not take).
            return _as_response(http_refusal(exc.status, f"{exc.reason}: {request.method} {request.path}"))
        except Exception as exc:
            if not isinstance(exc, ServiceError):
                log.exception("unhandled error in %s %s", request.method, request.path)
            return _error_response(exc)

    def _caller(self, request: web.Request) -> str:
        """The caller a valid bearer token names ("" with authentication off); Unauthenticated otherwise."""
        if self.auth is None:
            return ""
        token = bearer_token([("authorization", request.headers.get("Authorization", ""))])
        caller = self.auth.caller_for(token) if token else None
        if caller is None:
            raise Unauthenticated(UNAUTHENTICATED_MESSAGE)
        return caller

    async def live(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readiness(self, request: web.Request) -> web.Response:
        ready = self.ready()
        return web.json_response({"status": "ready" if ready else "not ready"}, status=200 if ready else 503)

    async def models(self, request: web.Request) -> web.Response:
        with _server_span(request, semconv.SPAN_HTTP_MODELS, MODELS) as span:
            span.set_attribute(semconv.CALLER, self._caller(request))
            return web.json_response(self.catalog.listing())

    async def model(self, request: web.Request) -> web.Response:
        with _server_span(request, semconv.SPAN_HTTP_MODELS, MODELS) as span:
            span.set_attribute(semconv.CALLER, self._caller(request))
            return web.json_response(self.catalog.model(request.match_info["model"]))

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        with _server_span(request, semconv.SPAN_HTTP_CHAT_COMPLETIONS, CHAT_COMPLETIONS) as span:
            caller = self._caller(request)
            span.set_attribute(semconv.CALLER, caller)
            body = await _json_body(request, self.body_timeout_s)
            chat = parse_chat_request(body, request.headers, caller, self.catalog, self.max_prompt_chars)
            if chat.stream:
                return await self._stream(request, chat)
            result = await self.core.route(chat.inp)
            return web.json_response(
                completion_body(result, int(time.time())),
                headers=decision_headers.decision_headers(result.decision, result.request_id),
            )

    async def _stream(self, request: web.Request, chat: ChatCall) -> web.StreamResponse:
        """Server-sent chunks. Before the first one a failure is an ordinary error answer; after it,
        an error event and the end of the stream, never ``[DONE]`` (the answer is cut)."""
        events = self.core.route_stream(chat.inp)
        response: web.StreamResponse | None = None
        writer: ChunkWriter | None = None
        try:
            async for event in events:
                if isinstance(event, StreamDecision) and response is None:
                    writer = ChunkWriter(event.request_id, event.decision, int(time.time()))
                    response = web.StreamResponse(
                        headers={**SSE_HEADERS, **decision_headers.decision_headers(event.decision, event.request_id)}
                    )
                    await response.prepare(request)
                    await response.write(_event(writer.first()))
                elif isinstance(event, StreamDelta) and writer is not None and response is not None:
                    await response.write(_event(writer.delta(event)))
                elif isinstance(event, StreamDone) and writer is not None and response is not None:
                    await response.write(_event(writer.last(event.result)))
                    if chat.include_usage:
                        await response.write(_event(writer.usage(event.result)))
                    await response.write(DONE)
        except ConnectionError:
            # The caller went away: closing the events (finally) records the request as cancelled.
            return response or web.Response(status=499)
        except Exception as exc:
            if response is None:
                raise
            await _send_error_event(response, exc)
        finally:
            await events.aclose()
        assert response is not None, "a route stream ends with StreamDone or raises"
        await response.write_eof()
        return response


async def _send_error_event(response: web.StreamResponse, exc: BaseException) -> None:
    try:
        await response.write(_event(http_error(exc).body))
    except ConnectionError:
        pass


async def _json_body(request: web.Request, timeout_s: float) -> Any:
    # A body sent slowly or never finished would otherwise hold its connection for good (aiohttp
    # sets no read timeout): it must arrive within the request's deadline.
    try:
        async with asyncio.timeout(timeout_s):
            raw = await request.read()  # over the limit: HTTPRequestEntityTooLarge, answered 413 by _errors
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {timeout_s:g} s") from None
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise InvalidArgument(f"the request body is not valid JSON ({reason})") from None
    if b"\\u" in raw and _holds_lone_surrogate(body):
        raise InvalidArgument("the request body holds a lone UTF-16 surrogate (such as \\ud800), which is not text")
    return body


def _holds_lone_surrogate(body: Any) -> bool:
    """Whether a string of body is not UTF-8-encodable. JSON can spell a lone surrogate, which gRPC
    refuses as invalid UTF-8; here it would reach the endpoints and break the decision log's and the
    traffic store's writes (a batch of other callers' records with it)."""
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


class _server_span:
    """The request's server span, continuing a caller's traceparent; its status code set on exit."""

    def __init__(self, request: web.Request, name: str, route: str) -> None:
        self._cm = tracer.start_as_current_span(
            name,
            context=propagate.extract(request.headers),
            kind=trace.SpanKind.SERVER,
            attributes={semconv.HTTP_REQUEST_METHOD: request.method, semconv.HTTP_ROUTE: route},
            record_exception=False,
            set_status_on_exception=False,
        )

    def __enter__(self) -> trace.Span:
        self._span = self._cm.__enter__()
        return self._span

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        # A cancellation (the caller went away) has no status: nothing was answered.
        if self._span.is_recording() and (exc is None or isinstance(exc, Exception)):
            status = 200 if exc is None else http_error(exc).status
            self._span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)
        self._cm.__exit__(exc_type, exc, tb)
