"""headers: the decision on every answer's headers, and the dial a caller may set through headers.

Each Decision field goes out as ``x-orchestrouter-<field>`` (``tier`` -> ``x-orchestrouter-tier``,
``win_probability`` -> ``x-orchestrouter-win-probability``, ``fell_back`` -> ``x-orchestrouter-fell-back``),
named from decision_fields.DECISION_FIELDS so a new field gets its header with no change here; the
request id goes out as ``x-orchestrouter-request-id``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from orchestrouter.router.decision_fields import DECISION_FIELDS, DecisionField
from orchestrouter.router.model import Decision
from orchestrouter.runtime.errors import InvalidArgument

PREFIX = "x-orchestrouter-"
REQUEST_ID = PREFIX + "request-id"
# Request headers that set the dial for one request (as RouteRequest's threshold / premium_share).
THRESHOLD = PREFIX + "threshold"
PREMIUM_SHARE = PREFIX + "premium-share"
# Header values are one line of visible ASCII; a reason quoting a peer is cut to this.
MAX_VALUE_CHARS = 512


def header_name(field: DecisionField) -> str:
    return PREFIX + field.name.replace("_", "-")


DECISION_HEADERS = tuple((field, header_name(field)) for field in DECISION_FIELDS)
# Every header the front door sets: what a browser client may read (Access-Control-Expose-Headers).
ALL_DECISION_HEADERS = (*(name for _, name in DECISION_HEADERS), REQUEST_ID)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 6)) if math.isfinite(value) else "0"
    text = "".join(c if " " <= c <= "~" else "?" for c in str(value)).strip()
    return text[:MAX_VALUE_CHARS]


def decision_headers(decision: Decision, request_id: str) -> dict[str, str]:
    """The decision and the request id as response headers."""
    headers = {name: _value(getattr(decision, field.name)) for field, name in DECISION_HEADERS}
    headers[REQUEST_ID] = _value(request_id)
    return headers


def dial_from_headers(headers: Mapping[str, str]) -> tuple[float | None, float | None]:
    """(threshold, premium_share) from the dial headers, None where absent; InvalidArgument if not a number."""
    return _number(headers, THRESHOLD), _number(headers, PREMIUM_SHARE)


def _number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidArgument(f"header {name} must be a number, got {raw[:40]!r}") from None
