"""router.http: the OpenAI-compatible HTTP front door, served by the router process beside gRPC.

``POST /v1/chat/completions`` (JSON, or server-sent events with ``stream: true``) and
``GET /v1/models`` speak OpenAI's wire format; RouterCore does the work, in process, exactly as
for Route and RouteStream. ``/healthz`` and ``/readyz`` answer probes. Modules: errors (the one
mapping from the router's errors to OpenAI's error JSON), headers (the decision headers and the
dial headers), chat (request parsing and response rendering), app (the aiohttp handlers) and
frontdoor (start and drain).
"""
