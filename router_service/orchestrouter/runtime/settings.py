"""settings: the environment variables a service's configuration reads, for ``serve-* --help``.

Each variable's name, default and description are written once, where ``read_env`` reads it: the
``envparse`` readers take all three. ``settings_of(read_env)`` runs a configuration's reader against
an empty environment that records every variable asked for, so the list is what the service really
reads, in the order it reads it, and a variable read without a description shows up as such.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, overload


@dataclass(frozen=True)
class Setting:
    """Setting: one environment variable, its default as text ("" when unset) and what it does."""

    name: str
    default: str
    help: str


def shown(default: object) -> str:
    """A default as --help shows it: "" for unset, true/false, numbers without a trailing .0."""
    if default is None or default == "":
        return ""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


class RecordingEnv(Mapping[str, str]):
    """RecordingEnv: an empty environment that records each variable read and what its reader says of it."""

    def __init__(self) -> None:
        self._read: dict[str, Setting] = {}

    def __getitem__(self, key: str) -> str:
        self._read.setdefault(key, Setting(key, "", ""))
        raise KeyError(key)

    @overload
    def get(self, key: str, /) -> str | None: ...
    @overload
    def get(self, key: str, /, default: str) -> str: ...
    @overload
    def get(self, key: str, /, default: Any) -> Any: ...
    def get(self, key: str, /, default: Any = None) -> Any:
        self._read.setdefault(key, Setting(key, "", ""))
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def note(self, name: str, default: object, help: str) -> None:
        self._read[name] = Setting(name, shown(default), help)

    @property
    def settings(self) -> list[Setting]:
        return list(self._read.values())


def describe(env: Mapping[str, str], name: str, default: object, help: str) -> None:
    """Records name's default and help when env is a RecordingEnv (listing settings); otherwise nothing."""
    if isinstance(env, RecordingEnv):
        env.note(name, default, help)


def settings_of(read_env: Callable[[Mapping[str, str]], object]) -> list[Setting]:
    """Every variable read_env reads, with its default and description, in the order it reads them."""
    env = RecordingEnv()
    read_env(env)
    return env.settings
