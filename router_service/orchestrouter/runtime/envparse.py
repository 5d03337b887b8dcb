"""Typed reads of environment variables, with errors that name the variable."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import overload

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, default)


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


@overload
def env_float(env: Mapping[str, str], name: str, default: float) -> float: ...
@overload
def env_float(env: Mapping[str, str], name: str, default: None) -> float | None: ...
def env_float(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def env_secret(env: Mapping[str, str], name: str) -> str:
    """A secret from NAME, or from the file named by NAME_FILE (a mounted Kubernetes Secret)."""
    file_name = env.get(name + "_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ValueError(f"{name}_FILE: cannot read {file_name} ({exc.strerror})") from None
    return env.get(name, "")


def env_listen(env: Mapping[str, str], name: str, default: str) -> str:
    """A listen address: host:port with a port in 0..65535 (0: any free port), or unix:PATH."""
    value = env.get(name, default)
    if value.startswith("unix:"):
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{name} must be host:port with a port in 0-65535, or unix:PATH; got {value!r}")
    return value
