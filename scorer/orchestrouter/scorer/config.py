"""Scorer configuration, read from ORCHESTROUTER_SCORER_* environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrouter.runtime.config import ConfigError as ConfigError  # where the server looks for it
from orchestrouter.runtime.config import EnvConfig, require
from orchestrouter.runtime.envparse import env_bool, env_float, env_int, env_listen, env_str
from orchestrouter.scorer.artifact import DEFAULT_MODEL_PATH

DEFAULT_SCORER_PORT = 50052


@dataclass(frozen=True)
class ScorerConfig(EnvConfig):
    """ScorerConfig: where to listen, which model to load, how to batch."""

    listen: str = f"[::]:{DEFAULT_SCORER_PORT}"
    model_path: Path = DEFAULT_MODEL_PATH
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
    # --- Limits (issue 10, defect 7): the largest Score request received (RESOURCE_EXHAUSTED above).
    # A full batch of 4,096 rows of 1,536 float32 values is 24 MiB; the rest is headroom.
    max_request_bytes: int = 32 * 1024 * 1024

    def __post_init__(self) -> None:
        require(self.max_request_rows >= 1, "ORCHESTROUTER_SCORER_MAX_REQUEST_ROWS must be >= 1")
        require(self.batch_max_rows >= 1, "ORCHESTROUTER_SCORER_BATCH_MAX_ROWS must be >= 1")
        require(0.0 <= self.batch_max_wait_ms <= 1000.0, "ORCHESTROUTER_SCORER_BATCH_MAX_WAIT_MS must be in [0, 1000]")
        require(self.max_queue >= 1, "ORCHESTROUTER_SCORER_MAX_QUEUE must be >= 1")
        require(self.grace_seconds >= 0, "ORCHESTROUTER_GRACE_SECONDS must be >= 0")
        # --- Limits ---
        require(self.max_request_bytes >= 1024, "ORCHESTROUTER_SCORER_MAX_REQUEST_BYTES must be >= 1024")

    @classmethod
    def read_env(cls, env: Mapping[str, str]) -> ScorerConfig:
        return cls(
            listen=env_listen(env, "ORCHESTROUTER_SCORER_LISTEN", cls.listen),
            model_path=Path(env_str(env, "ORCHESTROUTER_SCORER_MODEL", str(DEFAULT_MODEL_PATH))),
            max_request_rows=env_int(env, "ORCHESTROUTER_SCORER_MAX_REQUEST_ROWS", cls.max_request_rows),
            batch_max_rows=env_int(env, "ORCHESTROUTER_SCORER_BATCH_MAX_ROWS", cls.batch_max_rows),
            batch_max_wait_ms=env_float(env, "ORCHESTROUTER_SCORER_BATCH_MAX_WAIT_MS", cls.batch_max_wait_ms),
            max_queue=env_int(env, "ORCHESTROUTER_SCORER_MAX_QUEUE", cls.max_queue),
            reflection=env_bool(env, "ORCHESTROUTER_REFLECTION", cls.reflection),
            grace_seconds=env_float(env, "ORCHESTROUTER_GRACE_SECONDS", cls.grace_seconds),
            # --- Limits ---
            max_request_bytes=env_int(env, "ORCHESTROUTER_SCORER_MAX_REQUEST_BYTES", cls.max_request_bytes),
        )
