"""The load generator's own ceiling, read off a run: how many requests/s one process can send.

A Locust process runs on one core. Each row of a run says how many requests the
generators sent and how much CPU each generator process used, so the rows give the
generator's cost: ``cpu % = fixed + per_request x requests/s`` per process (the fixed part
is Locust's own ticking, sampling and writing; the per-request part the user classes,
Locust's client and the hooks). Fitted over the run's loaded rows (least squares when the
rate varied enough, else the ratio of the busiest rows, which counts the fixed part as
per-request cost and so errs low), the ceiling is the rate one process reaches at
:data:`CEILING_CPU_PERCENT`: past it the generator, not the target, sets the numbers.

:func:`generator_ceiling` is pure (arrays in, a dataclass out); the report's generator
card warns when the run's busiest row came within :data:`NEAR_SHARE` of the ceiling,
before the generator saturates, and ``make calibrate`` (``bench.generator_capacity``)
prints the same figure per user class with :func:`processes_needed`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reports.analysis.saturation import GENERATOR_CPU_LIMIT

__all__ = [
    "CEILING_CPU_PERCENT",
    "NEAR_SHARE",
    "GeneratorCeiling",
    "generator_ceiling",
    "processes_needed",
]

CEILING_CPU_PERCENT = GENERATOR_CPU_LIMIT
"""A generator at this % of its core is overloaded (what broke first's rule, the same line)."""
NEAR_SHARE = 0.7
"""The card warns when the busiest row sent this share of the ceiling or more."""
MIN_CPU_PERCENT = 5.0
"""Rows whose generators used less CPU than this say nothing about the per-request cost."""
MIN_ROWS = 3
"""Fewer loaded rows give no estimate."""
FIT_SPREAD = 1.5
"""A line is fitted only when the busiest loaded row sent this many times the quietest."""


@dataclass(frozen=True)
class GeneratorCeiling:
    """One generator process's cost and ceiling, and how near the run came to it."""

    us_per_request: float
    """CPU microseconds a request costs one process, on top of the fixed part."""
    fixed_percent: float
    """CPU % of a process with no requests (0 when not fitted)."""
    ceiling_rps: float
    """Requests/s one process sends at :data:`CEILING_CPU_PERCENT` of its core."""
    processes: int
    peak_rps_per_process: float
    """The busiest row's requests/s per generator process."""
    fitted: bool
    """True: a line through rows of different rates; False: the busiest rows' ratio."""

    @property
    def peak_share(self) -> float:
        """The busiest row's rate per process as a share of the ceiling."""
        return self.peak_rps_per_process / self.ceiling_rps

    @property
    def near(self) -> bool:
        return self.peak_share >= NEAR_SHARE

    def as_dict(self) -> dict[str, float | int | bool]:
        """``summary.json``'s ``generator_ceiling``: the figures the report's card shows."""
        return {
            "us_per_request": round(self.us_per_request, 1),
            "fixed_percent": round(self.fixed_percent, 1),
            "ceiling_rps": round(self.ceiling_rps),
            "ceiling_cpu_percent": CEILING_CPU_PERCENT,
            "processes": self.processes,
            "peak_rps_per_process": round(self.peak_rps_per_process, 1),
            "peak_share": round(self.peak_share, 3),
            "near": self.near,
            "fitted": self.fitted,
        }


def generator_ceiling(
    rps: np.ndarray, generator_cpu: dict[str, np.ndarray]
) -> GeneratorCeiling | None:
    """The ceiling from a run's rows: ``rps`` the requests/s of each row (all generators),
    ``generator_cpu`` each generator process's CPU % per row (NaN: not sampled). The first
    and last rows (start-up, shutdown) are left out, and so are rows without requests or
    with a generator under :data:`MIN_CPU_PERCENT`. None when fewer than :data:`MIN_ROWS`
    rows remain, or the cost comes out as nothing."""
    if not generator_cpu or len(rps) < MIN_ROWS + 2:
        return None
    cpu = np.vstack([np.asarray(v, dtype=float) for v in generator_cpu.values()])[:, 1:-1]
    processes = cpu.shape[0]
    per_process = np.asarray(rps, dtype=float)[1:-1] / processes
    mean_cpu = cpu.mean(axis=0)  # NaN where any process was not sampled
    ok = np.isfinite(per_process) & np.isfinite(mean_cpu) & (per_process > 0)
    ok &= mean_cpu >= MIN_CPU_PERCENT
    x, y = per_process[ok], mean_cpu[ok]
    if len(x) < MIN_ROWS:
        return None
    fixed, per_request, fitted = 0.0, 0.0, False
    if x.max() >= FIT_SPREAD * x.min():
        slope, intercept = np.polyfit(x, y, 1)
        if slope > 0 and 0.0 <= intercept < CEILING_CPU_PERCENT / 2:
            fixed, per_request, fitted = float(intercept), float(slope), True
    if not fitted:
        busiest = x >= np.quantile(x, 0.5)
        per_request = float(np.median(y[busiest] / x[busiest]))
    if not per_request > 0 or not math.isfinite(per_request):
        return None
    return GeneratorCeiling(
        us_per_request=per_request / 100.0 * 1e6,
        fixed_percent=fixed,
        ceiling_rps=(CEILING_CPU_PERCENT - fixed) / per_request,
        processes=processes,
        peak_rps_per_process=float(x.max()),
        fitted=fitted,
    )


def processes_needed(rate: float, ceiling_rps: float, share: float = NEAR_SHARE) -> int:
    """Generator processes (``--processes``, or workers) that send ``rate`` requests/s with
    each at most ``share`` of its ``ceiling_rps``: under the card's warning line."""
    if rate <= 0:
        return 1
    return max(1, math.ceil(rate / (share * ceiling_rps) - 1e-9))
