"""Loading a command's module when it runs, or one line that names the extra to install.

The serving image ships no ``orchestrouter.training`` and a client install has no server libraries:
their commands are still listed, and running one says which extra provides it instead of a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


class MissingExtra(Exception):
    """MissingExtra: a command's module, or a library it needs, is not installed; the message names the extra."""


def load(command: str, extra: str, module: str, *needs: str) -> ModuleType:
    """Checks the libraries in ``needs`` are installed, then imports ``module``; raises MissingExtra naming
    ``extra`` if one is absent.

    ``needs`` are the extra's libraries that ``module`` imports only later, mid-work (matplotlib for the
    curves eval draws at its end): they are looked up, not imported, so the check costs nothing and a
    missing one fails before any work starts.

    Only an absent module counts: a third-party library, or ``module`` itself or a package above it
    (``orchestrouter.training`` where training is not installed). A module missing inside an installed
    orchestrouter package is a bug, and its error is raised as it is.
    """
    for name in needs:
        if importlib.util.find_spec(name) is None:
            raise MissingExtra(
                f"`orchestrouter {command}` needs the {extra} extra (no module named {name!r}): "
                f"pip install 'orchestrouter[{extra}]'"
            )
    return _import(command, extra, module)


def _import(command: str, extra: str, name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing.split(".")[0] == "orchestrouter" and not (name == missing or name.startswith(missing + ".")):
            raise
        raise MissingExtra(
            f"`orchestrouter {command}` needs the {extra} extra (no module named {missing!r}): "
            f"pip install 'orchestrouter[{extra}]'"
        ) from exc
