"""The Store protocol: what every backend offers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from orchestrouter.store.records import AnswerRecord, Feedback, Judgment, RequestRecord, StoredPair


class Store(Protocol):
    """Store: the durable traffic store. Synchronous and thread-safe; callers on an event loop use a thread.

    Every method raises StoreError (without secrets) when the backend fails.
    """

    url_for_display: str  # the URL with any password removed
    migrations_applied: list[int]  # the schema versions opening it applied (empty when it was current)

    def record_requests(self, records: Sequence[RequestRecord]) -> None:
        """Stores requests with their answers; a request id already stored is left as it is."""

    def record_answers(self, answers: Sequence[tuple[str, AnswerRecord]]) -> int:
        """Adds each (request_id, answer) to its stored request, after the answers it holds; in one transaction.

        An answer equal to one its request already holds is skipped (a batch sent again changes
        nothing). An answer for a request id the store does not hold is skipped too, without
        failing the others: returns how many were skipped so (0 when every request was found).
        """
        ...

    def record_feedback(self, feedback: Feedback) -> None:
        """Stores feedback; raises UnknownRequest (no such request) or NotYourRequest (another caller's)."""

    def unjudged_pairs(self, judge_model: str, limit: int) -> list[StoredPair]:
        """Up to limit pairs (oldest first) that judge_model has not judged."""
        ...

    def record_judgment(self, judgment: Judgment) -> bool:
        """Stores a judgment; False (and nothing written) if that judge model already judged the request.

        Raises UnknownRequest for a request id the store does not hold.
        """
        ...

    def pairs(self, *, since: float | None = None, judged_only: bool = False) -> Iterator[StoredPair]:
        """Every pair created at or after since (oldest first); only judged ones when judged_only."""
        ...

    def requests(self, *, since: float | None = None) -> Iterator[RequestRecord]:
        """Every stored request created at or after since (oldest first), with all its answers."""
        ...

    def purge(
        self, *, older_than: float | None = None, request_ids: Sequence[str] = (), caller: str | None = None
    ) -> int:
        """Deletes the matching requests with their prompt text, answers, judgments and feedback.

        A request matches when it meets every criterion given: created before older_than (unix
        seconds), one of request_ids, made by caller. At least one criterion is required
        (ValueError otherwise). Returns how many requests were deleted.
        """
        ...

    def close(self) -> None:
        """Releases the connection; the store is unusable afterwards."""
