"""The wheel as a user installs it: one `orchestrouter` namespace, typed, with its protos; a plain
install is the client; it works from a fresh environment outside the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from grpc_tools import protoc
from packaging.requirements import Requirement

from tests.support.layout import SOURCE_ROOTS

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "proto" / "orchestrouter" / "v1"
SERVING_ONLY = {"onnxruntime", "onnx", "wordllama", "openai", "httpx", "tqdm", "safetensors", "matplotlib"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy of what the build reads: setuptools writes build/ and *.egg-info beside the
    # sources, and a stale build/ in the checkout would break (or leak into) the wheel.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    # (node_modules: the TypeScript client's packages under clients/, thousands of files no wheel reads.)
    skipped = shutil.ignore_patterns("__pycache__", "*.egg-info", "node_modules")
    for folder in SOURCE_ROOTS:
        shutil.copytree(ROOT / folder, source / folder, ignore=skipped)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(out.glob("orchestrouter-*.whl"))


def _metadata(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(name).decode()
    return [Requirement(r) for r in Parser().parsestr(text).get_all("Requires-Dist", [])]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(requirements: list[Requirement], extras: set[str]) -> set[str]:
    """Every distribution a set of requirements pulls in, read from what is installed here."""
    seen: set[str] = set()
    todo = [(r, extras) for r in requirements]
    while todo:
        req, active = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in active or {""}):
            continue
        name = _canonical(req.name)
        key = f"{name}[{','.join(sorted(req.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        if name == "orchestrouter":
            continue  # its own extras are expanded below, from the wheel's metadata
        todo += [(Requirement(r), set(req.extras)) for r in metadata.requires(req.name) or []]
    names = {k.split("[")[0] for k in seen}
    own = [k for k in seen if k.startswith("orchestrouter[")]
    return names - {"orchestrouter"} | {n for k in own for n in _closure(OWN_REQUIREMENTS, set(k[14:-1].split(",")))}


OWN_REQUIREMENTS: list[Requirement] = []


def _own(requirements: list[Requirement], extras: set[str]) -> set[str]:
    """The project's direct dependencies under these extras, its extras-of-extras expanded."""
    names: set[str] = set()
    for r in requirements:
        if r.marker is not None and not any(r.marker.evaluate({"extra": e}) for e in extras):
            continue
        if _canonical(r.name) == "orchestrouter":
            names |= _own(requirements, set(r.extras))
        else:
            names.add(_canonical(r.name))
    return names


def test_the_wheel_installs_one_namespace_with_types_protos_and_model(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"orchestrouter", f"{wheel.name.split('-py3')[0]}.dist-info"}
    assert "orchestrouter/__init__.py" not in names, "orchestrouter is a namespace; its parts are its subpackages"
    packages = {n.rsplit("/", 1)[0] for n in names if n.startswith("orchestrouter/") and n.endswith("/__init__.py")}
    top = {p for p in packages if p.count("/") == 1}
    assert {"orchestrouter/v1", "orchestrouter/client", "orchestrouter/router", "orchestrouter/scorer"} <= top
    assert not [p for p in top if f"{p}/py.typed" not in names], "every subpackage is marked typed (PEP 561)"
    assert {f"orchestrouter/v1/{p.name}" for p in GENERATED.glob("*.proto")} <= set(names)
    assert "orchestrouter/scorer/models/default.onnx" in names


def test_a_plain_install_is_the_client(wheel):
    requirements = _metadata(wheel)
    OWN_REQUIREMENTS[:] = requirements
    base = {_canonical(r.name) for r in requirements if r.marker is None}
    assert base == {"grpcio", "protobuf", "numpy"}
    client = _closure([r for r in requirements if r.marker is None], set())
    assert not client & SERVING_ONLY and not [n for n in client if n.startswith("opentelemetry")], client
    served = _closure(requirements, {"serve"})
    assert {"onnxruntime", "wordllama", "httpx", "opentelemetry-sdk"} <= served
    # Training's own dependencies stay out of the serving extra (WordLlama brings safetensors and
    # tqdm along by itself; onnx and matplotlib come with nothing served).
    assert not _own(requirements, {"serve"}) & {"onnx", "tqdm", "safetensors", "matplotlib"}
    assert not served & {"onnx", "matplotlib"}


def test_the_dependency_floors_admit_only_runtimes_the_generated_code_accepts(wheel):
    protobuf = re.search(r"# Protobuf Python Version: (\S+)", (GENERATED / "router_pb2.py").read_text())
    grpc_version = re.search(r"GRPC_GENERATED_VERSION = '(\S+)'", (GENERATED / "router_pb2_grpc.py").read_text())
    assert protobuf and grpc_version, "the generated code names the versions it was generated for"
    floors = {_canonical(r.name): r.specifier for r in _metadata(wheel) if r.marker is None}
    for name, generated in (("protobuf", protobuf.group(1)), ("grpcio", grpc_version.group(1))):
        assert floors[name].contains(generated) and not floors[name].contains(_lower(generated)), (name, floors[name])


def _lower(version: str) -> str:
    major, minor, patch = (int(x) for x in version.split(".")[:3])
    return f"{major}.{minor}.{patch - 1}" if patch else f"{major}.{minor - 1}.99" if minor else f"{major - 1}.99.99"


@pytest.fixture(scope="module")
def fresh_python(wheel, tmp_path_factory) -> Path:
    """A new virtual environment outside the repository holding the wheel; its dependencies come
    from this environment's site-packages (added by a .pth, so nothing is downloaded)."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return python


def _run(python: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(python), "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_in_a_fresh_environment_only_the_namespace_imports(fresh_python, tmp_path):
    for name in ("clients", "scorer", "router_service"):
        done = _run(fresh_python, f"import {name}", tmp_path)
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr, (name, done.stderr)
    done = _run(
        fresh_python,
        "import orchestrouter, orchestrouter.client, orchestrouter.v1.router_pb2 as r; "
        "print(list(orchestrouter.__path__)); print(r.DESCRIPTOR.name)",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    paths, descriptor = done.stdout.splitlines()
    assert str(fresh_python.parents[1]) in paths and str(ROOT) not in paths
    assert descriptor == "orchestrouter/v1/router.proto"


def test_stubs_a_user_generates_from_the_protos_import_beside_the_packaged_ones(fresh_python, tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    protos = [str(p.relative_to(ROOT / "proto")) for p in GENERATED.glob("*.proto")]
    assert protoc.main(["protoc", f"-I{ROOT / 'proto'}", f"--python_out={gen}", *protos]) == 0
    code = f"""
import importlib.util
from orchestrouter.v1 import router_pb2
spec = importlib.util.spec_from_file_location("user_router_pb2", {str(gen / "orchestrouter/v1/router_pb2.py")!r})
user = importlib.util.module_from_spec(spec)
spec.loader.exec_module(user)
wire = user.RouteRequest(messages=[user.ChatMessage(role="user", content="hi")], dry_run=True).SerializeToString()
print(router_pb2.RouteRequest.FromString(wire).messages[0].content)
"""
    done = _run(fresh_python, code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hi"


def test_mypy_sees_the_installed_package_as_typed(fresh_python, tmp_path):
    code = "from orchestrouter.client import RouterClient\nreveal_type(RouterClient('localhost:1').route)\n"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--python-executable",
            str(fresh_python),
            "--follow-imports=silent",
            "-c",
            code,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "py.typed" not in done.stdout and "import-untyped" not in done.stdout, done.stdout
    assert "Revealed type" in done.stdout and "RouteAnswer" in done.stdout, done.stdout
