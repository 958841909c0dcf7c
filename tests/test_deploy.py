"""The container image and the Kubernetes manifests in ``deploy/kubernetes/``.

The manifests validate against the official Kubernetes JSON schemas
(``kubernetes-validate``, strict: an unknown field is an error), and they
agree with the gateway itself: the container's arguments parse with our own
parser and pass its checks, the config and policies in the ConfigMaps load,
every ``${VAR}`` is a key of the Secret, the files are mounted where the
arguments say (never with ``subPath``, which Kubernetes never updates), and
the probes hit the liveness and readiness answers. The image builds where a
Docker engine answers; here the test is skipped, saying why.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from conftest import REPO

from agent_gateway.cli.parser import build_parser, serve_usage_error
from agent_gateway.core.config import GatewayConfig
from agent_gateway.core.policy import PolicySet
from agent_gateway.front.httpfront import unauthenticated_exposure, wants_readiness

DEPLOY = REPO / "deploy" / "kubernetes"
DOCKERFILE = REPO / "Dockerfile"
# The newest schemas the library ships, and an older release clusters still run.
K8S_VERSIONS = [kubernetes_validate.latest_version(), "1.29.0"]
VAR = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")


def manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return docs


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d
        for d in manifests()
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def container() -> dict[str, Any]:
    spec = one("Deployment")["spec"]["template"]["spec"]
    assert len(spec["containers"]) == 1
    return dict(spec["containers"][0])


def serve_args() -> Any:
    args = build_parser().parse_args(container()["args"])
    assert args.command == "serve"
    return args


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(version: str) -> None:
    kinds = []
    for doc in manifests():
        if doc["kind"] == "Kustomization":
            continue
        kubernetes_validate.validate(doc, version, strict=True)
        kinds.append(doc["kind"])
    assert {"Deployment", "Service", "ConfigMap", "Secret"} <= set(kinds)


def test_a_typo_in_a_manifest_fails_validation() -> None:
    broken = copy.deepcopy(one("Deployment"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(one("Kustomization")["resources"])
    files = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == files


def test_the_deployment_runs_several_non_root_replicas_with_limits() -> None:
    deployment = one("Deployment")
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    c = container()
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert set(c["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(c["resources"]["limits"])


def test_the_container_arguments_parse_and_may_serve_beyond_loopback() -> None:
    args = serve_args()
    assert (args.transport, args.host) == ("http", "0.0.0.0")
    assert serve_usage_error(args) is None
    assert (args.log_format, args.log_output, args.audit_log) == ("json", "stdout", "-")
    assert "agent-gateway" in args.allowed_host  # the Service's name is a Host clients use
    assert unauthenticated_exposure(args.host, policies_of_configmap()) is None


def test_the_probes_hit_liveness_and_readiness_with_a_host_the_guard_accepts() -> None:
    c = container()
    ready, live = c["readinessProbe"]["httpGet"], c["livenessProbe"]["httpGet"]
    for probe in (ready, live):
        hosts = [h["value"] for h in probe["httpHeaders"] if h["name"].lower() == "host"]
        assert hosts == ["localhost"]  # the kubelet's default Host (the pod IP) gets 403
        assert probe["port"] in ("http", 8765)
    path, _, query = ready["path"].partition("?")
    assert wants_readiness(path, query.encode())
    assert live["path"] == "/healthz" and not wants_readiness(live["path"], b"")


def _mounted_at(mount_path: str) -> dict[str, Any]:
    c = container()
    mounts = [m for m in c["volumeMounts"] if m["mountPath"] == mount_path]
    assert len(mounts) == 1, f"nothing mounted at {mount_path}"
    assert "subPath" not in mounts[0]  # a subPath mount never sees ConfigMap updates
    pod = one("Deployment")["spec"]["template"]["spec"]
    return next(v for v in pod["volumes"] if v["name"] == mounts[0]["name"])


def test_the_config_pins_and_policies_are_mounted_where_the_arguments_say() -> None:
    args = serve_args()
    config = Path(args.config)
    volume = _mounted_at(str(config.parent))["configMap"]
    paths = {item["key"]: item["path"] for item in volume["items"]}
    assert paths[".mcp.json"] == config.name
    assert paths["pins.json"] == ".agent-gateway/pins.json"  # next to the config
    data = one("ConfigMap", volume["name"])["data"]
    assert set(paths) <= set(data)
    policies = _mounted_at(args.policies)["configMap"]
    assert one("ConfigMap", policies["name"])["data"]
    env_from = container()["envFrom"]
    assert [e["secretRef"]["name"] for e in env_from] == [one("Secret")["metadata"]["name"]]


def policies_of_configmap() -> PolicySet:
    volume = _mounted_at(serve_args().policies)["configMap"]
    data = one("ConfigMap", volume["name"])["data"]
    return PolicySet.from_dicts({Path(k).stem: tomllib.loads(v) for k, v in data.items()})


def test_the_configmap_config_loads_with_every_variable_in_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = serve_args()
    volume = _mounted_at(str(Path(args.config).parent))["configMap"]
    text = one("ConfigMap", volume["name"])["data"][".mcp.json"]
    secret = one("Secret")["stringData"]
    assert set(VAR.findall(text)) <= set(secret)
    for name, value in secret.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / ".mcp.json"
    path.write_text(text)
    config = GatewayConfig.from_file(path)
    assert config.servers and not [s.error for s in config.servers.values() if s.error]
    assert not config.warnings
    policies = policies_of_configmap()
    visible = policies.visible_servers(None, config.servers)
    assert visible and visible != sorted(config.servers)  # default.toml is narrower


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    rows = [line.strip() for line in text.splitlines()]
    return [
        (row.split(None, 1)[0].upper(), row.split(None, 1)[1])
        for row in rows
        if row and not row.startswith("#")
    ]


def test_the_dockerfile_installs_the_repo_and_runs_serve_as_a_non_root_user() -> None:
    steps = dockerfile_instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert any(k == "RUN" and "pip install ." in v for k, v in steps)
    users = [v for k, v in steps if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    entry = [v for k, v in steps if k == "ENTRYPOINT"]
    cmd = [v for k, v in steps if k == "CMD"]
    assert entry == ['["agent-gateway"]']
    args = build_parser().parse_args(json.loads(cmd[-1]))
    assert (args.command, args.transport, args.host) == ("serve", "http", "0.0.0.0")
    assert serve_usage_error(args) is None


def test_the_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    allowed = [
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    copied = []
    for kind, value in dockerfile_instructions():
        if kind == "COPY":
            copied += shlex.split(value)[:-1]
    assert sorted(p.rstrip("/") for p in copied) == sorted(allowed)
    for path in allowed:
        assert (REPO / path).exists()


@pytest.mark.timeout(180)
def test_the_build_context_alone_builds_the_whole_package(tmp_path: Path) -> None:
    """What ``docker build`` sees (the files .dockerignore lets in) is enough for
    ``pip install .``: build the wheel from a copy of just those, without Docker."""
    context = tmp_path / "context"
    context.mkdir()
    for kind, value in dockerfile_instructions():
        if kind == "COPY":
            *sources, _ = shlex.split(value)
            for source in sources:
                src = REPO / source.rstrip("/")
                if src.is_dir():
                    ignore = shutil.ignore_patterns("__pycache__")
                    shutil.copytree(src, context / src.name, ignore=ignore)
                else:
                    shutil.copy(src, context / src.name)
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(context)],
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("agent_gateway-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(REPO)) for p in (REPO / "agent_gateway").rglob("*.py")}
    assert modules <= names
    assert "agent_gateway/py.typed" in names


def _docker_engine() -> str | None:
    """Why no image can be built here, or None when a Docker engine answers."""
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return "no Docker engine answers `docker info` (only the client is installed)"
    return None


@pytest.mark.timeout(900)
def test_the_image_builds_and_its_gateway_starts() -> None:
    reason = _docker_engine()
    if reason is not None:
        pytest.skip(f"cannot build the image: {reason}")
    tag = "agent-gateway:test"
    subprocess.run(["docker", "build", "-t", tag, str(REPO)], check=True, timeout=850)
    version = subprocess.run(
        ["docker", "run", "--rm", tag, "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and version.stdout.startswith("agent-gateway ")
    user = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert user.stdout.strip() == "10001"
