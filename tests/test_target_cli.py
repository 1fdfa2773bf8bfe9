"""``python -m target`` bad flags: one line on stderr, exit 2, never a traceback."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import psutil
import pytest


def run_target(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "target", *flags], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("flags", [
    ["--error-rate", "2"],
    ["--error-rate", "lots"],
    ["--workers", "0"],
    ["--slots", "-1"],
    ["--service-ms", "nan"],
    ["--port", "70000"],
    ["--stall-at", "3"],
    ["--rate-limit", "0"],
    ["--db", "/nonexistent/dir/x.db"],
    ["--no-such-flag"],
    ["--api-key", " "],
    ["--host", "256.1.1.1", "--port", "0"],
])
def test_bad_flags_exit_2_with_one_line(flags):
    done = run_target(*flags)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_port_in_use_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_target("--port", str(port), "--db", str(tmp_path / "x.db"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_sigterm_stops_target_and_its_workers(start_target):
    t = start_target("--workers", "3")
    workers = psutil.Process(t.pid).children(recursive=True)
    assert len([w for w in workers if "python" in w.name().lower()]) >= 3
    t.process.send_signal(signal.SIGINT)
    assert t.process.wait(15) == 0
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive
