"""Shared fixtures: an event loop thread, test router models, in-process servers on port 0."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrouter.scorer.config import ScorerConfig
from orchestrouter.scorer.server import create_server as create_scorer
from tests.support.loop_thread import LoopThread
from tests.support.models import linear_model


@pytest.fixture(scope="session")
def loop_thread():
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture(scope="session")
def random_model(tmp_path_factory):
    """A linear model with a random direction: different queries get different probabilities."""
    u = np.random.default_rng(7).normal(0.0, 0.05, 256).astype(np.float32)
    return linear_model(tmp_path_factory.mktemp("models") / "random.onnx", u=u, bias=-1.0)


@pytest.fixture
def scorer_factory(loop_thread):
    """Starts in-process scorers on port 0 (model loaded unless load=False); stops them after."""
    started = []

    def start(model_path, load=True, **overrides):
        config = ScorerConfig(listen="127.0.0.1:0", model_path=model_path, grace_seconds=1.0, **overrides)

        async def boot():
            s = await create_scorer(config)
            await s.server.start()
            if load:
                await s.load_model()
            return s

        s = loop_thread.run(boot())
        started.append(s)
        return s

    yield start
    for s in started:
        loop_thread.run(s.stop(0.5))
