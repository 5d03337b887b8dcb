"""Scorer process: ScorerServer(config), started with one call, and main()."""

from __future__ import annotations

from grpc import aio

from orchestrouter.runtime import serving
from orchestrouter.scorer.artifact import ArtifactError
from orchestrouter.scorer.config import ConfigError, ScorerConfig
from orchestrouter.scorer.model_reload import ModelReloader
from orchestrouter.scorer.model_service import ModelService
from orchestrouter.scorer.score_stream import ScoreStreams
from orchestrouter.scorer.servicer import ScorerServicer
from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc

SERVICE_NAME = scorer_pb2.DESCRIPTOR.services_by_name["ScorerService"].full_name


class ScorerServer(serving.ServiceServer):
    """ScorerServer: the Score service; ready once its model is loaded and warmed.

    ``await ScorerServer(config).start()`` binds, loads the model and reports SERVING; until the
    model is loaded, Score answers UNAVAILABLE. Then, unless model_recheck_s is 0, a changed model
    file is put in service without a restart (scorer.model_reload).
    """

    service_name = SERVICE_NAME
    role = "scorer"

    def __init__(self, config: ScorerConfig) -> None:
        super().__init__(config)
        self.config = config
        self.model = ModelService(config)
        self.state = self.model.state
        self.streams = ScoreStreams()

    @property
    def reloader(self) -> ModelReloader | None:
        return self.model.reloader

    def _register(self, server: aio.Server) -> None:
        scorer_pb2_grpc.add_ScorerServiceServicer_to_server(ScorerServicer(self.state, self.streams), server)

    async def close(self, grace_seconds: float | None = None) -> None:
        """Ends the ScoreStream calls (each once the request it holds is answered), then drains."""
        self.streams.drain()
        await super().close(grace_seconds)

    async def _get_ready(self) -> None:
        await self.model.load()

    async def _release(self) -> None:
        await self.model.close()


def main() -> None:
    serving.run_main(
        "orchestrouter-scorer", lambda: ScorerServer(ScorerConfig.from_env()), (ConfigError, ArtifactError)
    )
