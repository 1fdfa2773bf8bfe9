"""One real run across hosts, on one machine: each node in its own network namespace.

The master, two workers and the reference target each run in their own network namespace
and under their own host name (a UTS namespace), as four machines would: veth links to a
bridge in a fifth namespace, addresses of a private subnet (:data:`SUBNET`) that exists only
there, no default route, nothing in this machine's own namespace. The workers reach the
master and the target by address only. Locust's own final stats (``--json-file``) are the
truth the run directory is checked against, and the run directory and the report must name
both workers by host. Every process is stopped and every namespace deleted by the fixture,
whatever happens; the tests check nothing is left. Needs root (and iproute2's ``ip``).
"""

from __future__ import annotations

import ctypes
import os
import selectors
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psutil
import pytest

from rundir.layout import is_request
from tests.locust_runs import LOCUSTFILE, REPO
from tests.processes import wait_gone
from tests.run_checks import check_run_dir, locust_totals, stop_all, summary_totals

SUBNET = "10.213.7"
"""The test's private /24: it exists only inside the namespaces below."""
NODES = {"master": 1, "worker-1": 2, "worker-2": 3, "target": 4}
"""Each node's host number in :data:`SUBNET`; its host name is ``ql-<node>``."""
MASTER_PORT = 5557
TARGET_PORT = 8000
USERS = 6
RUN_TIME = "5s"
START_TIMEOUT_S = 30
CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
TAG = f"ql{os.getpid()}"
"""Prefix of this test's namespace names, so two test sessions never share one."""


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "iproute2's ip is not installed (.ci/run installs it)"
    return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
]


def ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, f"ip {' '.join(args)}: {done.stderr}"
    return done.stdout


def our_namespaces() -> list[str]:
    return [
        line.split()[0] for line in ip("netns", "list").splitlines() if line.startswith(f"{TAG}-")
    ]


class Network:
    """The namespaces: ``<TAG>-<node>`` per node, ``<TAG>-bridge`` joining them."""

    def __init__(self) -> None:
        self.bridge = f"{TAG}-bridge"

    def ns(self, node: str) -> str:
        return f"{TAG}-{node}"

    @staticmethod
    def address(node: str) -> str:
        return f"{SUBNET}.{NODES[node]}"

    def create(self) -> None:
        ip("netns", "add", self.bridge)
        ip("-n", self.bridge, "link", "add", "br0", "type", "bridge")
        ip("-n", self.bridge, "link", "set", "br0", "up")
        for node in NODES:
            ns, port = self.ns(node), "p-" + node.replace("-", "")
            ip("netns", "add", ns)
            # both ends are created inside their namespaces: nothing appears on this host
            ip(
                "link",
                "add",
                "eth0",
                "netns",
                ns,
                "type",
                "veth",
                "peer",
                "name",
                port,
                "netns",
                self.bridge,
            )
            ip("-n", self.bridge, "link", "set", port, "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{self.address(node)}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")

    def delete(self) -> None:
        for ns in our_namespaces():  # a veth goes with its namespace, its peer with it
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=10)

    def start(self, node: str, args: list[str], **popen) -> subprocess.Popen:
        """``python ARGS`` on the node: in its network namespace, under host name ql-NODE."""
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env=dict(os.environ),
            preexec_fn=enter(self.ns(node), f"ql-{node}"),
            **popen,
        )


def enter(ns: str, hostname: str) -> Callable[[], None]:
    """What ``ip netns exec NS unshare --uts`` does, in the child before it runs Python."""
    libc = ctypes.CDLL(None, use_errno=True)

    def child() -> None:
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNET) != 0 or libc.unshare(CLONE_NEWUTS) != 0:
            raise OSError(ctypes.get_errno(), f"cannot enter {ns}")
        os.close(fd)
        socket.sethostname(hostname)

    return child


def first_line(proc: subprocess.Popen, timeout: float) -> str:
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"no line from pid {proc.pid} in {timeout} s")
    return proc.stdout.readline()


def stop_trees(procs: list[subprocess.Popen]) -> None:
    """Every process started, and whatever each started (the target's job workers)."""
    tree = []
    for proc in procs:
        try:
            tree += psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            pass
    stop_all(procs)
    for child in tree:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    wait_gone(tree, timeout=10)


@dataclass
class MultiHostRun:
    returncode: int
    stderr: str
    meta: dict
    summary: dict
    rows: list[dict]
    events: list[dict]
    report: str
    locust: dict[str, tuple[int, int]]
    pids: list[int]
    routes: dict[str, str]
    host_links: str


@pytest.fixture(scope="module")
def network(request) -> Iterator[Network]:
    net = Network()
    request.addfinalizer(net.delete)  # also when creating it or the run fails
    net.create()
    yield net


@pytest.fixture(scope="module")
def run(network, tmp_path_factory) -> MultiHostRun:
    tmp = tmp_path_factory.mktemp("multi-host")
    run_dir = tmp / "run"
    master_at, target_at = network.address("master"), network.address("target")
    procs: list[subprocess.Popen] = []
    pids: list[int] = []
    try:
        target = network.start(
            "target",
            [
                "-m",
                "target",
                "--host",
                target_at,
                "--port",
                str(TARGET_PORT),
                "--workers",
                "1",
                "--job-step-ms",
                "20",
                "--db",
                str(tmp / "target.db"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        procs.append(target)
        assert f"{target_at}:{TARGET_PORT}" in first_line(target, START_TIMEOUT_S)
        master = network.start(
            "master",
            [
                "-m",
                "locust",
                "-f",
                LOCUSTFILE,
                "--headless",
                "--master",
                "--master-bind-host",
                master_at,
                "--master-bind-port",
                str(MASTER_PORT),
                "--expect-workers",
                "2",
                "--expect-workers-max-wait",
                str(START_TIMEOUT_S),
                "-u",
                str(USERS),
                "-r",
                str(USERS),
                "-t",
                RUN_TIME,
                "--only-summary",
                "--host",
                f"http://{target_at}:{TARGET_PORT}",
                "--run-dir",
                str(run_dir),
                "--json-file",
                str(tmp / "locust"),
                "--exit-code-on-error",
                "0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(master)
        procs += [
            network.start(
                node,
                [
                    "-m",
                    "locust",
                    "-f",
                    LOCUSTFILE,
                    "--worker",
                    "--master-host",
                    master_at,
                    "--master-port",
                    str(MASTER_PORT),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for node in ("worker-1", "worker-2")
        ]
        pids = [p.pid for p in procs] + [
            c.pid for c in psutil.Process(target.pid).children(recursive=True)
        ]
        routes = {node: ip("-n", network.ns(node), "route", "show") for node in NODES}
        _, err = master.communicate(timeout=90)
        for worker in procs[2:] if master.returncode == 0 else ():  # else they wait for it
            worker.wait(timeout=30)
        target.terminate()
        target.wait(timeout=30)
    finally:
        stop_trees(procs)
    network.delete()
    assert master.returncode == 0, err[-3000:]
    meta, rows, events, summary = check_run_dir(run_dir)
    return MultiHostRun(
        master.returncode,
        err,
        meta,
        summary,
        rows,
        events,
        (run_dir / "report.html").read_text(),
        locust_totals(tmp / "locust.json"),
        pids,
        routes,
        ip("-o", "link", "show"),
    )


def test_the_counts_equal_locusts_own(run):
    assert run.summary["complete"] is True, run.summary.get("incomplete_reasons")
    # (count, failures) per request row: Locust's stats hold requests to the target only (job,
    # queue and WebSocket measurements go through the suite's own channel, by name)
    requests = {k: v for k, v in summary_totals(run.summary).items() if is_request(k)}
    assert requests == run.locust
    assert run.summary["total"]["count"] == sum(c for c, _ in run.locust.values()) > 0
    assert run.summary["total"]["failures"] == 0, run.stderr[-3000:]
    assert sum(r["total"]["count"] for r in run.rows) == run.summary["total"]["count"]


def test_meta_and_the_report_name_both_workers_by_host(run):
    workers = run.meta["workers"]
    assert run.meta["mode"] == "master" and not any(w["lost"] for w in workers)
    assert sorted(w["host"] for w in workers) == ["ql-worker-1", "ql-worker-2"]
    assert all(w["id"].startswith(f"{w['host']}_") for w in workers)
    assert "ql-worker-1" in run.report and "ql-worker-2" in run.report
    assert run.meta["host"] == f"http://{SUBNET}.{NODES['target']}:{TARGET_PORT}"
    # both generated load: each worker's CPU/RSS is in the rows
    assert {w["id"] for w in workers} <= {g for r in run.rows for g in r["generators"]}


def test_traffic_had_no_way_out_of_the_namespaces(run):
    for node, routes in run.routes.items():
        assert routes.split() == [
            f"{SUBNET}.0/24",
            "dev",
            "eth0",
            "proto",
            "kernel",
            "scope",
            "link",
            "src",
            f"{SUBNET}.{NODES[node]}",
        ], (node, routes)
    assert TAG not in run.host_links and "br0" not in run.host_links


def test_nothing_is_left(run):
    """Every process of the run ends by itself once the target is stopped: its job workers
    and their forkserver follow it within seconds, even on a loaded machine."""
    procs = []
    for pid in run.pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    assert wait_gone(procs, timeout=10) == []
    assert our_namespaces() == []
