"""RouteAnswer: a Route reply as plain values, read from the generated messages' descriptors.

Nothing here names a Decision field: the attributes are whatever ``orchestrouter.v1`` defines, so a field
added to the proto shows up on RouteAnswer, in ``to_dict()`` and in ``orchestrouter route --json`` unedited.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.message import Message

from orchestrouter.v1 import router_pb2


def enum_name(enum: EnumDescriptor, number: int) -> str:
    """An enum value's name without the enum's prefix, in lower case: TIER_PREMIUM -> ``premium``."""
    prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"
    value = enum.values_by_number.get(number)
    return value.name.removeprefix(prefix).lower() if value is not None else str(number)


def plain_values(message: Message) -> dict[str, Any]:
    """Every field of a message as a plain value, in field order: enums by name, messages as dicts."""

    def plain(field: Any, value: Any) -> Any:
        if field.enum_type is not None:
            return enum_name(field.enum_type, value)
        if field.message_type is not None:
            return plain_values(value)
        return value

    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        out[field.name] = [plain(field, v) for v in value] if field.is_repeated else plain(field, value)
    return out


def _answer_values(response: router_pb2.RouteResponse) -> dict[str, Any]:
    """The decision's fields first, then the reply's own; ``timings`` becomes ``timings_ms`` keyed by hop."""
    values = plain_values(response.decision)
    for name, value in plain_values(response).items():
        if name == "decision":
            continue
        if name == "timings":
            # HopTimings fields are named <hop>_ms: {"embed": ..., "score": ..., "total": ...} in milliseconds.
            values["timings_ms"] = {hop.removesuffix("_ms"): ms for hop, ms in value.items()}
        else:
            values[name] = value
    return values


class RouteAnswer:
    """RouteAnswer: one Route call's reply (``response``), with its fields readable as plain attributes.

    ``tier``, ``model``, ``win_probability``, ``threshold``, ``router_id``... are the Decision's fields
    (enums by name: ``tier`` is ``"small"`` or ``"premium"``); ``answer``, ``request_id``,
    ``finish_reason`` the reply's; ``usage`` a dict of token counts and cost; ``timings_ms`` the
    milliseconds per hop (``embed``, ``score``, ``dispatch``, ``total``).
    """

    __slots__ = ("_values", "response")

    def __init__(self, response: router_pb2.RouteResponse) -> None:
        self.response = response
        self._values = _answer_values(response)

    @classmethod
    def from_pb(cls, response: router_pb2.RouteResponse) -> RouteAnswer:
        return cls(response)

    @property
    def decision(self) -> router_pb2.Decision:
        return self.response.decision

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        try:
            return values[name]
        except KeyError:
            raise AttributeError(f"RouteAnswer has no field {name!r}") from None

    def to_dict(self) -> dict[str, Any]:
        """Every field as a plain value: what ``orchestrouter route --json`` prints."""
        return copy.deepcopy(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RouteAnswer) and other.response == self.response

    __hash__ = None  # type: ignore[assignment]  # equal by value, and its message is mutable

    def __repr__(self) -> str:
        return f"RouteAnswer({self._values!r})"
