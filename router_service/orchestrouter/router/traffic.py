"""traffic: what follows an answered request once the caller has its answer.

Two side paths, both off the caller's path and neither able to fail or delay the answer: a shadow
call to the other tier for a sampled share of requests (router.shadow), and the request's record
in the traffic store (router.traffic_recorder). Every request is recorded at once with its served
answer, so the caller can rate it (Feedback) straight away; a shadow answer is added to that record
when its call ends (the pair is complete, and a judge sees it, only then).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from orchestrouter.router.model import PREMIUM, SMALL, RouteInput, RouteResult
from orchestrouter.router.shadow import ShadowRouter
from orchestrouter.router.traffic_recorder import TrafficRecorder
from orchestrouter.runtime.throttled_log import ThrottledWarning, describe
from orchestrouter.store import AnswerRecord, RequestRecord

log = logging.getLogger(__name__)

OTHER_TIER = {SMALL: PREMIUM, PREMIUM: SMALL}


class AnsweredTraffic:
    """AnsweredTraffic: the shadow call and the store record of each answered (not dry-run) request.

    Either part may be absent: without a store, shadow calls are made and counted but their answers
    kept nowhere; without shadowing, every answered request is recorded with its served answer.
    """

    def __init__(
        self,
        shadow: ShadowRouter | None,
        recorder: TrafficRecorder | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.shadow = shadow
        self.recorder = recorder
        self._clock = clock
        self._failures = ThrottledWarning(log, "cannot shadow or record an answered request")

    @property
    def keeps_text(self) -> bool:
        """Whether the answer's text is needed: a stream's deltas are gathered only then."""
        return self.recorder is not None

    def answered(self, inp: RouteInput, result: RouteResult, text: str) -> None:
        """Called once the caller has the whole answer (text: the served answer); returns at once, never raises."""
        try:
            # Queued before the shadow call starts: the request's row is written before its shadow answer.
            if self.recorder is not None:
                self.recorder.record(self._record_of(inp, result, text))
            if self.shadow is not None and self.shadow.sampled():
                request_id = result.request_id
                self.shadow.launch(
                    OTHER_TIER[result.decision.tier],
                    inp.messages,
                    inp.params,
                    lambda answer: self._shadow_answered(request_id, answer),
                )
        except Exception as exc:  # noqa: BLE001 - a side path never fails an answered request
            self._failures(describe(exc))

    def _shadow_answered(self, request_id: str, answer: AnswerRecord) -> None:
        """The shadow call's end (in its own task): its answer joins the request's record; never raises."""
        if self.recorder is None:
            return
        try:
            self.recorder.record_answer(request_id, answer)
        except Exception as exc:  # noqa: BLE001 - a side path never raises
            self._failures(describe(exc))

    def _record_of(self, inp: RouteInput, result: RouteResult, text: str) -> RequestRecord:
        d, usage = result.decision, result.usage
        served = AnswerRecord(
            tier=d.tier,
            model=d.model,
            text=text,
            latency_ms=result.timings.dispatch_ms,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_usd=usage.cost_usd,
            shadow=False,
        )
        return RequestRecord(
            request_id=result.request_id,
            created_at=self._clock(),
            caller=inp.caller,
            messages_json=json.dumps([{"role": m.role, "content": m.content} for m in inp.messages]),
            query=inp.query,
            routed_tier=d.routed_tier,
            answered_tier=d.tier,
            win_probability=d.win_probability,
            threshold=d.threshold,
            router_id=d.router_id,
            router_version=d.router_version,
            answers=(served,),
        )

    async def close(self) -> None:
        """Ends the shadow calls in flight (their requests are still recorded), then writes what is queued."""
        if self.shadow is not None:
            await self.shadow.close()
        if self.recorder is not None:
            recorder = self.recorder
            await asyncio.to_thread(recorder.close)
        self._failures.flush()
