"""How long a distributed run's workers live on after their master is killed (``kill -9``).

    python -m bench.master_loss          (part of ``make calibrate``; about 75 s)

A master and two workers (``tests.run_checks.start_master_and_workers``, StressUser
against a reference target started here) run until the master has written two rows;
the master is killed with SIGKILL, and the time until each worker has exited is
measured: once with Locust's own timeout (its 60 s ``MASTER_HEARTBEAT_TIMEOUT``), once
with ``--master-timeout 3`` (``QUANTLOAD_MASTER_TIMEOUT``). README's "Running across
machines" quotes the result.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import machine
from plugin.embedded_target import EmbeddedTarget
from tests.locust_runs import LOCUSTFILE
from tests.run_checks import start_master_and_workers, stop_all, wait_for_lines

WAIT_S = 90.0
"""Longest wait for a worker to exit before the bench calls it stuck."""


def workers_exit_s(target_url: str, master_timeout_s: float | None, tmp: Path) -> list[float]:
    """Seconds from the master's SIGKILL to each worker's exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTLOAD_")}
    if master_timeout_s is not None:
        env["QUANTLOAD_MASTER_TIMEOUT"] = f"{master_timeout_s:g}"
    run_dir = tmp / "run"
    master, workers = start_master_and_workers(
        LOCUSTFILE, env, tmp, run_dir, "300s", extra=["--host", target_url, "StressUser"]
    )
    try:
        wait_for_lines(run_dir / "timeseries.jsonl", 2, master)
        master.kill()
        master.wait(10)
        killed = time.monotonic()
        took = []
        for worker in workers:
            worker.wait(timeout=WAIT_S)
            took.append(time.monotonic() - killed)
        return took
    finally:
        stop_all([master, *workers])


def main() -> int:
    print(f"machine: {machine()}")
    with EmbeddedTarget() as target, tempfile.TemporaryDirectory() as tmp:
        for label, timeout in (("Locust's default", None), ("--master-timeout 3", 3.0)):
            took = workers_exit_s(target.url, timeout, Path(tmp) / label.replace(" ", "_"))
            print(
                f"{label:>20}: workers exited {', '.join(f'{t:.1f}' for t in took)} s "
                "after kill -9 of the master"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
