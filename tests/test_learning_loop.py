"""The simulated deployment of `make loop`, smaller: shadow -> store -> judge -> train --from-store -> hot
reload. The retrained router must beat the shipped one by 0.15 APGR on held-out prompts, with no failed call
while it goes into service."""

from __future__ import annotations

import re

import numpy as np

from orchestrouter.tools.loop import REQUIRED_GAIN, apgr, run_loop
from orchestrouter.tools.loop_fakes import Prompt


def test_apgr_rewards_sending_the_hard_prompts_up_first():
    prompts = [Prompt("a", "tax"), Prompt("b", "cooking"), Prompt("c", "travel"), Prompt("d", "code")]
    best, worst = apgr(np.array([0.9, 0.1, 0.2, 0.3]), prompts), apgr(np.array([0.0, 0.1, 0.2, 0.3]), prompts)
    assert best == 1 - 1 / (2 * 4) and worst == 1 / (2 * 4)


def test_the_loop_learns_the_hidden_rule_and_reloads_without_a_failed_call():
    lines: list[str] = []

    passed = run_loop(requests=200, held_out=60, data_dir=None, out=lines.append)

    text = "\n".join(lines)
    assert passed, text
    assert "200 pairs (both tiers' answers) in the store" in text
    assert re.search(r"judged 200 pairs with loop-judge: premium better \d+, small better 0", text), text
    reload = re.search(r"hot reload under load: (\d+) Route calls, (\d+) failed", text)
    assert reload and int(reload[1]) > 0 and int(reload[2]) == 0, text
    scores = re.search(r"APGR shipped ([\d.]+), retrained ([\d.]+)", text)
    assert scores and float(scores[2]) >= float(scores[1]) + REQUIRED_GAIN, text
