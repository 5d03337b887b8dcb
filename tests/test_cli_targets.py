"""`orchestrouter route` at a wrong target, run as a user types it: one line that says what was tried
and what to do, a non-zero exit, no leading blank line, none of gRPC's own text; and `--version`."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrouter.cli.main import main
from orchestrouter.cli.rpc_errors import describe

# gRPC's words for these failures, which a user must not have to decode.
RAW_GRPC = ("Misformatted", "Method not found", "failed to connect", "Connection refused", "ipv4:", "UNKNOWN")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrouter.cli", *args], capture_output=True, text=True, timeout=120
    )


def assert_one_clear_line(err: str) -> None:
    assert err.startswith("error: ") and err.count("\n") == 1, repr(err)
    assert not any(raw in err for raw in RAW_GRPC), err
    assert "Traceback" not in err


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_url_as_the_router_says_to_give_host_and_port():
    done = run_cli("route", "--router", "http://localhost:50051", "hi")
    assert done.returncode != 0 and done.stdout == ""
    assert_one_clear_line(done.stderr)
    assert "not a URL" in done.stderr and "--router localhost:50051" in done.stderr


def test_the_scorers_port_as_the_router_says_it_is_not_a_router(scorer_factory, random_model):
    scorer = scorer_factory(random_model)
    done = run_cli("route", "--router", scorer.target, "--dry-run", "hi")
    assert done.returncode != 0
    assert_one_clear_line(done.stderr)
    assert f"{scorer.target} answered, but it is not a router" in done.stderr and "--router" in done.stderr


def test_a_closed_port_says_so_at_once_and_how_to_start_a_router(capsys):
    port = closed_port()
    started = time.monotonic()
    assert main(["route", "--router", f"127.0.0.1:{port}", "hi"]) == 1
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert_one_clear_line(err)
    assert err == (
        f"error: cannot reach a router at 127.0.0.1:{port}; start one with `orchestrouter serve-router` "
        "or set --router\n"
    )
    assert elapsed < 2.0, f"took {elapsed:.1f} s: no retries, no waiting for a router that is not there"


def test_a_closed_port_as_typed_at_the_shell_is_the_same_line():
    done = run_cli("route", "--router", f"localhost:{closed_port()}", "hi")
    assert done.returncode == 1 and done.stdout == ""
    assert_one_clear_line(done.stderr)
    assert "cannot reach a router at localhost:" in done.stderr and "orchestrouter serve-router" in done.stderr


def test_an_unknown_host_names_the_host():
    line = describe("UNAVAILABLE", "DNS resolution failed for nohost.invalid:50051", "nohost.invalid:50051", False, 5)
    assert "'nohost.invalid' does not resolve" in line and "--router" in line


def test_a_deadline_and_a_routers_own_unavailable_are_told_apart_from_no_router():
    assert "within 2.5 s; raise --timeout" in describe("DEADLINE_EXCEEDED", "Deadline Exceeded", "h:1", False, 2.5)
    own = describe("UNAVAILABLE", "the answer stream was cut", "h:1", False, 5)
    assert own == "the router at h:1 answered UNAVAILABLE: the answer stream was cut; try again shortly"


def test_version_prints_the_installed_version():
    from importlib.metadata import version

    done = run_cli("--version")
    assert done.returncode == 0 and done.stdout == f"orchestrouter {version('orchestrouter')}\n"


@pytest.mark.parametrize("target", ["", "   ", "local host:50051"])
def test_a_blank_or_spaced_target_is_one_line(target, capsys):
    assert main(["route", "--router", target, "hi"]) == 2
    assert_one_clear_line(capsys.readouterr().err)


def test_make_run_ends_by_saying_where_the_command_is():
    from orchestrouter.tools.demo import where_the_command_is

    line = where_the_command_is()
    shown = line.split(" is ", 1)[1].split(" (", 1)[0]
    assert Path(shown).resolve() == (Path(sys.executable).parent / "orchestrouter").resolve()
    assert "activate" in line
