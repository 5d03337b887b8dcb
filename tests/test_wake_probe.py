"""wake_probe measures a round trip to an idle echo server, gRPC and raw TCP, for each gap it is given."""

from __future__ import annotations

import re

from orchestrouter.tools import wake_probe


def test_each_gap_gets_a_round_trip_for_both_servers_and_the_servers_stop(capsys):
    assert wake_probe.main(["--gaps-us", "0,200", "--calls", "50"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)$", out, re.M)
    assert [gap for gap, _, _ in rows] == ["0", "200"], out
    assert all(0 < float(g) < 1e6 and 0 < float(t) < 1e6 for _, g, t in rows), out
    assert re.search(r"idle 200 µs instead of 0: [+-]\d+ µs per gRPC round trip, [+-]\d+ µs per TCP one", out), out
