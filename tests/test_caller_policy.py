"""Per-caller policy: the file's format, the premium budget's sliding minute (a fake clock), and on a
real router: PERMISSION_DENIED for a dial the caller may not set, small and flagged past the budget."""

from __future__ import annotations

import json

import grpc
import pytest

from orchestrouter.router.caller_policy import CallerPolicy, CallerRules, PremiumBudget, parse_policy
from orchestrouter.runtime.errors import PermissionDenied
from orchestrouter.runtime.watched_file import FileFormatError
from orchestrouter.v1 import router_pb2
from tests.support.decision_lines import written_lines
from tests.support.doubles import ManualClock, replace_file
from tests.support.pair import QUESTION, request

WEB = "web-token-3f9a1c7e5b2d4680"
BATCH = "batch-token-0d8e6b4a2c9f1357"


def test_a_caller_takes_what_its_rules_leave_out_from_the_default():
    table = parse_policy(
        json.dumps(
            {
                "default": {"allow_dial_override": False, "premium_requests_per_minute": 60},
                "callers": {"web": {"allow_dial_override": True, "premium_cost_usd_per_minute": 0.5}},
            }
        )
    )
    assert table.rules_for("web") == CallerRules(True, 60, 0.5)
    assert table.rules_for("someone") == CallerRules(False, 60, None)
    assert parse_policy("{}").rules_for("x") == CallerRules()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[1]", "must be a JSON object"),
        ("{", "not JSON"),
        ('{"defaults": {}}', "unknown key 'defaults'"),
        ('{"default": {"allow_dial_overide": true}}', "default: unknown key 'allow_dial_overide'"),
        ('{"default": {"allow_dial_override": "no"}}', "allow_dial_override must be true or false"),
        ('{"callers": {"web": {"premium_requests_per_minute": -1}}}', "callers.web.premium_requests_per_minute"),
        ('{"callers": {"web": {"premium_requests_per_minute": 1.5}}}', "callers.web.premium_requests_per_minute"),
        ('{"callers": {"web": {"premium_cost_usd_per_minute": NaN}}}', "premium_cost_usd_per_minute must be"),
        ('{"callers": []}', "callers must be an object"),
    ],
)
def test_a_malformed_policy_is_refused_saying_where(text, says):
    with pytest.raises(FileFormatError, match=None) as err:
        parse_policy(text)
    assert says in str(err.value)


def test_the_request_budget_is_a_sliding_minute():
    clock = ManualClock()
    budget = PremiumBudget(clock)
    rules = CallerRules(premium_requests_per_minute=2)
    assert budget.take("web", rules) == "" and budget.take("web", rules) == ""
    clock.now += 30
    assert budget.take("web", rules) == "caller web has used its premium budget of 2 requests per minute"
    assert budget.take("batch", rules) == ""  # each caller its own budget
    clock.now += 30.001  # the first two are a minute old
    assert budget.take("web", rules) == ""
    assert budget.refusal("web", rules) == ""  # refusal() alone spends nothing
    assert budget.take("web", rules) == "" and budget.take("web", rules).startswith("caller web has used")


def test_the_cost_budget_counts_premium_answers_over_the_last_minute():
    clock = ManualClock()
    budget = PremiumBudget(clock)
    rules = CallerRules(premium_cost_usd_per_minute=0.10)
    assert budget.take("web", rules) == ""
    budget.spend("web", 0.06)
    clock.now += 20
    budget.spend("web", 0.05)
    budget.spend("web", float("nan"))  # never counted
    assert budget.refusal("web", rules) == "caller web has used its premium budget of 0.1 USD per minute"
    clock.now += 40.5
    assert budget.refusal("web", rules) == ""


def test_a_caller_without_the_dial_permission_is_refused_and_the_file_reloads(tmp_path):
    path, clock = tmp_path / "policy.json", ManualClock()
    replace_file(path, '{"default": {"allow_dial_override": false}, "callers": {"web": {"allow_dial_override": true}}}')
    policy = CallerPolicy(str(path), recheck_s=1.0, clock=clock)
    policy.check_dial("web", sets_dial=True)
    policy.check_dial("batch", sets_dial=False)
    with pytest.raises(PermissionDenied, match="caller batch may not set the routing dial"):
        policy.check_dial("batch", sets_dial=True)
    replace_file(path, '{"default": {"allow_dial_override": true}}')
    clock.now += 1.5
    policy.check_dial("batch", sets_dial=True)
    replace_file(path, "{not json")  # keeps the last good rules
    clock.now += 1.5
    policy.check_dial("batch", sets_dial=True)


def route(stack, token: str, **fields) -> router_pb2.RouteResponse:
    return stack.stub.Route(request(QUESTION, **fields), timeout=10, metadata=(("authorization", f"Bearer {token}"),))


@pytest.fixture
def policed(stack, tmp_path):
    """A stack whose router requires tokens for web and batch and applies policy.json (re-read each call)."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"web:{WEB}\nbatch:{BATCH}\n")
    policy = tmp_path / "policy.json"
    replace_file(
        policy,
        json.dumps(
            {
                "default": {"allow_dial_override": False},
                "callers": {"web": {"allow_dial_override": True}, "batch": {"premium_requests_per_minute": 2}},
            }
        ),
    )
    s = stack(
        auth_tokens_file=str(tokens),
        caller_policy_file=str(policy),
        auth_recheck_s=0.0,
        decision_log=str(tmp_path / "decisions.jsonl"),
    )
    s.policy_path = policy
    return s


def test_a_caller_not_allowed_the_dial_gets_permission_denied(policed, tmp_path):
    for fields in ({"threshold": 0.0}, {"premium_share": 0.5}):
        with pytest.raises(grpc.RpcError) as err:
            route(policed, BATCH, **fields)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert err.value.details() == "caller batch may not set the routing dial"
    reply = route(policed, WEB, threshold=0.95)
    assert reply.decision.tier == router_pb2.TIER_SMALL
    assert len(policed.premium.requests) == 0 and len(policed.small.requests) == 1
    lines = written_lines(policed, tmp_path / "decisions.jsonl")
    assert [(line["caller"], line["status"]) for line in lines] == [
        ("batch", "PERMISSION_DENIED"),
        ("batch", "PERMISSION_DENIED"),
        ("web", "OK"),
    ]


def test_a_caller_over_its_premium_budget_is_routed_small_and_flagged(policed, tmp_path):
    first = [route(policed, BATCH).decision for _ in range(2)]
    assert [d.tier for d in first] == [router_pb2.TIER_PREMIUM] * 2 and not any(d.budget_limited for d in first)
    limited = route(policed, BATCH).decision
    assert (limited.tier, limited.routed_tier, limited.budget_limited) == (
        router_pb2.TIER_SMALL,
        router_pb2.TIER_SMALL,
        True,
    )
    assert limited.budget_reason == "caller batch has used its premium budget of 2 requests per minute"
    assert limited.model == "small-model"
    stream = policed.stub.RouteStream(request(QUESTION), timeout=10, metadata=(("authorization", f"Bearer {BATCH}"),))
    streamed = [e for e in stream if e.WhichOneof("event") == "done"]
    assert streamed[0].done.decision.budget_limited
    # A dry run is told, and spends nothing.
    assert route(policed, BATCH, dry_run=True).decision.budget_limited
    # Another caller's budget is its own.
    assert route(policed, WEB).decision.tier == router_pb2.TIER_PREMIUM
    assert len(policed.premium.requests) == 3 and len(policed.small.requests) == 2

    lines = written_lines(policed, tmp_path / "decisions.jsonl")
    assert [line["budget_limited"] for line in lines] == [False, False, True, True, True, False]
    assert all(WEB not in str(line) and BATCH not in str(line) for line in lines)

    # The budget raised in the file takes effect without a restart.
    replace_file(policed.policy_path, json.dumps({"callers": {"batch": {"premium_requests_per_minute": 10}}}))
    assert route(policed, BATCH).decision.tier == router_pb2.TIER_PREMIUM


def test_a_router_with_a_bad_policy_file_does_not_start_and_says_where(random_model, tmp_path, loop_thread):
    from orchestrouter.router.config import RouterConfig
    from orchestrouter.router.server import RouterServer, StartupError

    path = tmp_path / "policy.json"
    path.write_text('{"default": {"premium_requests_per_minute": "ten"}}')
    config = RouterConfig(listen="127.0.0.1:0", caller_policy_file=str(path), decision_log="off")
    with pytest.raises(StartupError, match="ORCHESTROUTER_CALLER_POLICY_FILE .*default.premium_requests_per_minute"):
        loop_thread.run(RouterServer(config).start())
