"""``python -m target`` bad flags: one line on stderr, exit 2, never a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.processes import wait_gone


def run_target(*flags: str, tmpdir: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TMPDIR": str(tmpdir)} if tmpdir is not None else None
    return subprocess.run(
        [sys.executable, "-m", "target", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize(
    "flags",
    [
        ["--error-rate", "2"],
        ["--error-rate", "lots"],
        ["--workers", "0"],
        ["--slots", "-1"],
        ["--service-ms", "nan"],
        ["--port", "70000"],
        ["--stall-at", "3"],
        ["--rate-limit", "0"],
        ["--corrupt-above", "3"],
        ["--corrupt-rate", "0.1"],
        ["--corrupt-above", "0", "--corrupt-rate", "0.1"],
        ["--corrupt-above", "3", "--corrupt-rate", "1.5"],
        ["--cpu-ms", "-1"],
        ["--db", "/nonexistent/dir/x.db"],
        ["--no-such-flag"],
        ["--api-key", " "],
        ["--host", "256.1.1.1", "--port", "0"],
    ],
)
def test_bad_flags_exit_2_with_one_line(flags, tmp_path):
    done = run_target(*flags, tmpdir=tmp_path)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir()), "a refused start left its scratch database behind"


def test_port_in_use_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_target("--port", str(port), "--db", str(tmp_path / "x.db"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_stops_target_and_its_workers(start_target, sig):
    """SIGTERM (what the launcher sends) and SIGINT (Ctrl-C): the target ends, its job
    workers are gone (checked before the fixture's process-group kill), and it exits 0."""
    t = start_target("--workers", "3")
    workers = psutil.Process(t.pid).children(recursive=True)
    # job workers are forked by multiprocessing's forkserver, a child of the target
    job_workers = [
        w for w in workers if w.ppid() != t.pid and "forkserver" in " ".join(w.cmdline())
    ]
    assert len(job_workers) == 3, [w.cmdline() for w in workers]
    t.process.send_signal(sig)
    code = t.process.wait(15)
    alive = wait_gone(workers, timeout=10)
    assert not alive, alive
    assert code == 0, f"the target exited {code} on {sig.name}"


def test_sigterm_removes_the_scratch_database(tmp_path):
    """Without --db the target keeps its database in a scratch directory: SIGTERM removes it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "target", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        assert proc.stdout.readline().startswith("quantload target listening on ")
        assert len(list(tmp_path.iterdir())) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert not list(tmp_path.iterdir()), list(tmp_path.iterdir())
