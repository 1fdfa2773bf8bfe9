"""The job pipeline's capacity: from a stepped job-arrival run, how many jobs/s it sustains.

Why: a job API accepts work at once (202) and does it later, so its HTTP latency says
nothing about whether it keeps up. What does is the queue: at an arrival rate the
workers can serve, the queue depth stays flat; above it, the backlog grows at
``arrival - service`` jobs/s and never recovers while the load lasts. A run of the
``job-capacity`` profile raises the job arrival rate in steps (open model) and then
stops submitting and keeps watching the queue (the drain). This module reads its
rows and answers, with the rules stated here:

- **growing** (the queue of a step is not stable): the least-squares slope of the queue
  depth over the step's settled rows (the first :attr:`JobCapacityRules.settle_fraction`
  of its rows, at least one, skipped) is significantly above zero (one-sided t-test,
  p < ``alpha``), and it is a backlog, not jitter: the slope is above
  ``min_growth_fraction`` of the step's arrival rate, and the fitted line rises over the
  window by at least ``min_rise_jobs`` and by ``rise_over_scatter`` times the depth's
  scatter around it (a queue of a few jobs that comes and goes is not a backlog, however
  the t-test reads it; it is seldom independent from row to row). A step with fewer than
  ``min_fit_rows`` depth readings is not judged (``growing`` None).
- **sustained**: the highest arrival rate of a stable step below the first growing one.
- **capacity** (the highest rate the pipeline sustains, measured): in a growing step the
  workers are saturated, so they finish ``arrival - slope`` jobs/s; the capacity is the
  median of that over the growing steps, kept within ``[sustained, lowest growing
  arrival rate]`` (a stable step proves at least its rate, a growing one at most its).
  None (``found`` false) when no step grew: the pipeline held every rate offered.
- **backlog growth**: the slope of the highest growing step, jobs/s.
- **drain**: from the stop of submissions (the end of the last row that submitted a job,
  when they were counted; else the start of the first drain row) to the end of the first
  row after it whose queue depth reads 0 (a row's reading is taken as of its end), so
  within one row interval; the backlog is the depth read at the stop; ``expected_s`` is
  that backlog over the capacity (what a pipeline working at its capacity would take).
- **WebSocket delivery** per step: the median over the settled rows of each row's own
  p50 and p95 of progress-message delivery latency (server ``sent_at`` to client
  receipt); an approximation, as for :class:`~reports.analysis.steps.StepStats`.

Arrays in (one value per timeseries row), frozen dataclasses out; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reports.analysis.steps import StepSpan, segment_steps
from reports.analysis.tables import JsonResult

__all__ = [
    "DRAIN_STAGE",
    "JobCapacity",
    "JobCapacityRules",
    "JobDrain",
    "JobStep",
    "job_capacity",
]

DRAIN_STAGE = "drain"
"""The stage name of the rows after submissions stopped (``scenarios.job_capacity``'s)."""


@dataclass(frozen=True)
class JobCapacityRules:
    """The rules of :func:`job_capacity` (see the module docstring)."""

    settle_fraction: float = 0.2
    """Share of a step's rows skipped at its start (at least one row is)."""
    min_step_rows: int = 3
    """Rows at one arrival rate that make a step."""
    min_fit_rows: int = 3
    """Depth readings a step needs to be judged."""
    alpha: float = 0.01
    """One-sided significance of a positive slope."""
    min_growth_fraction: float = 0.05
    """A slope at or below this share of the step's arrival rate is not growth."""
    min_rise_jobs: float = 2.0
    """The fitted line must rise by at least this many jobs over the window."""
    rise_over_scatter: float = 4.0
    """... and by this many times the standard deviation of the depth around it."""


@dataclass(frozen=True)
class JobStep(JsonResult):
    """One step of job arrivals. ``arrival_jobs_per_s``: the jobs accepted per second over
    the settled rows when that was counted, at most the offered rate (the timetable never
    sends more: a count above it is a short window's edges), else the offered rate.
    ``growth_jobs_per_s``:
    the queue depth's slope (jobs/s) and ``growth_stderr`` its standard error; ``p_value``:
    one-sided, of a positive slope; ``growing``: None when not judged."""

    offered_jobs_per_s: float
    arrival_jobs_per_s: float
    start_s: float
    end_s: float
    rows_used: int
    depth_start: float | None
    depth_end: float | None
    growth_jobs_per_s: float | None
    growth_stderr: float | None
    p_value: float | None
    growing: bool | None
    ws_p50_ms: float | None
    ws_p95_ms: float | None


@dataclass(frozen=True)
class JobDrain(JsonResult):
    """After submissions stopped at ``stop_s``: the backlog then, whether (and how fast) it
    reached 0 (``drain_s``, None if not within the watched ``watched_s``), the depth
    left at the end, and the drain a pipeline at its capacity would take."""

    stop_s: float
    backlog_jobs: float | None
    drained: bool
    drain_s: float | None
    watched_s: float
    depth_at_end: float | None
    expected_s: float | None


@dataclass(frozen=True)
class JobCapacity(JsonResult):
    """What the run says about the job pipeline (see the module docstring)."""

    steps: tuple[JobStep, ...]
    found: bool
    capacity_jobs_per_s: float | None
    sustained_jobs_per_s: float | None
    first_growing_jobs_per_s: float | None
    backlog_growth_jobs_per_s: float | None
    drain: JobDrain | None
    reason: str


def _fit(t: np.ndarray, depth: np.ndarray) -> tuple[float, float, float, float]:
    """(slope, its standard error, one-sided p of slope > 0, the residuals' standard
    deviation) of depth over t, OLS."""
    from scipy import stats  # imported when used: scipy costs time at import

    n = t.size
    tc = t - t.mean()
    sxx = float(np.dot(tc, tc))
    slope = float(np.dot(tc, depth - depth.mean()) / sxx)
    residuals = depth - depth.mean() - slope * tc
    dof = n - 2
    scatter = math.sqrt(float(np.dot(residuals, residuals)) / dof) if dof > 0 else math.inf
    stderr = scatter / math.sqrt(sxx)
    if stderr == 0.0:
        p = 0.0 if slope > 0 else 1.0
    elif math.isinf(stderr):
        p = 1.0
    else:
        p = float(stats.t.sf(slope / stderr, dof))
    return slope, stderr, p, scatter


def _median(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None


def _step(
    span: StepSpan,
    cols: dict[str, np.ndarray],
    submitted: np.ndarray | None,
    rules: JobCapacityRules,
) -> JobStep:
    rows = np.arange(span.first_row, span.last_row + 1)
    skip = max(1, math.ceil(rules.settle_fraction * rows.size))
    used = rows[skip:] if rows.size - skip >= rules.min_fit_rows else rows[-rules.min_fit_rows :]
    duration = float(cols["span"][used].sum())
    arrival = span.level
    if submitted is not None and duration > 0:
        accepted = submitted[used]
        if np.isfinite(accepted).all():
            arrival = min(arrival, float(accepted.sum()) / duration)
    depth = cols["depth"][used]
    has = np.isfinite(depth)
    slope = stderr = p = None
    growing: bool | None = None
    if int(has.sum()) >= rules.min_fit_rows:
        t = cols["elapsed"][used][has]
        slope, stderr, p, scatter = _fit(t, depth[has])
        rise = slope * float(t[-1] - t[0])
        growing = bool(
            p < rules.alpha
            and slope > rules.min_growth_fraction * arrival
            and rise >= max(rules.min_rise_jobs, rules.rise_over_scatter * scatter)
        )
    finite = depth[has]
    return JobStep(
        offered_jobs_per_s=span.level,
        arrival_jobs_per_s=arrival,
        start_s=span.start_s,
        end_s=span.end_s,
        rows_used=int(used.size),
        depth_start=float(finite[0]) if finite.size else None,
        depth_end=float(finite[-1]) if finite.size else None,
        growth_jobs_per_s=slope,
        growth_stderr=stderr,
        p_value=p,
        growing=growing,
        ws_p50_ms=_median(cols["ws_p50"][used]),
        ws_p95_ms=_median(cols["ws_p95"][used]),
    )


def _drain(
    elapsed: np.ndarray,
    span: np.ndarray,
    depth: np.ndarray,
    draining: np.ndarray,
    submitted: np.ndarray | None,
    capacity: float | None,
) -> JobDrain | None:
    """The drain (see the module docstring). A row's reading is taken as of its end; the
    stop is the end of the last row that submitted a job (the stage a row is labelled
    with may run a row ahead of the submissions), else the start of the first drain row."""
    drain_rows = np.flatnonzero(draining)
    if not drain_rows.size:
        return None
    stop_row = int(drain_rows[0]) - 1
    if submitted is not None:
        sent = np.flatnonzero(np.nan_to_num(submitted) > 0)
        stop_row = max(stop_row, int(sent[-1]) if sent.size else stop_row)
    end = elapsed + span
    stop = float(end[stop_row]) if stop_row >= 0 else float(elapsed[drain_rows[0]])
    before = depth[: stop_row + 1][np.isfinite(depth[: stop_row + 1])]
    backlog = float(before[-1]) if before.size else None
    after = np.arange(stop_row + 1, elapsed.size)
    after = after[draining[after]]
    watched = depth[after]
    empty = after[np.isfinite(watched) & (watched <= 0)]
    seen = watched[np.isfinite(watched)]
    drained = backlog == 0 or bool(empty.size)
    drain_s = 0.0 if backlog == 0 else float(end[empty[0]] - stop) if empty.size else None
    last = int(drain_rows[-1])
    return JobDrain(
        stop_s=stop,
        backlog_jobs=backlog,
        drained=drained,
        drain_s=drain_s,
        watched_s=float(end[last] - stop),
        depth_at_end=float(seen[-1]) if seen.size else None,
        expected_s=backlog / capacity if backlog is not None and capacity else None,
    )


def job_capacity(
    elapsed_s: np.ndarray,
    span_s: np.ndarray,
    offered: np.ndarray,
    queue_depth: np.ndarray,
    draining: np.ndarray,
    *,
    submitted: np.ndarray | None = None,
    ws_p50_ms: np.ndarray | None = None,
    ws_p95_ms: np.ndarray | None = None,
    rules: JobCapacityRules | None = None,
) -> JobCapacity:
    """The job pipeline's capacity from per-row arrays (see the module docstring).

    ``offered``: the job arrival rate the shape offered in each row (jobs/s; NaN or 0
    where none); ``queue_depth``: jobs waiting (NaN where not read); ``draining``: True
    for the rows after submissions stopped; ``submitted``: jobs accepted in each row
    (optional, gives the real arrival rate); ``ws_p50_ms``/``ws_p95_ms``: each row's
    progress-message delivery percentiles (optional). Raises ValueError when the arrays
    differ in length.
    """
    rules = rules or JobCapacityRules()
    elapsed = np.asarray(elapsed_s, dtype=float)
    n = elapsed.size
    nan = np.full(n, np.nan)

    def col(values: np.ndarray | None, name: str) -> np.ndarray:
        array = nan if values is None else np.asarray(values, dtype=float)
        if array.shape != (n,):
            raise ValueError(f"{name} has {array.size} values for {n} rows")
        return array

    drain_mask = np.asarray(draining, dtype=bool)
    if drain_mask.shape != (n,):
        raise ValueError(f"draining has {drain_mask.size} values for {n} rows")
    cols = {
        "elapsed": elapsed,
        "span": np.nan_to_num(col(span_s, "span_s"), nan=0.0),
        "depth": col(queue_depth, "queue_depth"),
        "ws_p50": col(ws_p50_ms, "ws_p50_ms"),
        "ws_p95": col(ws_p95_ms, "ws_p95_ms"),
    }
    sub = None if submitted is None else col(submitted, "submitted")
    load = np.where(drain_mask, np.nan, col(offered, "offered"))
    spans = segment_steps(elapsed, load, min_rows=rules.min_step_rows)
    steps = tuple(_step(s, cols, sub, rules) for s in spans)

    ordered = sorted(steps, key=lambda s: s.offered_jobs_per_s)
    growing = [s for s in ordered if s.growing]
    first_growing = growing[0].offered_jobs_per_s if growing else None
    stable = [
        s.arrival_jobs_per_s
        for s in ordered
        if s.growing is False and (first_growing is None or s.offered_jobs_per_s < first_growing)
    ]
    sustained = max(stable) if stable else None
    capacity = None
    if growing:
        served = np.array([s.arrival_jobs_per_s - (s.growth_jobs_per_s or 0.0) for s in growing])
        capacity = float(np.median(served))
        capacity = min(capacity, min(s.arrival_jobs_per_s for s in growing))
        capacity = max(capacity, sustained or 0.0)
    growth = growing[-1].growth_jobs_per_s if growing else None
    if not steps:
        reason = "no step of job arrivals long enough to judge"
    elif not any(s.growing is not None for s in steps):
        reason = "the queue depth was not read: nothing to judge"
    elif growing:
        reason = (
            f"the queue grew from {first_growing:g} jobs/s on: the workers finish about "
            f"{capacity:.2f} jobs/s"
        )
    else:
        reason = "the queue stayed stable at every rate offered: the capacity is higher"
    return JobCapacity(
        steps=steps,
        found=bool(growing),
        capacity_jobs_per_s=capacity,
        sustained_jobs_per_s=sustained,
        first_growing_jobs_per_s=first_growing,
        backlog_growth_jobs_per_s=growth,
        drain=_drain(elapsed, cols["span"], cols["depth"], drain_mask, sub, capacity),
        reason=reason,
    )
