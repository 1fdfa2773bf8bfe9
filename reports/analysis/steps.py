"""Stepped runs: find the steps of steady load, summarise them, judge where they break.

Why: a stepped run (closed: N users per step; open: R req/s per step) answers "how
does the service scale, and where does it stop scaling". The timeseries has one
row per sampling interval; this module cuts it into steps (:func:`segment_steps`),
summarises each step after it settles (:func:`aggregate_steps`), compares the steps
(:func:`scalability`), finds the break with the rules shared with the live search
(:func:`breaking_point_from_steps`, via :func:`~reports.analysis.breaking.step_verdict`)
and checks the measurements against Little's law (:func:`littles_law`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reports.analysis.breaking import BreakingPoint, BreakLimits, StepMeasure, step_verdict
from reports.analysis.tables import JsonResult

__all__ = [
    "LEVEL_RTOL", "RULE_GROWTH", "LittleCheck", "StepBreak", "StepScaling", "StepSpan",
    "StepStats", "aggregate_steps", "breaking_point_from_steps", "littles_law",
    "littles_law_steps", "scalability", "segment_steps",
]

LEVEL_RTOL = 1e-6
"""Two rows are at the same load level when they differ by at most this, relatively."""
SETTLE_MIN_S = 5.0
SETTLE_FRACTION = 0.2
"""Default settling time of a step: the larger of ``SETTLE_MIN_S`` and this share of it."""
MIN_ROWS_USED = 3
"""Settling never leaves a step fewer rows than this (the last ones are kept)."""
RULE_GROWTH = "growth"
"""Closed-model rule of :func:`breaking_point_from_steps`: throughput stopped growing."""


@dataclass(frozen=True)
class StepSpan(JsonResult):
    """Rows ``first_row`` to ``last_row``, BOTH INCLUSIVE, at one load ``level``.

    ``start_s``/``end_s`` are the elapsed times of those two rows.
    """

    level: float
    start_s: float
    end_s: float
    first_row: int
    last_row: int

    @property
    def rows(self) -> slice:
        """The span's rows as a slice of the per-row arrays."""
        return slice(self.first_row, self.last_row + 1)


def segment_steps(elapsed_s: np.ndarray, load: np.ndarray, *, min_rows: int = 5,
                  ) -> list[StepSpan]:
    """Maximal runs of consecutive rows at the same load level, in row order.

    A row joins the run of the previous row when both levels are equal within
    ``LEVEL_RTOL`` (relative). Rows with an unknown (NaN) or non-positive level belong
    to no step; runs shorter than ``min_rows`` rows (ramps, blips) are dropped.
    """
    elapsed = np.asarray(elapsed_s, dtype=float)
    levels = np.asarray(load, dtype=float)
    if elapsed.shape != levels.shape:
        raise ValueError(f"elapsed and load differ in length: {elapsed.size} != {levels.size}")
    valid = np.isfinite(levels) & (levels > 0)
    same = np.zeros(levels.size, dtype=bool)
    same[1:] = valid[1:] & valid[:-1] & np.isclose(levels[1:], levels[:-1],
                                                   rtol=LEVEL_RTOL, atol=0.0)
    starts = np.flatnonzero(valid & ~same)
    spans = []
    for first in starts:
        last = int(first)
        while last + 1 < levels.size and same[last + 1]:
            last += 1
        if last - first + 1 >= min_rows:
            spans.append(StepSpan(level=float(levels[first]), start_s=float(elapsed[first]),
                                  end_s=float(elapsed[last]), first_row=int(first),
                                  last_row=last))
    return spans


@dataclass(frozen=True)
class StepStats(JsonResult):
    """One step after settling.

    ``throughput_rps``: successful responses per second; ``answered_rps``: all
    responses (failures too) per second; ``error_ratio``: failures / requests;
    ``mean_ms``: exact, ``sum(avg * count) / sum(count)``; ``p50_ms``/``p95_ms``/
    ``p99_ms``: the count-weighted median of the rows' own percentiles, an
    APPROXIMATION (per-row histograms are not stored, so the step's true percentile
    cannot be rebuilt); ``concurrency``: users in flight (the level in a closed model).
    """

    level: float
    start_s: float
    end_s: float
    settle_s: float
    rows_used: int
    duration_s: float
    requests: int
    failures: int
    throughput_rps: float
    answered_rps: float
    error_ratio: float
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    concurrency: float | None


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float | None:
    keep = np.isfinite(values) & (weights > 0)
    if not keep.any():
        return None
    order = np.argsort(values[keep], kind="stable")
    v, w = values[keep][order], weights[keep][order]
    cumulative = np.cumsum(w)
    return float(v[np.searchsorted(cumulative, cumulative[-1] / 2, side="left")])


def aggregate_steps(spans: Sequence[StepSpan], elapsed_s: np.ndarray, span_s: np.ndarray,
                    count: np.ndarray, failures: np.ndarray, p50_ms: np.ndarray,
                    p95_ms: np.ndarray, p99_ms: np.ndarray, avg_ms: np.ndarray,
                    settle_s: float | None = None, *, users: np.ndarray | None = None,
                    ) -> list[StepStats]:
    """Summarise each span from per-row arrays (``span_s``: seconds each row covers).

    Settling: the rows that start within the first ``settle_s`` seconds of a step
    are skipped (default: the larger of 5 s and 20 % of the step's covered seconds),
    but at least the step's last 3 rows (or all, if it has fewer) are always kept.
    ``users`` (per-row users in flight, optional) gives ``concurrency`` as its mean over
    the rows used; without it, ``concurrency`` is the level (closed model).
    """
    size = np.asarray(elapsed_s).size
    arrays = (span_s, count, failures, p50_ms, p95_ms, p99_ms, avg_ms,
              *(() if users is None else (users,)))
    if any(np.asarray(a).size != size for a in arrays):
        raise ValueError("every per-row array must have one value per row of elapsed_s")
    cols = {name: np.nan_to_num(np.asarray(a, dtype=float), nan=0.0)
            for name, a in (("span", span_s), ("count", count), ("failures", failures))}
    lat = {name: np.asarray(a, dtype=float)
           for name, a in (("p50", p50_ms), ("p95", p95_ms), ("p99", p99_ms), ("avg", avg_ms))}
    stats = []
    for span in spans:
        rows = np.arange(span.first_row, span.last_row + 1)
        covered = cols["span"][rows]
        before = np.cumsum(covered) - covered  # seconds of the step before each row starts
        settle = (max(SETTLE_MIN_S, SETTLE_FRACTION * float(covered.sum()))
                  if settle_s is None else settle_s)
        used = rows[before >= settle]
        if used.size < MIN_ROWS_USED:
            used = rows[-min(MIN_ROWS_USED, rows.size):]
        n = cols["count"][used]
        requests, failed = float(n.sum()), float(cols["failures"][used].sum())
        duration = float(cols["span"][used].sum())
        avg = lat["avg"][used]
        has_avg = np.isfinite(avg) & (n > 0)
        concurrency: float | None = span.level
        if users is not None:
            in_flight = np.asarray(users, dtype=float)[used]
            concurrency = float(np.nanmean(in_flight)) if np.isfinite(in_flight).any() else None
        stats.append(StepStats(
            level=span.level, start_s=span.start_s, end_s=span.end_s,
            settle_s=float(settle), rows_used=int(used.size), duration_s=duration,
            requests=int(round(requests)), failures=int(round(failed)),
            throughput_rps=(requests - failed) / duration if duration > 0 else 0.0,
            answered_rps=requests / duration if duration > 0 else 0.0,
            error_ratio=failed / requests if requests > 0 else 0.0,
            mean_ms=float(np.dot(avg[has_avg], n[has_avg]) / n[has_avg].sum())
            if has_avg.any() else None,
            p50_ms=_weighted_median(lat["p50"][used], n),
            p95_ms=_weighted_median(lat["p95"][used], n),
            p99_ms=_weighted_median(lat["p99"][used], n),
            concurrency=concurrency))
    return stats


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


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


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
            growth = (None if x_ratio is None or n_ratio is None
                      else _div(x_ratio - 1.0, n_ratio - 1.0))
        rows.append(StepScaling(
            level=step.level, throughput_rps=step.throughput_rps,
            efficiency=_div(_div(step.throughput_rps, step.level), per_unit_1),
            growth_efficiency=growth, degradation=_div(step.p95_ms, first.p95_ms),
            mean_degradation=_div(step.mean_ms, first.mean_ms)))
    return rows


@dataclass(frozen=True)
class StepBreak(JsonResult):
    """:class:`BreakingPoint` of a stepped run plus the levels around the break.

    ``point.offered_at_break`` and ``break_level`` are the lowest broken level (users in
    a closed model, req/s in an open one); ``point.last_good_step.offered_rps`` holds the
    level too. ``rules``: the rules the break step broke (``RULE_*`` of
    :mod:`~reports.analysis.breaking`, or :data:`RULE_GROWTH`); ``rule``: the first.
    """

    point: BreakingPoint
    last_good_level: float | None
    break_level: float | None
    rule: str | None
    rules: tuple[str, ...] = ()


def breaking_point_from_steps(steps: Sequence[StepStats], limits: BreakLimits, *,
                              open_model: bool, min_growth_efficiency: float = 0.5,
                              ) -> StepBreak:
    """The first broken step by level, and the capacity below it.

    Every step is judged by :func:`~reports.analysis.breaking.step_verdict` (stall,
    errors, p95; in an open model also achieved / offered < ``min_throughput_ratio``).
    A closed model has no offered rate, so that rule is off and, instead, a step whose
    ``growth_efficiency`` (:func:`scalability`) is below ``min_growth_efficiency`` is
    broken: throughput grew less than half as fast as the users (0 is flat). Capacity and the
    no-break case follow :class:`BreakingPoint`: the best throughput of a good step
    below the break (None when the lowest step breaks), else the best seen (a lower bound).
    """
    ordered = sorted(steps, key=lambda s: s.level)
    judged_limits = limits if open_model else dataclasses.replace(limits,
                                                                  min_throughput_ratio=0.0)
    growth = [g.growth_efficiency for g in scalability(ordered)]  # same (stable) order
    measures, verdicts = [], []
    for step, efficiency in zip(ordered, growth, strict=True):
        measure = StepMeasure(offered_rps=step.level, achieved_rps=step.throughput_rps,
                              error_ratio=step.error_ratio, p95_ms=step.p95_ms,
                              answered=step.requests, duration_s=step.duration_s)
        verdict = step_verdict(measure, judged_limits)
        rules, reasons = list(verdict.rules), [verdict.reason] if verdict.reason else []
        if not open_model and efficiency is not None and efficiency < min_growth_efficiency:
            rules.append(RULE_GROWTH)
            reasons.append(f"throughput grew with a growth efficiency of {efficiency:.2f} "
                           f"(< {min_growth_efficiency:.2f}) from the level below")
        measures.append(measure)
        verdicts.append((tuple(rules), "; ".join(reasons) or None))
    broken = [i for i, (rules, _) in enumerate(verdicts) if rules]
    if not broken:
        point = BreakingPoint(found=False,
                              capacity_rps=max((m.achieved_rps for m in measures), default=None),
                              offered_at_break=None, reason=None,
                              last_good_step=measures[-1] if measures else None)
        return StepBreak(point=point, last_good_level=ordered[-1].level if ordered else None,
                         break_level=None, rule=None)
    at = broken[0]
    good = measures[:at]  # every step below the first broken one is good
    point = BreakingPoint(found=True,
                          capacity_rps=max((m.achieved_rps for m in good), default=None),
                          offered_at_break=ordered[at].level, reason=verdicts[at][1],
                          last_good_step=good[-1] if good else None)
    return StepBreak(point=point, last_good_level=ordered[at - 1].level if at else None,
                     break_level=ordered[at].level, rule=verdicts[at][0][0],
                     rules=verdicts[at][0])


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


def littles_law(throughput_rps: float, mean_latency_ms: float | None,
                concurrency: float | None, *, think_time_ms: float = 0.0,
                tolerance: float = 0.25) -> LittleCheck:
    """Check that ``concurrency`` users are explained by throughput x time per request."""
    def check(expected: float | None, ratio: float | None, ok: bool, note: str) -> LittleCheck:
        return LittleCheck(throughput_rps=float(throughput_rps),
                           mean_latency_ms=_float(mean_latency_ms),
                           think_time_ms=float(think_time_ms), concurrency=_float(concurrency),
                           expected_concurrency=expected, ratio=ratio, consistent=ok, note=note)

    if mean_latency_ms is None or concurrency is None or not math.isfinite(mean_latency_ms):
        return check(None, None, False, "no latency or concurrency measured: nothing to check")
    expected = throughput_rps * (mean_latency_ms + think_time_ms) / 1000.0
    if expected <= 0:
        if concurrency <= 0:
            return check(0.0, None, True, "no load and no throughput: consistent")
        return check(0.0, None, False, f"observed {concurrency:g} users but no throughput: "
                                       "the users are idle or every request is stuck")
    ratio = concurrency / expected
    said = (f"observed {concurrency:g} users, throughput x (latency + think time) "
            f"accounts for {expected:.1f}")
    if abs(ratio - 1) <= tolerance:
        return check(expected, ratio, True, f"{said}: consistent (ratio {ratio:.2f})")
    if ratio > 1:
        return check(expected, ratio, False, f"{said} (ratio {ratio:.2f}): users wait outside "
                     "requests (think time or pacing not counted) or the load generator is the "
                     "bottleneck (users cannot send as fast as the service answers)")
    return check(expected, ratio, False, f"{said} (ratio {ratio:.2f}): more requests in flight "
                 "than users, so users send concurrent requests, or throughput and latency "
                 "were measured over different windows")


def littles_law_steps(steps: Sequence[StepStats], think_time_ms: float = 0.0, *,
                      tolerance: float = 0.25) -> list[LittleCheck]:
    """:func:`littles_law` for each step (answered requests per second, mean latency).

    In an open model, give :func:`aggregate_steps` the ``users`` array: otherwise a step's
    concurrency is its offered rate and the check means nothing.
    """
    return [littles_law(s.answered_rps, s.mean_ms, s.concurrency, think_time_ms=think_time_ms,
                        tolerance=tolerance) for s in steps]
