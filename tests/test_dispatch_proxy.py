"""The endpoints are reached through the proxy the environment names (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY),
except for hosts NO_PROXY exempts, as with any HTTP client that honours the environment."""

from __future__ import annotations

import pytest
from yarl import URL

from orchestrouter.router.dispatch.endpoint import env_proxy

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def env(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def test_no_proxy_variable_means_a_direct_connection(env):
    assert env_proxy(URL("https://api.example.com/v1/chat/completions")) is None


def test_the_proxy_for_the_endpoints_scheme_is_used(env):
    env.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    env.setenv("HTTP_PROXY", "http://plain-proxy.internal:3128")
    assert env_proxy(URL("https://api.example.com/v1/chat/completions")) == "http://proxy.internal:3128"
    assert env_proxy(URL("http://vllm.internal:8000/v1/chat/completions")) == "http://plain-proxy.internal:3128"


def test_all_proxy_serves_any_scheme_and_no_proxy_exempts_a_host(env):
    env.setenv("ALL_PROXY", "http://proxy.internal:3128")
    env.setenv("NO_PROXY", "vllm.internal,localhost")
    assert env_proxy(URL("https://api.example.com/v1/chat/completions")) == "http://proxy.internal:3128"
    assert env_proxy(URL("http://vllm.internal:8000/v1/chat/completions")) is None
