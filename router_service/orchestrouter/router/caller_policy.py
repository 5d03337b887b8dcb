"""caller_policy: what each authenticated caller may do, from a JSON file that reloads without a restart.

The file (``ORCHESTROUTER_CALLER_POLICY_FILE``) holds rules for every caller (``default``) and per
caller name (``callers``, the names of the token file); a caller's rules take what they leave out
from ``default``::

    {
      "default": {"allow_dial_override": false, "premium_requests_per_minute": 60},
      "callers": {
        "web": {"allow_dial_override": true, "premium_cost_usd_per_minute": 0.50},
        "batch": {"premium_requests_per_minute": 0}
      }
    }

- ``allow_dial_override`` (default true): may a request set ``threshold`` or ``premium_share``?
  If not, such a request is refused with PERMISSION_DENIED.
- ``premium_requests_per_minute`` / ``premium_cost_usd_per_minute`` (default none): the caller's
  premium budget over the last minute (a sliding window). A request that would go premium past
  it is routed small instead, its decision flagged ``budget_limited`` with the reason.

Without the file every caller may set the dial and has no budget, as before the policy existed.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from orchestrouter.runtime.errors import PermissionDenied
from orchestrouter.runtime.watched_file import FileFormatError, WatchedFile

POLICY_FILE_VARIABLE = "ORCHESTROUTER_CALLER_POLICY_FILE"
WINDOW_S = 60.0


@dataclass(frozen=True)
class CallerRules:
    """CallerRules: one caller's permissions and premium budget (None: no limit)."""

    allow_dial_override: bool = True
    premium_requests_per_minute: int | None = None
    premium_cost_usd_per_minute: float | None = None


@dataclass(frozen=True)
class PolicyTable:
    """PolicyTable: the rules for every caller, and the callers with rules of their own."""

    default: CallerRules = field(default_factory=CallerRules)
    callers: Mapping[str, CallerRules] = field(default_factory=dict)

    def rules_for(self, caller: str) -> CallerRules:
        return self.callers.get(caller, self.default)


def _rules(raw: Any, where: str, base: CallerRules) -> CallerRules:
    if not isinstance(raw, dict):
        raise FileFormatError(f"{where} must be an object")
    known = {f.name for f in fields(CallerRules)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise FileFormatError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    allow = raw.get("allow_dial_override", base.allow_dial_override)
    if not isinstance(allow, bool):
        raise FileFormatError(f"{where}.allow_dial_override must be true or false")
    requests = raw.get("premium_requests_per_minute", base.premium_requests_per_minute)
    if requests is not None and (isinstance(requests, bool) or not isinstance(requests, int) or requests < 0):
        raise FileFormatError(f"{where}.premium_requests_per_minute must be an integer >= 0 or null")
    cost = raw.get("premium_cost_usd_per_minute", base.premium_cost_usd_per_minute)
    if cost is not None and (
        isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost) or cost < 0
    ):
        raise FileFormatError(f"{where}.premium_cost_usd_per_minute must be a number >= 0 or null")
    return replace(
        base,
        allow_dial_override=allow,
        premium_requests_per_minute=requests,
        premium_cost_usd_per_minute=None if cost is None else float(cost),
    )


def parse_policy(text: str) -> PolicyTable:
    """The PolicyTable of the file's JSON text; FileFormatError says what is wrong and where."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(raw, dict):
        raise FileFormatError("must be a JSON object with 'default' and/or 'callers'")
    unknown = sorted(set(raw) - {"default", "callers"})
    if unknown:
        raise FileFormatError(f"unknown key {unknown[0]!r} (known: callers, default)")
    default = _rules(raw.get("default", {}), "default", CallerRules())
    callers_raw = raw.get("callers", {})
    if not isinstance(callers_raw, dict):
        raise FileFormatError("callers must be an object of caller name to rules")
    callers = {name: _rules(rules, f"callers.{name}", default) for name, rules in callers_raw.items()}
    return PolicyTable(default, callers)


class PremiumBudget:
    """PremiumBudget: each caller's premium requests and cost over the last window_s (sliding)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = WINDOW_S) -> None:
        self._clock = clock
        self._window_s = window_s
        self._requests: dict[str, deque[float]] = {}
        self._costs: dict[str, deque[tuple[float, float]]] = {}

    def _prune(self, caller: str) -> tuple[deque[float], deque[tuple[float, float]]]:
        since = self._clock() - self._window_s
        requests = self._requests.setdefault(caller, deque())
        while requests and requests[0] <= since:
            requests.popleft()
        costs = self._costs.setdefault(caller, deque())
        while costs and costs[0][0] <= since:
            costs.popleft()
        return requests, costs

    def refusal(self, caller: str, rules: CallerRules) -> str:
        """Why one more premium request would exceed the caller's budget, or "" if it fits."""
        requests, costs = self._prune(caller)
        name = display_name(caller)
        limit = rules.premium_requests_per_minute
        if limit is not None and len(requests) >= limit:
            return f"caller {name} has used its premium budget of {limit} requests per minute"
        cost_limit = rules.premium_cost_usd_per_minute
        if cost_limit is not None and sum(c for _, c in costs) >= cost_limit:
            return f"caller {name} has used its premium budget of {cost_limit:g} USD per minute"
        return ""

    def take(self, caller: str, rules: CallerRules) -> str:
        """refusal(), and when it fits, counts the request against the budget."""
        reason = self.refusal(caller, rules)
        if not reason:
            self._requests[caller].append(self._clock())
        return reason

    def spend(self, caller: str, cost_usd: float) -> None:
        """Counts a premium answer's cost against the caller's budget."""
        if cost_usd > 0 and math.isfinite(cost_usd):
            self._prune(caller)[1].append((self._clock(), cost_usd))


def display_name(caller: str) -> str:
    return caller or "(anonymous)"


class CallerPolicy:
    """CallerPolicy: the rules of the policy file (re-read when it changes) and the premium budgets."""

    def __init__(self, path: str = "", recheck_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._file = WatchedFile(path, parse_policy, POLICY_FILE_VARIABLE, recheck_s, clock) if path else None
        self.budget = PremiumBudget(clock)

    def rules_for(self, caller: str) -> CallerRules:
        return CallerRules() if self._file is None else self._file.current().rules_for(caller)

    def check_dial(self, caller: str, sets_dial: bool) -> None:
        """Raises PermissionDenied when the request sets the dial and the caller may not."""
        if sets_dial and not self.rules_for(caller).allow_dial_override:
            raise PermissionDenied(f"caller {display_name(caller)} may not set the routing dial")

    def premium_refusal(self, caller: str, count: bool) -> str:
        """Why the caller may not go premium now ("" if it may); count=True spends one request of the budget."""
        rules = self.rules_for(caller)
        return self.budget.take(caller, rules) if count else self.budget.refusal(caller, rules)
