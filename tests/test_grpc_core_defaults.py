"""The serve commands set gRPC core's defaults before grpc loads, and an operator's own setting wins.

runtime.grpc_core.EXPERIMENTS_OFF takes the EventEngine threads off the path of every socket event (it says
what that saves). Core still starts those threads, for its timers, but they no longer wake for each
call: these tests count their wake-ups (voluntary context switches, from /proc) over CALLS calls.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from orchestrouter.tools.launcher import start
from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc

CALLS = 300


def event_engine_wakeups(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        if (task / "comm").read_text().strip().startswith("event_engine"):
            status = (task / "status").read_text()
            total += int(status.split("voluntary_ctxt_switches:")[1].split()[0])
    return total


def wakeups_per_call(env: dict[str, str]) -> float:
    scorer = start("serve-scorer", {"ORCHESTROUTER_SCORER_LISTEN": "127.0.0.1:0", **env}, name="scorer")
    try:
        with grpc.insecure_channel(scorer.target) as channel:
            stub = scorer_pb2_grpc.ScorerServiceStub(channel)
            stub.GetModelInfo(scorer_pb2.GetModelInfoRequest(), timeout=10)
            before = event_engine_wakeups(scorer.process.pid)
            for _ in range(CALLS):
                assert stub.GetModelInfo(scorer_pb2.GetModelInfoRequest(), timeout=10).router_id
            return (event_engine_wakeups(scorer.process.pid) - before) / CALLS
    finally:
        assert scorer.stop() == 0


def test_served_process_reads_sockets_without_event_engine_threads(monkeypatch):
    monkeypatch.delenv("GRPC_EXPERIMENTS", raising=False)
    assert wakeups_per_call({}) < 1.0


def test_operator_setting_of_grpc_experiments_wins():
    # Set to nothing: grpcio's own default, where EventEngine threads wake several times a call
    # (3.5 measured here, against 0.3 with the serve commands' default).
    assert wakeups_per_call({"GRPC_EXPERIMENTS": ""}) > 2.0
