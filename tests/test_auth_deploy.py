"""The Kubernetes manifests mount the token files and the caller policy the services are told to read,
and what the dev overlay and the examples put in them is what the services accept."""

from __future__ import annotations

import base64
from pathlib import PurePosixPath

import kubernetes_validate
import pytest
import yaml

from orchestrouter.router.caller_policy import parse_policy
from orchestrouter.runtime.auth import parse_tokens
from tests.test_deploy_manifests import K8S, K8S_VERSIONS, TARGETS, container_env, named, ours, render

AUTH_FILES = {
    "router": ("ORCHESTROUTER_AUTH_TOKENS_FILE", "ORCHESTROUTER_CALLER_POLICY_FILE", "ORCHESTROUTER_SCORER_TOKEN_FILE"),
    "scorer": ("ORCHESTROUTER_AUTH_TOKENS_FILE",),
}


def mounted_volume(spec: dict, container: dict, path: str) -> dict:
    """The volume whose items hold the file at path in container."""
    file = PurePosixPath(path)
    (mount,) = [m for m in container.get("volumeMounts", []) if PurePosixPath(m["mountPath"]) == file.parent]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    source = volume.get("secret") or volume.get("configMap")
    assert source is not None and file.name in {i["path"] for i in source["items"]}, (container["name"], path)
    assert "subPath" not in mount, f"{container['name']}: a subPath mount never sees an update"
    return volume


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_service_reads_its_tokens_and_policy_from_a_mounted_secret_or_config_map(target):
    resources = render(target)
    for _, spec, container, r in ours(resources):
        env = dict(container_env(resources, container))
        for variable in AUTH_FILES[r]:
            path = env[variable]
            assert path is not None, f"{container['name']}: {variable} must be a path"
            volume = mounted_volume(spec, container, path)
            if variable.endswith("POLICY_FILE"):
                data = named(resources, "ConfigMap", volume["configMap"]["name"])["data"]
                parse_policy(data[PurePosixPath(path).name])
            else:
                assert "secret" in volume, f"{container['name']}: {variable} must come from a Secret"


def test_the_dev_overlay_generates_placeholder_tokens_the_services_accept():
    resources = render("overlays/dev")
    secrets = {
        r["metadata"]["name"].rsplit("-", 1)[0]: {k: base64.b64decode(v).decode() for k, v in r["data"].items()}
        for r in resources
        if r["kind"] == "Secret"
    }
    assert parse_tokens(secrets["orchestrouter-caller-tokens"]["tokens"]).callers == {"dev"}
    scorer = secrets["orchestrouter-scorer-tokens"]
    assert parse_tokens(scorer["tokens"]).caller_for(scorer["router-token"]) == "router"


def test_the_example_auth_secrets_validate_and_hold_what_the_pods_mount():
    docs = [d for d in yaml.safe_load_all((K8S / "examples" / "auth-tokens-secrets.yaml").read_text()) if d]
    for doc in docs:
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)
    resources = render("base")
    mounted: dict[str, set[str]] = {}
    for _, spec, _, _ in ours(resources):
        for v in spec["volumes"]:
            if "secret" in v:
                mounted.setdefault(v["secret"]["secretName"], set()).update(
                    i["key"] for i in v["secret"].get("items", [])
                )
    for doc in docs:
        assert set(doc["stringData"]) == mounted[doc["metadata"]["name"]]
        assert all("REPLACE_WITH_" in v for v in doc["stringData"].values())
