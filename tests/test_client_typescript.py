"""The TypeScript client (clients/typescript) against running services: this test starts a scorer, a
router dispatching to two fake endpoints and a second router behind mTLS and bearer tokens, then runs
the client's own tests (`npm test`, node's test runner) with their addresses in the environment.

`make test` installs the client's packages first (`npm ci`, the Makefile's TS_DEPS prerequisite)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import trustme

from orchestrouter.runtime.tls import ServerTLSConfig
from tests.support.dispatch_stack import WIN_PROBABILITY
from tests.support.doubles import replace_file
from tests.support.models import WORDLLAMA_DIM

CLIENT = Path(__file__).resolve().parents[1] / "clients" / "typescript"
TOKEN = "ts-client-token-5e1c9a7b3d"
NPM_TIMEOUT_S = 240


def declared_tests() -> int:
    """How many test(...) cases the client's test files declare: the count the runner must pass."""
    return sum(len(re.findall(r"^\s*test\(", p.read_text(), re.M)) for p in (CLIENT / "test").glob("*.test.ts"))


def runner_counts(output: str) -> dict[str, int]:
    """The closing `pass N` / `fail N` lines of node's test runner (TAP `# pass N` or spec `ℹ pass N`)."""
    return {k: int(v) for k, v in re.findall(r"^(?:#|ℹ) (pass|fail|cancelled|skipped|todo) (\d+)\s*$", output, re.M)}


def test_typescript_client_calls_every_rpc_against_running_services(stack, pair, premium_leaning_model, tmp_path):
    assert (CLIENT / "node_modules").is_dir(), "run `npm ci` in clients/typescript (make test does)"
    services = stack()
    ca = trustme.CA()
    files = {name: tmp_path / name for name in ("ca.crt", "router.crt", "router.key", "client.crt", "client.key")}
    ca.cert_pem.write_to_path(str(files["ca.crt"]))
    for name, leaf in (("router", ca.issue_cert("127.0.0.1")), ("client", ca.issue_cert("ts-client"))):
        leaf.cert_chain_pems[0].write_to_path(str(files[f"{name}.crt"]))
        leaf.private_key_pem.write_to_path(str(files[f"{name}.key"]))
    tokens = tmp_path / "tokens"
    replace_file(tokens, f"ts-client:{TOKEN}\n")
    # mTLS: the router asks for a client certificate signed by the same CA.
    tls = ServerTLSConfig(str(files["router.crt"]), str(files["router.key"]), str(files["ca.crt"]))
    secure = pair(premium_leaning_model, tls=tls, auth_tokens_file=str(tokens))

    settings = {
        "ROUTER": services.router.target,
        "SCORER": services.scorer.target,
        "SCORER_DIM": str(WORDLLAMA_DIM),
        "WIN_PROBABILITY": str(WIN_PROBABILITY),
        "PREMIUM_ANSWER": services.premium.answer_text(),
        "SMALL_ANSWER": services.small.answer_text(),
        "SECURE_ROUTER": secure.router.target,
        "CA_FILE": str(files["ca.crt"]),
        "CLIENT_CERT_FILE": str(files["client.crt"]),
        "CLIENT_KEY_FILE": str(files["client.key"]),
        "TOKEN": TOKEN,
    }
    env = {**os.environ, **{f"ORCHESTROUTER_TEST_{k}": v for k, v in settings.items()}}
    proc = subprocess.run(
        ["npm", "test", "--silent"],
        cwd=CLIENT,
        env=env,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_S,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    counts = runner_counts(output)
    assert counts.get("pass") == declared_tests() > 0, output[-6000:]
    assert counts.get("fail") == 0 and counts.get("cancelled", 0) == 0 and counts.get("skipped", 0) == 0
    # The calls reached the services: the fakes answered the routed requests.
    assert services.premium.calls >= 3 and services.small.calls >= 1
