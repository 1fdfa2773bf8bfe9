"""Start and stop the reference target as a child process.

The suite never imports ``target/``: it launches ``python -m target`` on a
free loopback port, reads the address the target prints, waits until
``/health`` answers, and on stop ends the whole process group, so no job
worker outlives a run (the workers also die with their parent).
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import IO

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
LISTEN_PREFIX = "quantload target listening on "
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: be sent SIGTERM if the launcher dies, even by SIGKILL (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class TargetStartError(RuntimeError):
    """The target did not come up; the message is its own last error line."""


class EmbeddedTarget:
    """One reference target process; usable as a context manager."""

    def __init__(
        self,
        *flags: str,
        db: Path | None = None,
        python: str = sys.executable,
        env: dict[str, str] | None = None,
    ) -> None:
        self.flags = list(flags)
        self.db = db
        self.python = python
        self.env = env
        self.url: str | None = None
        self.process: subprocess.Popen | None = None
        self._scratch: tempfile.TemporaryDirectory | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = START_TIMEOUT_S) -> str:
        if self.db is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="quantload-target-")
            self.db = Path(self._scratch.name) / "target.db"
        self._stderr = tempfile.TemporaryFile()
        cmd = [
            self.python,
            "-m",
            "target",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            str(self.db),
            *self.flags,
        ]
        self.process = process = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=self.env,
            text=True,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        try:
            self.url = self._read_address(process, deadline)
            self._wait_healthy(process, self.url, deadline)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _read_address(self, process: subprocess.Popen[str], deadline: float) -> str:
        out = process.stdout
        assert out is not None  # opened with stdout=PIPE
        while time.monotonic() < deadline:
            ready, _, _ = select.select([out], [], [], 0.2)
            if ready:
                line = out.readline()
                if line.startswith(LISTEN_PREFIX):
                    return line[len(LISTEN_PREFIX) :].strip()
                if not line and process.poll() is not None:
                    raise TargetStartError(self._last_error(process))
            elif process.poll() is not None:
                raise TargetStartError(self._last_error(process))
        raise TargetStartError(f"target did not announce its address within {START_TIMEOUT_S}s")

    def _wait_healthy(self, process: subprocess.Popen[str], url: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise TargetStartError(self._last_error(process))
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200 and json.load(resp).get("status") == "ok":
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise TargetStartError(f"target at {url} never answered /health")

    def _last_error(self, process: subprocess.Popen[str]) -> str:
        if self._stderr is None:
            return f"target exited with code {process.returncode}"
        self._stderr.seek(0)
        lines = [ln for ln in self._stderr.read().decode(errors="replace").splitlines() if ln]
        code = process.returncode
        return lines[-1] if lines else f"target exited with code {code}"

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL to the whole group if it lingers; returns the exit code."""
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:  # anything left in the group (workers), whatever the leader did
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if self._stderr:
            self._stderr.close()
            self._stderr = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None
        return proc.returncode

    def __enter__(self) -> EmbeddedTarget:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
