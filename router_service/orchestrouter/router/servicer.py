"""RouterService: a thin translation layer over RouterCore."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from grpc import aio

from orchestrouter.router import convert
from orchestrouter.router.config import RouterConfig
from orchestrouter.router.core import RouterCore
from orchestrouter.router.feedback import FeedbackDesk
from orchestrouter.router.model import RouteInput
from orchestrouter.router.validation import build_route_input
from orchestrouter.runtime.auth import current_caller
from orchestrouter.v1 import router_pb2, router_pb2_grpc


class RouterServicer(router_pb2_grpc.RouterServiceServicer):
    def __init__(self, core: RouterCore, config: RouterConfig, feedback: FeedbackDesk | None = None) -> None:
        self._core = core
        self._config = config
        self._feedback = feedback or FeedbackDesk(None)

    def _input(self, request: router_pb2.RouteRequest) -> RouteInput:
        threshold, share = convert.dial_from_pb(request)
        return build_route_input(
            convert.messages_from_pb(request),
            threshold,
            share,
            request.dry_run,
            convert.params_from_pb(request.params),
            self._config.max_prompt_chars,
            caller=current_caller(),
        )

    async def Route(self, request: router_pb2.RouteRequest, context: aio.ServicerContext) -> router_pb2.RouteResponse:
        inp = self._input(request)
        result = await self._core.route(inp, _deadline(context))
        return convert.result_to_pb(result)

    async def RouteStream(
        self, request: router_pb2.RouteRequest, context: aio.ServicerContext
    ) -> AsyncIterator[router_pb2.RouteStreamResponse]:
        inp = self._input(request)
        async for event in self._core.route_stream(inp, _deadline(context)):
            yield convert.stream_event_to_pb(event)

    async def GetStatus(
        self, request: router_pb2.GetStatusRequest, context: aio.ServicerContext
    ) -> router_pb2.GetStatusResponse:
        return convert.status_to_pb(self._core.status())

    async def Feedback(
        self, request: router_pb2.FeedbackRequest, context: aio.ServicerContext
    ) -> router_pb2.FeedbackResponse:
        rating = convert.rating_from_pb(request.rating)
        await self._feedback.submit(request.request_id, rating, request.comment, current_caller())
        return router_pb2.FeedbackResponse()


def _deadline(context: aio.ServicerContext) -> float | None:
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining
