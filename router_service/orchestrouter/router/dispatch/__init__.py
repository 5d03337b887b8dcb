"""dispatch: calls the model endpoints — retries, fallback between tiers, circuit breaking, streaming, cost.

Modules, each with one job: wire (the OpenAI chat-completions format), endpoint (single HTTP calls),
api_key (the bearer token and its rotation), retry (backoff policy), breaker (circuit breaker),
accounting (usage and cost), tier (one tier's calls with retries), dispatcher (fallback between
tiers and the deadline split), failures (failure kinds and the one mapping to statuses),
instruments (OpenTelemetry spans and metrics).

Import from the modules themselves: the package imports none of them, so that the configuration can
build the retry and breaker policies without loading the dispatcher (which reads the configuration).
"""
