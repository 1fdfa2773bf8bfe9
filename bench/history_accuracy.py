"""The change-point search's accuracy on synthetic histories of known answer, over many seeds.

Three histories of 60 runs with 3 % noise (normal, relative): a 10 % p95 step at run 40
(found when a change point lies at 40 +- 1), noise alone (any change point is false),
and one outlier run (+50 % at run 30; a change point within 2 of it is false). Printed:
how often each comes out right, over ``--seeds`` seeds; exit 1 below 19 in 20 for any.
The unit tests (``tests/reports/test_history_changes.py``) check the same on 20 seeds.

    python -m bench.history_accuracy [--seeds 200]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from bench.machine import machine
from reports.history_changes import change_points

RUNS, STEP_AT, STEP, NOISE, OUTLIER_AT, OUTLIER = 60, 40, 1.10, 0.03, 30, 1.5
REQUIRED = 19 / 20


def history(seed: int) -> np.ndarray:
    return 100.0 * (1 + np.random.default_rng(seed).normal(0, NOISE, RUNS))


def rates(seeds: int) -> dict[str, float]:
    """The share of seeds each case comes out right."""
    step = noise = outlier = 0
    for seed in range(seeds):
        values = history(seed)
        values[STEP_AT:] *= STEP
        step += any(abs(p.index - STEP_AT) <= 1 for p in change_points(values))
        noise += not change_points(history(10_000 + seed))
        spiky = history(20_000 + seed)
        spiky[OUTLIER_AT] *= OUTLIER
        outlier += not any(abs(p.index - OUTLIER_AT) <= 2 for p in change_points(spiky))
    return {
        f"10 % step at run {STEP_AT} found at {STEP_AT} +- 1": step / seeds,
        "noise alone: no change point": noise / seeds,
        "one +50 % outlier run: not a change point": outlier / seeds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history_accuracy")
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args(argv)
    found = rates(args.seeds)
    print(f"machine: {machine()}")
    print(f"{RUNS} runs, {NOISE * 100:g} % noise, {args.seeds} seeds each")
    for name, rate in found.items():
        verdict = "ok" if rate >= REQUIRED else "BELOW 19 in 20"
        print(f"  {name:<45} {rate * 100:5.1f} % ({verdict})")
    return 0 if all(rate >= REQUIRED for rate in found.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
