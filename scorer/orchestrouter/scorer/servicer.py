"""ScorerService: translates between protobuf and the scoring engine."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import grpc
import numpy as np
from grpc import aio
from opentelemetry import propagate, trace

from orchestrouter.runtime import semconv
from orchestrouter.runtime.auth import current_caller
from orchestrouter.runtime.errors import InvalidArgument, Unavailable, status_for
from orchestrouter.scorer.artifact import RouterModelInfo
from orchestrouter.scorer.batcher import MicroBatcher
from orchestrouter.scorer.engine import ModelOutputError, ScoringEngine, parse_batch, probability_problem
from orchestrouter.scorer.run_telemetry import RunTelemetry
from orchestrouter.scorer.score_stream import ScoreStreams
from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(semconv.SCORER_METER)


class ScorerState:
    """ScorerState: the engine and batcher once the model is loaded; None before."""

    def __init__(self, max_request_rows: int) -> None:
        self.max_request_rows = max_request_rows
        self.engine: ScoringEngine | None = None
        self.batcher: MicroBatcher | None = None
        self.telemetry = RunTelemetry()

    def swap(self, engine: ScoringEngine) -> None:
        """Puts engine in service: Score runs after this one use it, and GetModelInfo describes it."""
        batcher = self.batcher
        assert batcher is not None, "a model is swapped only once one is serving"
        self.engine = engine
        batcher.swap(engine.run, engine)

    def ready(self) -> tuple[ScoringEngine, MicroBatcher]:
        if self.engine is None or self.batcher is None:
            raise Unavailable("router model is not loaded yet")
        return self.engine, self.batcher

    async def score(
        self, matrix: np.ndarray, engine: ScoringEngine, batcher: MicroBatcher
    ) -> tuple[np.ndarray, ScoringEngine]:
        """The win probabilities of matrix's checked rows and the model that gave them, in the caller's context.

        engine is the model serving when the request came; a hot reload may have swapped in another since.
        """
        scores, run = await batcher.score_with_run(matrix)
        scored_by = run.model if isinstance(run.model, ScoringEngine) else engine
        problem = probability_problem(scores)
        if problem:
            # Checked per request: rows that overflow the model fail their own request, not the batch's others.
            raise ModelOutputError(f"the router model gave {problem} for this request's rows")
        self.telemetry.on_scored(run, matrix.shape[0])
        return scores, scored_by


class ScorerServicer(scorer_pb2_grpc.ScorerServiceServicer):
    def __init__(self, state: ScorerState, streams: ScoreStreams | None = None) -> None:
        self._state = state
        self._streams = streams or ScoreStreams()

    async def Score(self, request: scorer_pb2.ScoreRequest, context: aio.ServicerContext) -> scorer_pb2.ScoreResponse:
        return await self._score(request)

    async def ScoreStream(
        self, request_iterator: AsyncIterator[scorer_pb2.ScoreStreamRequest], context: aio.ServicerContext
    ) -> AsyncIterator[scorer_pb2.ScoreStreamResponse]:
        async for answer in self._streams.serve(context, self._answer):
            yield answer

    async def _answer(self, message: scorer_pb2.ScoreStreamRequest) -> scorer_pb2.ScoreStreamResponse:
        """A ScoreStream request's answer: what Score would answer, or the status it would end with."""
        try:
            if message.trace_context:
                with _tracer.start_as_current_span(
                    semconv.SPAN_SCORE,
                    context=propagate.extract(message.trace_context),
                    kind=trace.SpanKind.SERVER,
                    attributes=semconv.SCORE_RPC_ATTRIBUTES,
                ) as span:
                    if caller := current_caller():  # as on a unary call's server span (runtime.auth)
                        span.set_attribute(semconv.CALLER, caller)
                    reply = await self._score(message.request)
            else:
                reply = await self._score(message.request)
        except Exception as exc:
            code, text = status_for(exc)
            if code == grpc.StatusCode.INTERNAL:
                log.exception("unhandled error in ScoreStream")
            return scorer_pb2.ScoreStreamResponse(id=message.id, error_code=code.value[0], error_message=text)
        return scorer_pb2.ScoreStreamResponse(id=message.id, response=reply)

    async def _score(self, request: scorer_pb2.ScoreRequest) -> scorer_pb2.ScoreResponse:
        """Score's answer to request, for a unary call and a stream's request alike."""
        engine, batcher = self._state.ready()
        if not request.HasField("embeddings"):
            raise InvalidArgument("empty batch: embeddings is not set")
        batch = request.embeddings
        matrix = parse_batch(batch.data, batch.rows, batch.dim, engine.dim, self._state.max_request_rows)
        scores, scored_by = await self._state.score(matrix, engine, batcher)
        return scorer_pb2.ScoreResponse(
            win_probabilities=np.asarray(scores, dtype=np.float32).tolist(),
            router_id=scored_by.info.router_id,
            router_version=scored_by.info.version,
        )

    async def GetModelInfo(
        self, request: scorer_pb2.GetModelInfoRequest, context: aio.ServicerContext
    ) -> scorer_pb2.GetModelInfoResponse:
        engine, _ = self._state.ready()
        return model_info_message(engine.info)


def model_info_message(info: RouterModelInfo) -> scorer_pb2.GetModelInfoResponse:
    """GetModelInfo's answer for the router model info describes."""
    return scorer_pb2.GetModelInfoResponse(
        router_id=info.router_id,
        router_version=info.version,
        embedder=scorer_pb2.EmbedderInfo(name=info.embedder_name, dim=info.embedder_dim),
        model_names=list(info.model_names),
        strong_model=info.strong_model,
        weak_model=info.weak_model,
        training_data_json=json.dumps(info.training_data, sort_keys=True),
        calibration_quantiles=list(info.calibration_quantiles),
        calibration_reference=info.calibration_reference,
    )
