"""How long ``python -m reports render`` takes on a 24-hour run, against reading its rows once.

The budget is a ratio measured in the same run, so it means the same on a quiet or a
busy machine: a day of 1 s rows (86,400 intervals, ten endpoints) renders in a fresh
``python -m reports render RUN_DIR`` process (interpreter start and imports included)
using at most ``RATIO_BUDGET`` times the CPU time (user + system, the child's own
rusage) of a fresh process that only reads the rows once (decodes every line of
``timeseries.jsonl`` with the stdlib json decoder, as the report's reader does: the
least any reader of this format pays). CPU time, because wall time on a shared machine
also counts the waits for a core that other processes hold; wall times are printed
too. The two alternate, ``--rounds`` times; the median of the per-round ratios is
judged. Peak RSS
(the child's own ``ru_maxrss``, ``os.wait4``) does not depend on the machine's speed:
its budget is ``BUDGET_MB``. The run directory is generated first by
:mod:`bench.synthetic_run` in a child process (not timed; a child's ``ru_maxrss`` starts
from its parent's peak, so the parent stays small). A one-hour run (3,600 intervals) is measured
too, for reference (unjudged: interpreter start and imports dominate it). Last, one
more fresh process renders the day's run timing its own stages, to show where the
time goes. Exit 1 when the day's render is over budget.

    python -m bench.report_render [--intervals 86400] [--reference 3600] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.machine import machine
from bench.synthetic_model import DAY_S
from rundir.layout import TIMESERIES_FILE

RATIO_BUDGET = 2.5
"""Render CPU time / read-the-rows-once CPU time, both fresh processes, same run."""
BUDGET_MB = 500.0
MB = 1_000_000
REFERENCE_INTERVALS = 3600
ENDPOINTS = 10
REPORT_FILE = "report.html"
REPO = Path(__file__).resolve().parent.parent

READ_ROWS = """\
import json, sys
decode = json.JSONDecoder().decode
with open(sys.argv[1], "rb") as rows:
    for line in rows:
        decode(line.decode("utf-8"))
"""
"""The baseline: a fresh process that json-decodes every row once and keeps nothing."""

STAGES = """\
import json, sys, time
def mark():
    marks.append((time.perf_counter(), time.process_time()))
marks = []
mark()
from reports.render import render_report
from reports.run_analysis import analyse_run
from rundir.reader import load_run
mark()
run = load_run(sys.argv[1])
mark()
import scipy.stats  # what the leak fit imports (theilslopes), timed on its own
mark()
analysis = analyse_run(run)
mark()
render_report(run.path, sys.argv[2], run=run, analysis=analysis)
mark()
print(json.dumps([[b[0] - a[0], b[1] - a[1]] for a, b in zip(marks, marks[1:])]))
"""
"""One render in a fresh process, timing its stages (the same calls as ``render_report``)."""
STAGE_NAMES = (
    "imports (reports: numpy, plotly, jinja2)",
    "load_run (rows, histograms, summary)",
    "import scipy.stats (leak fit)",
    "analyse_run",
    "figures, template, write",
)


@dataclass
class Child:
    seconds: float
    """Wall time."""
    cpu_seconds: float
    """User + system CPU time of the child (its own rusage)."""
    peak_bytes: int
    output: str


def run_child(args: list[str]) -> Child:
    """One fresh Python process: its wall time, its own peak RSS and its output."""
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, *args], stdout=output, stderr=subprocess.STDOUT, cwd=REPO
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:3]} exited {proc.returncode}:\n{text}")
    # ru_maxrss: kilobytes on Linux, bytes on macOS
    peak = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    return Child(seconds, usage.ru_utime + usage.ru_stime, peak, text)


@dataclass
class Result:
    read: list[Child]
    render: list[Child]

    @property
    def ratio(self) -> float:
        pairs = zip(self.read, self.render, strict=True)
        return statistics.median(render.cpu_seconds / read.cpu_seconds for read, render in pairs)


def measure(base: Path, intervals: int, rounds: int) -> tuple[Result, Path]:
    run_dir = base / f"run-{intervals}"
    made = run_child(
        [
            "-m",
            "bench.synthetic_run",
            str(run_dir),
            "--intervals",
            str(intervals),
            "--endpoints",
            str(ENDPOINTS),
        ]
    ).seconds
    rows = run_dir / TIMESERIES_FILE
    print(
        f"\n{intervals:,} intervals x {ENDPOINTS} endpoints: {TIMESERIES_FILE} "
        f"{rows.stat().st_size / MB:,.1f} MB (generated in {made:.1f} s, not timed)"
    )
    result = Result([], [])
    for i in range(1, rounds + 1):
        read = run_child(["-c", READ_ROWS, str(rows)])
        render = run_child(
            ["-m", "reports", "render", str(run_dir), "--out", str(run_dir / REPORT_FILE)]
        )
        result.read.append(read)
        result.render.append(render)
        print(
            f"  round {i}: read rows {read.cpu_seconds:5.2f} s CPU ({read.seconds:5.2f} s wall)"
            f"   render {render.cpu_seconds:5.2f} s CPU ({render.seconds:5.2f} s wall, peak RSS "
            f"{render.peak_bytes / MB:5.1f} MB)   render / read "
            f"{render.cpu_seconds / read.cpu_seconds:4.2f} CPU"
        )
    return result, run_dir


def summarise(result: Result, run_dir: Path) -> float:
    peak_mb = max(c.peak_bytes for c in result.render) / MB
    report = (run_dir / REPORT_FILE).stat().st_size
    n = len(result.render)
    for name, children in (("read rows once", result.read), ("render", result.render)):
        cpu = statistics.median(c.cpu_seconds for c in children)
        wall = statistics.median(c.seconds for c in children)
        print(f"  {name + ':':15s} {cpu:6.2f} s CPU, {wall:6.2f} s wall (medians of {n})")
    print(f"  render / read:  {result.ratio:6.2f}   (CPU time; median of the rounds' ratios)")
    print(f"  peak RSS:       {peak_mb:6.1f} MB (render, highest round)")
    print(f"  report.html:    {report / MB:6.2f} MB")
    return peak_mb


def stages(run_dir: Path, out: Path) -> None:
    child = run_child(["-c", STAGES, str(run_dir), str(out)])
    times = json.loads(child.output.strip().splitlines()[-1])
    print("\nwhere one render's time goes (a fresh process timing its stages):")
    print(f"  {'':42s}   CPU    wall")
    print(
        f"  {'interpreter start and exit (the rest)':42s} "
        f"{child.cpu_seconds - sum(c for _, c in times):5.2f} s "
        f"{child.seconds - sum(w for w, _ in times):5.2f} s"
    )
    for name, (wall, cpu) in zip(STAGE_NAMES, times, strict=True):
        print(f"  {name:42s} {cpu:5.2f} s {wall:5.2f} s")
    print(f"  {'total':42s} {child.cpu_seconds:5.2f} s {child.seconds:5.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report_render", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--intervals",
        type=int,
        default=DAY_S,
        help=f"rows of the budgeted run (default {DAY_S:,}: 24 hours)",
    )
    parser.add_argument(
        "--reference",
        type=int,
        default=REFERENCE_INTERVALS,
        help="rows of the reference run (0: none; default 3,600)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="read / render pairs per run (default 3)"
    )
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    print(
        f"budget for {args.intervals:,} intervals: render <= {RATIO_BUDGET:g} x the CPU time "
        f"to read the rows once, peak RSS <= {BUDGET_MB:g} MB (fresh processes, "
        f"alternating; 1 MB = 10^6 bytes)"
    )
    with tempfile.TemporaryDirectory(prefix="quantload-render-") as tmp:
        if args.reference:
            result, run_dir = measure(Path(tmp), args.reference, args.rounds)
            summarise(result, run_dir)
        result, run_dir = measure(Path(tmp), args.intervals, args.rounds)
        peak_mb = summarise(result, run_dir)
        stages(run_dir, Path(tmp) / "stages.html")
    ratio = result.ratio
    passed = ratio <= RATIO_BUDGET and peak_mb <= BUDGET_MB
    print(
        f"\n{'PASS' if passed else 'FAIL'}: {args.intervals:,} intervals rendered in "
        f"{ratio:.2f} x the CPU time to read their rows once (budget {RATIO_BUDGET:g} x), "
        f"peak {peak_mb:.0f} MB (budget {BUDGET_MB:g} MB)"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
