"""Configuration refuses nonsense numbers (issue 10, defect 9): NaN or infinity in any float setting,
a negative grace period; each with one line naming the variable."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from orchestrouter.router.config import ConfigError, RouterConfig
from orchestrouter.scorer.config import ConfigError as ScorerConfigError
from orchestrouter.scorer.config import ScorerConfig

ROUTER_FLOATS = [
    "ORCHESTROUTER_SCORER_TIMEOUT_MS",
    "ORCHESTROUTER_THRESHOLD",
    "ORCHESTROUTER_PREMIUM_SHARE",
    "ORCHESTROUTER_GRACE_SECONDS",
    "ORCHESTROUTER_SMALL_CONNECT_TIMEOUT_S",
    "ORCHESTROUTER_PREMIUM_FIRST_TOKEN_TIMEOUT_S",
    "ORCHESTROUTER_PREMIUM_TIMEOUT_S",
    "ORCHESTROUTER_SMALL_PRICE_INPUT_PER_MTOK",
    "ORCHESTROUTER_PREMIUM_PRICE_OUTPUT_PER_MTOK",
    "ORCHESTROUTER_RETRY_BASE_DELAY_S",
    "ORCHESTROUTER_RETRY_MAX_DELAY_S",
    "ORCHESTROUTER_RETRY_AFTER_MAX_S",
    "ORCHESTROUTER_BREAKER_ERROR_RATE",
    "ORCHESTROUTER_BREAKER_WINDOW_S",
    "ORCHESTROUTER_BREAKER_COOLDOWN_S",
    "ORCHESTROUTER_FALLBACK_RESERVE",
    "ORCHESTROUTER_DEFAULT_DEADLINE_S",
    "ORCHESTROUTER_API_KEY_RECHECK_S",
]
SCORER_FLOATS = ["ORCHESTROUTER_SCORER_BATCH_MAX_WAIT_MS", "ORCHESTROUTER_GRACE_SECONDS"]
NONSENSE = ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"]


@pytest.mark.parametrize("value", NONSENSE)
@pytest.mark.parametrize("name", ROUTER_FLOATS)
def test_router_floats_refuse_nan_and_infinity(name, value):
    with pytest.raises(ConfigError, match=f"^{name} ") as err:
        RouterConfig.from_env({name: value})
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("value", NONSENSE)
@pytest.mark.parametrize("name", SCORER_FLOATS)
def test_scorer_floats_refuse_nan_and_infinity(name, value):
    with pytest.raises(ScorerConfigError, match=f"^{name} "):
        ScorerConfig.from_env({name: value})


def test_a_negative_grace_period_is_refused():
    with pytest.raises(ConfigError, match="^ORCHESTROUTER_GRACE_SECONDS "):
        RouterConfig.from_env({"ORCHESTROUTER_GRACE_SECONDS": "-1"})
    with pytest.raises(ScorerConfigError, match="^ORCHESTROUTER_GRACE_SECONDS "):
        ScorerConfig.from_env({"ORCHESTROUTER_GRACE_SECONDS": "-1"})


@pytest.mark.parametrize("field", ["grace_seconds", "scorer_timeout_ms"])
def test_values_built_in_code_are_checked_too(field):
    with pytest.raises(ConfigError, match="finite"):
        changes: dict[str, Any] = {field: float("inf")}
        dataclasses.replace(RouterConfig(), **changes)
