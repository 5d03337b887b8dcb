"""One line for a failed call to the router: what was tried and what to do, never gRPC's own text.

gRPC reports a closed port, an unknown host, a failed TLS handshake and a router's own "try again"
all as UNAVAILABLE, in words meant for its developers ("failed to connect to all addresses; last error:
UNKNOWN: ipv4:..."). The command line knows what the user typed, so it says which address it dialled,
what went wrong in the user's terms, and the option that fixes it.
"""

from __future__ import annotations

import re

START_HINT = "start one with `orchestrouter serve-router` or set --router"
# The schemes people paste from HTTP tools; gRPC's own (dns:, unix:, ipv4:, ...) are targets it dials.
_URL = re.compile(r"^(https?|grpcs?)://([^/?#]*)", re.IGNORECASE)
# UNAVAILABLE raised by the channel itself (no router answered), as opposed to one a router returned.
_UNREACHABLE = ("failed to connect", "connection refused", "connect failed", "socket closed", "connection reset")
_UNRESOLVED = ("dns resolution failed", "errors resolving", "domain name not found", "name or service not known")
_HANDSHAKE = ("handshake", "ssl", "tls", "certificate")


def check_target(target: str, default: str) -> str:
    """The --router value as a gRPC target; ValueError with the value to use for a URL or a blank one."""
    target = target.strip()
    if not target:
        raise ValueError(f"--router is empty; give the router's HOST:PORT (default {default})")
    url = _URL.match(target)
    if url:
        host_port = url.group(2) or default
        raise ValueError(f"--router takes HOST:PORT, not a URL: got {target!r}; try --router {host_port}")
    if any(c.isspace() for c in target):
        raise ValueError(f"--router {target!r} holds a space; give the router's HOST:PORT")
    return target


def describe(code: str, details: str, target: str, tls: bool, timeout_s: float) -> str:
    """The line (without "error: ") for a call to the router at target that failed with code and details."""
    text = (details or "").lower()
    if code == "UNAVAILABLE":
        if any(word in text for word in _UNRESOLVED):
            host = target.rpartition(":")[0] or target
            return f"cannot reach a router at {target}: the host name {host!r} does not resolve; {START_HINT}"
        if any(word in text for word in (*_UNREACHABLE, *_HANDSHAKE)):
            if tls:  # a refused port and a refused handshake read alike here: name both fixes
                return (
                    f"cannot reach a router at {target} over TLS; check that one runs there (`orchestrouter "
                    "serve-router`), that --ca-file signs its certificate, and --cert-file/--key-file for mTLS"
                )
            return f"cannot reach a router at {target}; {START_HINT}"
        return f"the router at {target} answered UNAVAILABLE: {details}; try again shortly"
    if code == "UNIMPLEMENTED":
        return (
            f"{target} answered, but it is not a router (RouterService is not served there; is it the scorer's "
            f"port?); set --router to the router's HOST:PORT"
        )
    if code == "DEADLINE_EXCEEDED":
        return f"no answer from the router at {target} within {timeout_s:g} s; raise --timeout or check the router"
    if code == "UNAUTHENTICATED":
        return f"the router at {target} answered UNAUTHENTICATED: {details}; give its token with --token-file PATH"
    return f"the router at {target} answered {code}: {details}"
