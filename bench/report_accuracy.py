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
  A third, stepped run of a mixed workload (StressUser at 10 then 20 users, 90 s each,
  no leak) fills the target's caches as the load steps up: its verdict must be "none" (or
  "unknown"), never "suspected": memory that follows a changing load is not judged (only
  the longest steady step is), nor growth that slows or stays under 2.5 % of the RSS.
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
the capacity checks take most of it). ``tests/reports/test_report_accuracy.py`` runs the leak
and latency checks through the same functions.

    python -m bench.report_accuracy [--settings 2x50 15x50] [--checks capacity leak latency]
                                    [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.accuracy_checks import (
    LATENCY_MS,
    Check,
    capacity_check,
    latency_check,
    leak_check,
    net_latency_error,
    no_leak_check,
    no_leak_stepped_check,
)
from bench.machine import machine

DEFAULT_SETTINGS = ("2x50", "15x50")
CHECKS = ("capacity", "leak", "latency")


# -- the table ------------------------------------------------------------------------------

COLUMNS = ("check", "truth", "measured", "error", "limit", "result", "wall s")


def _cells(check: Check) -> tuple[str, ...]:
    return (
        check.name,
        check.truth,
        check.measured,
        check.error,
        check.limit,
        "PASS" if check.passed else "FAIL",
        f"{check.wall_s:.0f}",
    )


def format_table(checks: Sequence[Check]) -> str:
    rows = [COLUMNS, *(_cells(c) for c in checks)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
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
            plan.append(lambda s=int(slots), ms=float(service_ms): capacity_check(s, ms, workdir))
    if "leak" in which:
        plan += [
            lambda: leak_check(workdir),
            lambda: no_leak_check(workdir),
            lambda: no_leak_stepped_check(workdir),
        ]
    if "latency" in which:
        plan += [lambda: latency_check(workdir), lambda: latency_check(workdir, latency_ms=0)]
    checks = []
    for step in plan:
        check = step()
        print(
            f"  {'PASS' if check.passed else 'FAIL'} {check.name} -> {check.measured} "
            f"({check.wall_s:.0f} s; {check.note}) [load {_load()}]",
            flush=True,
        )
        checks.append(check)
    return checks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--settings",
        nargs="+",
        default=list(DEFAULT_SETTINGS),
        help="capacity: slots x service-ms pairs (default 2x50 15x50)",
    )
    parser.add_argument(
        "--checks",
        nargs="+",
        choices=CHECKS,
        default=list(CHECKS),
        help="which checks to run (default all)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep the run directories and logs here (default: a temp dir)",
    )
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
            print(
                f"\nlatency net of the route's own time: p50(--latency-ms {LATENCY_MS:g}) - "
                f"p50(--latency-ms 0) - {LATENCY_MS:g} = {net:+.2f} ms"
            )
    failed = [c for c in checks if not c.passed]
    print(
        f"\n{len(checks) - len(failed)}/{len(checks)} passed in "
        f"{time.monotonic() - started:.0f} s; load average at end: {_load()}"
    )
    for check in failed:
        print(f"FAIL {check.describe()}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
