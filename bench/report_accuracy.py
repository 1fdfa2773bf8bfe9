"""Do the numbers in ``summary.json`` match the reference target's known truths?

Each check is one real ``locust`` run in a subprocess against the embedded
target (started with ``--target-flags``); the measured number is read from the
run's ``summary.json``, never from the log. The issue's accuracy requirements:

- **capacity**: ``breaking_point.capacity_rps`` of ``--config config/breakpoint.conf``
  within 10 % of N*1000/S for ``--slots N --service-ms S``; two settings by default,
  2x50 (40/s) and 15x50 (300/s), 1.5-3 minutes each.
- **leak**: ``leak.slope_kb_per_request`` within 10 % of ``--leak-kb-per-request 64``
  (and the verdict ``"leak"``), and the verdict ``"none"`` without the knob. Both runs
  use the leak profile (``config/leak.conf``: MemoryLeakUser, soak shape) shortened to
  90 s at one user, a steady ~36 requests/s. Why these numbers: the analysis skips a
  warm-up of 10 % of the run (at least 10 s) and answers "unknown" below a 60 s window,
  30 points or 1000 requests; 90 s leaves an 80 s window with ~2,900 requests. At
  64 KiB a request that is ~180 MiB of growth, far above the "leak" floor of
  max(8 MiB, 5 % of the target tree's ~270 MiB RSS) and far above the target's own
  drift without a leak (~0.2 KiB/request, under 1 MiB over the run, below the 2 MiB
  "suspected" floor), so the slope's error is the analysis's, not noise's.
- **latency**: the p50 of ``GET /v1/strategies`` within 3 ms of ``--latency-ms 20`` at
  light load: ArrivalRateUser (open model, latency timed from the intended start) sending
  only that route at 50 requests/s for 20 s: about one request in flight (Little's law,
  50/s x 21 ms), each costing the target ~1 ms of CPU (~5 % of its event loop), so
  nothing queues. The route is the target's cheapest /v1 read (a static catalogue: no
  slot, no database), so the truth is the added latency plus its own service time:
  ~1 ms back to back on a quiet machine, ~2 ms when both processes wake from idle
  between requests (2-core VM; the knob's own sleep overshoots by ~0.15 ms). That time
  is NOT subtracted: it counts against the 3 ms limit (conservative). The extra row with
  ``--latency-ms 0`` measures it in the same setting, and the line under the table gives
  the error net of it (the knob's and the suite's own error).

Prints a table (check, truth, measured, error, limit, PASS/FAIL, wall s) and the
machine; exits 1 when any check fails. ``make calibrate`` runs it (7-8 minutes;
the capacity checks take most of it). ``tests/test_report_accuracy.py`` runs the leak
and latency checks through the same functions.

    python -m bench.report_accuracy [--settings 2x50 15x50] [--checks capacity leak latency]
                                    [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.machine import machine
from users.routes import ROUTE_STRATEGIES

REPO = Path(__file__).resolve().parent.parent

DEFAULT_SETTINGS = ("2x50", "15x50")
CAPACITY_LIMIT = 0.10
CAPACITY_TIMEOUT_S = 600

LEAK_KB_PER_REQUEST = 64.0
LEAK_LIMIT = 0.10
LEAK_RUN_S = 90
LEAK_USERS = 1

LATENCY_MS = 20.0
LATENCY_LIMIT_MS = 3.0
LATENCY_RUN_S = 20
LATENCY_RATE = 50.0
LATENCY_ROUTE = ("GET", ROUTE_STRATEGIES)

CHECKS = ("capacity", "leak", "latency")
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


@dataclass
class Check:
    """One row of the table."""

    name: str
    truth: str
    measured: str
    error: str
    limit: str
    passed: bool
    wall_s: float
    note: str = ""
    run: Run | None = None
    value: float | None = None
    """The measured number itself (req/s, KB/request, ms), when there is one."""

    def describe(self) -> str:
        """One line for an assertion message."""
        verdict = "PASS" if self.passed else "FAIL"
        return (f"{self.name}: truth {self.truth}, measured {self.measured}, error "
                f"{self.error}, limit {self.limit}: {verdict} ({self.note})")


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
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
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


def _failed(name: str, truth: str, limit: str, error: Exception, wall_s: float) -> Check:
    return Check(name, truth, "n/a", "n/a", limit, False, wall_s, note=str(error).strip())


def _incomplete(summary: dict[str, Any]) -> str:
    if summary.get("complete", True):
        return ""
    return f"; run incomplete: {summary.get('incomplete_reasons')}"


# -- capacity -------------------------------------------------------------------------------


def capacity_check(slots: int, service_ms: float, workdir: Path,
                   timeout: float = CAPACITY_TIMEOUT_S) -> Check:
    """``breaking_point.capacity_rps`` of the breakpoint profile vs N*1000/S, within 10 %."""
    truth = slots * 1000.0 / service_ms
    name = f"capacity --slots {slots} --service-ms {service_ms:g}"
    limit = f"+-{CAPACITY_LIMIT:.0%}"
    started = time.monotonic()
    try:
        run = run_locust(["--config", "config/breakpoint.conf",
                          "--target-flags", f"--slots {slots} --service-ms {service_ms:g}"],
                         workdir / f"capacity-{slots}x{service_ms:g}", timeout)
    except (RunFailed, OSError) as e:
        return _failed(name, f"{truth:.1f} req/s", limit, e, time.monotonic() - started)
    section = run.summary.get("breaking_point") or {}
    found = section.get("capacity_rps")
    note = (f"source {section.get('source')}, found {section.get('found')}, "
            f"reason {section.get('reason')}{_incomplete(run.summary)}")
    if found is None:
        return Check(name, f"{truth:.1f} req/s", "none", "n/a", limit, False, run.wall_s,
                     note, run)
    error = (found - truth) / truth
    return Check(name, f"{truth:.1f} req/s", f"{found:.1f} req/s", f"{error:+.1%}", limit,
                 abs(error) <= CAPACITY_LIMIT, run.wall_s, note, run, value=found)


# -- leak -----------------------------------------------------------------------------------


def _leak_run(kb_per_request: float, workdir: Path, run_s: float, users: int,
              label: str) -> Run:
    flags = ["--config", "config/leak.conf", "--run-time", f"{run_s:g}s",
             "--soak-load", str(users)]
    if kb_per_request > 0:
        flags += ["--target-flags", f"--leak-kb-per-request {kb_per_request:g}"]
    return run_locust(flags, workdir / label, timeout=run_s + 120)


def _leak_note(leak: dict[str, Any], summary: dict[str, Any]) -> str:
    ci = (leak.get("slope_kb_per_request_ci_low"), leak.get("slope_kb_per_request_ci_high"))
    ci_text = f"{ci[0]:.2f}..{ci[1]:.2f}" if None not in ci else "n/a"
    growth = leak.get("growth_mb")
    return (f"verdict {leak.get('verdict')}, CI {ci_text} KB/req, "
            f"{leak.get('requests_in_window')} requests in "
            f"{(leak.get('window_end_s') or 0) - (leak.get('window_start_s') or 0):.0f} s, "
            f"growth {growth if growth is None else round(growth, 1)} MB"
            f"{_incomplete(summary)}")


def leak_check(workdir: Path, kb_per_request: float = LEAK_KB_PER_REQUEST,
               run_s: float = LEAK_RUN_S, users: int = LEAK_USERS) -> Check:
    """``leak.slope_kb_per_request`` vs ``--leak-kb-per-request``, within 10 %, verdict leak."""
    name = f"leak slope --leak-kb-per-request {kb_per_request:g}"
    truth = f"{kb_per_request:g} KB/req"
    limit = f"+-{LEAK_LIMIT:.0%}, verdict leak"
    started = time.monotonic()
    try:
        run = _leak_run(kb_per_request, workdir, run_s, users, f"leak-{kb_per_request:g}")
    except (RunFailed, OSError) as e:
        return _failed(name, truth, limit, e, time.monotonic() - started)
    leak = run.summary.get("leak") or {}
    slope, verdict = leak.get("slope_kb_per_request"), leak.get("verdict")
    note = _leak_note(leak, run.summary)
    if slope is None:
        return Check(name, truth, f"none ({verdict})", "n/a", limit, False, run.wall_s, note,
                     run)
    error = (slope - kb_per_request) / kb_per_request
    return Check(name, truth, f"{slope:.2f} KB/req ({verdict})", f"{error:+.1%}", limit,
                 abs(error) <= LEAK_LIMIT and verdict == "leak", run.wall_s, note, run,
                 value=slope)


def no_leak_check(workdir: Path, run_s: float = LEAK_RUN_S, users: int = LEAK_USERS) -> Check:
    """The same run without ``--leak-kb-per-request``: the verdict must be ``"none"``."""
    name = "leak verdict, no leak"
    truth, limit = "none (0 KB/req)", 'verdict "none"'
    started = time.monotonic()
    try:
        run = _leak_run(0.0, workdir, run_s, users, "no-leak")
    except (RunFailed, OSError) as e:
        return _failed(name, truth, limit, e, time.monotonic() - started)
    leak = run.summary.get("leak") or {}
    slope, verdict = leak.get("slope_kb_per_request"), leak.get("verdict")
    slope_text = "n/a" if slope is None else f"{slope:+.2f} KB/req"
    return Check(name, truth, f"{verdict} ({slope_text})", slope_text, limit,
                 verdict == "none", run.wall_s, _leak_note(leak, run.summary), run, value=slope)


# -- latency --------------------------------------------------------------------------------


def latency_check(workdir: Path, latency_ms: float = LATENCY_MS, run_s: float = LATENCY_RUN_S,
                  rate: float = LATENCY_RATE, limit_ms: float = LATENCY_LIMIT_MS) -> Check:
    """The p50 of ``GET /v1/strategies`` (summary ``endpoints[]``, exact HDR) vs
    ``--latency-ms``, within ``limit_ms``; the route's own service time is not subtracted."""
    method, route = LATENCY_ROUTE
    name = f"p50 {method} {route} --latency-ms {latency_ms:g}"
    truth, limit = f"{latency_ms:g} ms", f"+-{limit_ms:g} ms"
    mix = {"user_class_name": "ArrivalRateUser", "route_mix": {"strategies": 1}}
    started = time.monotonic()
    try:
        run = run_locust(["-f", "locustfile.py", "--headless", "ArrivalRateUser",
                          "--arrival-rate", f"{rate:g}", "-u", "1", "-r", "1",
                          "-t", f"{run_s:g}s", "--config-users", json.dumps(mix),
                          "--target-flags", f"--latency-ms {latency_ms:g}"],
                         workdir / f"latency-{latency_ms:g}", timeout=run_s + 90)
    except (RunFailed, OSError) as e:
        return _failed(name, truth, limit, e, time.monotonic() - started)
    row = next((e for e in run.summary.get("endpoints") or []
                if e.get("method") == method and e.get("name") == route), None)
    if row is None or row.get("p50_ms") is None:
        return Check(name, truth, "none", "n/a", limit, False, run.wall_s,
                     f"no {method} {route} row in summary.json{_incomplete(run.summary)}", run)
    p50, count, failures = float(row["p50_ms"]), int(row["count"]), int(row["failures"])
    error = p50 - latency_ms
    note = (f"{count} requests, {failures} failed, {row.get('rps', 0):.1f}/s, "
            f"p90 {row.get('p90_ms')} ms{_incomplete(run.summary)}")
    return Check(name, truth, f"{p50:.2f} ms", f"{error:+.2f} ms", limit,
                 abs(error) <= limit_ms and failures == 0 and count > 0, run.wall_s, note, run,
                 value=p50)


def net_latency_error(with_latency: Check, baseline: Check, latency_ms: float) -> float | None:
    """p50 with ``--latency-ms`` minus the baseline p50 (no added latency) minus the knob:
    the error left once the route's own service time is taken out."""
    if with_latency.value is None or baseline.value is None:
        return None
    return with_latency.value - baseline.value - latency_ms


# -- the table ------------------------------------------------------------------------------

COLUMNS = ("check", "truth", "measured", "error", "limit", "result", "wall s")


def _cells(check: Check) -> tuple[str, ...]:
    return (check.name, check.truth, check.measured, check.error, check.limit,
            "PASS" if check.passed else "FAIL", f"{check.wall_s:.0f}")


def format_table(checks: Sequence[Check]) -> str:
    rows = [COLUMNS, *(_cells(c) for c in checks)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_checks(which: Sequence[str], settings: Sequence[str], workdir: Path) -> list[Check]:
    """Run the chosen checks one after another (never two runs at once), printing progress."""
    plan = []
    if "capacity" in which:
        for setting in settings:
            slots, service_ms = setting.lower().split("x")
            plan.append(lambda s=int(slots), ms=float(service_ms):
                        capacity_check(s, ms, workdir))
    if "leak" in which:
        plan += [lambda: leak_check(workdir), lambda: no_leak_check(workdir)]
    if "latency" in which:
        plan += [lambda: latency_check(workdir), lambda: latency_check(workdir, latency_ms=0)]
    checks = []
    for step in plan:
        check = step()
        print(f"  {'PASS' if check.passed else 'FAIL'} {check.name} -> {check.measured} "
              f"({check.wall_s:.0f} s; {check.note}) [load {_load()}]", flush=True)
        checks.append(check)
    return checks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(DEFAULT_SETTINGS),
                        help="capacity: slots x service-ms pairs (default 2x50 15x50)")
    parser.add_argument("--checks", nargs="+", choices=CHECKS, default=list(CHECKS),
                        help="which checks to run (default all)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the run directories and logs here (default: a temp dir)")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    print(f"load average at start: {_load()}", flush=True)
    started = time.monotonic()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        checks = run_checks(args.checks, args.settings, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="report-accuracy-") as tmp:
            checks = run_checks(args.checks, args.settings, Path(tmp))
    print()
    print(format_table(checks))
    if "latency" in args.checks and len(checks) >= 2:
        net = net_latency_error(checks[-2], checks[-1], LATENCY_MS)
        if net is not None:
            print(f"\nlatency net of the route's own time: p50(--latency-ms {LATENCY_MS:g}) - "
                  f"p50(--latency-ms 0) - {LATENCY_MS:g} = {net:+.2f} ms")
    failed = [c for c in checks if not c.passed]
    print(f"\n{len(checks) - len(failed)}/{len(checks)} passed in "
          f"{time.monotonic() - started:.0f} s; load average at end: {_load()}")
    for check in failed:
        print(f"FAIL {check.describe()}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
