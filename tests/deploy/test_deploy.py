"""The deployment files (``deploy/``), checked without a container engine.

Every YAML file loads; the Kubernetes manifests validate against the Kubernetes schemas
(``kubernetes-validate``, offline, strict: an unknown field fails); the Dockerfile pins the
venv's Locust and keeps Locust's image conventions; the compose file and the manifests
point at each other consistently (ports, service names, the profile, the Secret). And every
command line, flag and ``LOCUST_*``/``QUANTLOAD_*`` variable they give to locust, the
reference target and the host agent is accepted by the real program: locust parses it with
its own parser and our locustfile (``locust ... --list``, which exits after parsing), the
target and the agent with theirs, each in a subprocess; a variable must be one the program
reads (a misspelt one would be ignored silently, so it fails here) and a flag must be one
of its option strings exactly (argparse would take an abbreviation).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import kubernetes_validate
import pytest

from tests.deploy_files import (
    DEPLOY,
    IMAGE_WORKDIR,
    K8S,
    Invocation,
    by_kind,
    compose,
    image_env,
    instructions,
    invocations,
    k8s_invocations,
    load_all,
    manifests,
    pod_specs,
    yaml_files,
)
from tests.locust_runs import REPO

KUBERNETES_VERSION = "1.33.0"
"""The Kubernetes release the manifests are validated against (one kubernetes-validate
ships; every field used here is stable since 1.21)."""
PREFIXES = ("LOCUST_", "QUANTLOAD_")
PROBE_TIMEOUT_S = 60
PROFILE_KEY = re.compile(r"^\s*([A-Za-z][\w-]*)\s*=", re.MULTILINE)

LOCUST_PROBE = """
import json, sys
sys.argv = ["locust", "-f", "locustfile.py"]
from locust.argument_parser import get_parser
import locustfile  # registers quantload's options, as `locust -f locustfile.py` does
parser = get_parser()
print(json.dumps({"flags": sorted(parser._option_string_actions),
                  "env": sorted({a.env_var for a in parser._actions
                                 if getattr(a, "env_var", None)})}))
"""
"""Locust's parser with the suite's options: its option strings and environment variables."""

PROGRAM_PROBES = {
    "target": "from target.config import build_parser, config_from_args\n"
    "parser = build_parser()\n"
    "config_from_args(parser.parse_args(sys.argv[1:]), parser)\n",
    "agent": "from metrics.agent import build_parser\n"
    "parser = build_parser()\n"
    "parser.parse_args(sys.argv[1:])\n",
}
"""What ``python -m target`` / ``python -m metrics.agent`` do with their command line before
they bind a port; then the probe prints the parser's option strings and the variables its
help names."""
PROBE_TAIL = (
    "import json, re\n"
    "print(json.dumps({'flags': sorted(parser._option_string_actions),\n"
    "                  'env': sorted(set(re.findall(r'QUANTLOAD_[A-Z_]+',\n"
    "                                               parser.format_help())))}))\n"
)


# -- running the real command lines --------------------------------------------------------------


def probe(program: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    if program == "locust":
        cmd = [sys.executable, "-c", LOCUST_PROBE]
    else:
        cmd = [sys.executable, "-c", "import sys\n" + PROGRAM_PROBES[program] + PROBE_TAIL, *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, env={**clean, **env}, timeout=PROBE_TIMEOUT_S
    )


def in_repo(value: str, files: dict[str, Path]) -> str:
    """A path inside the image, as the same file in this checkout (or a ConfigMap's file)."""
    for inside, here in files.items():
        value = value.replace(inside, str(here))
    return value.replace(IMAGE_WORKDIR, str(REPO))


def run_locust_list(inv: Invocation, tmp_path: Path) -> subprocess.CompletedProcess:
    """``locust ARGS --list`` with the invocation's environment over the image's: Locust
    parses every option (command line, --config file, environment) with the suite's checks,
    prints the user classes and exits before any load."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    files = {}
    for i, (inside, text) in enumerate(inv.files.items()):
        here = tmp_path / f"{i}-{Path(inside).name}"
        here.write_text(text)
        files[inside] = here
    env = {k: in_repo(v, files) for k, v in {**image_env(), **inv.env}.items()}
    cmd = [sys.executable, "-m", "locust", *(in_repo(a, files) for a in inv.args), "--list"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    return subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, env={**clean, **env}, timeout=PROBE_TIMEOUT_S
    )


@pytest.fixture(scope="module")
def known() -> dict[str, dict[str, list[str]]]:
    """Each program's option strings and the environment variables it reads."""
    out = {}
    for program in ("locust", "target", "agent"):
        done = probe(program, [], {})
        assert done.returncode == 0, done.stderr[-2000:]
        out[program] = json.loads(done.stdout.splitlines()[-1])
    return out


# -- every file loads and validates -------------------------------------------------------------


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_loads(path):
    docs = load_all(path)
    assert docs and all(isinstance(doc, dict) for doc in docs)


def test_the_manifests_validate_against_the_kubernetes_schemas():
    found = manifests()
    assert {doc["kind"] for _, doc in found} == {"ConfigMap", "Service", "Deployment", "Job"}
    for path, doc in found:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name} {doc['kind']}: {exc.message} at {list(exc.path)}")


# -- the image ---------------------------------------------------------------------------------


def test_the_image_is_locusts_own_pinned_to_the_venvs_locust():
    assert instructions("FROM") == [f"locustio/locust:{version('locust')}"]
    assert json.loads(instructions("ENTRYPOINT")[-1]) == ["locust"]
    assert set(" ".join(instructions("EXPOSE")).split()) == {"8089", "5557"}
    assert instructions("WORKDIR") == [IMAGE_WORKDIR]
    assert any(re.search(r"\bpip install\b.* \.(\s|$)", run) for run in instructions("RUN"))
    assert image_env()["LOCUST_LOCUSTFILE"] == f"{IMAGE_WORKDIR}/locustfile.py"


def test_the_image_copies_every_package_and_the_profiles():
    copied = {
        src.rstrip("/")
        for rest in instructions("COPY")
        for src in rest.split()[:-1]
        if not src.startswith("--")
    }
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert set(packages["packages"]) | {"config", "locustfile.py", "pyproject.toml"} <= copied
    assert all((REPO / src).exists() for src in copied), copied


# -- compose -----------------------------------------------------------------------------------


def test_compose_has_master_scalable_workers_target_agent_and_a_results_volume():
    services = compose()["services"]
    assert set(services) == {"master", "worker", "target", "agent"}
    for service in services.values():
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).exists()
    worker = services["worker"]
    assert not {"container_name", "ports", "hostname"} & set(worker)  # --scale worker=N
    assert worker["environment"]["LOCUST_MASTER_NODE_HOST"] == "master"
    volume, _, mount = services["master"]["volumes"][0].partition(":")
    assert volume in compose()["volumes"] and mount == f"{IMAGE_WORKDIR}/results"
    assert services["agent"]["pid"] == "service:target"  # it sees the target's processes


def test_compose_services_reach_each_other_where_they_listen():
    services = compose()["services"]

    def port(args: list[str]) -> str:
        return args[args.index("--port") + 1]

    master = services["master"]["environment"]
    assert master["LOCUST_HOST"] == f"http://target:{port(services['target']['command'])}"
    assert (
        master["QUANTLOAD_TARGET_METRICS"]
        == f"agent:http://agent:{port(services['agent']['command'])}"
    )
    assert services["master"]["ports"] == ["8089:8089"]
    # the same key for the target and the users; the agent's token on both sides
    assert (
        services["target"]["environment"]["QUANTLOAD_TARGET_API_KEY"]
        == master["QUANTLOAD_API_KEY"]
        == services["worker"]["environment"]["QUANTLOAD_API_KEY"]
    )
    assert (
        services["agent"]["environment"]["QUANTLOAD_AGENT_TOKEN"] == master["QUANTLOAD_AGENT_TOKEN"]
    )


# -- Kubernetes --------------------------------------------------------------------------------


def test_the_service_selects_the_master_the_workers_connect_to():
    (service,) = by_kind("Service")
    selector = service["spec"]["selector"]
    masters = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in [*by_kind("Deployment"), *by_kind("Job")]
    }
    chosen = {name for name, labels in masters.items() if selector.items() <= labels.items()}
    assert chosen == {"quantload-master", "quantload-ci"}
    assert {p["port"] for p in service["spec"]["ports"]} == {5557, 8089}
    workers = [d for d in by_kind("Deployment") if d["metadata"]["name"] == "quantload-worker"]
    (container,) = workers[0]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["LOCUST_MASTER_NODE_HOST"] == service["metadata"]["name"]


def test_each_worker_requests_one_cpu_with_no_cpu_limit():
    (worker,) = [d for d in by_kind("Deployment") if d["metadata"]["name"] == "quantload-worker"]
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert str(container["resources"]["requests"]["cpu"]) == "1"
    assert "cpu" not in container["resources"].get("limits", {})
    assert "heartbeat" in (K8S / "workers.yaml").read_text()  # the reason, beside it


def test_the_ci_run_is_a_job_whose_exit_code_is_the_outcome():
    (job,) = by_kind("Job")
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["LOCUST_HEADLESS"] == "true" and env["LOCUST_MODE_MASTER"] == "true"


def test_the_api_key_comes_from_a_secret_never_from_the_repository():
    assert not by_kind("Secret")
    for where, spec in pod_specs():
        for container in spec["containers"]:
            (key,) = [e for e in container["env"] if e["name"] == "QUANTLOAD_API_KEY"]
            assert "value" not in key, where
            assert key["valueFrom"]["secretKeyRef"]["name"] == "quantload-api-key", where


def test_the_profile_is_mounted_where_the_masters_read_it():
    for inv in k8s_invocations():
        if "--config" in inv.args:
            assert inv.args[inv.args.index("--config") + 1] in inv.files, inv.where


# -- the real command lines --------------------------------------------------------------------


def test_every_variable_is_one_the_program_reads(known):
    assert set(image_env()) - {"PYTHONUNBUFFERED"} <= set(known["locust"]["env"])
    for inv in invocations():
        ours = {k for k in inv.env if k.startswith(PREFIXES)}
        unknown = ours - set(known[inv.program]["env"])
        assert not unknown, f"{inv.where}: {inv.program} reads no {sorted(unknown)}"


def test_every_flag_is_an_option_of_the_program(known):
    for inv in invocations():
        flags = {a.split("=", 1)[0] for a in inv.args if a.startswith("-")}
        for text in inv.files.values():  # a profile's `key = value` is the option --key
            flags |= {f"--{key}" for key in PROFILE_KEY.findall(text)}
        unknown = flags - set(known[inv.program]["flags"])
        assert not unknown, f"{inv.where}: {inv.program} has no option {sorted(unknown)}"


def test_every_locust_command_line_is_accepted_by_locust(tmp_path):
    runs = [inv for inv in invocations() if inv.program == "locust"]
    assert len(runs) == 5  # compose master and worker; k8s master, workers and the CI Job
    with ThreadPoolExecutor(2) as pool:
        done = list(
            pool.map(lambda i: run_locust_list(i[1], tmp_path / str(i[0])), enumerate(runs))
        )
    for inv, result in zip(runs, done, strict=True):
        assert result.returncode == 0 and "BacktestUser" in result.stdout, (
            f"{inv.where}: {result.stderr[-2000:]}"
        )


def test_every_target_and_agent_command_line_is_accepted():
    runs = [inv for inv in invocations() if inv.program != "locust"]
    assert {inv.program for inv in runs} == {"target", "agent"}
    for inv in runs:
        done = probe(inv.program, inv.args, inv.env)
        assert done.returncode == 0, f"{inv.where}: {done.stderr[-2000:]}"
