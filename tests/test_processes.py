"""``wait_gone``: a running process is reported alive; an exited one is gone at once,
even before anyone collects it (a zombie)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil

from tests.processes import wait_gone


def test_a_running_process_is_alive_and_a_zombie_is_gone():
    proc = subprocess.Popen(["sleep", "30"])
    try:
        watched = psutil.Process(proc.pid)
        assert wait_gone([watched], timeout=0.2) == [watched]
        os.kill(proc.pid, signal.SIGKILL)
        started = time.monotonic()
        assert wait_gone([watched], timeout=5) == []
        assert time.monotonic() - started < 1
        assert watched.status() == psutil.STATUS_ZOMBIE  # not collected, yet gone
    finally:
        proc.kill()
        proc.wait()
