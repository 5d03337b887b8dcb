"""Configuration from the environment: defaults, overrides, errors that name the variable."""

from __future__ import annotations

import pytest

from orchestrouter.router.config import ConfigError, RouterConfig
from orchestrouter.scorer.config import ConfigError as ScorerConfigError
from orchestrouter.scorer.config import ScorerConfig


def test_router_defaults():
    c = RouterConfig.from_env({})
    assert c.threshold == 0.2 and c.listen == "[::]:50051" and c.scorer_target == "localhost:50052"
    assert c.embedder.kind == "wordllama" and not c.small.configured


def test_tier_settings_and_secret_file(tmp_path):
    key = tmp_path / "key"
    key.write_text("sk-from-file\n")
    c = RouterConfig.from_env(
        {
            "ORCHESTROUTER_PREMIUM_BASE_URL": "https://premium.internal/v1",
            "ORCHESTROUTER_PREMIUM_MODEL": "big",
            "ORCHESTROUTER_PREMIUM_API_KEY_FILE": str(key),
            "ORCHESTROUTER_THRESHOLD": "0.35",
        }
    )
    assert c.premium.configured and c.premium.model == "big" and c.premium.api_key == "sk-from-file"
    assert c.threshold == 0.35
    assert "sk-from-file" not in repr(c)


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"ORCHESTROUTER_THRESHOLD": "1.2"}, "ORCHESTROUTER_THRESHOLD"),
        ({"ORCHESTROUTER_THRESHOLD": "high"}, "ORCHESTROUTER_THRESHOLD must be a number"),
        ({"ORCHESTROUTER_PREMIUM_SHARE": "2"}, "ORCHESTROUTER_PREMIUM_SHARE"),
        ({"ORCHESTROUTER_DEGRADED_TIER": "medium"}, "ORCHESTROUTER_DEGRADED_TIER"),
        ({"ORCHESTROUTER_EMBEDDER": "openai"}, "ORCHESTROUTER_EMBEDDINGS_BASE_URL"),
        ({"ORCHESTROUTER_SMALL_API_KEY_FILE": "/nonexistent/key"}, "ORCHESTROUTER_SMALL_API_KEY_FILE"),
        ({"ORCHESTROUTER_REFLECTION": "maybe"}, "ORCHESTROUTER_REFLECTION"),
    ],
)
def test_router_config_errors_name_the_variable(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        RouterConfig.from_env(env)


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"ORCHESTROUTER_SCORER_MAX_REQUEST_ROWS": "0"}, "ORCHESTROUTER_SCORER_MAX_REQUEST_ROWS"),
        ({"ORCHESTROUTER_SCORER_BATCH_MAX_WAIT_MS": "-1"}, "ORCHESTROUTER_SCORER_BATCH_MAX_WAIT_MS"),
        ({"ORCHESTROUTER_SCORER_BATCH_MAX_ROWS": "x"}, "ORCHESTROUTER_SCORER_BATCH_MAX_ROWS must be an integer"),
    ],
)
def test_scorer_config_errors_name_the_variable(env, fragment):
    with pytest.raises(ScorerConfigError, match=fragment):
        ScorerConfig.from_env(env)


def test_both_services_raise_the_one_config_error_of_the_runtime():
    from orchestrouter.runtime.config import ConfigError as RuntimeConfigError

    assert ConfigError is RuntimeConfigError and ScorerConfigError is RuntimeConfigError


def test_the_dispatch_settings_are_the_policy_objects():
    d = RouterConfig.from_env({"ORCHESTROUTER_MAX_RETRIES": "5", "ORCHESTROUTER_BREAKER_MIN_CALLS": "7"}).dispatch
    assert d.retry.max_retries == 5 and d.breaker.min_calls == 7
    with pytest.raises(ConfigError, match="ORCHESTROUTER_MAX_RETRIES must be >= 0"):
        RouterConfig.from_env({"ORCHESTROUTER_MAX_RETRIES": "-1"})
