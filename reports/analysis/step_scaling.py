"""Stepped runs: how the steps scale, each compared with the lowest step and the one below.

:func:`scalability` takes the settled steps of :func:`~reports.analysis.steps.aggregate_steps`
and gives, per step, the efficiency, the growth efficiency and the latency degradation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reports.analysis.steps import StepStats
from reports.analysis.tables import JsonResult

__all__ = ["StepScaling", "scalability"]


@dataclass(frozen=True)
class StepScaling(JsonResult):
    """A step compared with the lowest step (``*_1``) and the step below (``*_prev``).

    ``efficiency = (X/N) / (X_1/N_1)``; ``growth_efficiency`` is the throughput's relative
    growth over the load's relative growth from the step below,
    ``(X/X_prev - 1) / (N/N_prev - 1)`` (1 for the lowest step): 1 when throughput grows as
    fast as the load, 0 when it stays flat, whatever the size of the steps;
    ``degradation = p95 / p95_1``; ``mean_degradation = mean / mean_1``. X is
    ``throughput_rps``, N the level. None where undefined (a zero or missing denominator).
    """

    level: float
    throughput_rps: float
    efficiency: float | None
    growth_efficiency: float | None
    degradation: float | None
    mean_degradation: float | None


def _div(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den is not None and den > 0 else None


def scalability(steps: Sequence[StepStats]) -> list[StepScaling]:
    """Compare the steps, taken in increasing level (the run's time order may differ)."""
    ordered = sorted(steps, key=lambda s: s.level)
    if not ordered:
        return []
    first = ordered[0]
    per_unit_1 = _div(first.throughput_rps, first.level)
    rows = []
    for i, step in enumerate(ordered):
        growth: float | None = 1.0
        if i:
            prev = ordered[i - 1]
            x_ratio = _div(step.throughput_rps, prev.throughput_rps)
            n_ratio = _div(step.level, prev.level)
            growth = (
                None if x_ratio is None or n_ratio is None else _div(x_ratio - 1.0, n_ratio - 1.0)
            )
        rows.append(
            StepScaling(
                level=step.level,
                throughput_rps=step.throughput_rps,
                efficiency=_div(_div(step.throughput_rps, step.level), per_unit_1),
                growth_efficiency=growth,
                degradation=_div(step.p95_ms, first.p95_ms),
                mean_degradation=_div(step.mean_ms, first.mean_ms),
            )
        )
    return rows
