"""Waiting for processes a test started to be gone.

``psutil.wait_procs`` waits until a PID disappears, and a process whose parent has
already exited disappears only when init collects it: here that takes ~1.6 s, paid
after every run. A zombie has exited and holds nothing but its PID, so it counts as gone.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import psutil

POLL_S = 0.02


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(procs: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Poll until every one of ``procs`` has exited (zombies included) or ``timeout`` s
    have passed; returns those still running (empty: all gone)."""
    procs = list(procs)
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if _running(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(POLL_S)
