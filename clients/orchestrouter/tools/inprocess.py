"""A router that scores in its own process: ``ORCHESTROUTER_SCORER_TARGET=inprocess orchestrouter serve-router``.

For single-process deployments. The Score service stays a separate process by default: the router
package never loads ONNX Runtime, and the scorer scales (and is reloaded, and crashes) on its own.
Composed here, above both layers, the router core is handed an InProcessScorer in place of the
Score RPC client: the same ModelService the Score server serves from (micro-batching, hot reload
of the model file, the ``scorer.onnx_run`` spans), called without a hop. The costs: one process,
no independent scaling of scoring, ONNX Runtime and the model in the router's memory.
"""

from __future__ import annotations

import numpy as np

from orchestrouter.router.config import ConfigError as RouterConfigError
from orchestrouter.router.config import RouterConfig
from orchestrouter.router.embedders import Embedder
from orchestrouter.router.scorer_client import ScorerUnavailable, Scores
from orchestrouter.router.server import RouterServer, StartupError
from orchestrouter.runtime import serving
from orchestrouter.runtime.errors import InvalidArgument, ServiceError
from orchestrouter.scorer.artifact import ArtifactError
from orchestrouter.scorer.config import ConfigError as ScorerConfigError
from orchestrouter.scorer.config import ScorerConfig
from orchestrouter.scorer.engine import check_embeddings
from orchestrouter.scorer.model_service import ModelService
from orchestrouter.scorer.servicer import model_info_message
from orchestrouter.v1 import scorer_pb2


class InProcessScorer:
    """InProcessScorer: the router's Scorer (router.scorer_client) over a ModelService in this process.

    What the Score RPC would refuse or fail is a ScorerUnavailable with the same words, so the
    router degrades exactly as it does when the scorer process answers so.
    """

    def __init__(self, config: ScorerConfig) -> None:
        self.model = ModelService(config)

    async def load(self) -> None:
        await self.model.load()

    async def score(self, embeddings: np.ndarray, timeout_s: float | None = None) -> Scores:
        # The run happens on this event loop (microseconds): there is no wait a timeout could cut short.
        state = self.model.state
        try:
            engine, batcher = state.ready()
            matrix = np.ascontiguousarray(embeddings, dtype=np.float32)
            check_embeddings(matrix, engine.dim, state.max_request_rows)
            scores, scored_by = await state.score(matrix, engine, batcher)
        except InvalidArgument as exc:
            raise ScorerUnavailable(f"scorer refused the embeddings: {exc}") from exc
        except ServiceError as exc:
            raise ScorerUnavailable(f"scorer {exc.code.name.lower()}: {exc}") from exc
        except Exception as exc:  # a failed model run: the Score server would answer INTERNAL
            raise ScorerUnavailable(f"scorer internal: {type(exc).__name__}") from exc
        return Scores(np.asarray(scores, dtype=np.float32), scored_by.info.router_id, scored_by.info.version)

    async def model_info(self, timeout_s: float = 5.0) -> scorer_pb2.GetModelInfoResponse:
        engine, _ = self.model.state.ready()
        return model_info_message(engine.info)

    async def close(self) -> None:
        await self.model.close()


class InProcessRouterServer(RouterServer):
    """RouterServer scoring with an InProcessScorer: it binds, loads the model, then reports SERVING."""

    def __init__(self, config: RouterConfig, scorer_config: ScorerConfig, embedder: Embedder | None = None) -> None:
        self.scorer = InProcessScorer(scorer_config)
        super().__init__(config, embedder=embedder, scorer=self.scorer)

    async def _get_ready(self) -> None:
        await self.scorer.load()
        await super()._get_ready()


def main() -> None:
    serving.run_main(
        "orchestrouter-router",
        lambda: InProcessRouterServer(RouterConfig.from_env(), ScorerConfig.from_env()),
        (RouterConfigError, StartupError, ScorerConfigError, ArtifactError),
    )
