"""Shape checks of a caller's JSON: each returns the value typed, or raises InvalidArgument naming the field (`at`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrouter.router.model import JsonObject
from orchestrouter.runtime.errors import InvalidArgument


def json_from_text(text: str | bytes, at: str) -> Any:
    """Parsed JSON from a caller; InvalidArgument naming `at` when it is not strict JSON.

    NaN and Infinity (Python's extensions, which an endpoint would refuse) are not JSON here, and
    nesting deep enough to exhaust the parser is an error, not a crash.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:  # UnicodeDecodeError included
        raise InvalidArgument(f"{at} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidArgument(f"{at} is nested too deeply") from None


def json_object_from_text(text: str | bytes, at: str) -> JsonObject:
    """json_from_text for a JSON object."""
    value = json_from_text(text, at)
    if not isinstance(value, dict):
        raise InvalidArgument(f"{at} must be a JSON object, got {type_name(value)}")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def object_at(value: Any, at: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{at} must be an object, got {type_name(value)}")
    return value


def array_at(value: Any, at: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise InvalidArgument(f"{at} must be an array, got {type_name(value)}")
    return value


def string_at(value: Any, at: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{at} must be a string, got {type_name(value)}")
    return value


def optional_string(obj: Mapping[str, Any], key: str, at: str) -> str:
    value = obj.get(key)
    return "" if value is None else string_at(value, f"{at}.{key}")


def number_at(value: Any, at: str) -> float | None:
    if value is None:
        return None
    # bool is an int to Python, never a number to a JSON schema.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{at} must be a number, got {type_name(value)}")
    return float(value)


def integer_at(value: Any, at: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{at} must be an integer, got {type_name(value)}")
    return value


def boolean_at(value: Any, at: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidArgument(f"{at} must be true or false, got {type_name(value)}")
    return value


def optional_object(value: Any, at: str) -> JsonObject | None:
    return None if value is None else object_at(value, at)
