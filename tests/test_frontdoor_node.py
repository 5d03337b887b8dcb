"""The front door driven by the official `openai` Node SDK: tests/node-openai/frontdoor.test.mjs runs
under `node --test` against a real router (tiers on FakeOpenAI endpoints, bearer tokens required);
this test starts the router, hands the script what to expect, and requires every Node test to pass.

`make pytest` installs the SDK there first (npm ci, from the committed package-lock.json)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrouter.router.http.headers import ALL_DECISION_HEADERS
from tests.support.doubles import replace_file
from tests.support.frontdoor import HTTP_LISTEN, base_url
from tests.support.pair import QUESTION

NODE_DIR = Path(__file__).parent / "node-openai"
TOKEN = "node-sdk-token-5b2d46803f9a1c7e"


def node_tests_declared() -> int:
    return len(re.findall(r"^test\(", (NODE_DIR / "frontdoor.test.mjs").read_text(), re.MULTILINE))


@pytest.fixture
def door(stack, tmp_path):
    tokens = tmp_path / "tokens"
    replace_file(tokens, f"node:{TOKEN}\n")
    return stack(http_listen=HTTP_LISTEN, auth_tokens_file=str(tokens))


def test_the_official_node_sdk_passes_against_the_front_door(door):
    node = shutil.which("node")
    assert node, "node (>= 20) is needed for the Node SDK test"
    assert (NODE_DIR / "node_modules" / "openai").is_dir(), "run `make pytest` (it runs npm ci in tests/node-openai)"
    env = {
        **os.environ,
        "FRONTDOOR_BASE_URL": base_url(door.router),
        "FRONTDOOR_API_KEY": TOKEN,
        "FRONTDOOR_WRONG_KEY": "not-a-token-of-the-file-1234",
        "FRONTDOOR_QUESTION": QUESTION,
        "FRONTDOOR_DECISION_HEADERS": json.dumps(ALL_DECISION_HEADERS),
        "FRONTDOOR_SMALL_MODEL": "small-model",
        "FRONTDOOR_PREMIUM_MODEL": "premium-model",
        "FRONTDOOR_SMALL_ANSWER": door.small.answer_text(),
        "FRONTDOOR_PREMIUM_ANSWER": door.premium.answer_text(),
        # What the fake endpoint answers to a tool result, and in JSON mode.
        "FRONTDOOR_TOOL_RESULT": "forty-two",
        "FRONTDOOR_TOOL_ANSWER": f"{door.premium.name}: the tool said forty-two",
        "FRONTDOOR_JSON_ANSWER": json.dumps({"answer": "42", "from": door.premium.name}),
    }
    run = subprocess.run(
        [node, "--test", "--test-reporter=tap"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    summary = dict(re.findall(r"^# (tests|pass|fail|skipped|todo|cancelled) (\d+)$", run.stdout, re.MULTILINE))
    declared = node_tests_declared()
    assert run.returncode == 0 and summary.get("pass") == str(declared), run.stdout[-4000:] + run.stderr[-2000:]
    assert summary.get("fail") == summary.get("skipped") == "0"
    # The Node SDK's requests reached the tiers (not a cached or empty run), tools and JSON mode included.
    assert door.premium.calls >= 5 and door.small.calls >= 2
    sent = [r.body for r in door.premium.requests]
    assert any(b.get("response_format") == {"type": "json_object"} for b in sent)
    assert any(m.get("role") == "tool" for b in sent for m in b["messages"])
