"""The front door's place in the router process: off unless ORCHESTROUTER_HTTP_LISTEN names an
address, refused on a reachable address without authentication, /readyz only once the scorer's model
is read, and a clear error for an address it cannot bind."""

from __future__ import annotations

import dataclasses
import socket
import ssl

import httpx
import pytest
import trustme

from orchestrouter.router.config import ConfigError, RouterConfig
from orchestrouter.router.server import RouterServer
from orchestrouter.runtime.serving import BindError
from orchestrouter.runtime.tls import ServerTLSConfig
from tests.support.doubles import replace_file
from tests.support.frontdoor import HTTP_LISTEN
from tests.support.models import ConstantEmbedder


def test_the_listen_address_comes_from_the_environment_and_is_off_by_default():
    assert RouterConfig.from_env({}).http_listen == ""
    assert RouterConfig.from_env({"ORCHESTROUTER_HTTP_LISTEN": "[::]:8080"}).http_listen == "[::]:8080"
    with pytest.raises(ConfigError, match="ORCHESTROUTER_HTTP_LISTEN must be host:port"):
        RouterConfig.from_env({"ORCHESTROUTER_HTTP_LISTEN": "8080"})


def test_without_an_address_there_is_no_front_door(pair, random_model):
    assert pair(random_model).router.front_door is None


def router_on(scorer, **fields) -> RouterServer:
    config = RouterConfig(listen="127.0.0.1:0", scorer_target=scorer.target, grace_seconds=0.5, **fields)
    return RouterServer(config, embedder=ConstantEmbedder(), scorer_wait_s=5.0)


def test_readyz_waits_for_the_scorers_model_and_healthz_answers_at_once(scorer_factory, random_model, loop_thread):
    router = router_on(scorer_factory(random_model), http_listen=HTTP_LISTEN)
    loop_thread.run(router.start(ready=False))
    try:
        assert router.front_door is not None
        with httpx.Client(base_url=router.front_door.base_url.removesuffix("/v1"), timeout=5) as http:
            assert http.get("/healthz").status_code == 200
            not_ready = http.get("/readyz")
            assert not_ready.status_code == 503 and not_ready.json() == {"status": "not ready"}
            loop_thread.run(router.become_ready())
            assert http.get("/readyz").status_code == 200
    finally:
        loop_thread.run(router.close(0))


def test_a_reachable_address_without_authentication_is_refused_at_startup(scorer_factory, random_model, loop_thread):
    router = router_on(scorer_factory(random_model), http_listen="0.0.0.0:0")
    with pytest.raises(ConfigError, match="refusing to serve 0.0.0.0:0 without authentication"):
        loop_thread.run(router.start())
    allowed = router_on(scorer_factory(random_model), http_listen="0.0.0.0:0", allow_unauthenticated=True)
    loop_thread.run(allowed.start())
    loop_thread.run(allowed.close(0))


def test_an_address_in_use_is_a_bind_error_and_nothing_stays_open(scorer_factory, random_model, loop_thread):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        router = router_on(scorer_factory(random_model), http_listen=f"127.0.0.1:{port}")
        with pytest.raises(BindError, match=f"cannot listen on '127.0.0.1:{port}'"):
            loop_thread.run(router.start())
    # The gRPC port the failed start had bound is closed again.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", router.port)) != 0


def test_the_front_door_serves_https_with_the_routers_certificate(pair, random_model, tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "tls.crt", tmp_path / "tls.key", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    config = RouterConfig(listen="127.0.0.1:0", grace_seconds=0.5, http_listen=HTTP_LISTEN)
    config = dataclasses.replace(config, tls=ServerTLSConfig(cert_file=str(cert_file), key_file=str(key_file)))
    router = pair(random_model, config).router
    assert router.front_door is not None and router.front_door.base_url.startswith("https://")
    with httpx.Client(
        base_url=router.front_door.base_url.removesuffix("/v1"), verify=ssl.create_default_context(cafile=ca_file)
    ) as http:
        assert http.get("/healthz").status_code == 200
    with httpx.Client(base_url=router.front_door.base_url.removesuffix("/v1"), verify=True) as http:
        with pytest.raises(httpx.ConnectError):
            http.get("/healthz")


def peer_certificate(host: str, port: int, ca_file) -> bytes:
    context = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection((host, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            certificate = tls.getpeercert(binary_form=True)
    assert certificate is not None
    return certificate


def test_a_rotated_certificate_is_served_to_new_connections(pair, random_model, tmp_path):
    ca = trustme.CA()
    first, second = ca.issue_cert("127.0.0.1"), ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "tls.crt", tmp_path / "tls.key", tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert_file.write_bytes(first.cert_chain_pems[0].bytes())
    key_file.write_bytes(first.private_key_pem.bytes())
    tls = ServerTLSConfig(cert_file=str(cert_file), key_file=str(key_file))
    config = RouterConfig(listen="127.0.0.1:0", grace_seconds=0.5, http_listen=HTTP_LISTEN, tls=tls)
    door = pair(random_model, config).router.front_door
    assert door is not None
    served = peer_certificate("127.0.0.1", door.port, ca_file)
    assert served == ssl.PEM_cert_to_DER_cert(first.cert_chain_pems[0].bytes().decode())
    # As a Secret update does: each file replaced in one step.
    replace_file(key_file, second.private_key_pem.bytes().decode())
    replace_file(cert_file, second.cert_chain_pems[0].bytes().decode())
    served = peer_certificate("127.0.0.1", door.port, ca_file)
    assert served == ssl.PEM_cert_to_DER_cert(second.cert_chain_pems[0].bytes().decode())


def test_the_front_door_serves_a_unix_socket(pair, random_model, tmp_path):
    path = tmp_path / "door.sock"
    router = pair(random_model, http_listen=f"unix:{path}").router
    transport = httpx.HTTPTransport(uds=str(path))
    with httpx.Client(transport=transport, base_url="http://router", timeout=5) as http:
        assert http.get("/readyz").json() == {"status": "ready"}
        models = http.get("/v1/models").json()
    assert models["data"][0]["id"] == "orchestrouter-auto"
    assert router.front_door is not None and router.front_door.port == 0
