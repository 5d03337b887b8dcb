"""The Python clients against real servers: sync and asyncio alike, TLS with a token, metadata,
deadlines, gRPC retries on UNAVAILABLE, streaming, and score() as a numpy round trip equal to ONNX."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import numpy as np
import onnxruntime as ort
import pytest
import trustme

from orchestrouter.client import (
    AsyncRouterClient,
    AsyncScorerClient,
    ClientOptions,
    RetryPolicy,
    RouteAnswer,
    RouterClient,
    ScorerClient,
)
from orchestrouter.runtime.tls import ServerTLSConfig
from tests.support.dispatch_stack import with_dispatch
from tests.support.fake_openai import Fault
from tests.support.stub_router import StubRouter

# The source folders of the orchestrouter namespace (mypy cannot walk the editable install's import hook).
SOURCE_ROOTS = ("proto", "router_service", "scorer", "clients")
TOKEN = "web-token-3f9a1c7e5b2d4680"
QUESTION = "What is six times seven?"


@pytest.fixture
def stub_router():
    """stub_router(**script) starts a StubRouter; all are stopped after the test."""
    started: list[StubRouter] = []

    def start(**script) -> StubRouter:
        started.append(StubRouter(**script).start())
        return started[-1]

    yield start
    for stub in started:
        stub.stop()


@pytest.fixture
def tls_token_router(pair, random_model, tmp_path):
    """A router serving TLS (a certificate for 127.0.0.1) that requires TOKEN; returns (target, CA file)."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key, ca_file = tmp_path / "server.crt", tmp_path / "server.key", tmp_path / "ca.crt"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    tokens = tmp_path / "tokens"
    tokens.write_text(f"web:{TOKEN}\n")
    p = pair(random_model, tls=ServerTLSConfig(str(cert), str(key)), auth_tokens_file=str(tokens))
    return p.router.target, str(ca_file)


def test_sync_and_async_clients_route_over_tls_with_a_token(tls_token_router):
    target, ca_file = tls_token_router
    options = ClientOptions(target, timeout_s=10, token=TOKEN, tls_ca_file=ca_file)
    with RouterClient(options) as client:
        answer = client.route(QUESTION, dry_run=True)
        assert answer.tier in ("small", "premium") and not answer.degraded
        assert client.status().router_id == answer.router_id

    async def route_async() -> RouteAnswer:
        async with AsyncRouterClient(options) as client:
            return await client.route(QUESTION, dry_run=True)

    assert asyncio.run(route_async()).win_probability == pytest.approx(answer.win_probability)

    # Without the token: UNAUTHENTICATED (not retried); without the CA: the TLS handshake fails.
    with RouterClient(target, timeout_s=10, tls_ca_file=ca_file) as client, pytest.raises(grpc.RpcError) as caught:
        client.route(QUESTION, dry_run=True)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with RouterClient(target, timeout_s=10, token=TOKEN, retry=None) as client, pytest.raises(grpc.RpcError) as caught:
        client.route(QUESTION, dry_run=True)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_both_clients_send_the_token_and_metadata_with_each_call(stub_router):
    stub = stub_router()
    options = ClientOptions(stub.target, timeout_s=5, token="tok-0123456789abcdef", metadata=[("X-Tenant", "blue")])
    expected = "authorization=Bearer tok-0123456789abcdef;x-tenant=blue"
    with RouterClient(options) as client:
        assert [client.route("hi").answer for _ in range(2)] == [expected, expected]

    async def route_async() -> str:
        async with AsyncRouterClient(options) as client:
            return str((await client.route("hi")).answer)

    assert asyncio.run(route_async()) == expected


def test_a_slow_answer_ends_with_deadline_exceeded_at_the_clients_deadline(stub_router):
    stub = stub_router(delay_s=3.0)
    started = time.monotonic()
    with RouterClient(stub.target, timeout_s=0.3) as client, pytest.raises(grpc.RpcError) as caught:
        client.route("hi")
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 2.5

    async def route_async() -> grpc.StatusCode:
        async with AsyncRouterClient(stub.target, timeout_s=0.3) as client:
            try:
                await client.route("hi")
            except grpc.RpcError as exc:
                return exc.code()
        return grpc.StatusCode.OK

    assert asyncio.run(route_async()) == grpc.StatusCode.DEADLINE_EXCEEDED


def test_unavailable_is_retried_with_backoff_by_grpc_and_other_codes_are_not(stub_router):
    policy = RetryPolicy(max_attempts=4, initial_backoff_s=0.05, max_backoff_s=0.2)
    stub = stub_router(fail_first=2)
    with RouterClient(stub.target, timeout_s=10, retry=policy) as client:
        assert client.route("hi").request_id == "attempt-3"
    assert stub.attempts == 3

    async_stub = stub_router(fail_first=3)

    async def route_async() -> str:
        async with AsyncRouterClient(async_stub.target, timeout_s=10, retry=policy) as client:
            return str((await client.route("hi")).request_id)

    assert asyncio.run(route_async()) == "attempt-4" and async_stub.attempts == 4

    # More failures than attempts: the last UNAVAILABLE reaches the caller after max_attempts tries.
    exhausted = stub_router(fail_first=10)
    with RouterClient(exhausted.target, timeout_s=10, retry=policy) as client, pytest.raises(grpc.RpcError) as caught:
        client.route("hi")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE and exhausted.attempts == 4

    # Retries off: one attempt. A code not in the policy: one attempt.
    single = stub_router(fail_first=1)
    with RouterClient(single.target, timeout_s=10, retry=None) as client, pytest.raises(grpc.RpcError):
        client.route("hi")
    assert single.attempts == 1
    invalid = stub_router(fail_first=1, fail_code=grpc.StatusCode.INVALID_ARGUMENT)
    with RouterClient(invalid.target, timeout_s=10, retry=policy) as client, pytest.raises(grpc.RpcError) as caught:
        client.route("hi")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and invalid.attempts == 1


def test_score_round_trips_numpy_arrays_equal_to_the_onnx_output(scorer_factory, random_model):
    scorer = scorer_factory(random_model)
    embeddings = np.random.default_rng(3).normal(0.0, 1.0, (7, 256)).astype(np.float32)
    expected = ort.InferenceSession(str(random_model)).run(None, {"embeddings": embeddings})[0]
    with ScorerClient(scorer.target) as client:
        got = client.score(embeddings)
        assert got.dtype == np.float32 and got.shape == (7,)
        np.testing.assert_allclose(got, expected, rtol=1e-6)
        # A sequence of rows, and float64, arrive as the same float32 matrix.
        np.testing.assert_allclose(client.score(embeddings.astype(np.float64).tolist()), expected, rtol=1e-6)
        with pytest.raises(ValueError, match="2-D"):
            client.score(embeddings[0])
        with pytest.raises(grpc.RpcError) as caught:
            client.score(embeddings[:, :100])  # the wrong dimension for the model
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def score_async() -> np.ndarray:
        async with AsyncScorerClient(scorer.target) as client:
            return await client.score(embeddings)

    np.testing.assert_allclose(asyncio.run(score_async()), expected, rtol=1e-6)


def test_route_stream_yields_deltas_then_the_answer_sync_and_async(stack):
    s = stack()
    with RouterClient(s.router.target, timeout_s=10) as client:
        items = list(client.route_stream(QUESTION))
    *deltas, final = items
    assert all(isinstance(d, str) for d in deltas) and "".join(map(str, deltas)) == s.premium.answer_text()
    assert isinstance(final, RouteAnswer) and final.tier == "premium" and final.finish_reason == "stop"

    async def stream_async() -> list[str | RouteAnswer]:
        async with AsyncRouterClient(s.router.target, timeout_s=10) as client:
            return [item async for item in client.route_stream(QUESTION)]

    *async_deltas, async_final = asyncio.run(stream_async())
    assert "".join(str(d) for d in async_deltas) == s.premium.answer_text()
    assert isinstance(async_final, RouteAnswer) and async_final.tier == "premium"


def test_options_refuse_a_url_a_bad_token_and_settings_given_twice():
    with pytest.raises(ValueError, match="not a URL"):
        ClientOptions("http://localhost:50051")
    with pytest.raises(ValueError, match="token"):
        ClientOptions("localhost:50051", token="two words")
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=9)
    with pytest.raises(TypeError, match="not both"):
        RouterClient(ClientOptions("localhost:50051"), timeout_s=3)


USER_CODE = """
import asyncio
import numpy as np
from orchestrouter.client import AsyncRouterClient, ClientOptions, RetryPolicy, RouteAnswer, ScorerClient

options = ClientOptions("localhost:50051", token="t", metadata=[("x-tenant", "b")], retry=RetryPolicy(max_attempts=3))

async def main() -> None:
    async with AsyncRouterClient(options) as client:
        answer: RouteAnswer = await client.route("hi", dry_run=True)
        async for item in client.route_stream("hi"):
            reveal_type(item)
        print(answer.tier)

with ScorerClient("localhost:50052") as scorer:
    reveal_type(scorer.score(np.zeros((2, 256), np.float32)))
    scorer.score([[0.0, 1.0]])
asyncio.run(main())
"""


def test_mypy_strict_accepts_a_user_file_and_sees_the_types(tmp_path):
    user_file = tmp_path / "user.py"
    user_file.write_text(USER_CODE)
    # As for an installed package, errors inside the generated stubs are not the user's to see.
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n[mypy-orchestrouter.v1.*]\nignore_errors = True\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent", str(user_file)],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": os.pathsep.join(str(root / d) for d in SOURCE_ROOTS)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "error" not in done.stdout, done.stdout
    assert done.returncode == 0, done.stdout
    revealed = [line for line in done.stdout.splitlines() if "Revealed type" in line]
    assert "str" in revealed[0] and "orchestrouter.client.answer.RouteAnswer" in revealed[0], done.stdout
    assert "numpy.ndarray" in revealed[1] and "32Bit" in revealed[1], done.stdout


def test_a_routers_own_unavailable_is_not_retried_so_model_calls_are_not_multiplied(stack):
    # Both tiers fail: the router already retried (once per tier here) and fell back, and its reply
    # pushes back on the client's retries, so the endpoints see one request's calls, not four.
    s = stack(dispatch=with_dispatch(1), decision_log="off")
    s.premium.always(Fault.status_code(503))
    s.small.always(Fault.status_code(500))
    policy = RetryPolicy(max_attempts=4, initial_backoff_s=0.05, max_backoff_s=0.1)
    with RouterClient(s.router.target, timeout_s=20, retry=policy) as client, pytest.raises(grpc.RpcError) as caught:
        client.route(QUESTION)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert (len(s.premium.requests), len(s.small.requests)) == (2, 2)
