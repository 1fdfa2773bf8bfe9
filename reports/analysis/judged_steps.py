"""The breakpoint table's rows: every step a verdict was drawn from, judged by the headline's rules.

The headline of a breakpoint run (the live search's :func:`~reports.analysis.breaking.
find_breaking_point`) and of a stepped run (:func:`~reports.analysis.step_break.
breaking_point_from_steps`) judge steps with :func:`~reports.analysis.breaking.step_verdict`;
the rows here are judged by the same function with the same limits, so a row never says
*good* at a load the headline calls broken. :func:`judge_search_steps` rebuilds the rows of
a search from its summary (plain data, as ``summary.json`` keeps it), re-measurements
included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reports.analysis.breaking import BreakLimits, StepMeasure, Verdict, step_verdict
from reports.analysis.tables import JsonResult

__all__ = ["NOTE_ABOVE_BREAK", "NOTE_REMEASURED", "JudgedStep", "judge_search_steps"]

NOTE_REMEASURED = (
    "a doubtful break (p95 alone, or any break while growing), measured again at the same "
    "rate: only the repeat counts"
)
"""Why a search step is shown but not counted."""
NOTE_ABOVE_BREAK = "passes every rule, but lies above the lowest broken load: not counted"
"""A good step above the break: the capacity is taken below the break only."""
MEASURE_FIELDS = tuple(StepMeasure.__dataclass_fields__)


@dataclass(frozen=True)
class JudgedStep(JsonResult):
    """One row: the step's ``measure`` (``offered_rps`` is its load level), its ``verdict``
    (``rules`` broken, ``reason``), ``number``/``phase`` (search steps; None otherwise),
    ``counted`` (False for a first measure that was measured again) and a ``note``."""

    number: int | None
    phase: str | None
    measure: StepMeasure
    verdict: Verdict
    counted: bool = True
    note: str | None = None

    @property
    def level(self) -> float:
        """The step's load: offered req/s (open model) or users (closed model)."""
        return self.measure.offered_rps


def _measure(step: Mapping[str, Any]) -> StepMeasure:
    return StepMeasure(**{k: step[k] for k in MEASURE_FIELDS if k in step})


def mark_above_break(rows: Sequence[JudgedStep]) -> list[JudgedStep]:
    """Rows in the same order, a good counted row above the lowest broken counted level noted
    :data:`NOTE_ABOVE_BREAK` (capacity is only ever taken below the break)."""
    broken = [r.level for r in rows if r.counted and r.verdict.broken]
    lowest = min(broken, default=None)
    return [
        JudgedStep(r.number, r.phase, r.measure, r.verdict, r.counted, NOTE_ABOVE_BREAK)
        if lowest is not None
        and r.counted
        and not r.verdict.broken
        and r.level > lowest
        and r.note is None
        else r
        for r in rows
    ]


def judge_search_steps(
    steps: Sequence[Mapping[str, Any]],
    retried: Sequence[Mapping[str, Any]],
    limits: BreakLimits,
) -> list[JudgedStep]:
    """The search's steps (``summary()["steps"]``) and its first measures of doubtful breaks
    (``["retried"]``), each judged by :func:`step_verdict` under ``limits`` (the search's
    final limits: its p95 limit included), in the order measured: a retried step just
    before its repeat (same number), marked not counted."""
    rows = [
        JudgedStep(
            int(s.get("number") or 0),
            s.get("phase"),
            m := _measure(s),
            step_verdict(m, limits),
            counted=False,
            note=NOTE_REMEASURED,
        )
        for s in retried
    ] + [
        JudgedStep(
            int(s.get("number") or 0), s.get("phase"), m := _measure(s), step_verdict(m, limits)
        )
        for s in steps
    ]
    rows.sort(key=lambda r: (r.number or 0, r.counted))  # the retry, then its repeat
    return mark_above_break(rows)
