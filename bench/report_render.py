"""How long ``python -m reports render`` takes on a 24-hour run, and how much memory.

The budget: a day of 1 s rows (86,400 intervals, ten endpoints) renders in at most
5 s of wall time and 500 MB of peak RSS, measured as a user meets it: a fresh
``python -m reports render RUN_DIR`` process (interpreter start and imports
included). The run directory is generated first by :mod:`bench.synthetic_run`
(not timed); each render's peak RSS is the child's own ``ru_maxrss`` (``os.wait4``).
A one-hour run (3,600 intervals) is rendered too, for reference. Medians of
``--rounds``; exit 1 when the day's render is over budget.

    python -m bench.report_render [--intervals 86400] [--reference 3600] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.machine import machine
from bench.synthetic_run import DAY_S, write_synthetic_run
from metrics.run_store import TIMESERIES_FILE
from reports.render import REPORT_FILE

BUDGET_S = 5.0
BUDGET_MB = 500.0
MB = 1_000_000
REFERENCE_INTERVALS = 3600
ENDPOINTS = 10


@dataclass
class Render:
    seconds: float
    peak_bytes: int


def render_once(run_dir: Path) -> Render:
    """One ``python -m reports render`` in a fresh process: wall time and its own peak RSS."""
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "reports", "render", str(run_dir)],
                                stdout=output, stderr=subprocess.STDOUT,
                                cwd=Path(__file__).resolve().parent.parent)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            output.seek(0)
            raise RuntimeError(f"reports render exited {proc.returncode}:\n"
                               f"{output.read().decode('utf-8', 'replace')}")
    # ru_maxrss: kilobytes on Linux, bytes on macOS
    peak = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    return Render(seconds, peak)


def measure(base: Path, intervals: int, rounds: int) -> tuple[list[Render], Path]:
    run_dir = base / f"run-{intervals}"
    t0 = time.perf_counter()
    write_synthetic_run(run_dir, intervals=intervals, endpoints=ENDPOINTS)
    made = time.perf_counter() - t0
    size = (run_dir / TIMESERIES_FILE).stat().st_size
    print(f"\n{intervals:,} intervals x {ENDPOINTS} endpoints: {TIMESERIES_FILE} "
          f"{size / MB:,.1f} MB (generated in {made:.1f} s, not timed)")
    renders = [render_once(run_dir) for _ in range(rounds)]
    for i, r in enumerate(renders, 1):
        print(f"  round {i}: {r.seconds:6.2f} s  peak RSS {r.peak_bytes / MB:7.1f} MB")
    return renders, run_dir


def summarise(renders: list[Render], run_dir: Path) -> tuple[float, float]:
    seconds = statistics.median(r.seconds for r in renders)
    peak_mb = max(r.peak_bytes for r in renders) / MB
    report = (run_dir / REPORT_FILE).stat().st_size
    print(f"  render time:  {seconds:6.2f} s (median of {len(renders)})")
    print(f"  peak RSS:     {peak_mb:6.1f} MB (highest round)")
    print(f"  report.html:  {report / MB:6.2f} MB")
    return seconds, peak_mb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report_render",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", type=int, default=DAY_S,
                        help=f"rows of the budgeted run (default {DAY_S:,}: 24 hours)")
    parser.add_argument("--reference", type=int, default=REFERENCE_INTERVALS,
                        help="rows of the reference run (0: none; default 3,600)")
    parser.add_argument("--rounds", type=int, default=3, help="renders per run (default 3)")
    args = parser.parse_args(argv)
    print(machine())
    print(f"budget: {BUDGET_S:g} s and {BUDGET_MB:g} MB for {args.intervals:,} intervals "
          f"(fresh `python -m reports render` process; 1 MB = 10^6 bytes)")
    with tempfile.TemporaryDirectory(prefix="quantload-render-") as tmp:
        if args.reference:
            renders, run_dir = measure(Path(tmp), args.reference, args.rounds)
            summarise(renders, run_dir)
        renders, run_dir = measure(Path(tmp), args.intervals, args.rounds)
        seconds, peak_mb = summarise(renders, run_dir)
    passed = seconds <= BUDGET_S and peak_mb <= BUDGET_MB
    print(f"\n{'PASS' if passed else 'FAIL'}: {args.intervals:,} intervals rendered in "
          f"{seconds:.2f} s (budget {BUDGET_S:g} s), peak {peak_mb:.0f} MB "
          f"(budget {BUDGET_MB:g} MB)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
