"""The shared fixtures, registered here once: an event loop thread, test router models, fake
OpenAI endpoints, in-process servers on port 0 (a scorer, a scorer and router pair, a stack), and
traffic stores (SQLite, and a real PostgreSQL server started for the session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from orchestrouter.router.config import RouterConfig
from orchestrouter.router.embedders import Embedder
from orchestrouter.scorer.server import ScorerServer
from tests.support.dispatch_stack import WIN_PROBABILITY, Stack, stack_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.loop_thread import LoopThread
from tests.support.models import linear_model
from tests.support.pair import Pair, start_pair, start_scorer
from tests.support.postgres import PostgresServer


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture(scope="session")
def random_model(tmp_path_factory) -> Path:
    """A linear model with a random direction: different queries get different probabilities."""
    u = np.random.default_rng(7).normal(0.0, 0.05, 256).astype(np.float32)
    return linear_model(tmp_path_factory.mktemp("models") / "random.onnx", u=u, bias=-1.0)


@pytest.fixture(scope="session")
def premium_leaning_model(tmp_path_factory) -> Path:
    """Every query scores WIN_PROBABILITY."""
    p = WIN_PROBABILITY
    return linear_model(tmp_path_factory.mktemp("models") / "p90.onnx", bias=float(np.log(p / (1 - p))))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server (the pgserver wheel's binaries) for the session; stopped at the end."""
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """The URL of an empty traffic store: a SQLite file, then a fresh database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture
def fakes(loop_thread):
    """fakes(name, **fields) starts a FakeOpenAI on the test loop; all are stopped after the test."""
    started: list[FakeOpenAI] = []

    def start(name: str, **fields: Any) -> FakeOpenAI:
        fake = loop_thread.run(FakeOpenAI(name, **fields).start())
        started.append(fake)
        return fake

    yield start
    for fake in started:
        loop_thread.run(fake.stop())


@pytest.fixture
def endpoint(fakes) -> FakeOpenAI:
    """One FakeOpenAI (chat completions and embeddings) for the test."""
    return fakes("endpoint")


@pytest.fixture
def scorer_factory(loop_thread):
    """scorer_factory(model_path, ready=True, **config) starts an in-process scorer on port 0;
    with ready=False it is NOT_SERVING until `become_ready()`. All are closed after the test."""
    started: list[ScorerServer] = []

    def start(model_path: Path, ready: bool = True, **overrides: Any) -> ScorerServer:
        started.append(loop_thread.run(start_scorer(model_path, ready, **overrides)))
        return started[-1]

    yield start
    for scorer in started:
        loop_thread.run(scorer.close(0.5))


@pytest.fixture
def pair(loop_thread):
    """pair(model_path, config=None, embedder=None, scorer_fields=None, **router_fields) starts a scorer
    and a router in process (tests.support.pair.start_pair); router_fields build the RouterConfig when
    config is None, scorer_fields override the ScorerConfig. All are closed after the test."""
    started: list[Pair] = []

    def start(
        model_path: Path,
        config: RouterConfig | None = None,
        embedder: Embedder | None = None,
        scorer_fields: dict[str, Any] | None = None,
        **router_fields: Any,
    ) -> Pair:
        if config is None:
            config = RouterConfig(listen="127.0.0.1:0", grace_seconds=0.5, **router_fields)
        started.append(loop_thread.run(start_pair(model_path, config, embedder, scorer_fields)))
        return started[-1]

    yield start
    for p in started:
        loop_thread.run(p.close())


@pytest.fixture
def stack(pair, fakes, premium_leaning_model):
    """stack(small={...}, premium={...}, **router_fields): both fakes, a scorer and a router, all on port 0.

    small/premium override that tier's TierConfig fields; fake_small/fake_premium pass FakeOpenAI fields.
    """

    def start(
        small: dict | None = None,
        premium: dict | None = None,
        fake_small: dict | None = None,
        fake_premium: dict | None = None,
        **router_fields: Any,
    ) -> Stack:
        small_fake = fakes("small", **(fake_small or {}))
        premium_fake = fakes("premium", **(fake_premium or {}))
        config = stack_config(small_fake, premium_fake, small or {}, premium or {}, **router_fields)
        p = pair(premium_leaning_model, config)
        return Stack(p.scorer, p.router, p.channel, p.loop, small_fake, premium_fake)

    return start
