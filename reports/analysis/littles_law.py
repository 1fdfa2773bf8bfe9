"""Little's law ``L = X * (R + Z)`` checked against the observed concurrency.

:func:`littles_law` checks one measurement; :func:`littles_law_steps` checks each settled
step of :func:`~reports.analysis.steps.aggregate_steps`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from reports.analysis.steps import StepStats
from reports.analysis.tables import JsonResult

__all__ = ["LittleCheck", "littles_law", "littles_law_steps"]


@dataclass(frozen=True)
class LittleCheck(JsonResult):
    """Little's law ``L = X * (R + Z)`` against the observed concurrency.

    ``expected_concurrency``: throughput x (latency + think time); ``ratio``: observed
    / expected (None when expected is 0 or data is missing); ``consistent``:
    ``|ratio - 1| <= tolerance`` (also True when both are 0); ``note``: plain English.
    """

    throughput_rps: float
    mean_latency_ms: float | None
    think_time_ms: float
    concurrency: float | None
    expected_concurrency: float | None
    ratio: float | None
    consistent: bool
    note: str


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def littles_law(
    throughput_rps: float,
    mean_latency_ms: float | None,
    concurrency: float | None,
    *,
    think_time_ms: float = 0.0,
    tolerance: float = 0.25,
) -> LittleCheck:
    """Check that ``concurrency`` users are explained by throughput x time per request."""

    def check(expected: float | None, ratio: float | None, ok: bool, note: str) -> LittleCheck:
        return LittleCheck(
            throughput_rps=float(throughput_rps),
            mean_latency_ms=_float(mean_latency_ms),
            think_time_ms=float(think_time_ms),
            concurrency=_float(concurrency),
            expected_concurrency=expected,
            ratio=ratio,
            consistent=ok,
            note=note,
        )

    if mean_latency_ms is None or concurrency is None or not math.isfinite(mean_latency_ms):
        return check(None, None, False, "no latency or concurrency measured: nothing to check")
    expected = throughput_rps * (mean_latency_ms + think_time_ms) / 1000.0
    if expected <= 0:
        if concurrency <= 0:
            return check(0.0, None, True, "no load and no throughput: consistent")
        return check(
            0.0,
            None,
            False,
            f"observed {concurrency:g} users but no throughput: "
            "the users are idle or every request is stuck",
        )
    ratio = concurrency / expected
    said = (
        f"observed {concurrency:g} users, throughput x (latency + think time) "
        f"accounts for {expected:.1f}"
    )
    if abs(ratio - 1) <= tolerance:
        return check(expected, ratio, True, f"{said}: consistent (ratio {ratio:.2f})")
    if ratio > 1:
        return check(
            expected,
            ratio,
            False,
            f"{said} (ratio {ratio:.2f}): users wait outside "
            "requests (think time or pacing not counted) or the load generator is the "
            "bottleneck (users cannot send as fast as the service answers)",
        )
    return check(
        expected,
        ratio,
        False,
        f"{said} (ratio {ratio:.2f}): more requests in flight "
        "than users, so users send concurrent requests, or throughput and latency "
        "were measured over different windows",
    )


def littles_law_steps(
    steps: Sequence[StepStats], think_time_ms: float = 0.0, *, tolerance: float = 0.25
) -> list[LittleCheck]:
    """:func:`littles_law` for each step (answered requests per second, mean latency).

    In an open model, give :func:`aggregate_steps` the ``users`` array: otherwise a step's
    concurrency is its offered rate and the check means nothing.
    """
    return [
        littles_law(
            s.answered_rps,
            s.mean_ms,
            s.concurrency,
            think_time_ms=think_time_ms,
            tolerance=tolerance,
        )
        for s in steps
    ]
