"""The load generator's own ceiling on this machine, per user class, and the processes a rate needs.

Debian's nginx on CPU 1 answers with recorded answers (``bench.nginx_server``, as
``bench.generator_ceiling``); each user class runs in the suite's locustfile, every hook
on, pinned to CPU 0:

1. a stepped run (``--shape step``: ``ArrivalRateUser`` at rising arrival rates,
   ``StressUser`` at rising user counts), whose run directory the report's own estimate
   reads (:func:`reports.analysis.generator_ceiling.generator_ceiling`, the figure on the
   report's generator card): CPU microseconds a request, the fixed part, and the ceiling,
   the requests/s one process sends at 90 % of its core;
2. a saturated run of the same class (``StressUser`` with 32 users; ``ArrivalRateUser``
   asked twice the estimate), measured directly over a window after a warm-up: requests
   counted by nginx, the process's CPU time. At 100 % of a core it sends the most it
   can; the estimate at 90 % is about 0.9 of that when a request's cost is linear
   (``StressUser``). ``ArrivalRateUser``'s is not: its process reaches 90 % CPU near the
   estimate, yet, saturated, wakes less often per request (more answers ready per wake-up)
   and sends more per CPU-second, so the estimate is the rate at 90 % CPU, not the most.

Then, for a few total rates, the generator processes (``--processes N`` or workers) that
keep each under the card's warning line (:data:`NEAR_SHARE` of the ceiling), by
:func:`~reports.analysis.generator_ceiling.processes_needed`; more processes than this
machine's cores mean more machines.

    python -m bench.generator_capacity [--step-s 8]

About 2 minutes. Needs ``nginx`` (Debian package): without it, says so and exits 2.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.generator_ceiling import (
    BACKTEST_5KB,
    GENERATOR_CPU,
    SERVER_CPU,
    Variant,
    locust_command,
    measure,
)
from bench.generator_overhead import record_responses
from bench.machine import machine
from bench.nginx_server import NginxServer, missing_tools
from reports.analysis.generator_ceiling import (
    CEILING_CPU_PERCENT,
    NEAR_SHARE,
    GeneratorCeiling,
    generator_ceiling,
    processes_needed,
)
from rundir.reader import load_run


@dataclass(frozen=True)
class ClassPlan:
    """How one class is stepped and saturated."""

    user_class: str
    steps: str
    """``--steps``: users, or req/s with ``--shape-unit rps``."""
    unit: str
    users: int
    saturate_users: int


PLANS = (
    ClassPlan("ArrivalRateUser", "300,600,1200,1800,2400", "rps", 4, 4),
    ClassPlan("StressUser", "1,2,4,8,16", "users", 16, 32),
)
RATES = (1_000, 5_000, 10_000, 50_000)
"""Total requests/s the processes table is printed for."""
WARMUP_S, WINDOW_S = 5.0, 10.0


def stepped_run(
    plan: ClassPlan, server: NginxServer, host: str, step_s: float, workdir: Path
) -> GeneratorCeiling:
    """Run ``plan`` stepped on ``GENERATOR_CPU``; the report's estimate of its run directory."""
    steps = plan.steps.count(",") + 1
    args = ["-u", str(plan.users), "-r", str(plan.users), "--host", host, "--shape", "step"]
    args += ["--steps", plan.steps, "--step-s", f"{step_s:g}", "--shape-unit", plan.unit]
    run_dir = workdir / f"{plan.user_class}-stepped"
    variant = Variant(
        plan.user_class,
        locust_command(workdir, "locustfile.py", *args, plan.user_class),
        run_dir=True,
    )
    seconds = steps * step_s
    measure(variant, server, 1.0, max(1.0, seconds - 3.0), workdir, run_dir=run_dir)
    run = load_run(run_dir)
    found = generator_ceiling(run.series.rps, run.series.generator_cpu)
    if found is None:
        raise SystemExit(f"bench: {plan.user_class}: too few loaded rows for an estimate")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--step-s", type=float, default=8.0, help="seconds a step")
    args = parser.parse_args()
    if not args.step_s >= 4:
        print(f"bench: --step-s must be at least 4 (seconds), not {args.step_s:g}", file=sys.stderr)
        raise SystemExit(2)
    if missing := missing_tools("nginx"):
        print(missing, file=sys.stderr)
        raise SystemExit(2)
    answers = record_responses(BACKTEST_5KB)
    backtest = answers[("POST", "/v1/backtests")][1]
    market = answers[("GET", "/v1/market-data/")][1]
    server = NginxServer(backtest, market, SERVER_CPU)
    rows = []
    with server as host, tempfile.TemporaryDirectory() as tmp:
        for plan in PLANS:
            found = stepped_run(plan, server, host, args.step_s, Path(tmp))
            extra = ["-u", str(plan.saturate_users), "-r", str(plan.saturate_users)]
            extra += ["--host", host]
            if plan.unit == "rps":
                extra += ["--arrival-rate", f"{2 * found.ceiling_rps:.0f}"]
            saturated = measure(
                Variant(
                    plan.user_class,
                    locust_command(Path(tmp), "locustfile.py", *extra, plan.user_class),
                    run_dir=True,
                ),
                server,
                WARMUP_S,
                WINDOW_S,
                Path(tmp),
            )
            rows.append((plan, found, saturated))
    cores = psutil.cpu_count() or 1
    print(f"machine: {machine()}")
    print(
        f"nginx on cpu {SERVER_CPU} answering recorded bodies (backtest "
        f"{len(backtest) / 1000:.1f} KB), each class alone on cpu {GENERATOR_CPU} with every "
        f"hook; stepped runs of {args.step_s:g} s a step read by the report's estimate, "
        f"saturated runs measured {WINDOW_S:.0f} s after {WARMUP_S:.0f} s (nginx's count, "
        "the process's CPU time)"
    )
    print(
        f"{'class':16s} {'CPU us/req':>10s} {'fixed %':>8s} "
        f"{f'ceiling at {CEILING_CPU_PERCENT:.0f} %':>15s} {'saturated':>10s} "
        f"{'cores':>6s} {'ratio':>6s}"
    )
    for plan, found, sat in rows:
        print(
            f"{plan.user_class:16s} {found.us_per_request:10.0f} {found.fixed_percent:8.1f} "
            f"{found.ceiling_rps:15.0f} {sat.rps:10.0f} {sat.cores:6.2f} "
            f"{found.ceiling_rps / sat.rps:6.2f}"
        )
    print(
        f"generator processes for a total rate, each under {NEAR_SHARE:.0%} of its ceiling "
        f"(this machine has {cores} cores; more processes than cores need more machines):"
    )
    print(f"{'class':16s}" + "".join(f" {f'{r:,}/s':>9s}" for r in RATES))
    for plan, found, _ in rows:
        print(
            f"{plan.user_class:16s}"
            + "".join(f" {processes_needed(r, found.ceiling_rps):9d}" for r in RATES)
        )


if __name__ == "__main__":
    main()
