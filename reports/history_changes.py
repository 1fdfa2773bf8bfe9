"""Change points in a run history, and the gate's verdict on the newest run (pure).

A metric's history is one value per run, oldest first. :func:`change_points` finds
where its level shifts, with ``ruptures`` (``KernelCPD``, linear kernel: PELT with the
least-squares cost, in C) on a normalised
series: the log of the values (a step is relative), divided by the series' own noise
(robust: the median absolute first difference), isolated outliers first replaced by
their neighbours' median (one bad build is not a change), at a penalty of
:data:`PENALTY_PER_LOG_N` x log n. Each change point carries its size (the relative
change of the segments' medians) and confidence (1 - the Mann-Whitney p-value of the
two segments).

:func:`judge` is the gate: the newest run *continues* a regression when the history's
last segment is worse than the one before it by more than the limit; it *starts* one
when it alone is worse than its own segment by more than the limit and beyond
:data:`START_SIGMAS` x the segment's noise. Otherwise it passes. Fewer than
:data:`MIN_RUNS` runs: too little history, never gated.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import partial

import numpy as np
import ruptures as rpt
from scipy.stats import mannwhitneyu

__all__ = [
    "HIGHER_IS_WORSE",
    "MIN_RUNS",
    "ChangePoint",
    "Verdict",
    "change_points",
    "judge",
]

PENALTY_PER_LOG_N = 4.0
"""PELT's penalty per change point, in units of log n (BIC is 2 for a mean shift; the
higher one keeps noise-only histories of 60 runs free of change points in >= 19 of 20)."""
MIN_SEGMENT = 3
"""Runs in the shortest segment: a change point needs three runs on its new level."""
OUTLIER_SIGMAS = 5.0
"""A run this many noise units from its neighbours' median (two on each side) is an
outlier: replaced by that median before the search."""
START_SIGMAS = 4.0
"""The newest run starts a regression only this many noise units beyond its segment."""
MIN_CONFIDENCE = 0.95
"""A change point is kept only when its two segments differ at this confidence (the
weakest is dropped and its segments merged until every one does)."""
MIN_RUNS = 5
"""Fewer runs of a metric than this: too little history to judge."""
MAX_RUNS = 2000
"""Only the newest this many runs are searched (the gate needs the recent level; the
search is quadratic at worst)."""
FLOORS = {"p50_ms": 0.5, "p95_ms": 0.5, "p99_ms": 0.5, "error_ratio": 0.001}
"""Absolute changes below these never regress (ms; a tenth of a percentage point)."""
HIGHER_IS_WORSE = {
    "p50_ms": True,
    "p95_ms": True,
    "p99_ms": True,
    "rps": False,
    "error_ratio": True,
    "capacity_rps": False,
    "leak_kb_per_request": True,
}
EPS = 1e-12


@dataclass(frozen=True)
class ChangePoint:
    """The first run of a new level: ``index`` into the series, the segments' medians,
    ``change`` (relative, after / before - 1) and ``confidence`` (0..1)."""

    index: int
    before: float
    after: float
    change: float
    confidence: float


@dataclass(frozen=True)
class Verdict:
    """The gate's answer for one metric: ``regressed`` and why, in words."""

    metric: str
    runs: int
    newest: float | None
    baseline: float | None
    change: float | None
    regressed: bool
    judged: bool
    reason: str
    change_point: ChangePoint | None = None


def _noise(x: np.ndarray) -> float:
    """Robust standard deviation of the noise: the median absolute first difference,
    scaled to a normal's sigma (a step moves one difference only)."""
    if x.size < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(np.diff(x))) / math.sqrt(2.0))


def _transform(values: np.ndarray) -> np.ndarray:
    """Log of positive series (steps are relative); the values as they are otherwise."""
    return np.log(values) if bool(np.all(values > 0)) else values.astype(float)


def _clean(x: np.ndarray, sigma: float) -> np.ndarray:
    """Isolated outliers replaced by their neighbours' median: a run further than
    :data:`OUTLIER_SIGMAS` from the median of the two runs before it AND from the two
    after it (the newest run: from those before it). The first run of a new level is
    near the runs after it, so a step is left alone. Vectorised: one pass of numpy."""
    n = x.size
    padded = np.concatenate([np.full(2, np.nan), x, np.full(2, np.nan)])
    near = np.stack([padded[k : k + n] for k in (0, 1, 3, 4)], axis=1)  # i-2, i-1, i+1, i+2
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN sides: no median
        left, right = np.nanmedian(near[:, :2], axis=1), np.nanmedian(near[:, 2:], axis=1)
        both = np.nanmedian(near, axis=1)
    far = OUTLIER_SIGMAS * sigma
    off_left = np.isnan(left) | (np.abs(x - left) > far)
    off_right = np.isnan(right) | (np.abs(x - right) > far)
    outlier = off_left & off_right & ~(np.isnan(left) & np.isnan(right))
    return np.where(outlier, both, x)


def change_points(values: np.ndarray | list[float]) -> list[ChangePoint]:
    """Where the series' level shifts (see the module docstring), oldest first."""
    raw = np.asarray(values, dtype=float)[-MAX_RUNS:]
    offset = max(0, len(values) - MAX_RUNS)
    raw = raw[np.isfinite(raw)] if raw.size else raw
    if raw.size < 2 * MIN_SEGMENT:
        return []
    x = _transform(raw)
    sigma = _noise(x)
    if sigma <= EPS:
        sigma = max(float(np.std(x)), EPS) if np.std(x) > EPS else 1.0
    z = _clean(x, sigma) / sigma
    algo = rpt.KernelCPD(kernel="linear", min_size=MIN_SEGMENT, jump=1).fit(z.reshape(-1, 1))
    ends = algo.predict(pen=PENALTY_PER_LOG_N * math.log(raw.size))
    bounds = [0, *(int(e) for e in ends)]
    while True:
        points = _described(raw, bounds, offset)
        weakest = min(range(len(points)), key=lambda k: points[k].confidence, default=None)
        if weakest is None or points[weakest].confidence >= MIN_CONFIDENCE:
            return points
        del bounds[weakest + 1]


def _described(raw: np.ndarray, bounds: list[int], offset: int) -> list[ChangePoint]:
    """The change points between the segments ``bounds`` delimit (the last is the end)."""
    out: list[ChangePoint] = []
    for k in range(1, len(bounds) - 1):
        left, right = raw[bounds[k - 1] : bounds[k]], raw[bounds[k] : bounds[k + 1]]
        before, after = float(np.median(left)), float(np.median(right))
        p = float(mannwhitneyu(left, right, alternative="two-sided").pvalue)
        change = after / before - 1 if abs(before) > EPS else math.inf
        out.append(ChangePoint(offset + bounds[k], before, after, change, 1.0 - p))
    return out


def _worse(metric: str, base: float, value: float, limit: float) -> tuple[bool, float | None]:
    """Is ``value`` worse than ``base`` past the limit (and the metric's floor)? And the
    relative change (None from a zero base)."""
    change = value / base - 1 if abs(base) > EPS else None
    delta = value - base if HIGHER_IS_WORSE.get(metric, True) else base - value
    if delta < FLOORS.get(metric, 0.0) - EPS:
        return False, change
    if change is None:
        return delta > EPS, None
    return (change > limit + EPS) if HIGHER_IS_WORSE.get(metric, True) else (
        change < -limit - EPS
    ), change


def judge(metric: str, values: np.ndarray | list[float], limit: float) -> Verdict:
    """The gate's verdict on the newest run of ``values`` (oldest first; NaN: no value)."""
    series = np.asarray(values, dtype=float)
    series = series[np.isfinite(series)]
    n = int(series.size)
    newest = float(series[-1]) if n else None
    if n < MIN_RUNS:
        return Verdict(
            metric,
            n,
            newest,
            None,
            None,
            False,
            False,
            f"too little history ({n} runs, {MIN_RUNS} needed)",
        )
    assert newest is not None
    verdict = partial(Verdict, metric, n, newest)
    points = change_points(series)
    last = points[-1] if points else None
    start = last.index if last is not None else 0
    if last is not None:
        before = series[max(0, (points[-2].index if len(points) > 1 else 0)) : start]
        base, current = float(np.median(before)), float(np.median(series[start:]))
        worse, change = _worse(metric, base, current, limit)
        if worse:
            why = f"regression since run {start + 1} of {n} (continues)"
            return verdict(base, change, True, True, why, last)
    segment = series[start:-1]
    if segment.size < MIN_SEGMENT:
        base = float(np.median(series[:-1]))
        change = _worse(metric, base, newest, limit)[1]
        return verdict(base, change, False, True, "a new level began too recently to judge", last)
    base = float(np.median(segment))
    x = _transform(series[start:])
    worse, change = _worse(metric, base, newest, limit)
    beyond = abs(x[-1] - float(np.median(x[:-1]))) > START_SIGMAS * max(_noise(x[:-1]), EPS)
    if worse and beyond:
        return verdict(base, change, True, True, "the newest run starts a regression", last)
    return verdict(base, change, False, True, "within the last stable segment", last)
