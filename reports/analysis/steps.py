"""Stepped runs: cut the timeseries into steps of steady load and summarise each step.

Why: a stepped run (closed: N users per step; open: R req/s per step) answers "how
does the service scale, and where does it stop scaling". The timeseries has one
row per sampling interval; this module cuts it into steps (:func:`segment_steps`)
and summarises each step after it settles (:func:`aggregate_steps`). The steps are
compared in :mod:`~reports.analysis.step_scaling`, judged for the break in
:mod:`~reports.analysis.step_break` and checked against Little's law in
:mod:`~reports.analysis.littles_law`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reports.analysis.tables import JsonResult

__all__ = ["LEVEL_RTOL", "StepSpan", "StepStats", "aggregate_steps", "segment_steps"]

LEVEL_RTOL = 1e-6
"""Two rows are at the same load level when they differ by at most this, relatively."""
SETTLE_MIN_S = 5.0
SETTLE_FRACTION = 0.2
"""Default settling time of a step: the larger of ``SETTLE_MIN_S`` and this share of it."""
MIN_ROWS_USED = 3
"""Settling never leaves a step fewer rows than this (the last ones are kept)."""


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


def segment_steps(
    elapsed_s: np.ndarray,
    load: np.ndarray,
    *,
    min_rows: int = 5,
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
    same[1:] = (
        valid[1:] & valid[:-1] & np.isclose(levels[1:], levels[:-1], rtol=LEVEL_RTOL, atol=0.0)
    )
    starts = np.flatnonzero(valid & ~same)
    spans = []
    for first in starts:
        last = int(first)
        while last + 1 < levels.size and same[last + 1]:
            last += 1
        if last - first + 1 >= min_rows:
            spans.append(
                StepSpan(
                    level=float(levels[first]),
                    start_s=float(elapsed[first]),
                    end_s=float(elapsed[last]),
                    first_row=int(first),
                    last_row=last,
                )
            )
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


def aggregate_steps(
    spans: Sequence[StepSpan],
    elapsed_s: np.ndarray,
    span_s: np.ndarray,
    count: np.ndarray,
    failures: np.ndarray,
    p50_ms: np.ndarray,
    p95_ms: np.ndarray,
    p99_ms: np.ndarray,
    avg_ms: np.ndarray,
    settle_s: float | None = None,
    *,
    users: np.ndarray | None = None,
) -> list[StepStats]:
    """Summarise each span from per-row arrays (``span_s``: seconds each row covers).

    Settling: the rows that start within the first ``settle_s`` seconds of a step
    are skipped (default: the larger of 5 s and 20 % of the step's covered seconds),
    but at least the step's last 3 rows (or all, if it has fewer) are always kept.
    ``users`` (per-row users in flight, optional) gives ``concurrency`` as its mean over
    the rows used; without it, ``concurrency`` is the level (closed model).
    """
    size = np.asarray(elapsed_s).size
    arrays = (
        span_s,
        count,
        failures,
        p50_ms,
        p95_ms,
        p99_ms,
        avg_ms,
        *(() if users is None else (users,)),
    )
    if any(np.asarray(a).size != size for a in arrays):
        raise ValueError("every per-row array must have one value per row of elapsed_s")
    cols = {
        name: np.nan_to_num(np.asarray(a, dtype=float), nan=0.0)
        for name, a in (("span", span_s), ("count", count), ("failures", failures))
    }
    lat = {
        name: np.asarray(a, dtype=float)
        for name, a in (("p50", p50_ms), ("p95", p95_ms), ("p99", p99_ms), ("avg", avg_ms))
    }
    stats = []
    for span in spans:
        rows = np.arange(span.first_row, span.last_row + 1)
        covered = cols["span"][rows]
        before = np.cumsum(covered) - covered  # seconds of the step before each row starts
        settle = (
            max(SETTLE_MIN_S, SETTLE_FRACTION * float(covered.sum()))
            if settle_s is None
            else settle_s
        )
        used = rows[before >= settle]
        if used.size < MIN_ROWS_USED:
            used = rows[-min(MIN_ROWS_USED, rows.size) :]
        n = cols["count"][used]
        requests, failed = float(n.sum()), float(cols["failures"][used].sum())
        duration = float(cols["span"][used].sum())
        avg = lat["avg"][used]
        has_avg = np.isfinite(avg) & (n > 0)
        concurrency: float | None = span.level
        if users is not None:
            in_flight = np.asarray(users, dtype=float)[used]
            concurrency = float(np.nanmean(in_flight)) if np.isfinite(in_flight).any() else None
        stats.append(
            StepStats(
                level=span.level,
                start_s=span.start_s,
                end_s=span.end_s,
                settle_s=float(settle),
                rows_used=int(used.size),
                duration_s=duration,
                requests=int(round(requests)),
                failures=int(round(failed)),
                throughput_rps=(requests - failed) / duration if duration > 0 else 0.0,
                answered_rps=requests / duration if duration > 0 else 0.0,
                error_ratio=failed / requests if requests > 0 else 0.0,
                mean_ms=float(np.dot(avg[has_avg], n[has_avg]) / n[has_avg].sum())
                if has_avg.any()
                else None,
                p50_ms=_weighted_median(lat["p50"][used], n),
                p95_ms=_weighted_median(lat["p95"][used], n),
                p99_ms=_weighted_median(lat["p99"][used], n),
                concurrency=concurrency,
            )
        )
    return stats
