"""Bearer-token authentication on real servers: the router and the scorer refuse calls without a token
of the file, keep health open, take a changed file without a restart, and never show a token."""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from orchestrouter.client import RouterClient, ScorerClient
from orchestrouter.router.config import RouterConfig
from orchestrouter.router.server import RouterServer
from orchestrouter.v1 import router_pb2, router_pb2_grpc, scorer_pb2, scorer_pb2_grpc
from tests.support.decision_lines import written_lines
from tests.support.doubles import replace_file
from tests.support.models import ConstantEmbedder
from tests.support.pair import QUESTION, request

WEB = "web-token-3f9a1c7e5b2d4680"
WEB_NEXT = "web-token-next-8e6b4a2c9f1357"
ROUTER = "router-token-5b2d46803f9a1c7e"
WRONG = "not-a-token-of-the-file-1234"
SERVING = health_pb2.HealthCheckResponse.SERVING


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def health(channel: grpc.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


@pytest.fixture
def tokens_file(tmp_path) -> Path:
    path = tmp_path / "tokens"
    replace_file(path, f"# callers of the router\nweb:{WEB}\n")
    return path


@pytest.fixture
def secured(pair, random_model, tokens_file, tmp_path):
    """A pair whose router requires the tokens of tokens_file (re-read at every call), logging decisions to a file."""
    return pair(
        random_model,
        auth_tokens_file=str(tokens_file),
        auth_recheck_s=0.0,
        decision_log=str(tmp_path / "decisions.jsonl"),
    )


def router_calls(stub: router_pb2_grpc.RouterServiceStub, metadata) -> dict:
    """Each router RPC once with metadata: its status code and details."""
    outcomes: dict[str, tuple[grpc.StatusCode, str | None]] = {}
    calls = {
        "Route": lambda: stub.Route(request(QUESTION, dry_run=True), timeout=5, metadata=metadata),
        "RouteStream": lambda: list(stub.RouteStream(request(QUESTION, dry_run=True), timeout=5, metadata=metadata)),
        "GetStatus": lambda: stub.GetStatus(router_pb2.GetStatusRequest(), timeout=5, metadata=metadata),
    }
    for name, call in calls.items():
        try:
            call()
            outcomes[name] = (grpc.StatusCode.OK, "")
        except grpc.RpcError as exc:
            outcomes[name] = (exc.code(), exc.details())
    return outcomes


def test_the_router_refuses_anonymous_and_wrong_tokens_and_keeps_health_open(secured, caplog, tmp_path):
    refused = (grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")
    for metadata in (None, bearer(WRONG), (("authorization", WEB),), bearer("")):
        assert router_calls(secured.stub, metadata) == {"Route": refused, "RouteStream": refused, "GetStatus": refused}
    assert health(secured.channel) == SERVING
    assert health(secured.channel, "orchestrouter.v1.RouterService") == SERVING

    ok = (grpc.StatusCode.OK, "")
    assert router_calls(secured.stub, bearer(WEB)) == {"Route": ok, "RouteStream": ok, "GetStatus": ok}
    with RouterClient(secured.router.target, timeout_s=5, token=WEB) as client:
        assert client.route(QUESTION, dry_run=True).tier in ("small", "premium")

    lines = written_lines(secured, tmp_path / "decisions.jsonl")
    assert [line["caller"] for line in lines] == ["web", "web", "web"]
    everything = caplog.text + (tmp_path / "decisions.jsonl").read_text()
    assert WEB not in everything and WRONG not in everything


def test_an_undecodable_request_without_a_token_is_refused_before_it_is_read(secured):
    route = secured.channel.unary_unary("/orchestrouter.v1.RouterService/Route")
    with pytest.raises(grpc.RpcError) as err:
        route(b"\x0a\x09\x0a\x04user\x12\x01\xff", timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_scorer_refuses_anonymous_calls_and_the_router_reaches_it_with_its_token(
    scorer_factory, random_model, tokens_file, tmp_path, loop_thread
):
    replace_file(tokens_file, f"router:{ROUTER}\n")
    scorer = scorer_factory(random_model, auth_tokens_file=str(tokens_file))
    m = np.zeros((1, 256), "<f4")
    score = scorer_pb2.ScoreRequest(embeddings=scorer_pb2.EmbeddingBatch(data=m.tobytes(), rows=1, dim=256))
    with grpc.insecure_channel(scorer.target) as channel:
        stub = scorer_pb2_grpc.ScorerServiceStub(channel)
        for metadata in (None, bearer(WRONG)):
            for call in (
                lambda md=metadata: stub.Score(score, timeout=5, metadata=md),
                lambda md=metadata: stub.GetModelInfo(scorer_pb2.GetModelInfoRequest(), timeout=5, metadata=md),
            ):
                with pytest.raises(grpc.RpcError) as err:
                    call()
                assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert health(channel) == SERVING
    with ScorerClient(scorer.target, timeout_s=5, token=ROUTER) as client:
        assert client.score(m).shape == (1,)

    # The router presents its own token to the scorer, read from ORCHESTROUTER_SCORER_TOKEN_FILE.
    token_file = tmp_path / "scorer-token"
    token_file.write_text(ROUTER + "\n")
    config = RouterConfig(
        listen="127.0.0.1:0", grace_seconds=0.5, scorer_target=scorer.target, scorer_token_file=str(token_file)
    )
    router = loop_thread.run(RouterServer(config, embedder=ConstantEmbedder(), scorer_wait_s=5.0).start())
    try:
        with RouterClient(router.target, timeout_s=5) as client:
            answer = client.route(QUESTION, dry_run=True)
        assert not answer.degraded
    finally:
        loop_thread.run(router.close(0))


def test_a_token_added_or_removed_takes_effect_without_a_restart_or_a_failed_call(secured, tokens_file):
    stub = secured.stub
    stop = threading.Event()
    failures: list[str] = []
    calls = [0]

    def drive() -> None:
        # A caller whose token stays in the file, calling all the while the file is rewritten.
        while not stop.is_set():
            try:
                stub.Route(request(QUESTION, dry_run=True), timeout=5, metadata=bearer(WEB))
                calls[0] += 1
            except grpc.RpcError as exc:
                failures.append(f"{exc.code().name}: {exc.details()}")

    def accepted(token: str) -> bool:
        try:
            stub.GetStatus(router_pb2.GetStatusRequest(), timeout=5, metadata=bearer(token))
            return True
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
            return False

    drivers = [threading.Thread(target=drive) for _ in range(4)]
    for t in drivers:
        t.start()
    try:
        assert not accepted(WEB_NEXT)
        replace_file(tokens_file, f"web:{WEB}\nweb:{WEB_NEXT}\nrouter:{ROUTER}\n")
        assert any(accepted(WEB_NEXT) for _ in range(200))
        replace_file(tokens_file, f"web:{WEB}\nweb:{WEB_NEXT}\n")
        assert any(not accepted(ROUTER) for _ in range(200))
        # A malformed version keeps what was in use.
        replace_file(tokens_file, f"web {WEB}\n")
        assert all(accepted(WEB_NEXT) for _ in range(20))
    finally:
        stop.set()
        for t in drivers:
            t.join(10)
    assert failures == [] and calls[0] > 0


def test_a_service_with_a_bad_token_file_does_not_start(random_model, tmp_path):
    from orchestrouter.runtime.auth import AuthFileError

    path = tmp_path / "tokens"
    path.write_text("web:short\n")
    with pytest.raises(AuthFileError, match="line 1: the token must be"):
        RouterServer(dataclasses.replace(RouterConfig(), auth_tokens_file=str(path)))


def test_without_a_token_file_the_services_stay_open_and_say_so(pair, random_model, caplog):
    caplog.set_level(logging.INFO)
    p = pair(random_model)
    assert p.route(dry_run=True).decision.router_id
    assert "router: authentication is off" in caplog.text
