"""Each step's resources: the per-row series of a run averaged over a step's settled rows.

The readings "what broke first" (:mod:`~reports.analysis.saturation`) judges: beside a
step's throughput and latency (its :class:`~reports.analysis.steps.StepStats`), the
target's CPU, its host's CPU and memory, the job queue's level and slope, the busiest
generator process's CPU and the arrivals dropped. Pure: arrays in, dataclasses out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from reports.analysis.steps import StepStats
from reports.analysis.tables import JsonResult

__all__ = ["ResourceColumns", "StepReading", "step_readings"]

MIN_ROWS = 3
"""A step's readings use its settled rows, at least its last this many."""


@dataclass(frozen=True)
class ResourceColumns:
    """Per-row series (one value per timeseries row, NaN where not recorded).

    ``target_cpu``: % of one core over the target's processes; ``host_cpu``: the target
    host's %, 0-100; ``cores``: the target host's core count; ``host_mem``: its memory
    used / total; ``queue_depth``: jobs waiting; ``generator_cpu``: each generator
    process's % of one core; ``dropped``: arrivals dropped in the row.
    """

    elapsed_s: np.ndarray
    target_cpu: np.ndarray
    host_cpu: np.ndarray
    cores: np.ndarray
    host_mem: np.ndarray
    queue_depth: np.ndarray
    generator_cpu: Mapping[str, np.ndarray]
    dropped: np.ndarray


@dataclass(frozen=True)
class StepReading(JsonResult):
    """One step's figures (its settled rows): throughput and latency from its
    :class:`StepStats`, the resources as means over the rows (None: not recorded);
    ``queue_growth_per_s`` the queue's slope over the step; ``dropped`` arrivals in it."""

    level: float
    start_s: float
    throughput_rps: float
    p95_ms: float | None
    mean_ms: float | None
    error_ratio: float
    target_cores_busy: float | None
    host_cpu_percent: float | None
    cores: int | None
    host_mem_fraction: float | None
    queue_depth: float | None
    queue_growth_per_s: float | None
    generator_cpu_percent: float | None
    dropped: int


def _mean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else None


def _slope(t: np.ndarray, y: np.ndarray) -> float | None:
    keep = np.isfinite(t) & np.isfinite(y)
    if keep.sum() < 2 or np.ptp(t[keep]) <= 0:
        return None
    return float(np.polyfit(t[keep], y[keep], 1)[0])


def step_readings(steps: Sequence[StepStats], columns: ResourceColumns) -> list[StepReading]:
    """Each step's reading over its settled rows (elapsed from ``start_s + settle_s`` to
    ``end_s``; the step's last :data:`MIN_ROWS` rows when fewer), in the steps' order."""
    t = np.asarray(columns.elapsed_s, dtype=float)
    readings = []
    for step in steps:
        inside = np.flatnonzero((t >= step.start_s) & (t <= step.end_s))
        used = inside[t[inside] >= step.start_s + step.settle_s]
        if used.size < MIN_ROWS:
            used = inside[-MIN_ROWS:]
        gens = [_mean(np.asarray(v, dtype=float)[used]) for v in columns.generator_cpu.values()]
        cpu = _mean(columns.target_cpu[used])
        cores = _mean(columns.cores[used])
        readings.append(
            StepReading(
                level=step.level,
                start_s=step.start_s,
                throughput_rps=step.throughput_rps,
                p95_ms=step.p95_ms,
                mean_ms=step.mean_ms,
                error_ratio=step.error_ratio,
                target_cores_busy=None if cpu is None else cpu / 100.0,
                host_cpu_percent=_mean(columns.host_cpu[used]),
                cores=None if cores is None else int(round(cores)),
                host_mem_fraction=_mean(columns.host_mem[used]),
                queue_depth=None if not used.size else _last(columns.queue_depth[used]),
                queue_growth_per_s=_slope(t[used], columns.queue_depth[used]),
                generator_cpu_percent=max((g for g in gens if g is not None), default=None),
                dropped=int(np.nansum(columns.dropped[used])),
            )
        )
    return readings


def _last(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if finite.size else None
