"""``orchestrouter serve-scorer`` and ``serve-router``: each imports its server only when it runs.

Both are configured by environment variables. Their ``--help`` lists every variable with its default
and what it does, read from the service's configuration (``read_env`` names, defaults and describes
each one), which is imported only when that help is asked for.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchestrouter.cli import extras
from orchestrouter.runtime import grpc_core  # only os: it loads no grpc

if TYPE_CHECKING:
    from orchestrouter.runtime.settings import Setting

# (command, extra, configuration module, its class): what `--help` reads the settings from.
_CONFIGS = {
    "serve-scorer": ("scorer", "orchestrouter.scorer.config", "ScorerConfig"),
    "serve-router": ("router", "orchestrouter.router.config", "RouterConfig"),
}
# The router extra's libraries that the router server imports.
_ROUTER_LIBRARIES = ("aiohttp", "httpx", "openai", "wordllama")
_TELEMETRY = (
    "Telemetry: the standard OpenTelemetry variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, "
    "OTEL_TRACES_EXPORTER, ...)."
)


class _SettingsHelp(argparse.Action):
    """-h/--help: the usage, then every environment variable the service reads (imported only now)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show this help and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        command = parser.prog.split()[-1]
        parser.epilog = settings_help(command)
        parser.print_help()
        parser.exit()


def settings_help(command: str) -> str:
    """The settings section of ``command --help``; a line naming the extra when its config is not installed."""
    extra, module, name = _CONFIGS[command]
    try:
        config = getattr(extras.load(command, extra, module), name)
        settings = extras.load(command, extra, "orchestrouter.runtime.settings")
    except extras.MissingExtra as exc:
        return f"settings: {exc}"
    return format_settings(settings.settings_of(config.read_env)) + "\n\n" + _TELEMETRY


def format_settings(settings: Sequence[Setting], width: int = 100) -> str:
    """One entry per variable: its name and default on a line, what it does indented below."""
    lines = ["settings (environment variables):"]
    for s in settings:
        lines.append(f"  {s.name}  " + (f"(default: {s.default})" if s.default else "(unset by default)"))
        lines.extend(
            textwrap.wrap(s.help or "(no description)", width, initial_indent=" " * 6, subsequent_indent=" " * 6)
        )
    return "\n".join(lines)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Adds serve-scorer and serve-router (configured by environment variables, so no options)."""
    for command, summary, func in (
        ("serve-scorer", "run the Score service (configured by ORCHESTROUTER_* variables)", _serve_scorer),
        ("serve-router", "run the Route service (configured by ORCHESTROUTER_* variables)", _serve_router),
    ):
        p = subparsers.add_parser(
            command,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:].split(' (')[0]}, configured by the variables below.",
            add_help=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("-h", "--help", action=_SettingsHelp)
        p.set_defaults(func=func)


def _serve_scorer(args: argparse.Namespace) -> int:
    grpc_core.apply_defaults()  # before anything loads grpc
    extras.load("serve-scorer", "scorer", "orchestrouter.scorer.server").main()
    return 0


def _serve_router(args: argparse.Namespace) -> int:
    grpc_core.apply_defaults()  # before anything loads grpc
    config = extras.load("serve-router", "router", "orchestrouter.router.config")
    if os.environ.get("ORCHESTROUTER_SCORER_TARGET") == config.IN_PROCESS_SCORER:
        # The router scores in its own process: the scorer's libraries (ONNX Runtime) are needed here
        # too, and it is one process, so several workers (each would load its own model) are refused.
        if os.environ.get("ORCHESTROUTER_ROUTER_WORKERS", "1").strip() not in ("", "1"):
            print(
                "error: ORCHESTROUTER_SCORER_TARGET=inprocess runs one router process; "
                "set ORCHESTROUTER_ROUTER_WORKERS=1 or run a scorer",
                file=sys.stderr,
            )
            return 2
        extras.load("serve-router", "scorer", "orchestrouter.tools.inprocess").main()
    else:
        # router.workers runs the router, or with ORCHESTROUTER_ROUTER_WORKERS > 1 supervises several; it
        # imports the server (and the router extra's libraries) only in the processes that serve, so they
        # are checked here, before a supervisor starts anything.
        extras.load("serve-router", "router", "orchestrouter.router.workers", *_ROUTER_LIBRARIES).main()
    return 0
