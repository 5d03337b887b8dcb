"""`make run`: start the scorer and the router on the embedded default, route sample queries, stop.

Dry runs unless both tiers' endpoints are configured (ORCHESTROUTER_SMALL_BASE_URL and
ORCHESTROUTER_PREMIUM_BASE_URL), in which case each answer is printed too.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from orchestrouter.client import RouterClient
from orchestrouter.tools.launcher import LaunchError, start_pair

SAMPLE_QUERIES = [
    ("greeting", "Hi there! How are you today?"),
    ("greeting", "Thanks, that was helpful. Have a nice evening!"),
    ("fact", "What is the capital of France?"),
    ("fact", "Who wrote Pride and Prejudice?"),
    (
        "code",
        "Write a Python function that parses an ISO 8601 timestamp with a timezone offset and "
        "returns a UTC datetime; include unit tests.",
    ),
    (
        "code",
        "Why does this Rust code fail to compile with 'borrowed value does not live long enough', "
        "and how do I fix it without cloning?",
    ),
    ("math", "Prove that the square root of 2 is irrational."),
    (
        "math",
        "A train leaves at 3pm going 60 km/h and another at 4pm going 80 km/h on the same track. "
        "When does the second catch up? Show your reasoning step by step.",
    ),
]


def where_the_command_is() -> str:
    """Where `orchestrouter` was installed (beside this Python, in the environment's bin folder), and how to call it."""
    bin_dir = Path(sys.executable).parent
    command = shutil.which("orchestrouter", path=str(bin_dir))
    if command is None:
        return "the `orchestrouter` command is not installed beside this Python: run `pip install -e .`"
    shown = Path(os.path.relpath(command)) if not os.path.relpath(command).startswith("..") else Path(command)
    activate = bin_dir / "activate"
    hint = f"; `. {os.path.relpath(activate)}` puts it on PATH" if activate.is_file() else ""
    return f"the `orchestrouter` command is {shown} (try `{shown} route --help`){hint}"


def main() -> int:
    live = bool(os.environ.get("ORCHESTROUTER_SMALL_BASE_URL") and os.environ.get("ORCHESTROUTER_PREMIUM_BASE_URL"))
    print(
        f"starting the scorer and the router ({'live endpoints' if live else 'dry run: no endpoints configured'})",
        flush=True,
    )
    try:
        pair = start_pair()
    except LaunchError as exc:
        print(exc, file=sys.stderr)
        return 1
    failures = 0
    try:
        with RouterClient(pair.router.target) as client:
            for category, text in SAMPLE_QUERIES:
                try:
                    a = client.route(text, dry_run=not live)
                except Exception as exc:  # noqa: BLE001 - report and go on with the next query
                    failures += 1
                    print(f"{category:8s} ERROR {exc}")
                    continue
                print(
                    f"{category:8s} -> {a.tier:7s} p={a.win_probability:.3f} threshold={a.threshold:.3f} "
                    f"model={a.model} ({a.timings_ms['total']:.2f} ms in router)  {text[:60]!r}"
                )
                if a.answer:
                    print("          " + a.answer.strip().replace("\n", "\n          "))
    finally:
        codes = pair.stop()
    print(f"stopped router (exit {codes[0]}) and scorer (exit {codes[1]})")
    print(where_the_command_is())
    return 1 if failures or any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
