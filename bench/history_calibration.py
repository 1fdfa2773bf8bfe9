"""The CI gate against a real regression: ten short real runs, then five 15 ms slower.

``history check`` must flag the sixth-last run as the change point.

Every run is a real ``locust`` run of ``ArrivalRateUser`` (20 req/s of ``GET
/v1/strategies``, the open model) against its own embedded reference target
(``--target-flags "--latency-ms 15"`` for the slow ones: every /v1 answer 15 ms later),
appended to one fresh SQLite history (``--history-db``), each with its own
``--build-id``, one at a time. Then ``python -m
reports history check`` judges the newest run. Exit 0 when it exits 1 and names the
first slow run as the change point ("regression since run B+1 of B+S"), 1 otherwise.
``make calibrate`` runs it; ``tests/reports/test_history_real.py`` runs a short form.

    python -m bench.history_calibration [--baseline 10] [--slow 5] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench.locust_run import REPO, run_locust
from bench.machine import machine
from reports.history_changes import MIN_SEGMENT

SLOW_MS = 15
RATE = 20.0
"""Requests per second (the open model: the rate does not follow the latency)."""
MIX = {"user_class_name": "ArrivalRateUser", "route_mix": {"strategies": 1}}
"""Only ``GET /v1/strategies``: the cheapest route, so the machine's load barely moves it."""


@dataclass
class Outcome:
    """The check's exit code and output, and whether the change point is where it must be."""

    returncode: int
    output: str
    expected: str
    wall_s: float

    @property
    def ok(self) -> bool:
        return self.returncode == 1 and self.expected in self.output


def _one(history: Path, work: Path, build: int, slow: bool, seconds: int, host: str | None) -> None:
    """One run, appended to ``history``: against ``host`` when given, else against its
    own embedded target (15 ms slower when ``slow``)."""
    flags = f"--latency-ms {SLOW_MS}" if slow else "--latency-ms 0"
    target = ["--host", host] if host else ["--target-flags", flags]
    args = [*target,
        "-f", "locustfile.py", "--headless", "ArrivalRateUser", "--arrival-rate", f"{RATE:g}",
        "-u", "1", "-r", "1", "-t", f"{seconds}s", "--config-users", json.dumps(MIX),
        "--history-db", str(history), "--build-id", f"build-{build:02d}",
    ]  # fmt: skip
    run_locust(args, work / f"run-{build:02d}", timeout=seconds + 90)


def calibrate(
    history: Path,
    work: Path,
    *,
    baseline: int,
    slow: int,
    seconds: int,
    at_once: int = 1,
    hosts: tuple[str, str] | None = None,
) -> Outcome:
    """The runs (baseline first, then slow; ``at_once`` of a kind side by side), then the
    check; the outcome. ``hosts``: two running targets (normal, 15 ms slower) instead of
    one embedded target per run. With fewer slow runs than a segment needs, the newest
    must *start* the regression instead."""
    started = time.monotonic()
    builds = [(b, b >= baseline) for b in range(baseline + slow)]
    with ThreadPoolExecutor(at_once) as pool:
        for kind in (False, True):  # every baseline run is in before the first slow one
            mine = [b for b, is_slow in builds if is_slow is kind]
            host = None if hosts is None else hosts[kind]
            list(
                pool.map(partial(_one, history, work, slow=kind, seconds=seconds, host=host), mine)
            )
    done = subprocess.run(
        [sys.executable, "-m", "reports", "history", "check", "--history-db", str(history),
         "--junit", str(work / "history-junit.xml")],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    expected = (
        f"regression since run {baseline + 1} of {baseline + slow}"
        if slow >= MIN_SEGMENT
        else "the newest run starts a regression"
    )
    return Outcome(done.returncode, done.stdout + done.stderr, expected, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history_calibration")
    parser.add_argument("--baseline", type=int, default=10)
    parser.add_argument("--slow", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="quantload-history-cal-") as tmp:
        out = calibrate(
            Path(tmp) / "history.sqlite",
            Path(tmp),
            baseline=args.baseline,
            slow=args.slow,
            seconds=args.seconds,
        )
    print(f"machine: {machine()}")
    print(
        f"{args.baseline} runs, then {args.slow} with --latency-ms {SLOW_MS} "
        f"(ArrivalRateUser, {RATE:g} req/s of GET /v1/strategies, {args.seconds} s each): "
        f"{out.wall_s:.0f} s"
    )
    print(out.output.rstrip())
    print(f"history check exit {out.returncode}; expected 1 and '{out.expected}': "
          f"{'ok' if out.ok else 'FAILED'}")  # fmt: skip
    return 0 if out.ok else 1


if __name__ == "__main__":
    sys.exit(main())
