"""TLS and mTLS on both services, with certificates made by trustme in the test: the right CA is
answered and a wrong one refused (UNAVAILABLE), mTLS refuses a caller without a certificate of the
client CA and names the one with it, a rotated certificate is served without a restart, the router
reaches its scorer over TLS and mTLS, and the health-only plaintext port answers probes."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
import trustme
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from orchestrouter.cli.main import main
from orchestrouter.client import RouterClient, ScorerClient
from orchestrouter.router.config import RouterConfig
from orchestrouter.router.server import RouterServer, StartupError
from orchestrouter.runtime import serving
from orchestrouter.runtime.auth import current_caller
from orchestrouter.runtime.config import ConfigError
from orchestrouter.runtime.tls import ChannelTLSConfig, ServerTLSConfig, TLSFilesError, peer_identity
from orchestrouter.scorer.config import ScorerConfig
from orchestrouter.scorer.server import ScorerServer
from orchestrouter.tools.launcher import run_to_exit
from tests.support.models import ConstantEmbedder

HOST = "127.0.0.1"
# A channel of its own per test call: no subchannel (and no TLS session) shared with another channel.
OWN_POOL = [("grpc.use_local_subchannel_pool", 1)]


@dataclass(frozen=True)
class Issued:
    """Issued: a certificate and its key written to files, and the CA file that signed it."""

    cert: Path
    key: Path
    ca: Path

    def server_config(self, client_ca: Path | None = None) -> ServerTLSConfig:
        return ServerTLSConfig(str(self.cert), str(self.key), str(client_ca or ""))


def issue(directory: Path, ca: trustme.CA, name: str, *identities: str, common_name: str | None = None) -> Issued:
    directory.mkdir(parents=True, exist_ok=True)
    leaf = ca.issue_cert(*(identities or (HOST,)), common_name=common_name)
    cert, key, ca_file = directory / f"{name}.crt", directory / f"{name}.key", directory / f"{name}-ca.crt"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    return Issued(cert, key, ca_file)


def credentials(ca: Path, client: Issued | None = None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        ca.read_bytes(),
        client.key.read_bytes() if client else None,
        client.cert.read_bytes() if client else None,
    )


@pytest.fixture
def certs(tmp_path):
    """A server CA with the server's certificate (for 127.0.0.1), a client CA with alice's, and a
    stranger CA with mallory's."""
    server_ca, client_ca, stranger_ca = trustme.CA(), trustme.CA(), trustme.CA()
    return {
        "server": issue(tmp_path / "server", server_ca, "server"),
        "alice": issue(tmp_path / "alice", client_ca, "alice", "alice.clients.test", common_name="alice"),
        "mallory": issue(tmp_path / "mallory", stranger_ca, "mallory", "mallory.test", common_name="mallory"),
        "other_server": issue(tmp_path / "other", stranger_ca, "server"),
    }


# ---------------------------------------------------------------- a small server that says who called


class WhoAmIServer(serving.ServiceServer):
    """WhoAmIServer: the shared serving shape with one method that answers peer_identity()."""

    service_name = "test.WhoAmI"
    role = "whoami"

    def __init__(self, tls: ServerTLSConfig, health_listen: str = "") -> None:
        super().__init__(ScorerConfig(listen=f"{HOST}:0", grace_seconds=0.5, tls=tls, health_listen=health_listen))

    def _register(self, server: aio.Server) -> None:
        async def who(request: bytes, context: aio.ServicerContext) -> bytes:
            return (peer_identity(context) or "-").encode()

        async def caller(request: bytes, context: aio.ServicerContext) -> bytes:
            return (current_caller() or "-").encode()

        handlers = {
            "Who": grpc.unary_unary_rpc_method_handler(who),
            "Caller": grpc.unary_unary_rpc_method_handler(caller),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(self.service_name, handlers),))

    async def _get_ready(self) -> None:
        pass

    async def _release(self) -> None:
        pass


@pytest.fixture
def whoami(loop_thread):
    started: list[WhoAmIServer] = []

    def start(tls: ServerTLSConfig, health_listen: str = "") -> WhoAmIServer:
        started.append(loop_thread.run(WhoAmIServer(tls, health_listen).start()))
        return started[-1]

    yield start
    for server in started:
        loop_thread.run(server.close(0))


def who(target: str, creds: grpc.ChannelCredentials | None) -> str:
    channel = grpc.secure_channel(target, creds, OWN_POOL) if creds else grpc.insecure_channel(target, OWN_POOL)
    with channel:
        return channel.unary_unary("/test.WhoAmI/Who", None, None)(b"", timeout=5).decode()


def refused(target: str, creds: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        who(target, creds)
    return caught.value.code()


# ---------------------------------------------------------------- TLS and mTLS


def test_tls_answers_the_right_ca_and_refuses_a_wrong_one(whoami, certs):
    server = whoami(certs["server"].server_config())
    assert who(server.target, credentials(certs["server"].ca)) == "-"  # TLS, no client certificate
    assert refused(server.target, credentials(certs["other_server"].ca)) == grpc.StatusCode.UNAVAILABLE


def test_a_plaintext_client_on_a_tls_port_fails_cleanly(whoami, certs, capfd):
    server = whoami(certs["server"].server_config())
    assert refused(server.target, None) == grpc.StatusCode.UNAVAILABLE
    assert who(server.target, credentials(certs["server"].ca)) == "-"  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_mtls_refuses_callers_without_a_certificate_of_the_client_ca_and_names_the_one_with_it(whoami, certs):
    server = whoami(certs["server"].server_config(client_ca=certs["alice"].ca))
    ca = certs["server"].ca
    assert refused(server.target, credentials(ca)) == grpc.StatusCode.UNAVAILABLE
    assert refused(server.target, credentials(ca, certs["mallory"])) == grpc.StatusCode.UNAVAILABLE
    assert who(server.target, credentials(ca, certs["alice"])) == "alice"


def test_with_mtls_and_no_token_file_the_handler_knows_the_caller_by_its_certificate(whoami, certs):
    server = whoami(certs["server"].server_config(client_ca=certs["alice"].ca))
    creds = credentials(certs["server"].ca, certs["alice"])
    channel = grpc.secure_channel(server.target, creds, OWN_POOL)
    with channel:
        assert channel.unary_unary("/test.WhoAmI/Caller", None, None)(b"", timeout=5) == b"alice"
    # Without mTLS nobody is named (and no token file: the test server listens on loopback).
    plain = whoami(certs["server"].server_config())
    with grpc.secure_channel(plain.target, credentials(certs["server"].ca), OWN_POOL) as channel:
        assert channel.unary_unary("/test.WhoAmI/Caller", None, None)(b"", timeout=5) == b"-"


def test_a_certificate_rotated_on_disk_is_served_to_new_connections_without_restart(whoami, certs, caplog):
    live = certs["server"]
    server = whoami(live.server_config())
    assert who(server.target, credentials(live.ca)) == "-"
    # A broken pair (the new key before its certificate) keeps the old one, logged once.
    caplog.set_level(logging.WARNING, "orchestrouter.runtime.tls")
    shutil.copyfile(certs["other_server"].key, live.key)
    for _ in range(3):
        assert who(server.target, credentials(live.ca)) == "-"
    assert len([r for r in caplog.records if "not reloaded" in r.getMessage()]) == 1
    # The whole new pair: new connections get it; the old CA no longer verifies them.
    shutil.copyfile(certs["other_server"].cert, live.cert)
    assert who(server.target, credentials(certs["other_server"].ca)) == "-"
    assert refused(server.target, credentials(live.ca)) == grpc.StatusCode.UNAVAILABLE


def _project_secret(volume: Path, version: str, source: Issued) -> None:
    """Writes source's pair the way the kubelet updates a Secret volume: a new timestamped folder,
    then the ..data symlink swapped to it in one rename; tls.crt and tls.key link through ..data."""
    folder = volume / f"..{version}"
    folder.mkdir()
    shutil.copyfile(source.cert, folder / "tls.crt")
    shutil.copyfile(source.key, folder / "tls.key")
    (volume / "..data_tmp").symlink_to(folder.name)
    (volume / "..data_tmp").rename(volume / "..data")
    for name in ("tls.crt", "tls.key"):
        if not (volume / name).is_symlink():
            (volume / name).symlink_to(f"..data/{name}")


def test_a_rotated_kubernetes_secret_volume_is_served_without_restart(whoami, certs, tmp_path):
    volume = tmp_path / "secret-volume"
    volume.mkdir()
    _project_secret(volume, "v1", certs["server"])
    server = whoami(ServerTLSConfig(str(volume / "tls.crt"), str(volume / "tls.key")))
    assert who(server.target, credentials(certs["server"].ca)) == "-"
    _project_secret(volume, "v2", certs["other_server"])
    assert who(server.target, credentials(certs["other_server"].ca)) == "-"
    assert refused(server.target, credentials(certs["server"].ca)) == grpc.StatusCode.UNAVAILABLE


def test_tls_off_when_unset_and_a_unix_socket_stays_plaintext(loop_thread, whoami, certs, tmp_path):
    assert who(whoami(ServerTLSConfig()).target, None) == "-"
    server = WhoAmIServer(certs["server"].server_config())
    server.listen = f"unix:{tmp_path / 'who.sock'}"
    loop_thread.run(server.start())
    try:
        assert who(server.target, None) == "-"
    finally:
        loop_thread.run(server.close(0))


def test_the_health_port_answers_probes_in_plaintext_and_serves_nothing_else(whoami, certs):
    server = whoami(certs["server"].server_config(), health_listen=f"{HOST}:0")
    target = f"{HOST}:{server.health_port}"
    with grpc.insecure_channel(target, OWN_POOL) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
    assert refused(target, None) == grpc.StatusCode.UNIMPLEMENTED


def test_a_health_port_in_use_refuses_to_start(loop_thread, whoami, certs):
    taken = whoami(ServerTLSConfig())
    with pytest.raises(serving.BindError, match="cannot listen on"):
        loop_thread.run(WhoAmIServer(ServerTLSConfig(), health_listen=taken.target).start())


# ---------------------------------------------------------------- configuration and bad files


def test_the_tls_variables_are_read_and_checked(certs):
    s = certs["server"]
    env = {"ORCHESTROUTER_TLS_CERT_FILE": str(s.cert), "ORCHESTROUTER_TLS_KEY_FILE": str(s.key)}
    assert RouterConfig.from_env(env).tls == ServerTLSConfig(str(s.cert), str(s.key))
    assert ScorerConfig.from_env({**env, "ORCHESTROUTER_HEALTH_LISTEN": "[::]:8081"}).health_listen == "[::]:8081"
    with pytest.raises(ConfigError, match="ORCHESTROUTER_TLS_KEY_FILE"):
        ScorerConfig.from_env({"ORCHESTROUTER_TLS_CERT_FILE": str(s.cert)})
    with pytest.raises(ConfigError, match="ORCHESTROUTER_TLS_CLIENT_CA_FILE"):
        RouterConfig.from_env({"ORCHESTROUTER_TLS_CLIENT_CA_FILE": str(s.ca)})
    with pytest.raises(ConfigError, match="ORCHESTROUTER_SCORER_TLS_CA_FILE"):
        RouterConfig.from_env({"ORCHESTROUTER_SCORER_TLS_SERVER_NAME": "scorer"})
    with pytest.raises(ConfigError, match="ORCHESTROUTER_HEALTH_LISTEN"):
        RouterConfig.from_env({"ORCHESTROUTER_HEALTH_LISTEN": "nowhere"})


def test_unreadable_or_mismatched_files_refuse_to_start_with_the_variable_named(loop_thread, certs, tmp_path):
    s = certs["server"]
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    for tls, variable in (
        (ServerTLSConfig(str(tmp_path / "absent.crt"), str(s.key)), "ORCHESTROUTER_TLS_CERT_FILE"),
        (ServerTLSConfig(str(s.cert), str(certs["other_server"].key)), "ORCHESTROUTER_TLS_KEY_FILE"),
        (ServerTLSConfig(str(s.cert), str(s.key), str(garbage)), "ORCHESTROUTER_TLS_CLIENT_CA_FILE"),
    ):
        with pytest.raises(TLSFilesError, match=variable):
            loop_thread.run(WhoAmIServer(tls).start())


def test_a_service_process_with_a_bad_certificate_exits_with_one_line_naming_the_variable(certs, tmp_path):
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    env = {
        "ORCHESTROUTER_SCORER_LISTEN": f"{HOST}:0",
        "ORCHESTROUTER_TLS_CERT_FILE": str(garbage),
        "ORCHESTROUTER_TLS_KEY_FILE": str(certs["server"].key),
    }
    proc = run_to_exit("serve-scorer", env)
    assert proc.returncode == 2
    assert "cannot start" in proc.stderr and "ORCHESTROUTER_TLS_CERT_FILE" in proc.stderr
    assert "Traceback" not in proc.stderr and "PRIVATE KEY" not in proc.stderr


# ---------------------------------------------------------------- the services


async def _start_tls_pair(
    model: Path, scorer_tls: ServerTLSConfig, router_tls: ServerTLSConfig, to_scorer: ChannelTLSConfig
) -> tuple[ScorerServer, RouterServer]:
    scorer_config = ScorerConfig(listen=f"{HOST}:0", model_path=model, grace_seconds=0.5, tls=scorer_tls)
    scorer = await ScorerServer(scorer_config).start()
    config = RouterConfig(
        listen=f"{HOST}:0", grace_seconds=0.5, scorer_target=scorer.target, tls=router_tls, scorer_tls=to_scorer
    )
    router = RouterServer(config, embedder=ConstantEmbedder(), scorer_wait_s=1.0)
    try:
        await router.start()
    except BaseException:
        await scorer.close(0)
        raise
    return scorer, router


@pytest.fixture
def tls_pair(loop_thread, random_model):
    started: list[ScorerServer | RouterServer] = []

    def start(scorer_tls, router_tls, to_scorer) -> tuple[ScorerServer, RouterServer]:
        scorer, router = loop_thread.run(_start_tls_pair(random_model, scorer_tls, router_tls, to_scorer))
        started.extend((router, scorer))
        return scorer, router

    yield start
    for server in started:
        loop_thread.run(server.close(0))


def test_route_and_score_over_tls_with_the_typed_clients(tls_pair, certs):
    s = certs["server"]
    scorer, router = tls_pair(s.server_config(), s.server_config(), ChannelTLSConfig(ca_file=str(s.ca)))
    with RouterClient(router.target, timeout_s=10, tls_ca_file=str(s.ca)) as client:
        answer = client.route("What is six times seven?", dry_run=True)
    assert not answer.degraded  # the router reached its scorer over TLS
    embeddings = np.zeros((2, ConstantEmbedder().dim), dtype=np.float32)
    with ScorerClient(scorer.target, tls_ca_file=str(s.ca)) as scorer_client:
        assert scorer_client.score(embeddings).shape == (2,)
    wrong = str(certs["other_server"].ca)
    with RouterClient(router.target, tls_ca_file=wrong) as client, pytest.raises(grpc.RpcError) as caught:
        client.route("hi", dry_run=True)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    with ScorerClient(scorer.target, tls_ca_file=wrong) as scorer_client, pytest.raises(grpc.RpcError) as caught:
        scorer_client.score(embeddings)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_the_router_reaches_an_mtls_scorer_with_its_client_certificate_and_a_server_name(tls_pair, certs, tmp_path):
    # The scorer's certificate names a service, not the address the router dials.
    named = issue(tmp_path / "named", trustme.CA(), "scorer", "scorer.orchestrouter.svc")
    alice = certs["alice"]
    to_scorer = ChannelTLSConfig(
        ca_file=str(named.ca),
        cert_file=str(alice.cert),
        key_file=str(alice.key),
        server_name="scorer.orchestrouter.svc",
    )
    _, router = tls_pair(named.server_config(client_ca=alice.ca), ServerTLSConfig(), to_scorer)
    with RouterClient(router.target, timeout_s=10) as client:
        assert not client.route("What is six times seven?", dry_run=True).degraded


def test_a_router_without_the_client_certificate_does_not_start_against_an_mtls_scorer(tls_pair, certs):
    s = certs["server"]
    with pytest.raises(StartupError, match="not ready"):
        tls_pair(s.server_config(client_ca=certs["alice"].ca), ServerTLSConfig(), ChannelTLSConfig(ca_file=str(s.ca)))


def test_cli_route_takes_the_tls_files(tls_pair, certs, capsys):
    s, alice = certs["server"], certs["alice"]
    _, router = tls_pair(ServerTLSConfig(), s.server_config(client_ca=alice.ca), ChannelTLSConfig())
    args = ["route", "--router", router.target, "--dry-run", "--json", "hi"]
    tls = ["--ca-file", str(s.ca), "--cert-file", str(alice.cert), "--key-file", str(alice.key)]
    assert main([*args, *tls]) == 0
    assert '"tier"' in capsys.readouterr().out
    assert main([*args, "--ca-file", str(s.ca)]) == 1  # mTLS: no client certificate
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach a router at {router.target} over TLS") and err.count("\n") == 1, err
    assert main([*args, "--ca-file", str(s.ca), "--cert-file", str(alice.cert)]) == 2
    assert "key file" in capsys.readouterr().err


def test_the_router_config_carries_the_scorer_tls_variables(certs):
    a = certs["alice"]
    env = {
        "ORCHESTROUTER_SCORER_TLS_CA_FILE": str(a.ca),
        "ORCHESTROUTER_SCORER_TLS_CERT_FILE": str(a.cert),
        "ORCHESTROUTER_SCORER_TLS_KEY_FILE": str(a.key),
        "ORCHESTROUTER_SCORER_TLS_SERVER_NAME": "scorer.internal",
    }
    config = RouterConfig.from_env(env)
    assert dataclasses.astuple(config.scorer_tls)[:4] == (str(a.ca), str(a.cert), str(a.key), "scorer.internal")
