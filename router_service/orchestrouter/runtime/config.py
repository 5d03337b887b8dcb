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
