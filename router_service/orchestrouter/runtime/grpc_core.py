"""gRPC core's settings for this project's servers, set in the environment before grpc is imported.

Core reads them once, when grpc is first imported, so apply_defaults() runs before anything loads
grpc (the serve commands call it first thing; so does orchestrouter.tools.wake_probe, to measure
what they serve with). Each is set only where the environment does not set it already.

- GRPC_VERBOSITY=ERROR: core's own C++ logging, straight to stderr, limited to errors. At its
  default it logs a peer's HTTP/2 GOAWAY debug text verbatim, newlines included, so any client
  could write forged lines into a server's log.
- GRPC_EXPERIMENTS=EXPERIMENTS_OFF: with grpcio's default EventEngine every socket event crosses an
  EventEngine thread before the Python poller thread and then the event loop; with these off, the
  poller thread reads the sockets itself, one thread hop fewer each way. Measured with the Go load
  generator on a 2-core machine, router and scorer as processes: Route with dispatch at c=1 p50
  1.13 -> 1.05 ms, router CPU per request 0.88 -> 0.81 ms; at c=32 about 10% more requests/s.
"""

from __future__ import annotations

import os

EXPERIMENTS_OFF = "-event_engine_client,-event_engine_listener"

DEFAULTS = {"GRPC_VERBOSITY": "ERROR", "GRPC_EXPERIMENTS": EXPERIMENTS_OFF}


def apply_defaults() -> None:
    """Sets each of DEFAULTS the environment does not set; call it before grpc is imported."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
