"""The requests both clients send and the replies they return, built and read in one place.

The synchronous and the asyncio clients differ only in how they wait; what goes on the wire and what
comes back to the caller is decided here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from orchestrouter.client.answer import RouteAnswer
from orchestrouter.v1 import router_pb2, scorer_pb2

# The services' full proto names: the retry policy of a client's channel applies to its methods.
ROUTER_SERVICE = router_pb2.DESCRIPTOR.services_by_name["RouterService"].full_name
SCORER_SERVICE = scorer_pb2.DESCRIPTOR.services_by_name["ScorerService"].full_name

RouteRequestT = TypeVar("RouteRequestT", router_pb2.RouteRequest, router_pb2.RouteStreamRequest)

# What score() accepts: a 2-D array, or a sequence of equally long rows of numbers.
Embeddings = npt.ArrayLike


_RATING_TO_PB = {-1: router_pb2.RATING_BAD, 0: router_pb2.RATING_NEUTRAL, 1: router_pb2.RATING_GOOD}


def feedback_request(request_id: str, rating: int, comment: str) -> router_pb2.FeedbackRequest:
    """A Feedback request: rating -1 (bad), 0 (neutral) or +1 (good) for an answered request's id."""
    return router_pb2.FeedbackRequest(
        request_id=request_id,
        # Any other number is sent as RATING_UNSPECIFIED, which the router refuses.
        rating=_RATING_TO_PB.get(rating, router_pb2.RATING_UNSPECIFIED),
        comment=comment,
    )


def route_request(
    request: RouteRequestT,
    text: str | None,
    messages: Sequence[tuple[str, str]],
    threshold: float | None,
    premium_share: float | None,
    dry_run: bool,
) -> RouteRequestT:
    """Fills a Route or RouteStream request: messages (role, content), then text as the last user message."""
    request.messages.extend(router_pb2.ChatMessage(role=r, content=c) for r, c in messages)
    if text is not None:
        request.messages.append(router_pb2.ChatMessage(role="user", content=text))
    request.dry_run = dry_run
    if threshold is not None:
        request.threshold = threshold
    if premium_share is not None:
        request.premium_share = premium_share
    return request


def stream_item(event: router_pb2.RouteStreamResponse) -> str | RouteAnswer | None:
    """A RouteStream event as the caller sees it: a text delta, the final RouteAnswer, or None (skipped)."""
    kind = event.WhichOneof("event")
    if kind == "delta":
        return event.delta
    if kind == "done":
        return RouteAnswer.from_pb(event.done)
    return None


def score_request(embeddings: Embeddings) -> scorer_pb2.ScoreRequest:
    """A ScoreRequest carrying embeddings as packed little-endian float32 rows; ValueError unless 2-D."""
    matrix = np.ascontiguousarray(np.asarray(embeddings, dtype="<f4"))
    if matrix.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (rows x dimensions), got {matrix.ndim}-D")
    batch = scorer_pb2.EmbeddingBatch(data=matrix.tobytes(), rows=matrix.shape[0], dim=matrix.shape[1])
    return scorer_pb2.ScoreRequest(embeddings=batch)


def win_probabilities(reply: scorer_pb2.ScoreResponse) -> npt.NDArray[np.float32]:
    """The reply's win probabilities, one per row sent, as a float32 array."""
    return np.asarray(reply.win_probabilities, dtype=np.float32)
