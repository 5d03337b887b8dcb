"""`make bench-peers`: this router against LiteLLM's proxy and RouteLLM's server, on the same loopback
endpoint, in one run.

Installs each peer once into its own virtual environment under build/peers/ (plain pip, so that
RouteLLM's torch comes from the machine's CPU wheel; a stamp file records what was installed and
a changed pin reinstalls), then starts, each in its own process:
- the loopback endpoint (orchestrouter.tools.loopback_endpoint): chat completions, and 1536-wide
  embeddings for RouteLLM;
- LiteLLM's proxy with one model, openai/loopback, at the endpoint;
- RouteLLM's OpenAI-compatible server with the matrix-factorisation router ("mf") loading a
  random checkpoint of the published shape (saved under build/peers/ once; HF_HUB_OFFLINE=1, so
  nothing is fetched), its embeddings and both its strong and weak models at the endpoint;
- this router (scorer + router), both tiers at the endpoint, as deployed by default (one router
  process); and, unless --variants says otherwise, three variants beside it: "2 workers"
  (ORCHESTROUTER_ROUTER_WORKERS=2, as the manifests run a 2-CPU pod), "no linger"
  (ORCHESTROUTER_SCORE_LINGER_MS=0: each Score message sent at once) and "in-process"
  (ORCHESTROUTER_SCORER_TARGET=inprocess: one process, no Score hop; the option for
  single-process deployments).
Then closed-loop loads (the Go load generator when it is built, else orchestrouter.tools.loadgen;
--client picks) in interleaved rounds, the order turning each round: the floor (the endpoint
directly), LiteLLM, RouteLLM, this router's Route with dispatch and its dry run (each variant's
too), at concurrency 1, 32 and 128. It prints the medians and the table of the overhead budget
(added p50/p99 at c=1, req/s at c=32 and c=128, server CPU per request) with the ratios the
acceptance names, for the default and for each variant. A peer that cannot be installed or
started is left out, with the reason.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from orchestrouter.tools.bench import (
    Cell,
    Load,
    add_client_option,
    added,
    chat_load,
    loopback_endpoint,
    print_table,
    route_load,
    run_rounds,
)
from orchestrouter.tools.launcher import Service, start, start_pair
from orchestrouter.tools.loadgen import rss_mb
from orchestrouter.tools.loadgen_go import choose_client

PEERS_DIR = Path("build/peers")
LITELLM_PIN = "litellm[proxy]==1.108.5"
TORCH_PIN = "torch==2.13.0"
ROUTELLM_PIN = "routellm[serve]==0.2.0"
# RouteLLM's MF router: MatrixFactorizationRouter's defaults (hidden 128, 64 models, text-embedding-3-small's 1536).
MF_SHAPE = {"dim": 128, "num_models": 64, "text_dim": 1536, "num_classes": 1, "use_proj": True}
ROUTELLM_MODEL = "router-mf-0.5"
# Keeps the peers off the network: LiteLLM's price map from the package, the hub offline, no telemetry.
QUIET_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOG": "ERROR",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "NO_PROXY": "127.0.0.1,localhost",
}


class PeerError(RuntimeError):
    """A peer could not be installed or started; the message says why."""


# --- Installing. ---


def install(name: str, steps: list[list[str]], root: Path = PEERS_DIR) -> Path:
    """A venv at ROOT/NAME with each step's requirements installed by pip, in order; reused while
    its stamp names the same steps. Returns the venv's bin directory."""
    venv = root / name
    stamp = venv / ".installed"
    want = " ; ".join(" ".join(step) for step in steps)
    if stamp.exists() and stamp.read_text().strip() == want:
        return venv / "bin"
    log = root / f"{name}-install.log"
    root.mkdir(parents=True, exist_ok=True)
    print(f"installing {name} into {venv} ({want}); log in {log}; this takes minutes", flush=True)
    with log.open("w") as out:
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, stdout=out, stderr=out)
        for step in steps:
            code = subprocess.run(
                [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", *step], stdout=out, stderr=out
            ).returncode
            if code:
                tail = [line for line in log.read_text().splitlines() if "ERROR" in line][-2:]
                raise PeerError(f"pip install {' '.join(step)} failed ({code}): {' | '.join(tail)[:400]}")
    stamp.write_text(want + "\n")
    return venv / "bin"


def mf_checkpoint(bin_dir: Path) -> Path:
    """A randomly initialised MFModel of the published shape, saved once with save_pretrained."""
    path = PEERS_DIR / "routellm-mf-random"
    if (path / "config.json").exists():
        return path
    script = (
        "import sys, torch\n"
        "from routellm.routers.matrix_factorization.model import MFModel\n"
        "torch.manual_seed(0)\n"
        f"MFModel(**{MF_SHAPE!r}).save_pretrained(sys.argv[1])\n"
    )
    env = {**os.environ, **QUIET_ENV, "OPENAI_API_KEY": "unused"}
    done = subprocess.run([str(bin_dir / "python"), "-c", script, str(path)], env=env, capture_output=True, text=True)
    if done.returncode:
        raise PeerError(f"saving the MF checkpoint failed: {done.stderr.strip().splitlines()[-1:]}")
    return path


# --- Running. ---


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_answering(
    url: str, model: str, headers: dict[str, str], proc: subprocess.Popen[bytes], log: Path, timeout_s: float
) -> None:
    """Polls url with a chat completion until it answers 200; PeerError if the process exits or time runs out."""
    body = b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}]}' % model.encode()
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PeerError(f"exited with {proc.returncode}: {log.read_text()[-600:]}")
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:300]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.5)
    raise PeerError(f"not answering after {timeout_s:g} s ({last}); log: {log.read_text()[-600:]}")


@dataclass
class Peer:
    """Peer: a started server, its chat completions URL, the model name to ask for and the headers to send."""

    pid: int
    url: str
    model: str
    headers: dict[str, str]


@contextmanager
def run_peer(
    command: list[str],
    env: dict[str, str],
    model: str,
    headers: dict[str, str],
    port: int,
    log: Path,
    timeout_s: float = 240,
) -> Iterator[Peer]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env={**os.environ, **QUIET_ENV, **env}, stdout=out, stderr=out)
    try:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        wait_answering(url, model, headers, proc, log, timeout_s)
        yield Peer(proc.pid, url, model, headers)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def litellm_command(bin_dir: Path, endpoint: str, port: int, tmp: Path, master_key: str) -> list[str]:
    """The proxy with one model at the endpoint; it refuses to start without a master key, which
    every request then carries (as a deployment's would)."""
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: loopback\n"
        "    litellm_params:\n"
        "      model: openai/loopback\n"
        f"      api_base: {endpoint}\n"
        "      api_key: unused\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "general_settings:\n"
        f"  master_key: {master_key}\n"
    )
    return [str(bin_dir / "litellm"), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]


def routellm_command(bin_dir: Path, endpoint: str, port: int, tmp: Path, checkpoint: Path) -> list[str]:
    config = tmp / "routellm.yaml"
    config.write_text(f"mf:\n  checkpoint_path: {checkpoint.resolve()}\n")
    return [
        str(bin_dir / "python"),
        "-m",
        "routellm.openai_server",
        "--routers",
        "mf",
        "--config",
        str(config),
        "--port",
        str(port),
        "--base-url",
        endpoint,
        "--api-key",
        "unused",
        "--strong-model",
        "openai/strong",
        "--weak-model",
        "openai/weak",
    ]


# This router's variants beside the default: what each adds to the router's environment. "2 workers"
# spends both cores (what the manifests run on a 2-CPU pod), "no linger" sends each Score message at
# once, "in-process" scores in the router's process.
VARIANTS: dict[str, dict[str, str]] = {
    "2 workers": {"ORCHESTROUTER_ROUTER_WORKERS": "2"},
    "no linger": {"ORCHESTROUTER_SCORE_LINGER_MS": "0"},
    "in-process": {"ORCHESTROUTER_SCORER_TARGET": "inprocess"},
}
VARIANT_LABELS = {
    "2 workers": "2 workers",
    "no linger": "ORCHESTROUTER_SCORE_LINGER_MS=0",
    "in-process": "scorer in the router's process",
}


# --- The table. ---


def budget_table(cells: dict[tuple[str, int], Cell], systems: dict[str, str]) -> None:
    """The overhead-budget table: system | added p50 / p99 at c=1 | req/s c=32 | req/s c=128 | server CPU/request."""
    print("\n| system | added p50 / p99 at c=1 | req/s at c=32 | req/s at c=128 | server CPU per request (c=32) |")
    print("|---|---|---|---|---|")
    for key, label in systems.items():
        cpu = cells[key, 32].cpu_ms("server") if key in ("litellm", "routellm") else None
        if cpu is None:
            router, scorer = cells[key, 32].cpu_ms("router"), cells[key, 32].cpu_ms("scorer")
            if scorer != scorer:  # not watched: the router scores in its own process
                cpu_text = f"{router:.2f} ms (router, scoring in process)"
            else:
                cpu_text = f"{router + scorer:.2f} ms (router {router:.2f} + scorer {scorer:.2f})"
        else:
            cpu_text = f"{cpu:.2f} ms"
        print(
            f"| {label} | {added(cells, key, 1, 50):.2f} / {added(cells, key, 1, 99):.2f} ms | "
            f"{cells[key, 32].rps():,.0f} | {cells[key, 128].rps():,.0f} | {cpu_text} |"
        )


def ratio(a: float, b: float, digits: int) -> str:
    """a / b, or "n/a" where b is zero or not a number (a system with no answers in its windows)."""
    return f"{a / b:.{digits}f}" if b and b == b else "n/a"


def ratios(cells: dict[tuple[str, int], Cell], peers: list[str], suffix: str = "") -> None:
    """The acceptance's ratios for this router's "route" and "dry run" systems (with suffix: a variant's)."""
    route, dry = f"route{suffix}", f"dry run{suffix}"
    route_p50 = added(cells, route, 1, 50)
    for peer in peers:
        peer_rps = cells[peer, 32].rps()
        print(
            f"{route} vs {peer}: added p50 at c=1 {ratio(route_p50, added(cells, peer, 1, 50), 2)} of it "
            f"(acceptance vs litellm: <= 0.10); req/s at c=32 x{ratio(cells[route, 32].rps(), peer_rps, 1)} "
            f"(acceptance vs litellm: >= 10); dry run x{ratio(cells[dry, 32].rps(), peer_rps, 1)}"
        )
    router_cpu = cells[route, 32].cpu_ms("router")
    print(f"{route}: router CPU per routed request at c=32: {router_cpu:.2f} ms (acceptance: <= 1.0)")
    print(f"{dry}: decisions/s at c=32: {cells[dry, 32].rps():,.0f} (acceptance: >= 3,000)")


def variant_router(variant: str, router_env: dict[str, str], scorer: Service, tmp: Path) -> Service:
    """A router of the named variant (VARIANTS), on the default pair's scorer unless it scores in process."""
    env = {
        **router_env,
        "ORCHESTROUTER_ROUTER_LISTEN": "127.0.0.1:0",
        "ORCHESTROUTER_SCORER_TARGET": scorer.target,
        "ORCHESTROUTER_DECISION_LOG": str(tmp / f"decisions-{variant}.jsonl"),
        **VARIANTS[variant],
    }
    return start("serve-router", env, name=f"router ({variant})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are their medians")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds counted per load")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not counted before each load")
    parser.add_argument("--concurrency", type=int, action="append", help="repeatable; default 1, 32 and 128")
    parser.add_argument("--peers", default="litellm,routellm", help="comma-separated: litellm, routellm")
    parser.add_argument("--install-only", action="store_true", help="install the peers and stop")
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated variants of this router measured beside the default: {', '.join(VARIANTS)} (or none)",
    )
    add_client_option(parser)
    args = parser.parse_args(argv)
    client, client_note = choose_client(args.client)
    concurrencies = args.concurrency or [1, 32, 128]
    wanted = [p for p in args.peers.split(",") if p]
    variants = [v for v in args.variants.split(",") if v and v != "none"]
    if unknown := set(variants) - set(VARIANTS):
        parser.error(f"unknown variants {sorted(unknown)}: {', '.join(VARIANTS)}")

    bins: dict[str, Path] = {}
    left_out: dict[str, str] = {}
    for name in wanted:
        try:
            if name == "litellm":
                bins[name] = install("litellm", [[LITELLM_PIN]])
            elif name == "routellm":
                # torch first, by itself: pip takes the machine's CPU wheel; asked for by routellm, it would fetch CUDA.
                bins[name] = install("routellm", [[TORCH_PIN], [TORCH_PIN, ROUTELLM_PIN]])
            else:
                parser.error(f"unknown peer {name!r}: litellm or routellm")
        except (PeerError, OSError, subprocess.CalledProcessError) as exc:
            left_out[name] = f"install: {exc}"
    if args.install_only:
        for name, why in left_out.items():
            print(f"{name} left out: {why}")
        return 1 if left_out else 0

    with tempfile.TemporaryDirectory(prefix="orchestrouter-peers-") as tmp_dir, ExitStack() as stack:
        tmp = Path(tmp_dir)
        endpoint_pid, endpoint_port = stack.enter_context(loopback_endpoint(embedding_dim=MF_SHAPE["text_dim"]))
        endpoint = f"http://127.0.0.1:{endpoint_port}/v1"
        loads: dict[str, Load] = {
            "floor": chat_load(endpoint + "/chat/completions", "loopback", {"endpoint": endpoint_pid}, client=client)
        }
        servers: dict[str, int] = {}
        labels: dict[str, str] = {}
        for name, bin_dir in bins.items():
            port = free_port()
            try:
                if name == "litellm":
                    master_key = "sk-" + secrets.token_hex(32)
                    command = litellm_command(bin_dir, endpoint, port, tmp, master_key)
                    env, model, headers = {}, "loopback", {"Authorization": f"Bearer {master_key}"}
                    version = LITELLM_PIN.split("==")[1]
                    labels[name] = f"LiteLLM proxy {version}"
                else:
                    checkpoint = mf_checkpoint(bin_dir)
                    command = routellm_command(bin_dir, endpoint, port, tmp, checkpoint)
                    env = {"OPENAI_BASE_URL": endpoint, "OPENAI_API_KEY": "unused"}
                    model, headers = ROUTELLM_MODEL, {}
                    labels[name] = f"RouteLLM {ROUTELLM_PIN.split('==')[1]} server, mf router"
                print(f"starting {name} on port {port}", flush=True)
                peer = stack.enter_context(run_peer(command, env, model, headers, port, PEERS_DIR / f"{name}-run.log"))
            except PeerError as exc:
                left_out[name] = f"start: {exc}"
                labels.pop(name, None)
                continue
            watched = {"server": peer.pid, "endpoint": endpoint_pid}
            loads[name] = chat_load(peer.url, peer.model, watched, peer.headers, client)
            servers[name] = peer.pid
        router_env = {
            "ORCHESTROUTER_SMALL_BASE_URL": endpoint,
            "ORCHESTROUTER_PREMIUM_BASE_URL": endpoint,
            "ORCHESTROUTER_DECISION_LOG": str(tmp / "decisions.jsonl"),
        }
        pair = start_pair(router_env=router_env)
        stack.callback(pair.stop)
        ours = {"router": pair.router.process.pid, "scorer": pair.scorer.process.pid, "endpoint": endpoint_pid}
        servers.update({"router": pair.router.process.pid, "scorer": pair.scorer.process.pid})
        loads["route"] = route_load(pair.router.target, False, ours, client)
        loads["dry run"] = route_load(pair.router.target, True, ours, client)
        labels.update({"route": "this router, Route with dispatch", "dry run": "this router, dry run"})
        for variant in variants:
            router = variant_router(variant, router_env, pair.scorer, tmp)
            stack.callback(router.stop)
            watched = {"router": router.process.pid, "endpoint": endpoint_pid}
            if "ORCHESTROUTER_SCORER_TARGET" not in VARIANTS[variant]:
                watched["scorer"] = pair.scorer.process.pid
            servers[f"router ({variant})"] = router.process.pid
            for system, dry_run in ((f"route, {variant}", False), (f"dry run, {variant}", True)):
                loads[system] = route_load(router.target, dry_run, watched, client)
                what = "Route with dispatch" if not dry_run else "dry run"
                labels[system] = f"this router, {what}, {VARIANT_LABELS[variant]}"
        for name, why in left_out.items():
            print(f"{name} left out: {why}")
        print(client_note)
        print(f"{args.rounds} rounds x {args.duration:g} s per load; systems: {', '.join(loads)}", flush=True)
        cells = run_rounds(loads, concurrencies, args.rounds, args.duration, args.warmup)
        print_table(cells, list(loads), concurrencies, ["server", "router", "scorer", "client", "endpoint"], client)
        print("RSS after the loads: " + ", ".join(f"{name} {rss_mb(pid):.0f} MiB" for name, pid in servers.items()))
        if {1, 32, 128} <= set(concurrencies):
            budget_table(cells, labels)
            peers: list[str] = [p for p in ("litellm", "routellm") if p in loads]
            ratios(cells, peers)
            for variant in variants:
                ratios(cells, peers, f", {variant}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
