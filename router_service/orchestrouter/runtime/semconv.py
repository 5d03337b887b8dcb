"""semconv: the names OrchestROUTER's telemetry uses, in one place for the router and the scorer.

Modelled on OpenTelemetry's semantic-conventions modules: every span name, attribute name and
metric is a constant here, grouped by where it appears, and nothing else in the code spells one.
A metric is described once (name, unit, description, histogram buckets) and created from that
description by ``create_counter`` / ``create_histogram``, so a metric that both processes record
(``orchestrouter.hop.duration``: the router's hops and the scorer's) has one definition.

Dashboards and alerts depend on these names: change one only with a note in the changelog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry import metrics

# --- Meters (instrumentation scopes of the per-request metrics) -------------------------------------

ROUTER_METER = "orchestrouter.router"
SCORER_METER = "orchestrouter.scorer"

# --- Span names (beside the gRPC and HTTP spans that their instrumentations name) --------------------

# The router embedding the prompt (child of the Route server span).
SPAN_ROUTER_EMBED = "router.embed"
# One Score RPC that carries the rows of several Route requests; links to the others' traces.
SPAN_ROUTER_SCORE_COALESCED = "router.score_coalesced"
# One call to a model endpoint; the HTTP client span nests under it.
SPAN_DISPATCH_ATTEMPT = "dispatch.attempt"
# A Score request sent on a ScoreStream: the router's client span and the scorer's server span of
# each request, named and attributed as the gRPC instrumentation names those of a unary Score call,
# so that a trace reads the same whichever carried it (W3C context crosses in the message).
SPAN_SCORE = "/orchestrouter.v1.ScorerService/Score"
RPC_SYSTEM = "rpc.system"
RPC_SERVICE = "rpc.service"
RPC_METHOD = "rpc.method"
# The attributes of both spans (the router's client span, the scorer's server span).
SCORE_RPC_ATTRIBUTES = {RPC_SYSTEM: "grpc", RPC_SERVICE: "orchestrouter.v1.ScorerService", RPC_METHOD: "Score"}
# An ONNX run, one span in the trace of each Score request it served, with the run's real times.
SPAN_SCORER_ONNX_RUN = "scorer.onnx_run"
# The HTTP front door's server spans, named "{method} {route}" as OpenTelemetry's HTTP conventions
# name them; the decision goes on them as on the Route server span.
SPAN_HTTP_CHAT_COMPLETIONS = "POST /v1/chat/completions"
SPAN_HTTP_MODELS = "GET /v1/models"
# From OpenTelemetry's HTTP semantic conventions.
HTTP_REQUEST_METHOD = "http.request.method"
HTTP_ROUTE = "http.route"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
# The HTTP client span of a dispatch call (router.dispatch.http_trace), named by its method.
URL_FULL = "url.full"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

# --- The decision: attributes of the Route server span (tier, model, fallback, degraded also label
# the routes counter). Which Decision field each one carries: orchestrouter.router.decision_fields.

TIER = "orchestrouter.tier"  # the tier that answered (also on dispatch spans and metrics)
ROUTED_TIER = "orchestrouter.routed_tier"  # the tier the router chose, before any fallback
MODEL = "orchestrouter.model"  # the model that answered
WIN_PROBABILITY = "orchestrouter.win_probability"  # P(premium answer better), from the router model
THRESHOLD = "orchestrouter.threshold"  # the threshold the probability was compared with
ROUTER_ID = "orchestrouter.router_id"
ROUTER_VERSION = "orchestrouter.router_version"
FALLBACK = "orchestrouter.fallback"  # another tier than the routed one answered
FALLBACK_REASON = "orchestrouter.fallback_reason"  # set only when it fell back
ATTEMPTS = "orchestrouter.attempts"  # endpoint calls made for the request, all tiers
DEGRADED = "orchestrouter.degraded"  # routed without a score (scorer unreachable)
DEGRADED_REASON = "orchestrouter.degraded_reason"  # set only when degraded
DRY_RUN = "orchestrouter.dry_run"  # decided, not dispatched
COST_USD = "orchestrouter.cost_usd"  # the answer's cost at the tier's prices
# From OpenTelemetry's GenAI semantic conventions.
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"

# --- Who called (both services' server spans; the routes counter and the decision log) ---------------

CALLER = "orchestrouter.caller"  # the authenticated caller's name from the token file, never the token
BUDGET_LIMITED = "orchestrouter.budget_limited"  # routed small: the caller's premium budget was spent
BUDGET_REASON = "orchestrouter.budget_reason"  # set only when budget-limited

# --- How a request or a call ended (routes counter; dispatch spans and attempts counter) -------------

OUTCOME = "orchestrouter.outcome"  # routes: answered, decided, failed, cancelled; calls: ok or a failure kind
STATUS = "orchestrouter.status"  # the gRPC status code name
OUTCOME_OK = "ok"  # an endpoint call that answered

# --- Embedding and scoring -----------------------------------------------------------------------------

EMBEDDER = "orchestrouter.embedder"  # the embedder's name
PROMPT_CHARS = "orchestrouter.prompt_chars"  # characters embedded
SCORE_REQUESTS = "orchestrouter.score.requests"  # Route requests one coalesced Score RPC carries
SCORE_ROWS = "orchestrouter.score.rows"  # rows of one Score request

# --- Dispatch: the dispatch.attempt span and the dispatch metrics ---------------------------------------

ATTEMPT = "orchestrouter.attempt"  # the call's number within its request, from 1
STREAM = "orchestrouter.stream"  # the call streams its answer
FROM_TIER = "orchestrouter.from_tier"  # fallbacks: the routed tier
TO_TIER = "orchestrouter.to_tier"  # fallbacks: the tier that answered
REASON = "orchestrouter.reason"  # fallbacks: the routed tier's failure kind
TOKEN_KIND = "kind"  # tokens counter: input or output
TOKEN_KIND_INPUT = "input"
TOKEN_KIND_OUTPUT = "output"

# --- Hops: the hop.duration histogram's attribute and its values ----------------------------------------

HOP = "orchestrouter.hop"
HOP_EMBED = "embed"
HOP_SCORE = "score"
HOP_DISPATCH = "dispatch"
HOP_TOTAL = "total"
HOP_SCORER_QUEUE = "scorer.queue"  # waiting for the micro-batcher
HOP_SCORER_ONNX_RUN = "scorer.onnx_run"  # the ONNX run that served the request

# --- The scorer.onnx_run span: which run served the request --------------------------------------------

BATCH_ID = "orchestrouter.batch.id"  # the same for every request of the run
BATCH_REQUESTS = "orchestrouter.batch.requests"  # requests the run served
BATCH_ROWS = "orchestrouter.batch.rows"  # rows the run scored
BATCH_OFFSET = "orchestrouter.batch.offset"  # where this request's rows start in the run
QUEUE_WAIT_MS = "orchestrouter.queue_wait_ms"  # how long the request queued before the run

# --- Histogram buckets -----------------------------------------------------------------------------------

# Milliseconds from a scorer queue wait (tens of microseconds) to a long streamed answer (two minutes).
MS_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    30000,
    120000,
)
PROBABILITY_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 20))
# Requests or rows in one ONNX run: powers of two up to the largest Score request.
SIZE_BUCKETS = tuple(2**i for i in range(13))


@dataclass(frozen=True)
class Metric:
    """Metric: an instrument's name, unit, description and, for a histogram, its bucket boundaries."""

    name: str
    unit: str
    description: str
    buckets: tuple[float, ...] | None = None


# --- Metrics ---------------------------------------------------------------------------------------------

# Router, once per Route request [TIER, MODEL, OUTCOME, STATUS, FALLBACK, DEGRADED].
METRIC_ROUTES = Metric("orchestrouter.routes", "{request}", "Route requests by tier, model and outcome")
METRIC_WIN_PROBABILITY = Metric(
    "orchestrouter.win_probability", "1", "The router's P(premium answer better)", PROBABILITY_BUCKETS
)
# Router and scorer [HOP]: embed, score, dispatch, total; scorer.queue, scorer.onnx_run.
METRIC_HOP_DURATION = Metric("orchestrouter.hop.duration", "ms", "Time a request spent in each hop", MS_BUCKETS)
# Dispatch, once per endpoint call [TIER, OUTCOME].
METRIC_DISPATCH_ATTEMPTS = Metric(
    "orchestrouter.dispatch.attempts", "{call}", "Endpoint calls, by tier and outcome (ok or the failure kind)"
)
# Dispatch [FROM_TIER, TO_TIER, REASON].
METRIC_DISPATCH_FALLBACKS = Metric(
    "orchestrouter.dispatch.fallbacks",
    "{request}",
    "Requests answered by another tier than the routed one, by from/to tier and reason",
)
# Dispatch [TIER, TOKEN_KIND].
METRIC_DISPATCH_TOKENS = Metric(
    "orchestrouter.dispatch.tokens", "{token}", "Tokens used, by tier and kind (input, output)"
)
# Dispatch [TIER].
METRIC_DISPATCH_COST = Metric("orchestrouter.dispatch.cost", "USD", "Cost of the tokens used at the configured prices")
# Dispatch, a gauge read at each collection [TIER]: 0 closed, 1 half-open, 2 open.
METRIC_CIRCUIT_STATE = Metric(
    "orchestrouter.endpoint.circuit_state", "1", "Circuit breaker state per endpoint: 0 closed, 1 half-open, 2 open"
)
# Router, once per request whose record failed [RECORD: decision_log or telemetry]; the request itself
# was answered (a full disk under the decision log, a closed stdout, a failing exporter).
METRIC_RECORD_FAILURES = Metric(
    "orchestrouter.decision_log.failures",
    "{request}",
    "Requests answered whose decision-log line or telemetry could not be recorded",
)
RECORD = "orchestrouter.record"  # what could not be recorded
RECORD_DECISION_LOG = "decision_log"
RECORD_TELEMETRY = "telemetry"

# Router, once per periodic retention purge of the traffic store that failed (the router serves on).
METRIC_STORE_RETENTION_FAILURES = Metric(
    "orchestrouter.store.retention.failures", "{run}", "Periodic retention purges of the traffic store that failed"
)

# Scorer, once per ONNX run.
METRIC_SCORE_BATCH_REQUESTS = Metric(
    "orchestrouter.score.batch.requests", "{request}", "Score requests served by one ONNX run", SIZE_BUCKETS
)
METRIC_SCORE_BATCH_ROWS = Metric(
    "orchestrouter.score.batch.rows", "{row}", "Embeddings scored by one ONNX run", SIZE_BUCKETS
)

# Scorer, once per changed model file it tried to put in service [OUTCOME: loaded or rejected].
METRIC_MODEL_RELOADS = Metric(
    "orchestrouter.scorer.model_reloads",
    "{reload}",
    "Changed router model files, by outcome: loaded (now serving) or rejected (the previous model kept)",
)
RELOAD_LOADED = "loaded"
RELOAD_REJECTED = "rejected"

# Router, once per request sampled for shadow routing [TIER: the shadow tier, OUTCOME: ok, a failure
# kind, cancelled, or a SHADOW_DROPPED_* reason the call was not made]. Never the caller's answer.
METRIC_SHADOW_CALLS = Metric(
    "orchestrouter.shadow.calls", "{call}", "Shadow calls to the other tier, by tier and outcome (or why dropped)"
)
# Router [TIER]: apart from orchestrouter.dispatch.cost, which is what callers' answers cost.
METRIC_SHADOW_COST = Metric("orchestrouter.shadow.cost", "USD", "Cost of shadow calls at the configured prices")
SHADOW_DROPPED_FULL = "dropped_full"  # max_concurrency shadow calls were in flight
SHADOW_DROPPED_BREAKER = "dropped_breaker_open"  # the tier's circuit is not closed
SHADOW_DROPPED_NOT_CONFIGURED = "dropped_not_configured"  # the other tier has no endpoint
SHADOW_CANCELLED = "cancelled"  # still in flight when the router shut down
SHADOW_ERROR = "error"  # an unexpected error of our own (a bug), logged

# Router, once per record (a request, or a shadow answer written after it) the traffic store did not
# get [REASON: queue_full, store_failed or request_not_stored].
METRIC_TRAFFIC_DROPPED = Metric(
    "orchestrouter.traffic.dropped",
    "{record}",
    "Answered requests and shadow answers not recorded in the traffic store (queue full, store failing, "
    "or a shadow answer whose request was not recorded)",
)
TRAFFIC_QUEUE_FULL = "queue_full"
TRAFFIC_STORE_FAILED = "store_failed"
TRAFFIC_REQUEST_NOT_STORED = "request_not_stored"  # a shadow answer whose request row was itself dropped


def create_counter(meter: metrics.Meter, metric: Metric) -> metrics.Counter:
    """The counter that metric describes."""
    return meter.create_counter(metric.name, unit=metric.unit, description=metric.description)


def create_histogram(meter: metrics.Meter, metric: Metric) -> metrics.Histogram:
    """The histogram that metric describes, with its bucket boundaries."""
    return meter.create_histogram(
        metric.name,
        unit=metric.unit,
        description=metric.description,
        explicit_bucket_boundaries_advisory=metric.buckets,
    )


def create_gauge(
    meter: metrics.Meter,
    metric: Metric,
    callback: Callable[[metrics.CallbackOptions], Iterable[metrics.Observation]],
) -> metrics.ObservableGauge:
    """The observable gauge that metric describes, read by callback at each collection."""
    return meter.create_observable_gauge(
        metric.name, callbacks=[callback], unit=metric.unit, description=metric.description
    )
