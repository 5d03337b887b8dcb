"""Typed reads of environment variables, with errors that name the variable.

Each reader takes the variable's name, its default and ``help``, what it does: ``serve-* --help``
lists them (runtime.settings), so a setting is described where it is read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import overload

from orchestrouter.runtime.settings import describe

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(env: Mapping[str, str], name: str, default: str, *, help: str = "") -> str:
    describe(env, name, default, help)
    return env.get(name, default)


def env_int(env: Mapping[str, str], name: str, default: int, *, help: str = "") -> int:
    describe(env, name, default, help)
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


@overload
def env_float(env: Mapping[str, str], name: str, default: float, *, help: str = "") -> float: ...
@overload
def env_float(env: Mapping[str, str], name: str, default: None, *, help: str = "") -> float | None: ...
def env_float(env: Mapping[str, str], name: str, default: float | None, *, help: str = "") -> float | None:
    describe(env, name, default, help)
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    # NaN compares false with everything, so it would slip past every range check; infinity turns a
    # timeout into never. Neither is a setting anyone means.
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {raw!r}")
    return value


def env_bool(env: Mapping[str, str], name: str, default: bool, *, help: str = "") -> bool:
    describe(env, name, default, help)
    raw = env.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def env_secret(env: Mapping[str, str], name: str, *, help: str = "") -> str:
    """A secret from NAME, or from the file named by NAME_FILE (a mounted Kubernetes Secret).

    A file that is empty, not UTF-8 or holds anything but printable ASCII is refused with a line that
    names the variable, never the content: such a key would go out as no credentials or fail every call.
    """
    describe(env, name, "", help)
    describe(env, name + "_FILE", "", f"a file holding {name} (a mounted Secret), read instead when set")
    file_name = env.get(name + "_FILE")
    if file_name:
        try:
            raw = Path(file_name).read_bytes()
        except OSError as exc:
            raise ValueError(f"{name}_FILE: cannot read {file_name} ({exc.strerror})") from None
        secret, problem = decode_secret(raw)
        if problem:
            raise ValueError(f"{name}_FILE: {file_name} {problem}")
        return secret
    secret = env.get(name, "").strip()
    problem = secret_problem(secret) if secret else None
    if problem:
        raise ValueError(f"{name}: the value {problem}")
    return secret


def decode_secret(raw: bytes) -> tuple[str, str | None]:
    """decode_secret: a secret file's content, stripped, and what is wrong with it (None when usable)."""
    try:
        secret = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return "", "is not UTF-8 text"
    if not secret:
        return "", "is empty"
    return secret, secret_problem(secret)


def secret_problem(secret: str) -> str | None:
    """secret_problem: why secret cannot be sent as a bearer token (an HTTP header value), or None."""
    if all("!" <= c <= "~" for c in secret):
        return None
    return "holds characters other than printable ASCII (spaces, control or non-ASCII characters)"


def env_listen(env: Mapping[str, str], name: str, default: str, *, help: str = "") -> str:
    """A listen address: host:port with a port in 0..65535 (0: any free port), or unix:PATH."""
    describe(env, name, default, help)
    value = env.get(name, default)
    if value.startswith("unix:"):
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{name} must be host:port with a port in 0-65535, or unix:PATH; got {value!r}")
    return value
