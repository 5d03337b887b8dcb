"""Hot reload: the scorer swaps in a changed model file under load, keeps serving on a broken one,
and the router follows it to the new calibration."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

import grpc
import numpy as np
import pytest

from orchestrouter.router.model_refresh import ModelRefresh
from orchestrouter.scorer.config import ConfigError, ScorerConfig
from orchestrouter.v1 import router_pb2, scorer_pb2, scorer_pb2_grpc
from tests.support.models import linear_model
from tests.support.reload import put_model, wait_until

RECHECK_S = 0.05
DIM = 256


def score_request(rows: int = 1) -> scorer_pb2.ScoreRequest:
    m = np.full((rows, DIM), 0.01, "<f4")
    return scorer_pb2.ScoreRequest(embeddings=scorer_pb2.EmbeddingBatch(data=m.tobytes(), rows=rows, dim=DIM))


@pytest.fixture
def scorer_stub(scorer_factory, tmp_path):
    """A scorer serving tmp_path/model.onnx (version v1, every score sigmoid(0) = 0.5), checked every RECHECK_S."""
    path = tmp_path / "model.onnx"
    put_model(path, "v1")
    scorer = scorer_factory(path, model_recheck_s=RECHECK_S)
    with grpc.insecure_channel(scorer.target) as channel:
        yield path, scorer, scorer_pb2_grpc.ScorerServiceStub(channel)


def version(stub) -> str:
    return stub.Score(score_request(), timeout=10).router_version


def test_score_calls_never_fail_while_the_model_is_swapped_several_times(scorer_stub):
    path, _, stub = scorer_stub
    failures: list[str] = []
    versions_seen: set[str] = set()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                reply = stub.Score(score_request(rows=4), timeout=10)
            except grpc.RpcError as exc:
                failures.append(f"{exc.code().name}: {exc.details()}")
                continue
            # Each reply's scores come from the version it names: version vN has bias N-1.
            bias = int(reply.router_version[1:]) - 1
            expected = 1 / (1 + np.exp(-bias))
            if not np.allclose(reply.win_probabilities, expected, atol=1e-6):
                failures.append(f"{reply.router_version} gave {list(reply.win_probabilities)}")
            versions_seen.add(reply.router_version)

    threads = [threading.Thread(target=load) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        for n in range(2, 6):
            put_model(path, f"v{n}", bias=float(n - 1))
            wait_until(lambda n=n: f"v{n}" in versions_seen, f"version v{n} in service")  # type: ignore[misc]
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert failures == []
    assert versions_seen == {"v1", "v2", "v3", "v4", "v5"}
    info = stub.GetModelInfo(scorer_pb2.GetModelInfoRequest(), timeout=10)
    assert info.router_version == "v5"


def test_a_configmap_symlink_swap_is_seen(scorer_factory, tmp_path):
    # A ConfigMap volume: model.onnx -> ..data/model.onnx, and an update re-points ..data at a new folder.
    for n in (1, 2):
        (tmp_path / f"..v{n}").mkdir()
        linear_model(tmp_path / f"..v{n}" / "model.onnx", version=f"v{n}")
    (tmp_path / "..data").symlink_to("..v1")
    (tmp_path / "model.onnx").symlink_to("..data/model.onnx")
    scorer = scorer_factory(tmp_path / "model.onnx", model_recheck_s=RECHECK_S)
    with grpc.insecure_channel(scorer.target) as channel:
        stub = scorer_pb2_grpc.ScorerServiceStub(channel)
        assert version(stub) == "v1"
        (tmp_path / "..data_tmp").symlink_to("..v2")
        os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
        wait_until(lambda: version(stub) == "v2", "the swapped-in model")


@pytest.mark.parametrize(
    "breakage, reason",
    [
        (lambda path: path.write_bytes(b"not an onnx file"), "not an ONNX model"),
        (lambda path: put_model(path, "v-wide", dim=512), "it takes 512-d embeddings, the model serving takes 256-d"),
        (lambda path: put_model(path, "v-nan", bias=float("nan")), "NaN or infinite probabilities at warm-up"),
    ],
    ids=["garbage", "other-dimension", "nan-output"],
)
def test_a_broken_file_keeps_the_old_model_and_says_why(scorer_stub, caplog, breakage, reason):
    path, scorer, stub = scorer_stub
    with caplog.at_level(logging.WARNING, logger="orchestrouter.scorer.model_reload"):
        breakage(path)
        wait_until(lambda: reason in caplog.text, "the rejection to be logged")
    assert version(stub) == "v1"
    assert "previous model keeps serving" in caplog.text
    put_model(path, "v2")
    wait_until(lambda: version(stub) == "v2", "the good file that follows")


def test_a_deleted_file_keeps_the_old_model(scorer_stub, caplog):
    path, _, stub = scorer_stub
    with caplog.at_level(logging.WARNING, logger="orchestrouter.scorer.model_reload"):
        path.unlink()
        wait_until(lambda: "cannot read it" in caplog.text, "the missing file to be logged")
    assert version(stub) == "v1"
    put_model(path, "v2")
    wait_until(lambda: version(stub) == "v2", "the file that came back")


def test_the_router_follows_a_reload_to_the_new_calibration(pair, tmp_path):
    path = tmp_path / "model.onnx"
    put_model(path, "v1", bias=-3.0)  # every score ~0.047
    p = pair(path, scorer_fields={"model_recheck_s": RECHECK_S}, premium_share=0.75)
    first = p.route(dry_run=True).decision
    # v1's calibration is uniform on [0, 1]: a 75% premium share is threshold 0.25.
    assert (first.router_version, first.threshold) == ("v1", pytest.approx(0.25, abs=1e-6))
    # v2's calibration spans [0, 0.04]: the same 75% share is threshold 0.01, so ~0.047 now goes premium.
    put_model(path, "v2", bias=-3.0, calibration=tuple(float(x) for x in np.linspace(0.0, 0.04, 101)))
    wait_until(lambda: p.route(dry_run=True).decision.router_version == "v2", "a route scored by v2")
    wait_until(lambda: p.status().router_version == "v2", "the router to take v2's model info")
    d = p.route(dry_run=True).decision
    assert d.threshold == pytest.approx(0.01, abs=1e-6)
    assert d.tier == router_pb2.TIER_PREMIUM
    assert p.status().threshold == pytest.approx(0.01, abs=1e-6)


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_the_recheck_period_is_checked_at_startup(value):
    with pytest.raises(ConfigError, match="^ORCHESTROUTER_SCORER_MODEL_RECHECK_S "):
        ScorerConfig.from_env({"ORCHESTROUTER_SCORER_MODEL_RECHECK_S": value})


def test_a_recheck_period_of_zero_never_reloads(scorer_factory, tmp_path):
    path = tmp_path / "model.onnx"
    put_model(path, "v1")
    scorer = scorer_factory(path, model_recheck_s=0)
    assert scorer.reloader is None
    assert ScorerConfig.from_env({}).model_recheck_s == 2.0


def test_routes_under_load_never_fail_or_degrade_while_the_model_is_swapped(pair, tmp_path):
    path = tmp_path / "model.onnx"
    put_model(path, "v1")
    p = pair(path, scorer_fields={"model_recheck_s": RECHECK_S})
    problems: list[str] = []
    versions_seen: set[str] = set()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                d = p.route(dry_run=True).decision
            except grpc.RpcError as exc:
                problems.append(f"{exc.code().name}: {exc.details()}")
                continue
            if d.degraded:  # routed without a score: the scorer failed the call
                problems.append(f"degraded: {d.degraded_reason}")
            versions_seen.add(d.router_version)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for n in range(2, 5):
            put_model(path, f"v{n}", bias=float(n))
            wait_until(lambda n=n: f"v{n}" in versions_seen, f"routes scored by v{n}")  # type: ignore[misc]
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert problems == []
    wait_until(lambda: p.status().router_version == "v4", "the router to take v4's model info")


def test_model_refresh_asks_once_at_a_time_and_at_most_once_per_interval():
    fetched: list[float] = []
    applied: list[str] = []
    release = asyncio.Event()

    async def fetch():
        fetched.append(time.monotonic())
        await release.wait()
        return scorer_pb2.GetModelInfoResponse(router_id="r", router_version=f"v{len(fetched) + 1}")

    async def main() -> None:
        refresh = ModelRefresh(fetch, lambda info: applied.append(info.router_version), min_interval_s=0.3)
        refresh.version_seen("v1", "v1")  # the version in use: nothing to do
        await asyncio.sleep(0.01)
        assert fetched == []
        for _ in range(5):
            refresh.version_seen("v2", "v1")
            await asyncio.sleep(0.01)
        assert len(fetched) == 1, "one refresh at a time"
        release.set()
        await asyncio.sleep(0.01)
        assert applied == ["v2"]
        # Asked again at once: it waits out the interval in the background, then takes the new version.
        refresh.version_seen("v3", "v2")
        await asyncio.sleep(0.05)
        assert len(fetched) == 1
        while refresh.refreshes < 2:
            await asyncio.sleep(0.01)
        assert applied == ["v2", "v3"] and fetched[1] - fetched[0] >= 0.3
        await refresh.close()

    asyncio.run(main())
