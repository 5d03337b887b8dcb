"""FeedbackDesk: checks a caller's rating of an answered request and stores it (the Feedback RPC)."""

from __future__ import annotations

import asyncio
import logging
import time

from orchestrouter.router.traffic_recorder import TrafficRecorder
from orchestrouter.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unavailable
from orchestrouter.runtime.throttled_log import ThrottledWarning
from orchestrouter.store import Feedback, NotYourRequest, Store, StoreError, UnknownRequest
from orchestrouter.store.records import RATINGS

MAX_REQUEST_ID_CHARS = 128
MAX_COMMENT_CHARS = 2000
# How long feedback for an id the store lacks waits for the router's queued records to be written.
PENDING_RECORDS_WAIT_S = 5.0

log = logging.getLogger(__name__)


class FeedbackDesk:
    """FeedbackDesk: takes feedback for the store, or refuses it (FAILED_PRECONDITION) when there is none."""

    def __init__(self, store: Store | None, recorder: TrafficRecorder | None = None) -> None:
        self.store = store
        # This router's traffic recorder: a request it just answered may still be in its queue.
        self.recorder = recorder
        self._store_failures = ThrottledWarning(log, "feedback could not be stored")

    async def submit(self, request_id: str, rating: int | None, comment: str, caller: str) -> None:
        """Stores caller's rating (-1, 0 or +1; None is refused) of request_id, or raises the ServiceError to show."""
        if not request_id or len(request_id) > MAX_REQUEST_ID_CHARS:
            raise InvalidArgument(f"request_id must be 1 to {MAX_REQUEST_ID_CHARS} characters")
        if rating is None or rating not in RATINGS:
            raise InvalidArgument("rating must be RATING_BAD, RATING_NEUTRAL or RATING_GOOD")
        if len(comment) > MAX_COMMENT_CHARS:
            raise InvalidArgument(f"comment must be at most {MAX_COMMENT_CHARS} characters, got {len(comment)}")
        store = self.store
        if store is None:
            raise FailedPrecondition("this router keeps no traffic store (ORCHESTROUTER_STORE is unset)")
        feedback = Feedback(request_id, caller, rating, comment, time.time())
        try:
            await self._record(store, feedback)
        except UnknownRequest:
            raise NotFound(f"no stored request with id {request_id!r}") from None
        except NotYourRequest:
            raise PermissionDenied("feedback is taken only from the caller that made the request") from None
        except StoreError as exc:  # its message holds no password
            self._store_failures(str(exc))
            raise Unavailable("the traffic store is unavailable; try again later") from None

    async def _record(self, store: Store, feedback: Feedback) -> None:
        # The store is synchronous: its calls run on a worker thread, never on the event loop.
        try:
            await asyncio.to_thread(store.record_feedback, feedback)
        except UnknownRequest:
            # Rated the moment its answer arrived, the request may not be written yet: once what
            # this router has queued is written, the store is asked again (once).
            recorder = self.recorder
            if recorder is None or not await asyncio.to_thread(recorder.written, PENDING_RECORDS_WAIT_S):
                raise
            await asyncio.to_thread(store.record_feedback, feedback)
