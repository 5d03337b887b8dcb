"""Router configuration, read from ORCHESTROUTER_* environment variables at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from orchestrouter.runtime.envparse import env_bool, env_float, env_int, env_listen, env_secret, env_str

DEFAULT_ROUTER_PORT = 50051
DEFAULT_THRESHOLD = 0.2
TIERS = ("small", "premium")
# The reference deployment's models; each tier's ORCHESTROUTER_<TIER>_MODEL overrides.
DEFAULT_MODELS = {"small": "Qwen/Qwen3-4B-Instruct-2507", "premium": "Qwen/Qwen2.5-32B-Instruct"}
FALLBACK_POLICIES = ("both", "to-premium", "to-small", "none")


class ConfigError(ValueError):
    """A configuration value is missing or out of range; the message names the variable."""


@dataclass(frozen=True)
class TierConfig:
    """TierConfig: one tier's OpenAI-compatible endpoint."""

    tier: str
    base_url: str = ""
    model: str = ""
    api_key: str = field(default="", repr=False)
    # The file the key came from, re-read when it changes (a rotated Kubernetes Secret).
    api_key_file: str = ""
    # PEM file of the CA(s) that sign the endpoint's certificate; empty trusts the system store.
    ca_bundle: str = ""
    max_concurrency: int = 64
    connect_timeout_s: float = 2.0
    # Streaming: the wait for the first token, and for each later chunk (a stalled stream).
    first_token_timeout_s: float = 30.0
    # One call, from sending the request to the last byte of the answer.
    total_timeout_s: float = 120.0
    price_input_per_mtok: float = 0.0
    price_output_per_mtok: float = 0.0

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str], tier: str) -> TierConfig:
        p = f"ORCHESTROUTER_{tier.upper()}_"
        cfg = cls(
            tier=tier,
            base_url=env_str(env, p + "BASE_URL", ""),
            model=env_str(env, p + "MODEL", DEFAULT_MODELS[tier]),
            api_key=env_secret(env, p + "API_KEY"),
            api_key_file=env_str(env, p + "API_KEY_FILE", ""),
            ca_bundle=env_str(env, p + "CA_BUNDLE", ""),
            max_concurrency=env_int(env, p + "MAX_CONCURRENCY", cls.max_concurrency),
            connect_timeout_s=env_float(env, p + "CONNECT_TIMEOUT_S", cls.connect_timeout_s),
            first_token_timeout_s=env_float(env, p + "FIRST_TOKEN_TIMEOUT_S", cls.first_token_timeout_s),
            total_timeout_s=env_float(env, p + "TIMEOUT_S", cls.total_timeout_s),
            price_input_per_mtok=env_float(env, p + "PRICE_INPUT_PER_MTOK", 0.0),
            price_output_per_mtok=env_float(env, p + "PRICE_OUTPUT_PER_MTOK", 0.0),
        )
        if cfg.max_concurrency < 1:
            raise ConfigError(f"{p}MAX_CONCURRENCY must be >= 1")
        for name, value in (
            ("CONNECT_TIMEOUT_S", cfg.connect_timeout_s),
            ("FIRST_TOKEN_TIMEOUT_S", cfg.first_token_timeout_s),
            ("TIMEOUT_S", cfg.total_timeout_s),
        ):
            if value <= 0:
                raise ConfigError(f"{p}{name} must be > 0")
        if cfg.price_input_per_mtok < 0 or cfg.price_output_per_mtok < 0:
            raise ConfigError(f"{p}PRICE_*_PER_MTOK must be >= 0")
        if cfg.base_url and urlsplit(cfg.base_url).scheme not in ("http", "https"):
            raise ConfigError(f"{p}BASE_URL must be an http:// or https:// URL, got {cfg.base_url!r}")
        if cfg.ca_bundle and not Path(cfg.ca_bundle).is_file():
            raise ConfigError(f"{p}CA_BUNDLE: no such file {cfg.ca_bundle}")
        return cfg


@dataclass(frozen=True)
class EmbedderConfig:
    """EmbedderConfig: the local WordLlama default, or an OpenAI-compatible endpoint."""

    kind: str = "wordllama"
    base_url: str = ""
    model: str = "text-embedding-3-small"
    dim: int = 1536
    api_key: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EmbedderConfig:
        cfg = cls(
            kind=env_str(env, "ORCHESTROUTER_EMBEDDER", cls.kind),
            base_url=env_str(env, "ORCHESTROUTER_EMBEDDINGS_BASE_URL", ""),
            model=env_str(env, "ORCHESTROUTER_EMBEDDINGS_MODEL", cls.model),
            dim=env_int(env, "ORCHESTROUTER_EMBEDDINGS_DIM", cls.dim),
            api_key=env_secret(env, "ORCHESTROUTER_EMBEDDINGS_API_KEY"),
        )
        if cfg.kind not in ("wordllama", "openai"):
            raise ConfigError(f"ORCHESTROUTER_EMBEDDER must be wordllama or openai, got {cfg.kind!r}")
        if cfg.kind == "openai" and not cfg.base_url:
            raise ConfigError("ORCHESTROUTER_EMBEDDER=openai needs ORCHESTROUTER_EMBEDDINGS_BASE_URL")
        return cfg


@dataclass(frozen=True)
class DispatchConfig:
    """DispatchConfig: how dispatch retries, splits the deadline and breaks circuits (all tiers)."""

    # Backoff before retry n (0-based) is uniform in [0, min(max, base * 2**n)] ("full jitter").
    retry_base_delay_s: float = 0.05
    retry_max_delay_s: float = 1.0
    # A 429's Retry-After is honoured up to this long (and only when it fits in the deadline);
    # longer, and the request falls back instead of waiting.
    retry_after_max_s: float = 5.0
    # Share of the remaining deadline kept back for the fallback tier while the routed tier is tried.
    fallback_reserve: float = 0.5
    # The deadline of a request whose caller set none.
    default_deadline_s: float = 300.0
    # The circuit opens after this many consecutive failed calls ...
    breaker_consecutive_failures: int = 10
    # ... or when at least breaker_min_calls calls in the last breaker_window_s failed at this rate.
    breaker_error_rate: float = 0.5
    breaker_window_s: float = 10.0
    breaker_min_calls: int = 20
    # An open circuit lets one probe call through after this cool-down.
    breaker_cooldown_s: float = 5.0
    # How often an API key file is checked for a new key (a rotated Secret).
    api_key_recheck_s: float = 1.0

    def __post_init__(self) -> None:
        positive = (
            ("RETRY_BASE_DELAY_S", self.retry_base_delay_s),
            ("RETRY_MAX_DELAY_S", self.retry_max_delay_s),
            ("DEFAULT_DEADLINE_S", self.default_deadline_s),
            ("BREAKER_WINDOW_S", self.breaker_window_s),
            ("BREAKER_COOLDOWN_S", self.breaker_cooldown_s),
        )
        for name, value in positive:
            if not value > 0:
                raise ConfigError(f"ORCHESTROUTER_{name} must be > 0, got {value}")
        if self.retry_after_max_s < 0:
            raise ConfigError(f"ORCHESTROUTER_RETRY_AFTER_MAX_S must be >= 0, got {self.retry_after_max_s}")
        if self.api_key_recheck_s < 0:
            raise ConfigError(f"ORCHESTROUTER_API_KEY_RECHECK_S must be >= 0, got {self.api_key_recheck_s}")
        if not 0.0 <= self.fallback_reserve < 1.0:
            raise ConfigError(f"ORCHESTROUTER_FALLBACK_RESERVE must be in [0, 1), got {self.fallback_reserve}")
        if not 0.0 < self.breaker_error_rate <= 1.0:
            raise ConfigError(f"ORCHESTROUTER_BREAKER_ERROR_RATE must be in (0, 1], got {self.breaker_error_rate}")
        if self.breaker_consecutive_failures < 1:
            raise ConfigError("ORCHESTROUTER_BREAKER_CONSECUTIVE_FAILURES must be >= 1")
        if self.breaker_min_calls < 1:
            raise ConfigError("ORCHESTROUTER_BREAKER_MIN_CALLS must be >= 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DispatchConfig:
        def number(name: str, default: float) -> float:
            return env_float(env, "ORCHESTROUTER_" + name, default)

        return cls(
            retry_base_delay_s=number("RETRY_BASE_DELAY_S", cls.retry_base_delay_s),
            retry_max_delay_s=number("RETRY_MAX_DELAY_S", cls.retry_max_delay_s),
            retry_after_max_s=number("RETRY_AFTER_MAX_S", cls.retry_after_max_s),
            fallback_reserve=number("FALLBACK_RESERVE", cls.fallback_reserve),
            default_deadline_s=number("DEFAULT_DEADLINE_S", cls.default_deadline_s),
            breaker_consecutive_failures=env_int(
                env, "ORCHESTROUTER_BREAKER_CONSECUTIVE_FAILURES", cls.breaker_consecutive_failures
            ),
            breaker_error_rate=number("BREAKER_ERROR_RATE", cls.breaker_error_rate),
            breaker_window_s=number("BREAKER_WINDOW_S", cls.breaker_window_s),
            breaker_min_calls=env_int(env, "ORCHESTROUTER_BREAKER_MIN_CALLS", cls.breaker_min_calls),
            breaker_cooldown_s=number("BREAKER_COOLDOWN_S", cls.breaker_cooldown_s),
            api_key_recheck_s=number("API_KEY_RECHECK_S", cls.api_key_recheck_s),
        )


@dataclass(frozen=True)
class RouterConfig:
    """RouterConfig: listening address, scorer target, the dial, the embedder and the tiers."""

    listen: str = f"[::]:{DEFAULT_ROUTER_PORT}"
    scorer_target: str = "localhost:50052"
    scorer_timeout_ms: float = 250.0
    threshold: float = DEFAULT_THRESHOLD
    # When set, the threshold comes from the router model's calibration table instead.
    premium_share: float | None = None
    # The tier used, flagged as degraded, when the scorer cannot be reached.
    degraded_tier: str = "small"
    fallback: str = "both"
    max_retries: int = 2
    # Characters of the last user message that are embedded; longer text is cut.
    max_prompt_chars: int = 8000
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    small: TierConfig = field(default_factory=lambda: TierConfig("small", model=DEFAULT_MODELS["small"]))
    premium: TierConfig = field(default_factory=lambda: TierConfig("premium", model=DEFAULT_MODELS["premium"]))
    dispatch: DispatchConfig = field(default_factory=DispatchConfig)
    reflection: bool = False
    grace_seconds: float = 10.0
    # Where each request's decision-log line goes: stdout, stderr, off, or a file path (appended).
    decision_log: str = "stdout"
    # Decision-log lines carry the scored prompt itself only when true; otherwise its SHA-256.
    log_prompts: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"ORCHESTROUTER_THRESHOLD must be in [0, 1], got {self.threshold}")
        if self.premium_share is not None and not 0.0 <= self.premium_share <= 1.0:
            raise ConfigError(f"ORCHESTROUTER_PREMIUM_SHARE must be in [0, 1], got {self.premium_share}")
        if self.degraded_tier not in TIERS:
            raise ConfigError(f"ORCHESTROUTER_DEGRADED_TIER must be small or premium, got {self.degraded_tier!r}")
        if self.fallback not in FALLBACK_POLICIES:
            raise ConfigError(f"ORCHESTROUTER_FALLBACK must be one of {', '.join(FALLBACK_POLICIES)}")
        if self.scorer_timeout_ms <= 0:
            raise ConfigError("ORCHESTROUTER_SCORER_TIMEOUT_MS must be > 0")
        if self.max_retries < 0:
            raise ConfigError("ORCHESTROUTER_MAX_RETRIES must be >= 0")
        if self.max_prompt_chars < 1:
            raise ConfigError("ORCHESTROUTER_MAX_PROMPT_CHARS must be >= 1")
        if not self.decision_log.strip():
            raise ConfigError("ORCHESTROUTER_DECISION_LOG must be stdout, stderr, off or a file path")

    def tier(self, name: str) -> TierConfig:
        return {"small": self.small, "premium": self.premium}[name]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RouterConfig:
        env = os.environ if env is None else env
        try:
            return cls(
                listen=env_listen(env, "ORCHESTROUTER_ROUTER_LISTEN", cls.listen),
                scorer_target=env_str(env, "ORCHESTROUTER_SCORER_TARGET", cls.scorer_target),
                scorer_timeout_ms=env_float(env, "ORCHESTROUTER_SCORER_TIMEOUT_MS", cls.scorer_timeout_ms),
                threshold=env_float(env, "ORCHESTROUTER_THRESHOLD", cls.threshold),
                premium_share=env_float(env, "ORCHESTROUTER_PREMIUM_SHARE", None),
                degraded_tier=env_str(env, "ORCHESTROUTER_DEGRADED_TIER", cls.degraded_tier),
                fallback=env_str(env, "ORCHESTROUTER_FALLBACK", cls.fallback),
                max_retries=env_int(env, "ORCHESTROUTER_MAX_RETRIES", cls.max_retries),
                max_prompt_chars=env_int(env, "ORCHESTROUTER_MAX_PROMPT_CHARS", cls.max_prompt_chars),
                embedder=EmbedderConfig.from_env(env),
                small=TierConfig.from_env(env, "small"),
                premium=TierConfig.from_env(env, "premium"),
                dispatch=DispatchConfig.from_env(env),
                reflection=env_bool(env, "ORCHESTROUTER_REFLECTION", cls.reflection),
                grace_seconds=env_float(env, "ORCHESTROUTER_GRACE_SECONDS", cls.grace_seconds),
                decision_log=env_str(env, "ORCHESTROUTER_DECISION_LOG", cls.decision_log),
                log_prompts=env_bool(env, "ORCHESTROUTER_LOG_PROMPTS", cls.log_prompts),
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
