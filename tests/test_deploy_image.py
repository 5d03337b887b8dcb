"""The container image, read from the Dockerfile (no container engine is needed): its entry
points are the console script and subcommands the package really installs, it runs as a
non-root numeric user, carries no build tools into the runtime stage, and ships the default
router model, which .dockerignore lets into the build context.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from orchestrouter.scorer.artifact import DEFAULT_MODEL_PATH

ROOT = Path(__file__).resolve().parent.parent
SERVE_COMMANDS = {"serve-router", "serve-scorer"}
BUILD_TOOLS = re.compile(r"\b(apt-get|apt|apk|gcc|g\+\+|make|build-essential|cc|pip\s+install)\b")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")),
    )
    out = []
    for line in text.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _stages() -> list[dict]:
    """Each stage: its base, its name and its instructions; ARG defaults substituted in FROM."""
    args: dict[str, str] = {}
    stages: list[dict] = []
    for word, rest in _instructions():
        if word == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif word == "FROM":
            parts = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], rest).split()
            parts = [p for p in parts if not p.startswith("--")]
            stages.append({"base": parts[0], "name": parts[2] if len(parts) > 2 else None, "body": []})
        else:
            stages[-1]["body"].append((word, rest))
    return stages


def _exec_form(rest: str) -> list[str]:
    value = json.loads(rest)
    assert isinstance(value, list), f"exec form expected, got {rest}"
    return value


def _subcommands() -> set[str]:
    from orchestrouter.cli.main import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def _docker_ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""

    def matches(pattern: str, candidate: str) -> bool:
        regex = re.escape(pattern.strip("/")).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        return re.fullmatch(regex, candidate) is not None

    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if any(matches(pattern.lstrip("!"), p) for p in prefixes):
            ignored = not negated
    return ignored


def test_the_console_script_and_its_serve_subcommands_exist():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["orchestrouter"] == "orchestrouter.cli.main:main"
    assert SERVE_COMMANDS <= _subcommands()
    script = Path(sys.executable).parent / "orchestrouter"
    for command in (["--help"], ["serve-router", "--help"], ["serve-scorer", "--help"]):
        done = subprocess.run([str(script), *command], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr


def test_the_runtime_stage_runs_the_console_script_as_a_non_root_user():
    final = _stages()[-1]["body"]
    entrypoint = [_exec_form(r) for w, r in final if w == "ENTRYPOINT"]
    cmd = [_exec_form(r) for w, r in final if w == "CMD"]
    assert entrypoint[-1] == ["orchestrouter"]
    assert cmd[-1][0] in SERVE_COMMANDS and cmd[-1][0] in _subcommands()
    user = [r for w, r in final if w == "USER"][-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and (not gid or int(gid) > 0), "USER must be a numeric non-root id"
    # The pods run as the same user (runAsUser), so the image's files are readable to them.
    pods = [d for d in yaml.safe_load_all((ROOT / "deploy/k8s/base/router-deployment.yaml").read_text()) if d]
    assert pods[0]["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)


def test_the_image_exposes_the_default_ports():
    from orchestrouter.router.config import DEFAULT_ROUTER_PORT
    from orchestrouter.scorer.config import DEFAULT_SCORER_PORT

    exposed = {int(p.split("/")[0]) for w, r in _stages()[-1]["body"] if w == "EXPOSE" for p in r.split()}
    assert {DEFAULT_ROUTER_PORT, DEFAULT_SCORER_PORT} <= exposed


def test_the_runtime_stage_has_no_build_tools_and_reuses_the_build_interpreter():
    stages = _stages()
    build, runtime = stages[0], stages[-1]
    assert len(stages) >= 2, "multi-stage build expected"
    # The virtual environment's interpreter links to the base image's: same base, same path.
    assert runtime["base"] == build["base"]
    for word, rest in runtime["body"]:
        if word == "RUN":
            assert not BUILD_TOOLS.search(rest), f"runtime stage installs build tools: {rest}"
    copies = [r for w, r in runtime["body"] if w == "COPY"]
    assert copies and all(f"--from={build['name']}" in c for c in copies), "runtime copies only build output"


def test_the_default_model_is_built_into_the_image():
    assert DEFAULT_MODEL_PATH.is_file(), f"{DEFAULT_MODEL_PATH} is missing from the repository"
    model = DEFAULT_MODEL_PATH.relative_to(ROOT).as_posix()
    # pip install copies it as package data ...
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    inside = DEFAULT_MODEL_PATH.relative_to(ROOT / "scorer" / "orchestrouter" / "scorer").as_posix()
    assert any(fnmatch.fnmatch(inside, p) for p in package_data["orchestrouter.scorer"]), package_data
    # ... from a directory the build stage copies ...
    build = _stages()[0]["body"]
    sources = [s.rstrip("/") for w, r in build if w == "COPY" for s in shlex.split(r)[:-1] if not s.startswith("--")]
    assert any(model == s or model.startswith(s + "/") for s in sources), sources
    # ... and both stages check it is there.
    assert sum("DEFAULT_MODEL_PATH" in r and "is_file()" in r for w, r in _instructions() if w == "RUN") >= 2
    # A different model is mounted at /models and named by ORCHESTROUTER_SCORER_MODEL.
    assert any(w == "RUN" and "/models" in r for w, r in _stages()[-1]["body"])


def test_dockerignore_keeps_what_the_build_needs_and_drops_the_rest():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    training = ROOT / "scorer" / "orchestrouter" / "training"
    needed = ["pyproject.toml", "README.md", "requirements.lock", DEFAULT_MODEL_PATH.relative_to(ROOT).as_posix()]
    needed += [
        p.relative_to(ROOT).as_posix()
        for d in ("proto", "clients", "router_service", "scorer")
        for p in (ROOT / d).rglob("*.py*")
        if "__pycache__" not in p.parts and not p.is_relative_to(training)
    ]
    needed += [p.relative_to(ROOT).as_posix() for p in (ROOT / "proto").rglob("*.proto")]
    assert not [p for p in needed if _docker_ignored(p, patterns)]
    # Training and its data stay out of the serving image.
    dropped = [p.relative_to(ROOT).as_posix() for p in training.rglob("*") if p.is_file()]
    assert dropped
    dropped += [
        ".venv/bin/python",
        ".git/HEAD",
        "tests/test_deploy_image.py",
        "scorer/orchestrouter/scorer/__pycache__/config.cpython-311.pyc",
        "deploy/k8s/base/kustomization.yaml",
    ]
    for path in dropped:
        assert _docker_ignored(path, patterns), path


def test_the_image_installs_the_serving_extra_from_the_lockfile():
    installs = [r for w, r in _stages()[0]["body"] if w == "RUN" and "pip install" in r]
    assert installs and all("-c requirements.lock" in r and "'.[serve]'" in r for r in installs), installs
    assert any("find_spec('orchestrouter.training') is None" in r for w, r in _stages()[0]["body"] if w == "RUN")
