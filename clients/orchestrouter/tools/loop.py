"""`make loop`: the learning loop, end to end, on a simulated deployment.

1. Fake small and premium endpoints answer by a rule the router does not know (``loop_fakes``: only
   the premium tier answers personal tax questions well).
2. A real scorer and a real router, as processes (``orchestrouter serve-scorer``, ``serve-router``):
   the shipped model with hot reload on, shadow rate 1 and a SQLite traffic store. They serve a few
   hundred requests; every one is answered by both tiers and stored.
3. ``orchestrouter judge`` labels the pairs with a fake judge that reads the pair-v2 template;
   ``orchestrouter train --from-store`` retrains; ``orchestrouter tune`` proposes the threshold.
4. On held-out prompts (never routed, never judged) the shipped model's APGR is measured through the
   router, the new model is renamed over the scorer's model file under load (every call counted),
   and the same prompts are measured again with the new model in service.

Acceptance: the new APGR is at least the shipped one + 0.15 and no call fails during the reload;
the exit code says whether both held. The benchmark data is used when ``$ORCHESTROUTER_DATA_DIR``
names it (``train --from-store`` combines the two); otherwise the store alone is trained on.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestrouter.client import RouterClient
from orchestrouter.scorer.artifact import DEFAULT_MODEL_PATH, read_info
from orchestrouter.store import open_store
from orchestrouter.tools import launcher
from orchestrouter.tools.launcher import command_line
from orchestrouter.tools.loop_fakes import FakeLLM, Prompt, judge_reply, tier_reply, traffic

REQUIRED_GAIN = 0.15
JUDGE_MODEL = "loop-judge"


def apgr(scores: np.ndarray, prompts: Sequence[Prompt]) -> float:
    """RouteLLM's APGR (as ``orchestrouter eval`` computes it): the area under the PGR curve of sending the
    highest scores to premium first. Quality by the hidden rule: premium always 1, small 0 on the hard topic."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    gain = np.array([1.0 if p.hard else 0.0 for p in prompts])[order]
    if gain.sum() == 0:
        raise ValueError("the held-out prompts hold no hard-topic prompt")
    pgr = np.concatenate([[0.0], np.cumsum(gain)]) / gain.sum()
    return float(np.trapezoid(pgr, np.arange(len(prompts) + 1) / len(prompts)))


@dataclass
class Deployment:
    """Deployment: the fake endpoints, the scorer and router processes, and the store the router records in."""

    workdir: Path
    small: FakeLLM
    premium: FakeLLM
    judge: FakeLLM
    model: Path
    services: launcher.Pair

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.workdir / 'store.db'}"

    @property
    def router_target(self) -> str:
        return self.services.router.target


def start(workdir: Path) -> Deployment:
    small = FakeLLM("small", tier_reply("small")).start()
    premium = FakeLLM("premium", tier_reply("premium")).start()
    judge = FakeLLM("judge", judge_reply).start()
    model = workdir / "router-model.onnx"
    shutil.copy(DEFAULT_MODEL_PATH, model)
    # As in a pod: the scorer checks its model file for a change (every 0.2 s here); the router
    # shadows every answered request and records both answers in the store.
    scorer_env = {"ORCHESTROUTER_SCORER_MODEL": str(model), "ORCHESTROUTER_SCORER_MODEL_RECHECK_S": "0.2"}
    router_env = {
        "ORCHESTROUTER_SMALL_BASE_URL": small.base_url,
        "ORCHESTROUTER_PREMIUM_BASE_URL": premium.base_url,
        # Prices per 1M tokens (the fakes count a token a word), so stored costs and tune's figures mean something.
        "ORCHESTROUTER_SMALL_PRICE_INPUT_PER_MTOK": "0.2",
        "ORCHESTROUTER_SMALL_PRICE_OUTPUT_PER_MTOK": "0.6",
        "ORCHESTROUTER_PREMIUM_PRICE_INPUT_PER_MTOK": "3",
        "ORCHESTROUTER_PREMIUM_PRICE_OUTPUT_PER_MTOK": "15",
        "ORCHESTROUTER_SHADOW_RATE": "1",
        "ORCHESTROUTER_SHADOW_MAX_CONCURRENCY": "64",
        "ORCHESTROUTER_STORE": f"sqlite:///{workdir / 'store.db'}",
        "ORCHESTROUTER_DECISION_LOG": "off",
        "ORCHESTROUTER_GRACE_SECONDS": "1",
    }
    try:
        services = launcher.start_pair(scorer_env, router_env)
    except BaseException:
        for fake in (small, premium, judge):
            fake.stop()
        raise
    return Deployment(workdir, small, premium, judge, model, services)


def stop(d: Deployment) -> None:
    d.services.stop()
    for fake in (d.small, d.premium, d.judge):
        fake.stop()


def route_all(target: str, prompts: Sequence[Prompt], dry_run: bool, concurrency: int = 4) -> tuple[np.ndarray, int]:
    """Each prompt's win probability, and how many calls failed."""
    with RouterClient(target) as client, ThreadPoolExecutor(concurrency) as pool:
        answers = list(pool.map(lambda p: _route(client, p.text, dry_run), prompts))
    return np.array([a[0] for a in answers]), sum(1 for a in answers if a[1])


def _route(client: RouterClient, text: str, dry_run: bool) -> tuple[float, bool]:
    try:
        return client.route(text, dry_run=dry_run).win_probability, False
    except Exception:  # noqa: BLE001 - a failed call is what is counted
        return float("nan"), True


def wait_for_pairs(store_url: str, count: int, timeout_s: float = 120.0) -> int:
    """Waits until the router has recorded count pairs (shadow answers arrive after the caller's)."""
    store = open_store(store_url)
    try:
        deadline = time.monotonic() + timeout_s
        while (n := sum(1 for _ in store.pairs())) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return n
    finally:
        store.close()


def cli(*args: str) -> str:
    """Runs `orchestrouter ARGS...` and returns its output; a failure ends the loop with that output."""
    done = subprocess.run([*command_line(args[0]), *args[1:]], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"orchestrouter {args[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass(frozen=True)
class Reload:
    """Reload: the Route calls made while the new model went into service, and how long it took."""

    calls: int
    failed: int
    degraded: int  # answered by the degraded tier because the scorer was slow (not failures)
    seconds: float | None  # None: the new version never answered


def reload_under_load(d: Deployment, new_model: Path, prompts: Sequence[Prompt], timeout_s: float = 60.0) -> Reload:
    """Renames new_model over the scorer's model file while 4 clients route; waits for its version to answer."""
    version = read_info(new_model).version
    stop_load, seen_new, lock = threading.Event(), threading.Event(), threading.Lock()
    counts = {"calls": 0, "failed": 0, "degraded": 0}

    def load(offset: int) -> None:
        with RouterClient(d.router_target) as client:
            i = offset
            while not stop_load.is_set():
                failed = degraded = 0
                try:
                    answer = client.route(prompts[i % len(prompts)].text)
                    degraded = int(answer.degraded)
                    if answer.router_version == version:
                        seen_new.set()
                except Exception:  # noqa: BLE001 - a failed call is what is counted
                    failed = 1
                with lock:
                    counts["calls"] += 1
                    counts["failed"] += failed
                    counts["degraded"] += degraded
                i += 7

    threads = [threading.Thread(target=load, args=(k,), daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    started = time.monotonic()
    staged = d.model.with_name("incoming.onnx")
    shutil.copy(new_model, staged)
    staged.replace(d.model)  # one rename: the scorer never reads half a file
    in_service = seen_new.wait(timeout_s)
    took = time.monotonic() - started
    time.sleep(1.0)  # and some load after the swap
    stop_load.set()
    for t in threads:
        t.join(30)
    return Reload(counts["calls"], counts["failed"], counts["degraded"], took if in_service else None)


def run_loop(requests: int, held_out: int, data_dir: Path | None, out: Callable[[str], None] = print) -> bool:
    """The whole loop; prints each step and returns whether the acceptance held."""
    prompts = traffic()
    if held_out + requests > len(prompts):
        raise ValueError(f"at most {len(prompts)} prompts: --requests + --held-out is {held_out + requests}")
    evaluation, routed = prompts[:held_out], prompts[held_out : held_out + requests]
    with tempfile.TemporaryDirectory(prefix="orchestrouter-loop-") as tmp:
        workdir = Path(tmp)
        out("starting fake endpoints (small, premium, judge), the scorer (shipped model) and the router (shadow 1)")
        d = start(workdir)
        try:
            t0 = time.monotonic()
            _, failed = route_all(d.router_target, routed, dry_run=False)
            stored = wait_for_pairs(d.store_url, requests)
            out(
                f"routed {requests} requests ({failed} failed) in {time.monotonic() - t0:.1f}s; "
                f"{stored} pairs (both tiers' answers) in the store"
            )
            shipped_scores, _ = route_all(d.router_target, evaluation, dry_run=True)
            shipped = apgr(shipped_scores, evaluation)

            out("$ orchestrouter judge --store ... --judge-model " + JUDGE_MODEL)
            out(
                cli(
                    "judge",
                    "--store",
                    d.store_url,
                    "--judge-base-url",
                    d.judge.base_url,
                    "--judge-model",
                    JUDGE_MODEL,
                    "--no-progress",
                )
            )
            new_model = workdir / "retrained.onnx"
            data = ["--data-dir", str(data_dir)] if data_dir else ["--no-data"]
            out("$ orchestrouter train --from-store ... " + " ".join(data))
            out(cli("train", "--from-store", d.store_url, "--out", str(new_model), *data))
            out("$ orchestrouter tune --store ... --premium-share 0.2")
            out(cli("tune", "--store", d.store_url, "--premium-share", "0.2"))

            reload = reload_under_load(d, new_model, routed)
            when = "never" if reload.seconds is None else f"after {reload.seconds:.1f}s"
            out(
                f"hot reload under load: {reload.calls} Route calls, {reload.failed} failed "
                f"({reload.degraded} answered degraded: scorer slower than its timeout); new model answering {when}"
            )
            new_scores, _ = route_all(d.router_target, evaluation, dry_run=True)
            new = apgr(new_scores, evaluation)
        finally:
            stop(d)
    hard = sum(p.hard for p in evaluation)
    out(
        f"held-out prompts {len(evaluation)} ({hard} on the hard topic), scored through the router: "
        f"APGR shipped {shipped:.3f}, retrained {new:.3f} (gain {new - shipped:+.3f}, needed {REQUIRED_GAIN:+.2f})"
    )
    ok = new >= shipped + REQUIRED_GAIN and reload.failed == 0 and reload.seconds is not None
    out("acceptance: " + ("PASS" if ok else "FAIL"))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrouter.tools.loop", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests routed with shadowing (default 300)")
    parser.add_argument("--held-out", type=int, default=60, help="prompts kept for the evaluation (default 60)")
    args = parser.parse_args(argv)
    data_dir = os.environ.get("ORCHESTROUTER_DATA_DIR")
    try:
        return 0 if run_loop(args.requests, args.held_out, Path(data_dir) if data_dir else None) else 1
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
