"""Run real ``locust`` processes from tests, and read what they wrote.

Locust is never imported into the pytest process (it monkey-patches on
import); every run is a subprocess, bounded by ``-t`` and a timeout.
"""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.processes import wait_gone

REPO = Path(__file__).resolve().parent.parent
LOCUSTFILE = str(REPO / "locustfile.py")


@dataclass
class LocustRun:
    """What a locust run left: exit code, output, its CSV stats and its run directory."""

    returncode: int
    stdout: str
    stderr: str
    stats: dict[tuple[str, str], dict[str, str]]
    failures: list[dict[str, str]]
    run_dir: Path | None = None
    final: dict[tuple[str, str], dict] = field(default_factory=dict)
    """With ``run_locust(final=True)``: Locust's own ``--json-file`` (its stats as it quit)
    per ``(method, name)``. The CSV is rewritten once a second and can miss the run's last
    second; this cannot. (Locust then prints no final table on the console.)"""

    def row(self, method: str, name: str) -> dict[str, str]:
        return self.stats[(method, name)]

    def count(self, method: str | None = None) -> int:
        return sum(
            int(r["Request Count"])
            for (m, n), r in self.stats.items()
            if n != "Aggregated" and (method is None or m == method)
        )

    def final_count(self, field: str = "num_requests") -> int:
        """Requests (or ``num_failures``) in Locust's final stats (:attr:`final`)."""
        return sum(int(entry[field]) for entry in self.final.values())

    @property
    def total(self) -> dict[str, str]:
        return self.stats[("", "Aggregated")]


def read_stats(prefix: Path) -> tuple[dict, list]:
    stats, failures = {}, []
    stats_file = Path(f"{prefix}_stats.csv")
    if stats_file.exists():
        with stats_file.open() as f:
            for row in csv.DictReader(f):
                stats[(row["Type"], row["Name"])] = row
    failures_file = Path(f"{prefix}_failures.csv")
    if failures_file.exists():
        with failures_file.open() as f:
            failures = list(csv.DictReader(f))
    return stats, failures


STARTED_RE = re.compile(r"started the reference target at (\S+) \(pid (\d+)\)")


def started_targets(log: str) -> list[int]:
    """Pids of the embedded targets a locust run says it started."""
    return [int(pid) for _, pid in STARTED_RE.findall(log)]


def assert_gone(pids: list[int], timeout: float = 10) -> None:
    procs = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            procs += [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    alive = wait_gone(procs, timeout=timeout)
    assert not alive, f"target processes left behind: {alive}"


def run_locust(
    *args: str,
    tmp_path: Path,
    locustfile: str = LOCUSTFILE,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    final: bool = False,
) -> LocustRun:
    """``locust -f LOCUSTFILE --headless ARGS --csv ...``; checks no target outlives it.
    ``final``: also ``--json-file`` (:attr:`LocustRun.final`)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    prefix = tmp_path / "run"
    ours = locustfile == LOCUSTFILE and "--run-dir" not in args  # others lack the option
    run_dir = ["--run-dir", str(tmp_path / "rundir")] if ours else []
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        locustfile,
        "--headless",
        "--csv",
        str(prefix),
        "--only-summary",
        *(("--json-file", str(prefix)) if final else ()),
        *run_dir,
        *args,
    ]
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
    assert_gone(started_targets(done.stderr))
    stats, failures = read_stats(prefix)
    final_file = Path(f"{prefix}.json")
    final = json.loads(final_file.read_text()) if final_file.exists() else []
    return LocustRun(
        done.returncode,
        done.stdout,
        done.stderr,
        stats,
        failures,
        tmp_path / "rundir" if run_dir else None,
        {(e["method"], e["name"]): e for e in final},
    )


RUNS_AT_ONCE = 2
"""Real runs a module fixture starts side by side: independent runs overlap their start-up
and wind-down, and two at a time keep a 2-core machine from distorting their checks."""


def run_locust_many(
    runs: Mapping[str, Sequence[str]], tmp_path: Path, at_once: int = RUNS_AT_ONCE, **kwargs
) -> dict[str, LocustRun]:
    """``run_locust(*args)`` for each named run, ``at_once`` at a time, each in
    ``tmp_path / name``; the same keyword arguments for all."""
    with ThreadPoolExecutor(at_once) as pool:
        futures = {
            name: pool.submit(run_locust, *args, tmp_path=tmp_path / name, **kwargs)
            for name, args in runs.items()
        }
        return {name: future.result() for name, future in futures.items()}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_args(count: int) -> tuple[str, ...]:
    """``--processes COUNT`` on a free master port: Locust's default 5557 would clash with
    another run of ``--processes`` going at the same time (pytest-xdist runs modules side
    by side)."""
    port = str(free_port())
    return ("--processes", str(count), "--master-bind-port", port, "--master-port", port)
