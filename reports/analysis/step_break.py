"""Stepped runs: the breaking point by step, with the rules shared with the live search.

:func:`breaking_point_from_steps` judges each settled step with
:func:`~reports.analysis.breaking.step_verdict` (and, in a closed model, by its growth
efficiency from :func:`~reports.analysis.step_scaling.scalability`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from reports.analysis.breaking import (
    BreakingPoint,
    BreakLimits,
    P95Limit,
    StepMeasure,
    Verdict,
    p95_limit,
    step_verdict,
)
from reports.analysis.judged_steps import JudgedStep, mark_above_break
from reports.analysis.step_scaling import scalability
from reports.analysis.steps import StepStats
from reports.analysis.tables import JsonResult

__all__ = ["RULE_GROWTH", "StepBreak", "breaking_point_from_steps"]

RULE_GROWTH = "growth"
"""Closed-model rule of :func:`breaking_point_from_steps`: throughput stopped growing."""


@dataclass(frozen=True)
class StepBreak(JsonResult):
    """:class:`BreakingPoint` of a stepped run plus the levels around the break.

    ``point.offered_at_break`` and ``break_level`` are the lowest broken level (users in
    a closed model, req/s in an open one); ``point.last_good_step.offered_rps`` holds the
    level too. ``rules``: the rules the break step broke (``RULE_*`` of
    :mod:`~reports.analysis.breaking`, or :data:`RULE_GROWTH`); ``rule``: the first.
    ``judged``: every step by level, with its own verdict (the table's rows); ``p95_limit``:
    the limit they were judged by and where it came from.
    """

    point: BreakingPoint
    last_good_level: float | None
    break_level: float | None
    rule: str | None
    rules: tuple[str, ...] = ()
    judged: tuple[JudgedStep, ...] = ()
    p95_limit: P95Limit = P95Limit(None, "none")


def breaking_point_from_steps(
    steps: Sequence[StepStats],
    limits: BreakLimits,
    *,
    open_model: bool,
    min_growth_efficiency: float = 0.5,
) -> StepBreak:
    """The first broken step by level, and the capacity below it.

    Every step is judged by :func:`~reports.analysis.breaking.step_verdict` (stall,
    errors, p95; in an open model also achieved / offered < ``min_throughput_ratio``), the
    p95 limit being :func:`~reports.analysis.breaking.p95_limit`'s (the given one, else
    10x the lowest step's p95, at least 250 ms: the live search's rule).
    A closed model has no offered rate, so that rule is off and, instead, a step whose
    ``growth_efficiency`` (:func:`~reports.analysis.step_scaling.scalability`) is below
    ``min_growth_efficiency`` is broken: throughput grew less than half as fast as the users
    (0 is flat). Capacity and the no-break case follow :class:`BreakingPoint`: the best
    throughput of a good step below the break (None when the lowest step breaks), else the
    best seen (a lower bound).
    """
    ordered = sorted(steps, key=lambda s: s.level)
    limit = p95_limit(limits.max_p95_ms, ordered[0].p95_ms if ordered else None)
    judged_limits = dataclasses.replace(
        limits,
        max_p95_ms=limit.ms,
        min_throughput_ratio=limits.min_throughput_ratio if open_model else 0.0,
    )
    growth = [g.growth_efficiency for g in scalability(ordered)]  # same (stable) order
    measures, verdicts = [], []
    for step, efficiency in zip(ordered, growth, strict=True):
        measure = StepMeasure(
            offered_rps=step.level,
            achieved_rps=step.throughput_rps,
            error_ratio=step.error_ratio,
            p95_ms=step.p95_ms,
            answered=step.requests,
            duration_s=step.duration_s,
        )
        verdict = step_verdict(measure, judged_limits)
        rules, reasons = list(verdict.rules), [verdict.reason] if verdict.reason else []
        if not open_model and efficiency is not None and efficiency < min_growth_efficiency:
            rules.append(RULE_GROWTH)
            reasons.append(
                f"throughput grew with a growth efficiency of {efficiency:.2f} "
                f"(< {min_growth_efficiency:.2f}) from the level below"
            )
        measures.append(measure)
        verdicts.append((tuple(rules), "; ".join(reasons) or None))
    judged = tuple(
        mark_above_break(
            [
                JudgedStep(None, None, m, Verdict(bool(rules), reason, rules))
                for m, (rules, reason) in zip(measures, verdicts, strict=True)
            ]
        )
    )
    broken = [i for i, (rules, _) in enumerate(verdicts) if rules]
    if not broken:
        point = BreakingPoint(
            found=False,
            capacity_rps=max((m.achieved_rps for m in measures), default=None),
            offered_at_break=None,
            reason=None,
            last_good_step=measures[-1] if measures else None,
        )
        return StepBreak(
            point=point,
            last_good_level=ordered[-1].level if ordered else None,
            break_level=None,
            rule=None,
            judged=judged,
            p95_limit=limit,
        )
    at = broken[0]
    good = measures[:at]  # every step below the first broken one is good
    point = BreakingPoint(
        found=True,
        capacity_rps=max((m.achieved_rps for m in good), default=None),
        offered_at_break=ordered[at].level,
        reason=verdicts[at][1],
        last_good_step=good[-1] if good else None,
    )
    return StepBreak(
        point=point,
        last_good_level=ordered[at - 1].level if at else None,
        break_level=ordered[at].level,
        rule=verdicts[at][0][0],
        rules=verdicts[at][0],
        judged=judged,
        p95_limit=limit,
    )
