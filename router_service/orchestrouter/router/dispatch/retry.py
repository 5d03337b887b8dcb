"""RetryPolicy: whether and when to call the same endpoint again after a failed call."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from orchestrouter.router.dispatch.failures import FailureKind, UpstreamFailure

# A retry is only worth waiting for if at least this much time is left for the call itself.
MIN_ATTEMPT_S = 0.05


@dataclass(frozen=True)
class RetryPolicy:
    """RetryPolicy: jittered exponential backoff, honouring Retry-After within the time left.

    Retried: connection errors, 429 and 500/502/503/504. Not retried: timeouts (the time is
    better spent on the fallback tier), other 4xx, and anything once `max_retries` is used up.
    """

    max_retries: int = 2
    base_delay_s: float = 0.05
    max_delay_s: float = 1.0
    retry_after_max_s: float = 5.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay_before_retry(self, failure: UpstreamFailure, retries_done: int, time_left_s: float) -> float | None:
        """Seconds to wait before retry number retries_done + 1, or None to stop retrying."""
        if not failure.retryable or retries_done >= self.max_retries:
            return None
        if failure.kind is FailureKind.RATE_LIMITED and failure.retry_after_s is not None:
            delay = failure.retry_after_s
            if delay > self.retry_after_max_s:
                return None
        else:
            # Full jitter: concurrent callers hit by the same outage spread out instead of retrying in step.
            delay = self.rng.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2**retries_done))
        return delay if delay + MIN_ATTEMPT_S <= time_left_s else None
