"""StubRouter: a real gRPC server answering RouterService.Route by a script, counting the attempts.

For client behaviour no real router can be made to show on cue: a status returned for the first n
calls (retries), a slow answer (deadlines), the metadata a call arrived with.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc

from orchestrouter.v1 import router_pb2


class StubRouter:
    """StubRouter: Route fails with fail_code for the first fail_first calls, then answers after delay_s.

    The answer's text is the call's metadata (``key=value;...`` for keys starting x- or auth), sorted.
    """

    def __init__(
        self, fail_first: int = 0, fail_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE, delay_s: float = 0.0
    ) -> None:
        self.fail_first, self.fail_code, self.delay_s = fail_first, fail_code, delay_s
        self.attempts = 0
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(4))
        handler = grpc.unary_unary_rpc_method_handler(
            self._route,
            request_deserializer=router_pb2.RouteRequest.FromString,
            response_serializer=router_pb2.RouteResponse.SerializeToString,
        )
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("orchestrouter.v1.RouterService", {"Route": handler}),)
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"

    def _route(self, request: router_pb2.RouteRequest, context: grpc.ServicerContext) -> router_pb2.RouteResponse:
        with self._lock:
            self.attempts += 1
            attempt = self.attempts
        if attempt <= self.fail_first:
            context.abort(self.fail_code, f"scripted failure {attempt}")
        time.sleep(self.delay_s)
        seen = sorted(f"{k}={v!s}" for k, v in context.invocation_metadata() if k.startswith(("x-", "auth")))
        return router_pb2.RouteResponse(answer=";".join(seen), request_id=f"attempt-{attempt}")

    def start(self) -> StubRouter:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(0)
