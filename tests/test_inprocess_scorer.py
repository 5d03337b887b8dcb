"""The in-process scorer (ORCHESTROUTER_SCORER_TARGET=inprocess): the router scores without the Score hop,
deciding as it does with the scorer process, and degrading on what the Score service would refuse."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import grpc
import numpy as np
import pytest

from orchestrouter.router.config import IN_PROCESS_SCORER, RouterConfig
from orchestrouter.router.embedders import WordLlamaEmbedder
from orchestrouter.router.scorer_client import ScorerUnavailable
from orchestrouter.scorer.config import ScorerConfig
from orchestrouter.tools.inprocess import InProcessRouterServer, InProcessScorer
from orchestrouter.tools.launcher import run_to_exit, start
from orchestrouter.v1 import router_pb2, router_pb2_grpc
from tests.support.models import ConstantEmbedder
from tests.support.pair import request
from tests.support.reload import put_model, wait_until

QUERIES = ["What is the capital of France?", "Prove that there are infinitely many primes.", "hi!"]


def scorer_config(model_path: Path) -> ScorerConfig:
    return ScorerConfig(listen="127.0.0.1:0", model_path=model_path, model_recheck_s=0)


@pytest.fixture(scope="module")
def wordllama() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


def test_a_router_scoring_in_process_decides_as_with_the_scorer_process(
    loop_thread, pair, random_model, wordllama
) -> None:
    two_processes = pair(random_model, embedder=wordllama)
    config = RouterConfig(listen="127.0.0.1:0", grace_seconds=0.5, scorer_target=IN_PROCESS_SCORER)
    router = loop_thread.run(InProcessRouterServer(config, scorer_config(random_model), embedder=wordllama).start())
    try:
        with grpc.insecure_channel(router.target) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            for text in QUERIES:
                alone = stub.Route(request(text, dry_run=True), timeout=10).decision
                paired = two_processes.route(text, dry_run=True).decision
                assert not alone.degraded and not paired.degraded
                assert alone.win_probability == paired.win_probability
                assert (alone.router_id, alone.router_version) == (paired.router_id, paired.router_version)
            probabilities = {stub.Route(request(t, dry_run=True), timeout=10).decision.win_probability for t in QUERIES}
            assert len(probabilities) == len(QUERIES), "each query is scored, not a constant"
    finally:
        loop_thread.run(router.close(0.5))
    assert router.scorer.model.state.batcher is not None and router.scorer.model.state.batcher._closed


def test_an_in_process_router_follows_a_reload_of_the_model_file(loop_thread, tmp_path) -> None:
    path = tmp_path / "model.onnx"
    put_model(path, "v1", bias=-3.0)  # every score ~0.047; calibration uniform on [0, 1]
    config = RouterConfig(listen="127.0.0.1:0", grace_seconds=0.5, scorer_target=IN_PROCESS_SCORER, premium_share=0.75)
    scorer = dataclasses.replace(scorer_config(path), model_recheck_s=0.05)
    router = loop_thread.run(InProcessRouterServer(config, scorer, embedder=ConstantEmbedder()).start())
    try:
        with grpc.insecure_channel(router.target) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)

            def decision() -> router_pb2.Decision:
                return stub.Route(request("a question", dry_run=True), timeout=10).decision

            assert (decision().router_version, decision().threshold) == ("v1", pytest.approx(0.25, abs=1e-6))
            # v2's calibration spans [0, 0.04]: a 75% premium share is now threshold 0.01, so ~0.047 goes premium.
            put_model(path, "v2", bias=-3.0, calibration=tuple(float(x) for x in np.linspace(0.0, 0.04, 101)))
            wait_until(lambda: decision().router_version == "v2", "a route scored by v2")
            wait_until(lambda: decision().threshold == pytest.approx(0.01, abs=1e-6), "v2's calibration")
            assert decision().tier == router_pb2.TIER_PREMIUM
    finally:
        loop_thread.run(router.close(0.5))


def test_what_the_score_service_refuses_is_scorer_unavailable(random_model) -> None:
    async def main() -> list[str]:
        scorer = InProcessScorer(scorer_config(random_model))
        problems = []
        with pytest.raises(ScorerUnavailable) as not_loaded:
            await scorer.score(np.zeros((1, 256), np.float32))
        problems.append(str(not_loaded.value))
        await scorer.load()
        try:
            scores = await scorer.score(np.full((2, 256), 0.01, np.float32))
            assert scores.win_probabilities.shape == (2,) and scores.router_id
            for bad in (np.full((1, 256), np.nan, np.float32), np.zeros((1, 8), np.float32)):
                with pytest.raises(ScorerUnavailable) as refused:
                    await scorer.score(bad)
                problems.append(str(refused.value))
            info = await scorer.model_info()
            assert info.embedder.dim == 256 and info.router_id == scores.router_id
        finally:
            await scorer.close()
        return problems

    not_loaded, nan, wrong_dim = asyncio.run(main())
    assert not_loaded == "scorer unavailable: router model is not loaded yet"
    assert nan.startswith("scorer refused the embeddings: ") and "NaN" in nan
    assert wrong_dim.startswith("scorer refused the embeddings: ") and "dimension 8" in wrong_dim


def test_serve_router_scores_in_its_own_process_with_the_inprocess_target() -> None:
    env = {
        "ORCHESTROUTER_ROUTER_LISTEN": "127.0.0.1:0",
        "ORCHESTROUTER_SCORER_TARGET": IN_PROCESS_SCORER,
        "ORCHESTROUTER_DECISION_LOG": "off",
    }
    router = start("serve-router", env, name="router")
    try:
        with grpc.insecure_channel(router.target) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            decisions = [stub.Route(request(t, dry_run=True), timeout=10).decision for t in QUERIES]
        # No scorer process runs: a decision that is not degraded was scored in the router's process.
        assert not any(d.degraded for d in decisions) and all(d.router_id for d in decisions)
        assert len({d.win_probability for d in decisions}) == len(QUERIES)
        maps = Path(f"/proc/{router.process.pid}/maps").read_text()
        assert "onnxruntime" in maps
    finally:
        assert router.stop() == 0


def test_a_broken_model_stops_an_in_process_router_with_one_line(tmp_path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx file")
    proc = run_to_exit(
        "serve-router",
        {
            "ORCHESTROUTER_ROUTER_LISTEN": "127.0.0.1:0",
            "ORCHESTROUTER_SCORER_TARGET": IN_PROCESS_SCORER,
            "ORCHESTROUTER_SCORER_MODEL": str(bad),
        },
    )
    assert proc.returncode == 2
    assert "cannot start" in proc.stderr and "not an ONNX model" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_default_router_process_loads_no_onnx_runtime(random_model) -> None:
    # The in-process mode is opt-in: with a scorer target, serve-router stays free of ONNX Runtime.
    scorer = start("serve-scorer", {"ORCHESTROUTER_SCORER_LISTEN": "127.0.0.1:0"}, name="scorer")
    try:
        router = start(
            "serve-router",
            {"ORCHESTROUTER_ROUTER_LISTEN": "127.0.0.1:0", "ORCHESTROUTER_SCORER_TARGET": scorer.target},
            name="router",
        )
        try:
            assert "onnxruntime" not in Path(f"/proc/{router.process.pid}/maps").read_text()
        finally:
            router.stop()
    finally:
        scorer.stop()
