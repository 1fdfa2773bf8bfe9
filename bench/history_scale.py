"""How long the run history's page and gate take on a long history: 10,000 runs x 20 endpoints.

A SQLite history is generated first (not timed): 10,000 runs of one profile, each with
the aggregate and 20 endpoints (p50/p95/p99, throughput, errors, 3 % noise; the
aggregate's latency 20 % higher from run 9,500 on). Then, alternating ``--rounds``
times, fresh processes run

- ``python -m reports history --history-db H --out history.html`` (budget
  :data:`PAGE_BUDGET_S`),
- ``python -m reports history check --history-db H`` (budget :data:`CHECK_BUDGET_S`),
- a reader that only reads every row of the history once with the stdlib ``sqlite3``
  (the least any reader of the history pays; the ratio's denominator),

CPU time (the child's user + system, ``os.wait4``) and wall time each, interpreter
start and imports included. The budgets are judged on the median CPU time (on a shared
machine, wall time also counts waits for a core other processes hold); the medians are
printed with their ratio to the reader and the machine; exit 1 when a budget is exceeded.

    python -m bench.history_scale [--runs 10000] [--endpoints 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.machine import machine
from reports.history_record import AGGREGATE
from reports.history_store import endpoints_table, history_url, open_history, runs_table

PAGE_BUDGET_S = 5.0
CHECK_BUDGET_S = 2.0
STEP_AT = 0.95
"""The aggregate's latency steps up :data:`STEP` at this fraction of the runs."""
STEP = 1.20
READER = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "n = sum(1 for _ in c.execute('SELECT * FROM quantload_endpoints')); "
    "m = sum(1 for _ in c.execute('SELECT id, run_id, profile FROM quantload_runs'))"
)


def build_history(path: Path, runs: int, endpoints: int, seed: int = 0) -> None:
    """The synthetic history (see the module docstring), in one transaction."""
    rng = np.random.default_rng(seed)
    engine = open_history(history_url(str(path)))
    names = [AGGREGATE, *(f"GET /v1/route-{k:02d}" for k in range(endpoints))]
    noise = 1 + rng.normal(0, 0.03, (runs, len(names)))
    step = np.where(np.arange(runs) >= int(runs * STEP_AT), STEP, 1.0)
    with engine.begin() as conn:
        conn.execute(
            runs_table.insert(),
            [
                {
                    "id": i + 1,
                    "run_id": f"run-{i:05d}",
                    "build_id": f"build-{i:05d}",
                    "profile": "ci",
                    "classes": "StressUser",
                    "host": "embedded",
                    "target_flags": "",
                    "recorded_at": 1.8e9 + i * 600,
                    "complete": True,
                    "summary": "{}",
                }
                for i in range(runs)
            ],
        )
        rows = []
        for i in range(runs):
            for k, name in enumerate(names):
                p95 = 50.0 * noise[i, k] * (step[i] if k == 0 else 1.0)
                rows.append(
                    {
                        "run": i + 1,
                        "endpoint": name,
                        "count": 1000,
                        "failures": 0,
                        "rps": 100.0 * noise[i, k],
                        "p50_ms": p95 / 2,
                        "p95_ms": p95,
                        "p99_ms": p95 * 2,
                        "histogram": None,
                    }
                )
        conn.execute(endpoints_table.insert(), rows)
    engine.dispose()


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """``(wall s, CPU s, exit code)`` of a fresh process (CPU: its own user + system)."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, child.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history_scale")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="quantload-history-") as tmp:
        db = Path(tmp) / "history.sqlite"
        start = time.perf_counter()
        build_history(db, args.runs, args.endpoints)
        built = time.perf_counter() - start
        py = [sys.executable]
        commands = {
            "history.html": [*py, "-m", "reports", "history", "--history-db", str(db),
                             "--out", str(Path(tmp) / "history.html")],
            "history check": [*py, "-m", "reports", "history", "check", "--history-db", str(db),
                              "--junit", str(Path(tmp) / "junit.xml")],
            "read every row once": [*py, "-c", READER, str(db)],
        }  # fmt: skip
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        codes: dict[str, int] = {}
        for _ in range(args.rounds):
            for name, cmd in commands.items():
                wall_s, cpu_s, codes[name] = timed(cmd)
                walls[name].append(wall_s)
                cpus[name].append(cpu_s)
    med = {name: statistics.median(values) for name, values in cpus.items()}
    wall = {name: statistics.median(values) for name, values in walls.items()}
    reader = med["read every row once"]
    print(f"machine: {machine()}")
    print(
        f"history: {args.runs} runs x {args.endpoints} endpoints (+ the aggregate), "
        f"SQLite, built in {built:.1f} s; medians of {args.rounds} fresh processes, "
        "interpreter start and imports included; judged on CPU time (user + system: "
        "a shared machine's waits for a core are not the program's), wall time beside it"
    )
    for name, budget in (("history.html", PAGE_BUDGET_S), ("history check", CHECK_BUDGET_S)):
        verdict = "ok" if med[name] <= budget else "OVER BUDGET"
        print(
            f"{name:<15} {med[name]:6.2f} s CPU (budget {budget:g} s, {verdict}), "
            f"{wall[name]:.2f} s wall; {med[name] / reader:4.1f}x the CPU of reading every "
            f"row once ({reader:.2f} s); exit {codes[name]}"
        )
    ok = med["history.html"] <= PAGE_BUDGET_S and med["history check"] <= CHECK_BUDGET_S
    gate_ok = codes["history check"] == 1 and codes["history.html"] == 0
    if not gate_ok:
        print("unexpected exit codes: the page must exit 0, the check 1 (the step at run 9,500)")
    return 0 if ok and gate_ok else 1


if __name__ == "__main__":
    sys.exit(main())
