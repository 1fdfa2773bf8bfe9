"""One real ``locust`` run in a subprocess, from the repo, and what it left (its ``summary.json``).

What the accuracy checks (:mod:`bench.accuracy_checks`) measure with.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

STOP_GRACE_S = 30


class RunFailed(RuntimeError):
    """A locust run left no ``summary.json``; the message has its exit code and last lines."""


@dataclass
class Run:
    """What one locust run left: its summary, exit code, wall time and log."""

    summary: dict[str, Any]
    returncode: int
    wall_s: float
    log: str
    run_dir: Path


def run_locust(args: Sequence[str], run_dir: Path, timeout: float) -> Run:
    """``locust ARGS --only-summary --run-dir RUN_DIR`` from the repo; its summary.json.

    On timeout the run is sent SIGTERM (it still writes its summary, marked incomplete),
    then killed after ``STOP_GRACE_S``. The embedded target dies with its locust.
    """
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    base, n = run_dir, 1
    while run_dir.exists():  # never read an older run's summary (--keep DIR used twice)
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    cmd = [sys.executable, "-m", "locust", *args, "--only-summary", "--run-dir", str(run_dir)]
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        log, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            log, _ = proc.communicate(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            log, _ = proc.communicate()
        log += f"\n(bench: stopped after the {timeout:.0f} s timeout)"
    wall = time.monotonic() - started
    (run_dir.parent / f"{run_dir.name}.log").write_text(log)
    summary_file = run_dir / "summary.json"
    if not summary_file.exists():
        tail = "\n".join(log.splitlines()[-15:])
        raise RunFailed(f"{' '.join(cmd)}\nexit {proc.returncode}, no summary.json:\n{tail}")
    return Run(json.loads(summary_file.read_text()), proc.returncode, wall, log, run_dir)
