"""Router configuration, read from ORCHESTROUTER_* environment variables at startup."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from orchestrouter.router.dispatch.breaker import BreakerSettings
from orchestrouter.router.dispatch.retry import RetryPolicy
from orchestrouter.runtime.config import ALLOW_UNAUTHENTICATED, EnvConfig, require, require_finite
from orchestrouter.runtime.config import ConfigError as ConfigError  # where the servers look for it
from orchestrouter.runtime.envparse import env_bool, env_float, env_int, env_listen, env_secret, env_str
from orchestrouter.runtime.health_port import env_health_listen
from orchestrouter.runtime.settings import describe
from orchestrouter.runtime.tls import ChannelTLSConfig, ServerTLSConfig
from orchestrouter.store.url import parse_store_url

DEFAULT_ROUTER_PORT = 50051
DEFAULT_THRESHOLD = 0.2
TIERS = ("small", "premium")
# The reference deployment's models; each tier's ORCHESTROUTER_<TIER>_MODEL overrides.
DEFAULT_MODELS = {"small": "Qwen/Qwen3-4B-Instruct-2507", "premium": "Qwen/Qwen2.5-32B-Instruct"}
FALLBACK_POLICIES = ("both", "to-premium", "to-small", "none")


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
    # One call, from sending the request to the last byte of the answer. Half a minute: a hung
    # endpoint holds a connection and a caller this long at most before the other tier is tried.
    total_timeout_s: float = 30.0
    price_input_per_mtok: float = 0.0
    price_output_per_mtok: float = 0.0
    # --- Limits (issue 10, defect 7 and 8): what one call may hold. ---
    # Bytes of one answer (a JSON body, or a whole stream) kept; more is a failure of the tier.
    max_answer_bytes: int = 4 * 1024 * 1024
    # The wait for a free pooled connection when max_concurrency calls are in flight.
    pool_timeout_s: float = 1.0

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    def __post_init__(self) -> None:
        p = f"ORCHESTROUTER_{self.tier.upper()}_"
        require(self.max_concurrency >= 1, f"{p}MAX_CONCURRENCY must be >= 1")
        for name, value in (
            ("CONNECT_TIMEOUT_S", self.connect_timeout_s),
            ("FIRST_TOKEN_TIMEOUT_S", self.first_token_timeout_s),
            ("TIMEOUT_S", self.total_timeout_s),
        ):
            require(value > 0, f"{p}{name} must be > 0")
        require(self.price_input_per_mtok >= 0 and self.price_output_per_mtok >= 0, f"{p}PRICE_*_PER_MTOK must be >= 0")
        require(
            not self.base_url or urlsplit(self.base_url).scheme in ("http", "https"),
            f"{p}BASE_URL must be an http:// or https:// URL, got {self.base_url!r}",
        )
        require(not self.ca_bundle or Path(self.ca_bundle).is_file(), f"{p}CA_BUNDLE: no such file {self.ca_bundle}")
        # Issue 10: NaN or infinity in code-built settings (the environment's are refused by env_float).
        require_finite(
            (
                (p + "CONNECT_TIMEOUT_S", self.connect_timeout_s),
                (p + "FIRST_TOKEN_TIMEOUT_S", self.first_token_timeout_s),
                (p + "TIMEOUT_S", self.total_timeout_s),
                (p + "PRICE_INPUT_PER_MTOK", self.price_input_per_mtok),
                (p + "PRICE_OUTPUT_PER_MTOK", self.price_output_per_mtok),
            )
        )
        # --- Limits ---
        require(self.max_answer_bytes >= 1024, f"{p}MAX_ANSWER_BYTES must be >= 1024")
        require(self.pool_timeout_s > 0, f"{p}POOL_TIMEOUT_S must be > 0")

    @classmethod
    def from_env(cls, env: Mapping[str, str], tier: str) -> TierConfig:
        """The tier's settings from ORCHESTROUTER_<TIER>_* (called by RouterConfig.read_env)."""
        p = f"ORCHESTROUTER_{tier.upper()}_"
        return cls(
            tier=tier,
            base_url=env_str(
                env,
                p + "BASE_URL",
                "",
                help=f"{tier} tier: OpenAI-compatible base URL (…/v1); unset: no {tier} endpoint",
            ),
            model=env_str(env, p + "MODEL", DEFAULT_MODELS[tier], help=f"{tier} tier: model name sent to the endpoint"),
            api_key=env_secret(env, p + "API_KEY", help=f"{tier} tier: the endpoint's API key (bearer token)"),
            api_key_file=env_str(
                env,
                p + "API_KEY_FILE",
                "",
                help=f"{tier} tier: file holding the API key, re-read when it changes (a rotated Secret)",
            ),
            ca_bundle=env_str(
                env,
                p + "CA_BUNDLE",
                "",
                help=f"{tier} tier: PEM file of the CAs that sign the endpoint's certificate; unset: the system's",
            ),
            max_concurrency=env_int(
                env,
                p + "MAX_CONCURRENCY",
                cls.max_concurrency,
                help=f"{tier} tier: calls in flight to the endpoint at most",
            ),
            connect_timeout_s=env_float(
                env,
                p + "CONNECT_TIMEOUT_S",
                cls.connect_timeout_s,
                help=f"{tier} tier: seconds to connect to the endpoint",
            ),
            first_token_timeout_s=env_float(
                env,
                p + "FIRST_TOKEN_TIMEOUT_S",
                cls.first_token_timeout_s,
                help=f"{tier} tier: seconds to wait for a stream's first token, and for each later chunk",
            ),
            total_timeout_s=env_float(
                env,
                p + "TIMEOUT_S",
                cls.total_timeout_s,
                help=f"{tier} tier: seconds one call may take, request to last byte",
            ),
            price_input_per_mtok=env_float(
                env,
                p + "PRICE_INPUT_PER_MTOK",
                0.0,
                help=f"{tier} tier: USD per million prompt tokens, for the reported cost",
            ),
            price_output_per_mtok=env_float(
                env,
                p + "PRICE_OUTPUT_PER_MTOK",
                0.0,
                help=f"{tier} tier: USD per million completion tokens, for the reported cost",
            ),
            # --- Limits ---
            max_answer_bytes=env_int(
                env,
                p + "MAX_ANSWER_BYTES",
                cls.max_answer_bytes,
                help=f"{tier} tier: bytes of one answer kept at most; more fails the tier",
            ),
            pool_timeout_s=env_float(
                env,
                p + "POOL_TIMEOUT_S",
                cls.pool_timeout_s,
                help=f"{tier} tier: seconds to wait for a free connection when MAX_CONCURRENCY calls are in flight",
            ),
        )


@dataclass(frozen=True)
class EmbedderConfig(EnvConfig):
    """EmbedderConfig: the local WordLlama default, or an OpenAI-compatible endpoint."""

    kind: str = "wordllama"
    base_url: str = ""
    model: str = "text-embedding-3-small"
    dim: int = 1536
    api_key: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        require(
            self.kind in ("wordllama", "openai"),
            f"ORCHESTROUTER_EMBEDDER must be wordllama or openai, got {self.kind!r}",
        )
        require(
            self.kind != "openai" or bool(self.base_url),
            "ORCHESTROUTER_EMBEDDER=openai needs ORCHESTROUTER_EMBEDDINGS_BASE_URL",
        )

    @classmethod
    def read_env(cls, env: Mapping[str, str]) -> EmbedderConfig:
        return cls(
            kind=env_str(
                env,
                "ORCHESTROUTER_EMBEDDER",
                cls.kind,
                help="wordllama (local, the default) or openai (an OpenAI-compatible embeddings endpoint)",
            ),
            base_url=env_str(
                env,
                "ORCHESTROUTER_EMBEDDINGS_BASE_URL",
                "",
                help="embeddings endpoint base URL (…/v1), for ORCHESTROUTER_EMBEDDER=openai",
            ),
            model=env_str(
                env,
                "ORCHESTROUTER_EMBEDDINGS_MODEL",
                cls.model,
                help="embeddings model name, for ORCHESTROUTER_EMBEDDER=openai",
            ),
            dim=env_int(
                env,
                "ORCHESTROUTER_EMBEDDINGS_DIM",
                cls.dim,
                help="dimensions of the endpoint's embeddings (the router model must match)",
            ),
            api_key=env_secret(env, "ORCHESTROUTER_EMBEDDINGS_API_KEY", help="API key of the embeddings endpoint"),
        )


@dataclass(frozen=True)
class DispatchConfig(EnvConfig):
    """DispatchConfig: how dispatch retries, splits the deadline and breaks circuits (all tiers).

    The retry and breaker settings are the policy objects themselves, read from ORCHESTROUTER_MAX_RETRIES,
    ORCHESTROUTER_RETRY_* and ORCHESTROUTER_BREAKER_*; the policies know nothing of the environment.
    """

    # Backoff before retry n (0-based) is uniform in [0, min(max, base * 2**n)] ("full jitter"); a 429's
    # Retry-After is honoured up to retry_after_max_s (and only when it fits in the deadline).
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # The circuit opens after consecutive_failures failed calls in a row, or when at least min_calls
    # calls in the last window_s failed at error_rate; then one probe call goes through after cooldown_s.
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    # Share of the remaining deadline kept back for the fallback tier while the routed tier is tried.
    fallback_reserve: float = 0.5
    # The deadline of a request whose caller set none: a minute, so that a hung endpoint (each call
    # bounded by its tier's timeouts) cannot hold a caller for minutes.
    default_deadline_s: float = 60.0
    # How often an API key file is checked for a new key (a rotated Secret).
    api_key_recheck_s: float = 1.0

    def __post_init__(self) -> None:
        retry, breaker = self.retry, self.breaker
        require(retry.max_retries >= 0, "ORCHESTROUTER_MAX_RETRIES must be >= 0")
        positive = (
            ("RETRY_BASE_DELAY_S", retry.base_delay_s),
            ("RETRY_MAX_DELAY_S", retry.max_delay_s),
            ("DEFAULT_DEADLINE_S", self.default_deadline_s),
            ("BREAKER_WINDOW_S", breaker.window_s),
            ("BREAKER_COOLDOWN_S", breaker.cooldown_s),
        )
        for name, value in positive:
            require(value > 0, f"ORCHESTROUTER_{name} must be > 0, got {value}")
        require(
            retry.retry_after_max_s >= 0,
            f"ORCHESTROUTER_RETRY_AFTER_MAX_S must be >= 0, got {retry.retry_after_max_s}",
        )
        require(
            self.api_key_recheck_s >= 0, f"ORCHESTROUTER_API_KEY_RECHECK_S must be >= 0, got {self.api_key_recheck_s}"
        )
        require(
            0.0 <= self.fallback_reserve < 1.0,
            f"ORCHESTROUTER_FALLBACK_RESERVE must be in [0, 1), got {self.fallback_reserve}",
        )
        require(
            0.0 < breaker.error_rate <= 1.0,
            f"ORCHESTROUTER_BREAKER_ERROR_RATE must be in (0, 1], got {breaker.error_rate}",
        )
        require(breaker.consecutive_failures >= 1, "ORCHESTROUTER_BREAKER_CONSECUTIVE_FAILURES must be >= 1")
        require(breaker.min_calls >= 1, "ORCHESTROUTER_BREAKER_MIN_CALLS must be >= 1")
        # Issue 10: NaN or infinity in code-built settings (the environment's are refused by env_float).
        require_finite(
            ("ORCHESTROUTER_" + name, value)
            for name, value in (
                *positive,
                ("RETRY_AFTER_MAX_S", retry.retry_after_max_s),
                ("API_KEY_RECHECK_S", self.api_key_recheck_s),
                ("FALLBACK_RESERVE", self.fallback_reserve),
                ("BREAKER_ERROR_RATE", breaker.error_rate),
            )
        )

    @classmethod
    def read_env(cls, env: Mapping[str, str]) -> DispatchConfig:
        def number(name: str, default: float, help: str) -> float:
            return env_float(env, "ORCHESTROUTER_" + name, default, help=help)

        def integer(name: str, default: int, help: str) -> int:
            return env_int(env, "ORCHESTROUTER_" + name, default, help=help)

        retry, breaker = RetryPolicy(), BreakerSettings()
        return cls(
            retry=RetryPolicy(
                max_retries=integer(
                    "MAX_RETRIES", retry.max_retries, "retries of a failed model call, on the same tier"
                ),
                base_delay_s=number(
                    "RETRY_BASE_DELAY_S",
                    retry.base_delay_s,
                    "backoff before the first retry, seconds (doubled each retry, full jitter)",
                ),
                max_delay_s=number(
                    "RETRY_MAX_DELAY_S", retry.max_delay_s, "the longest backoff between retries, seconds"
                ),
                retry_after_max_s=number(
                    "RETRY_AFTER_MAX_S",
                    retry.retry_after_max_s,
                    "the longest Retry-After (from a 429) honoured, seconds",
                ),
            ),
            breaker=BreakerSettings(
                consecutive_failures=integer(
                    "BREAKER_CONSECUTIVE_FAILURES",
                    breaker.consecutive_failures,
                    "failed calls in a row that open a tier's circuit",
                ),
                error_rate=number(
                    "BREAKER_ERROR_RATE",
                    breaker.error_rate,
                    "share of failed calls in the window that opens the circuit, 0 to 1",
                ),
                window_s=number("BREAKER_WINDOW_S", breaker.window_s, "seconds of calls the error rate is taken over"),
                min_calls=integer(
                    "BREAKER_MIN_CALLS", breaker.min_calls, "calls in the window before the error rate counts"
                ),
                cooldown_s=number(
                    "BREAKER_COOLDOWN_S", breaker.cooldown_s, "seconds an open circuit waits before one probe call"
                ),
            ),
            fallback_reserve=number(
                "FALLBACK_RESERVE",
                cls.fallback_reserve,
                "share of the remaining deadline kept for the fallback tier, in [0, 1)",
            ),
            default_deadline_s=number(
                "DEFAULT_DEADLINE_S", cls.default_deadline_s, "deadline of a request whose caller set none, seconds"
            ),
            api_key_recheck_s=number(
                "API_KEY_RECHECK_S", cls.api_key_recheck_s, "seconds between checks of an API key file for a new key"
            ),
        )


@dataclass(frozen=True)
class ShadowConfig(EnvConfig):
    """ShadowConfig: shadow routing, the other tier's answer to a share of answered requests (router.shadow).

    Shadow calls never reach the caller: they build the pairs a judge labels. They have their own
    concurrency cap and timeout, one attempt each, and their own connections to the endpoints.
    """

    # The share of answered (not dry-run) requests also sent to the other tier, in the background.
    rate: float = 0.0
    # Shadow calls in flight at most; a request sampled while they are all busy is not shadowed (counted).
    max_concurrency: int = 8
    # One shadow call, from sending the request to the last byte of the answer.
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        require(0.0 <= self.rate <= 1.0, f"ORCHESTROUTER_SHADOW_RATE must be in [0, 1], got {self.rate}")
        require(self.max_concurrency >= 1, "ORCHESTROUTER_SHADOW_MAX_CONCURRENCY must be >= 1")
        require(self.timeout_s > 0, f"ORCHESTROUTER_SHADOW_TIMEOUT_S must be > 0, got {self.timeout_s}")
        require_finite((("ORCHESTROUTER_SHADOW_RATE", self.rate), ("ORCHESTROUTER_SHADOW_TIMEOUT_S", self.timeout_s)))

    @classmethod
    def read_env(cls, env: Mapping[str, str]) -> ShadowConfig:
        return cls(
            rate=env_float(
                env,
                "ORCHESTROUTER_SHADOW_RATE",
                cls.rate,
                help="share of answered requests also sent to the other tier in the background, 0 to 1",
            ),
            max_concurrency=env_int(
                env,
                "ORCHESTROUTER_SHADOW_MAX_CONCURRENCY",
                cls.max_concurrency,
                help="shadow calls in flight at most (more are dropped and counted)",
            ),
            timeout_s=env_float(
                env,
                "ORCHESTROUTER_SHADOW_TIMEOUT_S",
                cls.timeout_s,
                help="seconds a shadow call may take before it is abandoned",
            ),
        )


# ORCHESTROUTER_SCORER_TARGET's value for a scorer inside the router's process (orchestrouter.tools.inprocess).
IN_PROCESS_SCORER = "inprocess"


@dataclass(frozen=True)
class RouterConfig(EnvConfig):
    """RouterConfig: listening address, scorer target, the dial, the embedder and the tiers."""

    listen: str = f"[::]:{DEFAULT_ROUTER_PORT}"
    scorer_target: str = "localhost:50052"
    scorer_timeout_ms: float = 250.0
    # Under load, how long a returned Score call may hold its slot so the next one carries more requests.
    score_linger_ms: float = 2.0
    threshold: float = DEFAULT_THRESHOLD
    # When set, the threshold comes from the router model's calibration table instead.
    premium_share: float | None = None
    # The tier used, flagged as degraded, when the scorer cannot be reached.
    degraded_tier: str = "small"
    fallback: str = "both"
    # Characters of the last user message that are embedded; longer text is cut.
    max_prompt_chars: int = 8000
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    small: TierConfig = field(default_factory=lambda: TierConfig("small", model=DEFAULT_MODELS["small"]))
    premium: TierConfig = field(default_factory=lambda: TierConfig("premium", model=DEFAULT_MODELS["premium"]))
    dispatch: DispatchConfig = field(default_factory=DispatchConfig)
    shadow: ShadowConfig = field(default_factory=ShadowConfig)
    reflection: bool = False
    grace_seconds: float = 10.0
    # Where each request's decision-log line goes: stdout, stderr, off, or a file path (appended).
    decision_log: str = "stdout"
    # Decision-log lines carry the scored prompt itself only when true; otherwise its SHA-256.
    log_prompts: bool = False
    # TLS (issue 10): the server certificate, key and client CA (mTLS) files; a plaintext
    # health-only address for probes (Kubernetes' gRPC probes cannot dial TLS); TLS to the scorer.
    tls: ServerTLSConfig = field(default_factory=ServerTLSConfig)
    health_listen: str = ""
    scorer_tls: ChannelTLSConfig = field(default_factory=ChannelTLSConfig)
    # --- Inbound authentication and caller policy (runtime.auth, router.caller_policy) ---
    # The bearer tokens callers must present, one caller:token per line; "" leaves Route open.
    auth_tokens_file: str = ""
    # Per-caller policy (JSON): who may set the dial, each caller's premium budget; "" allows all.
    caller_policy_file: str = ""
    # Seconds between checks of the token, policy and scorer-token files for a change.
    auth_recheck_s: float = 1.0
    # The file holding the token the router presents to a scorer that requires one.
    scorer_token_file: str = ""
    # --- Limits (issue 10, defect 7): the largest request the router receives (RESOURCE_EXHAUSTED above). ---
    max_request_bytes: int = 1024 * 1024
    # Serve without authentication on an address other hosts can reach (only if something else guards it).
    allow_unauthenticated: bool = False
    # --- Traffic store (orchestrouter.store) ---
    # sqlite:///PATH or postgresql://...; "" keeps no store (no prompt text is kept, Feedback is refused).
    store: str = field(default="", repr=False)
    # Requests older than this many days are purged from the store (hourly); 0 purges only by hand.
    store_retention_days: float = 30.0
    # --- The OpenAI-compatible HTTP front door (router.http): its own listen address; "" leaves it off. ---
    http_listen: str = ""
    # --- Router processes sharing the listen ports (router.workers); "auto" is read as the CPUs available. ---
    workers: int = 1

    def __post_init__(self) -> None:
        require(0.0 <= self.threshold <= 1.0, f"ORCHESTROUTER_THRESHOLD must be in [0, 1], got {self.threshold}")
        require(
            self.premium_share is None or 0.0 <= self.premium_share <= 1.0,
            f"ORCHESTROUTER_PREMIUM_SHARE must be in [0, 1], got {self.premium_share}",
        )
        require(
            self.degraded_tier in TIERS,
            f"ORCHESTROUTER_DEGRADED_TIER must be small or premium, got {self.degraded_tier!r}",
        )
        require(
            self.fallback in FALLBACK_POLICIES,
            f"ORCHESTROUTER_FALLBACK must be one of {', '.join(FALLBACK_POLICIES)}",
        )
        require(self.scorer_timeout_ms > 0, "ORCHESTROUTER_SCORER_TIMEOUT_MS must be > 0")
        require(
            0 <= self.score_linger_ms <= 100, f"{SCORE_LINGER_VARIABLE} must be 0 to 100, got {self.score_linger_ms}"
        )
        require(self.max_prompt_chars >= 1, "ORCHESTROUTER_MAX_PROMPT_CHARS must be >= 1")
        require(
            bool(self.decision_log.strip()),
            "ORCHESTROUTER_DECISION_LOG must be stdout, stderr, off or a file path",
        )
        # Inbound authentication and caller policy.
        require(
            0.0 <= self.auth_recheck_s < float("inf"), "ORCHESTROUTER_AUTH_RECHECK_S must be a number of seconds >= 0"
        )
        # Issue 10: NaN or infinity in code-built settings, and a negative grace period.
        require_finite(
            (
                ("ORCHESTROUTER_SCORER_TIMEOUT_MS", self.scorer_timeout_ms),
                (SCORE_LINGER_VARIABLE, self.score_linger_ms),
                ("ORCHESTROUTER_THRESHOLD", self.threshold),
                ("ORCHESTROUTER_PREMIUM_SHARE", self.premium_share),
                ("ORCHESTROUTER_GRACE_SECONDS", self.grace_seconds),
            )
        )
        require(self.grace_seconds >= 0, f"ORCHESTROUTER_GRACE_SECONDS must be >= 0, got {self.grace_seconds}")
        # --- Limits ---
        require(self.max_request_bytes >= 1024, "ORCHESTROUTER_ROUTER_MAX_REQUEST_BYTES must be >= 1024")
        # --- Traffic store ---
        if self.store:
            try:
                parse_store_url(self.store)
            except ValueError as exc:  # its message shows the URL without its password
                raise ConfigError(f"ORCHESTROUTER_STORE: {exc}") from None
        require(
            0.0 <= self.store_retention_days < float("inf"),
            f"ORCHESTROUTER_STORE_RETENTION_DAYS must be a number of days >= 0, got {self.store_retention_days}",
        )
        # --- Workers: they share TCP ports (SO_REUSEPORT); a unix socket has one owner. ---
        require(1 <= self.workers <= MAX_WORKERS, f"{WORKERS_VARIABLE} must be auto or 1..{MAX_WORKERS}")
        if self.workers > 1:
            for name, address in (
                ("ORCHESTROUTER_ROUTER_LISTEN", self.listen),
                (HTTP_LISTEN_VARIABLE, self.http_listen),
                ("ORCHESTROUTER_HEALTH_LISTEN", self.health_listen),
            ):
                require(
                    not address.startswith("unix:"),
                    f"{name}: several router workers share a TCP port, not a unix socket ({WORKERS_VARIABLE}=1)",
                )

    def tier(self, name: str) -> TierConfig:
        return {"small": self.small, "premium": self.premium}[name]

    @classmethod
    def read_env(cls, env: Mapping[str, str]) -> RouterConfig:
        return cls(
            listen=env_listen(
                env,
                "ORCHESTROUTER_ROUTER_LISTEN",
                cls.listen,
                help="address to listen on: host:port (port 0: any free port) or unix:PATH",
            ),
            scorer_target=env_str(
                env,
                "ORCHESTROUTER_SCORER_TARGET",
                cls.scorer_target,
                help=f"the scorer's address (host:port or unix:PATH), or {IN_PROCESS_SCORER!r}: the router scores "
                "in its own process (one process, ONNX Runtime and the model in the router's memory; the "
                "ORCHESTROUTER_SCORER_* model and batching variables apply)",
            ),
            scorer_timeout_ms=env_float(
                env,
                "ORCHESTROUTER_SCORER_TIMEOUT_MS",
                cls.scorer_timeout_ms,
                help="milliseconds one Score call may take before the router degrades",
            ),
            score_linger_ms=env_float(
                env,
                SCORE_LINGER_VARIABLE,
                cls.score_linger_ms,
                help="under load (Score requests waiting when one comes back, the event loop busy), at most how "
                "many milliseconds the router holds the next Score message so that more requests join it: "
                "fewer, larger messages, more decisions/s from a busy router; it goes as soon as the loop "
                "has nothing else to run; 0 sends at once",
            ),
            threshold=env_float(
                env,
                "ORCHESTROUTER_THRESHOLD",
                cls.threshold,
                help="win probability at or above which a request goes to the premium tier, 0 to 1",
            ),
            premium_share=env_float(
                env,
                "ORCHESTROUTER_PREMIUM_SHARE",
                None,
                help="target share of premium requests, 0 to 1; the threshold then comes from the model's calibration",
            ),
            degraded_tier=env_str(
                env,
                "ORCHESTROUTER_DEGRADED_TIER",
                cls.degraded_tier,
                help="tier used (flagged degraded) when the scorer cannot be reached: small or premium",
            ),
            fallback=env_str(
                env,
                "ORCHESTROUTER_FALLBACK",
                cls.fallback,
                help="when the routed tier fails: both, to-premium, to-small or none",
            ),
            max_prompt_chars=env_int(
                env,
                "ORCHESTROUTER_MAX_PROMPT_CHARS",
                cls.max_prompt_chars,
                help="characters of the last user message embedded; longer text is cut",
            ),
            embedder=EmbedderConfig.read_env(env),
            small=TierConfig.from_env(env, "small"),
            premium=TierConfig.from_env(env, "premium"),
            dispatch=DispatchConfig.read_env(env),
            shadow=ShadowConfig.read_env(env),
            reflection=env_bool(
                env, "ORCHESTROUTER_REFLECTION", cls.reflection, help="serve gRPC server reflection (v1 and v1alpha)"
            ),
            grace_seconds=env_float(
                env,
                "ORCHESTROUTER_GRACE_SECONDS",
                cls.grace_seconds,
                help="seconds in-flight calls may finish after SIGTERM",
            ),
            decision_log=env_str(
                env,
                "ORCHESTROUTER_DECISION_LOG",
                cls.decision_log,
                help="where each decision's JSON line goes: stdout, stderr, off or a file path",
            ),
            log_prompts=env_bool(
                env,
                "ORCHESTROUTER_LOG_PROMPTS",
                cls.log_prompts,
                help="write the prompt itself into decision-log lines (otherwise its SHA-256)",
            ),
            # TLS (issue 10)
            tls=ServerTLSConfig.read_env(env),
            health_listen=env_health_listen(env),
            scorer_tls=read_scorer_tls(env),
            # Inbound authentication and caller policy.
            auth_tokens_file=env_str(
                env,
                "ORCHESTROUTER_AUTH_TOKENS_FILE",
                cls.auth_tokens_file,
                help="file of caller:token lines callers must present; unset: no token required",
            ),
            caller_policy_file=env_str(
                env,
                "ORCHESTROUTER_CALLER_POLICY_FILE",
                cls.caller_policy_file,
                help="JSON file of per-caller policy (who may set the dial, premium budgets); unset: all allowed",
            ),
            auth_recheck_s=env_float(
                env,
                "ORCHESTROUTER_AUTH_RECHECK_S",
                cls.auth_recheck_s,
                help="seconds between checks of the token and policy files for a change",
            ),
            scorer_token_file=env_str(
                env,
                "ORCHESTROUTER_SCORER_TOKEN_FILE",
                cls.scorer_token_file,
                help="file holding the token the router presents to a scorer that requires one",
            ),
            # --- Limits ---
            max_request_bytes=env_int(
                env,
                "ORCHESTROUTER_ROUTER_MAX_REQUEST_BYTES",
                cls.max_request_bytes,
                help="largest request received, bytes (RESOURCE_EXHAUSTED above)",
            ),
            allow_unauthenticated=env_bool(
                env,
                ALLOW_UNAUTHENTICATED,
                cls.allow_unauthenticated,
                help="serve without authentication on an address other hosts can reach",
            ),
            # Traffic store
            store=env_str(
                env,
                "ORCHESTROUTER_STORE",
                cls.store,
                help="traffic store URL, sqlite:///PATH or postgresql://...; unset: nothing is stored",
            ).strip(),
            store_retention_days=env_float(
                env,
                "ORCHESTROUTER_STORE_RETENTION_DAYS",
                cls.store_retention_days,
                help="days a stored request's prompt text is kept (0: until purged by hand)",
            ),
            http_listen=read_http_listen(env),
            workers=read_workers(env),
        )


HTTP_LISTEN_VARIABLE = "ORCHESTROUTER_HTTP_LISTEN"
WORKERS_VARIABLE = "ORCHESTROUTER_ROUTER_WORKERS"
SCORE_LINGER_VARIABLE = "ORCHESTROUTER_SCORE_LINGER_MS"
MAX_WORKERS = 256


def read_workers(env: Mapping[str, str]) -> int:
    """ORCHESTROUTER_ROUTER_WORKERS: router processes on the same ports; "auto" is the CPUs this process may use."""
    describe(
        env,
        WORKERS_VARIABLE,
        "1",
        "router processes serving the same ports (SO_REUSEPORT), under one supervising process; "
        "auto: one per CPU this process may use (affinity and cgroup CPU limit)",
    )
    text = env.get(WORKERS_VARIABLE, "").strip().lower()
    if not text:
        return 1
    if text == "auto":
        return available_cpus()
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{WORKERS_VARIABLE} must be auto or 1..{MAX_WORKERS}, got {text!r}") from None


def available_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may use: its affinity, capped by a cgroup v2 CPU limit (rounded up)."""
    count = len(os.sched_getaffinity(0))
    try:
        quota, period = (cgroup_root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit readable: the affinity is the limit
    return max(1, min(count, MAX_WORKERS))


def read_http_listen(env: Mapping[str, str]) -> str:
    """ORCHESTROUTER_HTTP_LISTEN: the OpenAI-compatible HTTP front door's host:port or unix:PATH; "" for off."""
    describe(env, HTTP_LISTEN_VARIABLE, "", "the OpenAI-compatible HTTP front door: host:port or unix:PATH; unset: off")
    if not env.get(HTTP_LISTEN_VARIABLE, "").strip():
        return ""
    return env_listen(env, HTTP_LISTEN_VARIABLE, "")


def read_scorer_tls(env: Mapping[str, str]) -> ChannelTLSConfig:
    """How the router dials its scorer over TLS: ORCHESTROUTER_SCORER_TLS_CA_FILE (trust roots, TLS on
    when set), _CERT_FILE and _KEY_FILE (a client certificate, for a scorer that requires mTLS) and
    _SERVER_NAME (the name to expect in the scorer's certificate instead of the target's host)."""
    return ChannelTLSConfig(
        ca_file=env_str(
            env,
            "ORCHESTROUTER_SCORER_TLS_CA_FILE",
            "",
            help="PEM CA that signs the scorer's certificate; set: TLS to the scorer",
        ).strip(),
        cert_file=env_str(
            env,
            "ORCHESTROUTER_SCORER_TLS_CERT_FILE",
            "",
            help="PEM client certificate presented to a scorer requiring mTLS",
        ).strip(),
        key_file=env_str(
            env, "ORCHESTROUTER_SCORER_TLS_KEY_FILE", "", help="PEM key of ORCHESTROUTER_SCORER_TLS_CERT_FILE"
        ).strip(),
        server_name=env_str(
            env,
            "ORCHESTROUTER_SCORER_TLS_SERVER_NAME",
            "",
            help="name expected in the scorer's certificate instead of the target's host",
        ).strip(),
    )
