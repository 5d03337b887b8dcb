"""config: the shape both services' configurations share.

A service's configuration is a frozen dataclass subclassing EnvConfig: its fields carry the defaults,
``__post_init__`` checks them (``require``), and ``read_env`` reads them from ORCHESTROUTER_* variables.
``from_env`` turns every malformed or out-of-range value into a ConfigError whose message names the
variable, so startup fails with one line that says what to fix.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import Self


class ConfigError(ValueError):
    """A configuration value is missing or out of range; the message names the variable."""


def require(ok: bool, message: str) -> None:
    """Raises ConfigError(message) unless ok; message names the variable and what it must be."""
    if not ok:
        raise ConfigError(message)


def require_finite(settings: Iterable[tuple[str, float | None]]) -> None:
    """Raises ConfigError for the first (variable, value) whose value is NaN or infinite (None is unset)."""
    for name, value in settings:
        require(value is None or math.isfinite(value), f"{name} must be a finite number, got {value}")


class EnvConfig:
    """EnvConfig: base of a frozen configuration dataclass read from environment variables."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """The configuration env (default os.environ) describes; ConfigError names a bad variable."""
        try:
            return cls.read_env(os.environ if env is None else env)
        except ConfigError:
            raise
        except ValueError as exc:  # envparse's errors name the variable already
            raise ConfigError(str(exc)) from exc

    @classmethod
    def read_env(cls, env: Mapping[str, str]) -> Self:
        """Builds the configuration from env; a subclass reads its own variables here."""
        raise NotImplementedError


ALLOW_UNAUTHENTICATED = "ORCHESTROUTER_ALLOW_UNAUTHENTICATED"


def is_local_address(listen: str) -> bool:
    """Whether only this host (a unix socket, the loopback interface) can reach a listen address."""
    if listen.startswith("unix:"):
        return True
    host = listen.rpartition(":")[0].strip("[]").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def require_authenticated_or_local(listen: str, authenticated: bool, allow_unauthenticated: bool) -> None:
    """Refuses to serve without authentication on an address other hosts can reach, unless told to.

    Anyone who reaches an open router can spend premium money, so the safe default is to fail
    at startup; a deployment that guards the port another way says so with ALLOW_UNAUTHENTICATED.
    """
    require(
        authenticated or allow_unauthenticated or is_local_address(listen),
        f"refusing to serve {listen} without authentication: set ORCHESTROUTER_AUTH_TOKENS_FILE (or "
        f"ORCHESTROUTER_TLS_CLIENT_CA_FILE for mTLS), listen on a loopback address or a unix socket, "
        f"or set {ALLOW_UNAUTHENTICATED}=true if something else guards the port",
    )
