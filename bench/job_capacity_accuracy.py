"""How close the job-capacity profile gets to the reference target's known job capacity.

With ``--workers K --job-step-ms M`` a Monte-Carlo job takes 10 progress steps of at least
M ms each (``target/job_worker.py``: ``MONTE_CARLO_STEPS``, each step filled to its
minimum length), so the pipeline finishes K / (10 x M / 1000) jobs/s. For each setting
this runs ``locust --config config/job-capacity.conf`` with steps around that truth (two
below, two above: 0.5, 0.75, 1.25 and 1.5 times it) and prints ``summary.json``'s
``job_capacity``: the capacity found and its error (limit 10 %), the highest stable step,
the backlog growth at the top step against the truth's (``1.5 x truth - truth``), the
drain against the backlog over the truth, and the WebSocket delivery p95 at each step.
``make calibrate`` runs it (about 4 minutes for the two default settings).

    python -m bench.job_capacity_accuracy [--settings 2x100 2x50] [--step-s 20]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.locust_run import RunFailed, run_locust
from bench.machine import machine

DEFAULT_SETTINGS = ("2x100", "2x50")
"""K workers x M ms per step: 2 jobs/s and 4 jobs/s."""
MONTE_CARLO_STEPS = 10
"""Progress steps of a Monte-Carlo job (the target's ``MONTE_CARLO_STEPS``)."""
STEP_FACTORS = (0.5, 0.75, 1.25, 1.5)
"""The steps' rates as multiples of the truth: two stable, two growing."""
LIMIT = 0.10
STEP_S = 20
DRAIN_S = 40
TIMEOUT_S = 400


def truth(workers: int, step_ms: float) -> float:
    """Jobs/s the reference target finishes with ``--workers`` and ``--job-step-ms``."""
    return workers / (MONTE_CARLO_STEPS * step_ms / 1000.0)


def run_setting(workers: int, step_ms: float, step_s: float, workdir: Path) -> dict:
    """One job-capacity run against ``--workers K --job-step-ms M``: its ``job_capacity``
    section plus ``wall_s``."""
    rates = ",".join(f"{f * truth(workers, step_ms):g}" for f in STEP_FACTORS)
    run = run_locust(
        [
            "--config",
            "config/job-capacity.conf",
            "--target-flags",
            f"--workers {workers} --job-step-ms {step_ms:g}",
            "--steps",
            rates,
            "--step-s",
            f"{step_s:g}",
            "--drain-s",
            str(DRAIN_S),
            "--history-db",
            "none",
        ],
        workdir / f"{workers}x{step_ms:g}",
        TIMEOUT_S,
    )
    section = run.summary.get("job_capacity")
    if not section:
        raise RunFailed(f"no job_capacity section (exit {run.returncode}): {run.log[-2000:]}")
    return {**section, "wall_s": run.wall_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(DEFAULT_SETTINGS))
    parser.add_argument("--step-s", type=float, default=STEP_S)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(
        f"{'truth':>7} {'found':>7} {'error':>7} {'limit':>6} {'stable':>7} "
        f"{'growth':>14} {'drain s':>13} {'wall s':>7}  setting / WS p95 ms per step"
    )
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for setting in args.settings:
            workers, step_ms = int(setting.split("x")[0]), float(setting.split("x")[1])
            real = truth(workers, step_ms)
            try:
                found = run_setting(workers, step_ms, args.step_s, Path(tmp))
            except RunFailed as exc:
                print(f"{real:7.2f}  run failed: {exc}", flush=True)
                failed = True
                continue
            capacity = found.get("capacity_jobs_per_s")
            error = None if capacity is None else (capacity - real) / real
            ok = error is not None and abs(error) <= LIMIT
            failed = failed or not ok
            drain = found.get("drain") or {}
            growth = found.get("backlog_growth_jobs_per_s")
            drain_s, backlog = drain.get("drain_s"), drain.get("backlog_jobs") or 0
            top_growth = (STEP_FACTORS[-1] - 1) * real
            ws = " ".join(f"{s.get('ws_p95_ms') or 0:.1f}" for s in found.get("steps") or [])
            print(
                f"{real:7.2f} {capacity or 0:7.2f} "
                f"{'n/a' if error is None else f'{error:+.1%}':>7} {LIMIT:>6.0%} "
                f"{found.get('sustained_jobs_per_s') or 0:7.2f} "
                f"{growth or 0:6.2f} vs {top_growth:4.2f} "
                f"{drain_s or 0:5.0f} vs {backlog / real:5.1f} "
                f"{found['wall_s']:7.0f}  --workers {workers} --job-step-ms {step_ms:g} "
                f"{'ok' if ok else 'FAILED'} / {ws}",
                flush=True,
            )
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
