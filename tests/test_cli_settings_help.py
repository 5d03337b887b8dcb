"""`serve-scorer --help` and `serve-router --help` list every variable the service reads, with its
default and what it does, all taken from where the configuration reads them."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from orchestrouter.router.config import RouterConfig
from orchestrouter.runtime.envparse import env_float
from orchestrouter.runtime.settings import RecordingEnv, Setting, settings_of
from orchestrouter.scorer.config import ScorerConfig

CONFIGS: dict[str, type[RouterConfig] | type[ScorerConfig]] = {
    "serve-router": RouterConfig,
    "serve-scorer": ScorerConfig,
}


def help_text(command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "orchestrouter.cli", command, "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


@pytest.mark.parametrize("command", sorted(CONFIGS))
def test_help_lists_every_variable_read_with_its_default_and_a_description(command):
    text = help_text(command)
    listed = re.findall(r"^  (ORCHESTROUTER_\w+)  \((?:default: (.*)|unset by default)\)$", text, re.MULTILINE)
    settings = settings_of(CONFIGS[command].read_env)
    assert [name for name, _ in listed] == [s.name for s in settings]
    assert [default for _, default in listed] == [s.default for s in settings]
    assert "(no description)" not in text and "OTEL_" in text


@pytest.mark.parametrize("config", [RouterConfig, ScorerConfig])
def test_every_setting_has_a_description(config):
    assert [s.name for s in settings_of(config.read_env) if not s.help] == []


def test_the_defaults_shown_are_the_configurations_own():
    shown = {s.name: s.default for s in settings_of(RouterConfig.read_env)}
    defaults = RouterConfig()
    assert shown["ORCHESTROUTER_THRESHOLD"] == f"{defaults.threshold:g}"
    assert shown["ORCHESTROUTER_ROUTER_LISTEN"] == defaults.listen
    assert shown["ORCHESTROUTER_PREMIUM_MODEL"] == defaults.premium.model
    assert shown["ORCHESTROUTER_MAX_RETRIES"] == str(defaults.dispatch.retry.max_retries)
    assert shown["ORCHESTROUTER_REFLECTION"] == "false" and shown["ORCHESTROUTER_PREMIUM_SHARE"] == ""
    scorer = {s.name: s.default for s in settings_of(ScorerConfig.read_env)}
    assert scorer["ORCHESTROUTER_SCORER_MAX_QUEUE"] == str(ScorerConfig().max_queue)


def test_a_variable_read_without_a_description_is_still_listed():
    def read_env(env):
        return (env.get("ORCHESTROUTER_RAW"), env_float(env, "ORCHESTROUTER_DESCRIBED", 1.5, help="a number"))

    assert settings_of(read_env) == [
        Setting("ORCHESTROUTER_RAW", "", ""),
        Setting("ORCHESTROUTER_DESCRIBED", "1.5", "a number"),
    ]
    assert dict(RecordingEnv()) == {}  # it is an empty environment


def test_the_settings_help_loads_no_server_until_asked():
    code = (
        "import json, sys; from orchestrouter.cli.main import main\n"
        "try:\n    main(['serve-router', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded = set(json.loads(done.stderr))
    assert "orchestrouter.router.config" in loaded
    assert "orchestrouter.router.server" not in loaded and "onnxruntime" not in loaded
