"""Router configuration, read from ORCHESTROUTER_* environment variables at startup."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from router_service.runtime.envparse import env_bool, env_float, env_int, env_secret, env_str

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
    ca_bundle: str = ""
    max_concurrency: int = 64
    connect_timeout_s: float = 2.0
    first_token_timeout_s: float = 30.0
    total_timeout_s: float = 120.0
    price_input_per_mtok: float = 0.0
    price_output_per_mtok: float = 0.0

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str], tier: str) -> "TierConfig":
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
        for name, value in (("CONNECT_TIMEOUT_S", cfg.connect_timeout_s),
                            ("FIRST_TOKEN_TIMEOUT_S", cfg.first_token_timeout_s),
                            ("TIMEOUT_S", cfg.total_timeout_s)):
            if value <= 0:
                raise ConfigError(f"{p}{name} must be > 0")
        if cfg.price_input_per_mtok < 0 or cfg.price_output_per_mtok < 0:
            raise ConfigError(f"{p}PRICE_*_PER_MTOK must be >= 0")
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
    def from_env(cls, env: Mapping[str, str]) -> "EmbedderConfig":
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
    reflection: bool = False
    grace_seconds: float = 10.0

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

    def tier(self, name: str) -> TierConfig:
        return {"small": self.small, "premium": self.premium}[name]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "RouterConfig":
        env = os.environ if env is None else env
        try:
            return cls(
                listen=env_str(env, "ORCHESTROUTER_ROUTER_LISTEN", cls.listen),
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
                reflection=env_bool(env, "ORCHESTROUTER_REFLECTION", cls.reflection),
                grace_seconds=env_float(env, "ORCHESTROUTER_GRACE_SECONDS", cls.grace_seconds),
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
