"""Secure by default: a service refuses to serve unauthenticated on an address other hosts can reach,
unless authentication is configured, the address is local, or the operator says something else
guards the port."""

from __future__ import annotations

import pytest

from orchestrouter.runtime.config import ConfigError, is_local_address, require_authenticated_or_local
from orchestrouter.scorer.config import ScorerConfig
from orchestrouter.scorer.server import ScorerServer


@pytest.mark.parametrize(
    ("listen", "local"),
    [
        ("unix:/run/scorer.sock", True),
        ("127.0.0.1:0", True),
        ("127.9.9.9:50051", True),
        ("localhost:50051", True),
        ("[::1]:50051", True),
        ("[::]:50051", False),
        ("0.0.0.0:50051", False),
        ("10.0.0.7:50051", False),
        ("router.example:50051", False),
    ],
)
def test_only_loopback_and_unix_sockets_are_local(listen, local):
    assert is_local_address(listen) is local


def test_an_open_port_needs_authentication_or_an_explicit_waiver():
    with pytest.raises(ConfigError, match="refusing to serve \\[::\\]:50051 without authentication"):
        require_authenticated_or_local("[::]:50051", authenticated=False, allow_unauthenticated=False)
    require_authenticated_or_local("[::]:50051", authenticated=True, allow_unauthenticated=False)
    require_authenticated_or_local("[::]:50051", authenticated=False, allow_unauthenticated=True)
    require_authenticated_or_local("127.0.0.1:50051", authenticated=False, allow_unauthenticated=False)


def test_the_waiver_is_read_from_the_environment():
    assert ScorerConfig.from_env({"ORCHESTROUTER_ALLOW_UNAUTHENTICATED": "true"}).allow_unauthenticated
    assert not ScorerConfig.from_env({}).allow_unauthenticated


def test_a_server_on_all_interfaces_without_tokens_refuses_to_start(loop_thread, random_model):
    server = ScorerServer(ScorerConfig(listen="[::]:0", model_path=random_model, grace_seconds=0.1))
    with pytest.raises(ConfigError, match="ORCHESTROUTER_AUTH_TOKENS_FILE"):
        loop_thread.run(server.start())
    assert server.port == 0, "it refused before binding"
