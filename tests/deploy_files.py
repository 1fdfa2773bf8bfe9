"""The deployment files (``deploy/``) read back: the Dockerfile's instructions, the compose
file, the Kubernetes manifests, and every program they start (:class:`Invocation`: which
program, its arguments, its environment, the ConfigMap files it reads), for
``tests/deploy/test_deploy.py``. Values that come from the environment or a Secret get
:data:`PLACEHOLDER`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.locust_runs import REPO

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
IMAGE_WORKDIR = "/opt/quantload"
"""The Dockerfile's WORKDIR: the repository's root inside the image."""
PLACEHOLDER = "test-value"
"""The value given to a variable that the deployment takes from its environment or a Secret."""
PROGRAMS = {
    ("locust",): "locust",
    ("python", "-m", "target"): "target",
    ("python", "-m", "metrics.agent"): "agent",
}


@dataclass
class Invocation:
    """One program a deployment file starts: which, its arguments and its environment."""

    where: str
    program: str
    args: list[str]
    env: dict[str, str]
    files: dict[str, str] = field(default_factory=dict)
    """Files it reads from a mounted ConfigMap: path in the container -> content."""


# -- reading the files --------------------------------------------------------------------------


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml"))


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in sorted(K8S.glob("*.yaml")) for doc in load_all(path)]


def compose() -> dict[str, Any]:
    return load_all(DEPLOY / "docker-compose.yml")[0]


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, (KEYWORD, rest), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (kw.upper(), rest.strip())
        for kw, _, rest in (
            line.partition(" ") for line in lines if line and not line.startswith("#")
        )
    ]


def instructions(keyword: str) -> list[str]:
    return [rest for kw, rest in dockerfile() if kw == keyword]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in instructions("ENV"):
        for pair in rest.split():
            key, _, value = pair.partition("=")
            env[key] = value
    return env


INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def interpolate(value: Any) -> str:
    """A compose value as compose would pass it: ``${VAR:-default}`` gives the default,
    ``${VAR:?message}`` (required from the environment) the placeholder."""

    def one(match: re.Match[str]) -> str:
        return PLACEHOLDER if "?" in match.group(0) or match.group(2) is None else match.group(2)

    return INTERPOLATION.sub(one, str(value))


def program_of(entrypoint: list[str]) -> str:
    assert tuple(entrypoint) in PROGRAMS, f"an entrypoint this test does not know: {entrypoint}"
    return PROGRAMS[tuple(entrypoint)]


def compose_invocations() -> list[Invocation]:
    base = json.loads(instructions("ENTRYPOINT")[-1])
    out = []
    for name, service in compose()["services"].items():
        env = {k: interpolate(v) for k, v in (service.get("environment") or {}).items()}
        out.append(
            Invocation(
                f"compose {name}",
                program_of(service.get("entrypoint", base)),
                [interpolate(a) for a in service.get("command", [])],
                env,
            )
        )
    return out


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{doc['kind']} {doc['metadata']['name']}", doc["spec"]["template"]["spec"])
        for _, doc in manifests()
        if doc["kind"] in ("Deployment", "Job")
    ]


def config_maps() -> dict[str, dict[str, str]]:
    return {
        doc["metadata"]["name"]: doc["data"] for _, doc in manifests() if doc["kind"] == "ConfigMap"
    }


def k8s_invocations() -> list[Invocation]:
    base = json.loads(instructions("ENTRYPOINT")[-1])
    maps = config_maps()
    out = []
    for where, spec in pod_specs():
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in spec["containers"]:
            env = {
                e["name"]: e["value"] if "value" in e else PLACEHOLDER
                for e in container.get("env", [])
            }
            files = {}
            for mount in container.get("volumeMounts", []):
                if "configMap" in volumes[mount["name"]]:
                    data = maps[volumes[mount["name"]]["configMap"]["name"]]
                    files.update(
                        {f"{mount['mountPath']}/{key}": text for key, text in data.items()}
                    )
            out.append(
                Invocation(
                    f"{where} {container['name']}",
                    program_of(container.get("command", base)),
                    list(container.get("args", [])),
                    env,
                    files,
                )
            )
    return out


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in manifests() if doc["kind"] == kind]


def invocations() -> list[Invocation]:
    return [*compose_invocations(), *k8s_invocations()]
