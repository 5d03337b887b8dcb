"""Scorer configuration, read from ORCHESTROUTER_SCORER_* environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestrouter.runtime.config import ALLOW_UNAUTHENTICATED, EnvConfig, require, require_finite
from orchestrouter.runtime.config import ConfigError as ConfigError  # where the server looks for it
from orchestrouter.runtime.envparse import env_bool, env_float, env_int, env_listen, env_str
from orchestrouter.runtime.health_port import env_health_listen
from orchestrouter.runtime.tls import ServerTLSConfig
from orchestrouter.scorer.artifact import DEFAULT_MODEL_PATH

DEFAULT_SCORER_PORT = 50052


@dataclass(frozen=True)
class ScorerConfig(EnvConfig):
    """ScorerConfig: where to listen, which model to load, how to batch."""

    listen: str = f"[::]:{DEFAULT_SCORER_PORT}"
    model_path: Path = DEFAULT_MODEL_PATH
    # Seconds between checks of the model file for a change (hot reload); 0 never checks.
    model_recheck_s: float = 2.0
    # Rows one Score request may carry.
    max_request_rows: int = 4096
    # Rows one ONNX run may take when concurrent requests are micro-batched together.
    batch_max_rows: int = 1024
    # How long the batcher waits for more requests after the first; 0 batches only what has
    # queued up meanwhile, which costs no latency at low load.
    batch_max_wait_ms: float = 0.0
    # Requests waiting for the batcher beyond this are refused with RESOURCE_EXHAUSTED.
    max_queue: int = 10000
    reflection: bool = False
    grace_seconds: float = 10.0
    # TLS (issue 10): the server certificate, key and client CA (mTLS) files, and a plaintext
    # health-only address for probes (Kubernetes' gRPC probes cannot dial TLS).
    tls: ServerTLSConfig = field(default_factory=ServerTLSConfig)
    health_listen: str = ""
    # --- Inbound authentication (runtime.auth) ---
    # The bearer tokens callers (the router) must present, one caller:token per line; "" leaves Score open.
    auth_tokens_file: str = ""
    # Seconds between checks of the token file for a change.
    auth_recheck_s: float = 1.0
    # --- Limits (issue 10, defect 7): the largest Score request received (RESOURCE_EXHAUSTED above).
    # A full batch of 4,096 rows of 1,536 float32 values is 24 MiB; the rest is headroom.
    max_request_bytes: int = 32 * 1024 * 1024
    # Serve without authentication on an address other hosts can reach (only if something else guards it).
    allow_unauthenticated: bool = False

    def __post_init__(self) -> None:
        require(self.max_request_rows >= 1, "ORCHESTROUTER_SCORER_MAX_REQUEST_ROWS must be >= 1")
        require(self.batch_max_rows >= 1, "ORCHESTROUTER_SCORER_BATCH_MAX_ROWS must be >= 1")
        require(0.0 <= self.batch_max_wait_ms <= 1000.0, "ORCHESTROUTER_SCORER_BATCH_MAX_WAIT_MS must be in [0, 1000]")
        require(self.max_queue >= 1, "ORCHESTROUTER_SCORER_MAX_QUEUE must be >= 1")
        require(self.grace_seconds >= 0, "ORCHESTROUTER_GRACE_SECONDS must be >= 0")
        require(
            0.0 <= self.model_recheck_s < float("inf"),
            "ORCHESTROUTER_SCORER_MODEL_RECHECK_S must be a number of seconds >= 0 (0: no hot reload)",
        )
        # Inbound authentication.
        require(
            0.0 <= self.auth_recheck_s < float("inf"), "ORCHESTROUTER_AUTH_RECHECK_S must be a number of seconds >= 0"
        )
        # Issue 10: NaN or infinity in code-built settings (the environment's are refused by env_float).
        require_finite(
            (
                ("ORCHESTROUTER_SCORER_BATCH_MAX_WAIT_MS", self.batch_max_wait_ms),
                ("ORCHESTROUTER_GRACE_SECONDS", self.grace_seconds),
            )
        )
        # --- Limits ---
        require(self.max_request_bytes >= 1024, "ORCHESTROUTER_SCORER_MAX_REQUEST_BYTES must be >= 1024")

    @classmethod
    def read_env(cls, env: Mapping[str, str]) -> ScorerConfig:
        return cls(
            listen=env_listen(env, "ORCHESTROUTER_SCORER_LISTEN", cls.listen),
            model_path=Path(env_str(env, "ORCHESTROUTER_SCORER_MODEL", str(DEFAULT_MODEL_PATH))),
            model_recheck_s=env_float(env, "ORCHESTROUTER_SCORER_MODEL_RECHECK_S", cls.model_recheck_s),
            max_request_rows=env_int(env, "ORCHESTROUTER_SCORER_MAX_REQUEST_ROWS", cls.max_request_rows),
            batch_max_rows=env_int(env, "ORCHESTROUTER_SCORER_BATCH_MAX_ROWS", cls.batch_max_rows),
            batch_max_wait_ms=env_float(env, "ORCHESTROUTER_SCORER_BATCH_MAX_WAIT_MS", cls.batch_max_wait_ms),
            max_queue=env_int(env, "ORCHESTROUTER_SCORER_MAX_QUEUE", cls.max_queue),
            reflection=env_bool(env, "ORCHESTROUTER_REFLECTION", cls.reflection),
            grace_seconds=env_float(env, "ORCHESTROUTER_GRACE_SECONDS", cls.grace_seconds),
            # TLS (issue 10)
            tls=ServerTLSConfig.read_env(env),
            health_listen=env_health_listen(env),
            # Inbound authentication.
            auth_tokens_file=env_str(env, "ORCHESTROUTER_AUTH_TOKENS_FILE", cls.auth_tokens_file),
            auth_recheck_s=env_float(env, "ORCHESTROUTER_AUTH_RECHECK_S", cls.auth_recheck_s),
            # --- Limits ---
            max_request_bytes=env_int(env, "ORCHESTROUTER_SCORER_MAX_REQUEST_BYTES", cls.max_request_bytes),
            allow_unauthenticated=env_bool(env, ALLOW_UNAUTHENTICATED, cls.allow_unauthenticated),
        )
