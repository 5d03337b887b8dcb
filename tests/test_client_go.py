"""The Go client (clients/go) against a running scorer and router: its `go test` suite calls Route,
RouteStream, GetStatus and Score as a Go caller would, and its generated code is what
`make clients-go` produces. `make test` installs the Go toolchain from Debian first (go-toolchain)."""

from __future__ import annotations

import filecmp
import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest

from orchestrouter.tools.launcher import start_pair
from tests.support.layout import ROOT

GO_MODULE = ROOT / "clients" / "go"
# The calls the client must prove against the services; every other Test function must pass too.
REQUIRED = {
    "TestRoute",
    "TestRouteStream",
    "TestGetStatus",
    "TestScore",
    "TestScoreWrongDimensionIsInvalidArgument",
}
CALLER_TOKEN = "go-" + secrets.token_hex(16)
ROUTER_TOKEN = "router-" + secrets.token_hex(16)


def make(*args: str, env: dict[str, str] | None = None, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """Runs `make ARGS` in the repository (the Makefile holds the Go commands and their settings)."""
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


@pytest.fixture
def services(tmp_path, fakes, premium_leaning_model):
    """A scorer and a router as processes, both requiring a bearer token, the router answering from
    fake endpoints (every query scores premium); yields (scorer, router, premium fake)."""
    (tmp_path / "router-callers").write_text(f"go:{CALLER_TOKEN}\n")
    (tmp_path / "scorer-callers").write_text(f"go:{CALLER_TOKEN}\nrouter:{ROUTER_TOKEN}\n")
    (tmp_path / "router.token").write_text(ROUTER_TOKEN + "\n")
    small, premium = fakes("small"), fakes("premium")
    scorer_env = {
        "ORCHESTROUTER_SCORER_MODEL": str(premium_leaning_model),
        "ORCHESTROUTER_AUTH_TOKENS_FILE": str(tmp_path / "scorer-callers"),
    }
    router_env = {
        "ORCHESTROUTER_SMALL_BASE_URL": small.base_url,
        "ORCHESTROUTER_PREMIUM_BASE_URL": premium.base_url,
        "ORCHESTROUTER_AUTH_TOKENS_FILE": str(tmp_path / "router-callers"),
        "ORCHESTROUTER_SCORER_TOKEN_FILE": str(tmp_path / "router.token"),
        "ORCHESTROUTER_DECISION_LOG": "off",
    }
    with start_pair(scorer_env, router_env) as pair:
        yield pair.scorer, pair.router, premium


def test_go_client_calls_route_stream_status_and_score_against_the_services(services):
    scorer, router, premium = services
    env = {
        "ORCHESTROUTER_GO_ROUTER_TARGET": router.target,
        "ORCHESTROUTER_GO_SCORER_TARGET": scorer.target,
        "ORCHESTROUTER_GO_TOKEN": CALLER_TOKEN,
    }
    run = make("test-go", env=env)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]

    passed = set(re.findall(r"^\s*--- PASS: (Test\w+)", output, re.MULTILINE))
    sources = "\n".join(p.read_text() for p in GO_MODULE.glob("client/*_test.go"))
    declared = set(re.findall(r"^func (Test\w+)\(t \*testing\.T\)", sources, re.MULTILINE))
    assert REQUIRED <= declared, "a required Go test is gone from clients/go/client"
    assert passed == declared, f"Go tests that did not pass: {declared - passed}"
    assert "--- FAIL" not in output and "--- SKIP" not in output

    # The calls reached the premium endpoint with the proto3 optional fields the Go test set.
    bodies = [r.body for r in premium.requests]
    assert len(bodies) >= 4, bodies
    assert all(b.get("max_tokens") == 64 and b.get("temperature") == pytest.approx(0.2) for b in bodies), bodies


def test_committed_go_code_is_what_make_clients_go_generates(tmp_path):
    run = make("clients-go", f"GO_GEN_OUT={tmp_path}", timeout_s=120)
    assert run.returncode == 0, run.stdout + run.stderr

    def generated(folder: Path) -> list[Path]:
        return sorted(p.relative_to(folder) for p in folder.rglob("*.go"))

    committed_root = GO_MODULE / "gen"
    fresh, committed = generated(tmp_path), generated(committed_root)
    assert fresh, "make clients-go generated nothing"
    assert fresh == committed, "run `make clients-go`: the set of generated files differs"
    stale = [str(p) for p in fresh if not filecmp.cmp(tmp_path / p, committed_root / p, shallow=False)]
    assert not stale, f"run `make clients-go`: stale generated Go code in {stale}"


def test_go_sources_are_gofmt_formatted():
    run = subprocess.run(["gofmt", "-l", str(GO_MODULE)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr
