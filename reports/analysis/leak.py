"""Does the target leak memory? RSS against requests served, judged by stated rules.

Why against requests: a leak is memory kept per unit of work, so RSS should be flat
against cumulative requests once caches and pools have warmed up, whatever the
load's shape; time is reported too (MB/hour), which is what an operator plans with.

Method (:func:`analyse_leak`):

1. drop rows with a missing (NaN) RSS, elapsed time or request count;
2. keep the steady load (when the load per row is given): the longest stretch of rows at
   one load level (the latest on a tie), since memory that follows a load that changes
   (ramps, steps, a breakpoint search) says nothing about a leak; and skip the run's
   warm-up: its first ``warmup_s`` seconds (default: 10 % of the run, at least 10 s and
   at most 300 s: :class:`LeakRules`), when caches fill up;
3. subsample evenly to at most ``max_points`` rows (Theil-Sen is O(n^2); a day of
   1 s rows then takes well under a second);
4. robust Theil-Sen slopes (:func:`scipy.stats.theilslopes`, 95 % CI) of RSS against
   cumulative requests (KB/request, 1 KB = 1024 bytes) and against time (MB/hour,
   1 MB = 1024 * 1024 bytes): a garbage collection spike moves them little;
5. r2 of the least-squares line of RSS against requests, on the same points: how
   much of the RSS variation the growth explains;
6. the same slope over the window's earlier and later halves (by time): memory that grew
   while the load ramped up and then levelled off, or whose growth per request slowed
   (caches and pools filling: a warm-up, longest on a mixed workload whose load changes
   step by step), is not a leak; a leak keeps growing at its rate per request;
7. the verdict by the rules of :class:`LeakRules`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reports.analysis.steps import segment_steps
from reports.analysis.tables import JsonResult

__all__ = ["KB", "MB", "VERDICTS", "LeakAnalysis", "LeakRules", "analyse_leak", "steady_stretch"]

KB = 1024
MB = 1024 * 1024
VERDICTS = ("unknown", "none", "suspected", "leak")
CONFIDENCE = 0.95


@dataclass(frozen=True)
class LeakRules:
    """The rules of the verdict, checked in this order.

    - ``"unknown"``: not enough data after the warm-up: fewer than ``min_points``
      points, a window shorter than ``min_window_s``, or fewer than ``min_requests``
      requests in it;
    - ``"leak"``: the lower bound of the KB/request slope's 95 % CI is above 0, r2 >=
      ``leak_min_r2``, and the fitted growth over the window is at least
      ``max(leak_min_growth_mb, leak_min_growth_share * RSS at the window's start)``;
    - ``"suspected"``: CI lower bound above 0 and fitted growth >=
      ``max(suspect_min_growth_mb, suspect_min_growth_share * RSS at the window's start)``
      (half the leak floor: a process's caches and allocator move a percent or two of it
      on their own), but not every "leak" rule holds;
    - ``"none"``: otherwise, and also when the growth does not persist: the slope over
      the later half of the window (by time) has a 95 % CI reaching 0 or below (the
      growth stopped), or is under ``persist_min_ratio`` of the earlier half's slope (the
      growth is levelling off: caches and pools warming up, or memory that follows a load
      that changed), so it is not a leak.
    """

    min_points: int = 30
    min_window_s: float = 60.0
    min_requests: int = 1000
    leak_min_r2: float = 0.6
    leak_min_growth_mb: float = 8.0
    leak_min_growth_share: float = 0.05
    suspect_min_growth_mb: float = 2.0
    suspect_min_growth_share: float = 0.025
    persist_min_ratio: float = 0.5
    warmup_share: float = 0.10
    warmup_min_s: float = 10.0
    warmup_max_s: float = 300.0

    def warmup(self, run_s: float) -> float:
        """Default warm-up of a run lasting ``run_s`` seconds."""
        return min(self.warmup_max_s, max(self.warmup_min_s, self.warmup_share * run_s))


@dataclass(frozen=True)
class LeakAnalysis(JsonResult):
    """The analysis of one run; slopes and fit None when they could not be computed.

    The Theil-Sen line ``rss_bytes = intercept_bytes + slope_kb_per_request * 1024 *
    requests`` is :meth:`fitted_rss_bytes`; ``growth_mb`` is its rise over the window and
    ``start_rss_mb`` its value at the window's start (robust to a spike there).
    ``points``: rows analysed after the warm-up, before subsampling.
    """

    verdict: str
    reason: str
    slope_kb_per_request: float | None
    slope_kb_per_request_ci_low: float | None
    slope_kb_per_request_ci_high: float | None
    slope_mb_per_hour: float | None
    slope_mb_per_hour_ci_low: float | None
    slope_mb_per_hour_ci_high: float | None
    r2: float | None
    growth_mb: float | None
    start_rss_mb: float | None
    intercept_bytes: float | None
    points: int
    window_start_s: float | None
    window_end_s: float | None
    requests_in_window: int

    def fitted_rss_bytes(self, requests: np.ndarray | float) -> np.ndarray:
        """RSS on the fitted line at cumulative ``requests`` (NaN without a fit)."""
        r = np.asarray(requests, dtype=float)
        if self.intercept_bytes is None or self.slope_kb_per_request is None:
            return np.full_like(r, np.nan)
        return self.intercept_bytes + self.slope_kb_per_request * KB * r


def _slope(y: np.ndarray, x: np.ndarray) -> tuple[float, float, float, float] | None:
    """Theil-Sen (slope, intercept, CI low, CI high); None when x does not vary."""
    if x.size < 2 or np.ptp(x) == 0:
        return None
    # Imported here: scipy costs about 0.5 s, and load generators only need it at a run's end.
    from scipy.stats import theilslopes

    result = theilslopes(y, x, alpha=CONFIDENCE)
    return (
        float(result.slope),
        float(result.intercept),
        float(result.low_slope),
        float(result.high_slope),
    )


def _r2(y: np.ndarray, x: np.ndarray) -> float | None:
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    ss_res = float(np.sum((y - (intercept + slope * x)) ** 2))
    return 1.0 - ss_res / float(np.sum((y - y.mean()) ** 2))


def _halves(
    t: np.ndarray,
    req: np.ndarray,
    rss: np.ndarray,
) -> tuple[float | None, float | None, float | None]:
    """Theil-Sen slopes of RSS against requests over the window's earlier and later halves
    (by time), and the later half's CI low; None where a half has under 3 points or no
    spread of requests."""
    late = t >= (t[0] + t[-1]) / 2
    early_fit = _slope(rss[~late], req[~late]) if (~late).sum() >= 3 else None
    late_fit = _slope(rss[late], req[late]) if late.sum() >= 3 else None
    return (
        None if early_fit is None else early_fit[0],
        None if late_fit is None else late_fit[0],
        None if late_fit is None else late_fit[2],
    )


def _not_enough(points: int, window_s: float, requests: int, rules: LeakRules) -> str | None:
    missing = []
    if points < rules.min_points:
        missing.append(f"{points} points after warm-up (< {rules.min_points})")
    if window_s < rules.min_window_s:
        missing.append(f"a {window_s:.0f} s window (< {rules.min_window_s:.0f} s)")
    if requests < rules.min_requests:
        missing.append(f"{requests} requests in the window (< {rules.min_requests})")
    return "not enough data: " + ", ".join(missing) if missing else None


def _judge(
    ci_low: float,
    r2: float | None,
    growth_mb: float,
    start_mb: float,
    halves: tuple[float | None, float | None, float | None],
    rules: LeakRules,
) -> tuple[str, str]:
    early, late, late_ci_low = halves
    if ci_low <= 0:
        return "none", "no significant growth: the slope's 95 % CI includes 0 or less"
    if late_ci_low is not None and late_ci_low <= 0:
        return "none", (
            "RSS grew early in the window, then stopped growing (no significant "
            "slope in its later half): warm-up, not a leak"
        )
    if early is not None and late is not None and early > 0:
        if late < rules.persist_min_ratio * early:
            return "none", (
                f"RSS growth per request slowed to {late / early:.0%} of its early rate in "
                f"the later half of the window (< {rules.persist_min_ratio:.0%}): warm-up "
                "levelling off, not a leak (a leak keeps its rate)"
            )
    suspect_mb = max(rules.suspect_min_growth_mb, rules.suspect_min_growth_share * start_mb)
    if growth_mb < suspect_mb:
        return "none", (
            f"growth of {growth_mb:.1f} MB over the window is below {suspect_mb:.1f} MB "
            f"(the larger of {rules.suspect_min_growth_mb:g} MB and "
            f"{100 * rules.suspect_min_growth_share:g} % of the starting RSS)"
        )
    need_mb = max(rules.leak_min_growth_mb, rules.leak_min_growth_share * start_mb)
    failed = []
    if r2 is None or r2 < rules.leak_min_r2:
        failed.append(
            f"r2 {0.0 if r2 is None else r2:.2f} < {rules.leak_min_r2:g} "
            "(the growth explains little of the variation)"
        )
    if growth_mb < need_mb:
        failed.append(f"growth {growth_mb:.1f} MB < {need_mb:.1f} MB")
    if failed:
        return "suspected", "RSS grows steadily, but " + " and ".join(failed)
    return "leak", (f"RSS grows steadily (r2 {r2:.2f}) by {growth_mb:.1f} MB (>= {need_mb:.1f} MB)")


def steady_stretch(elapsed_s: np.ndarray, load: np.ndarray) -> tuple[float, float] | None:
    """``(first, last)`` elapsed time of the longest run of consecutive rows at one load
    level (the latest of equally long ones); None when no row has a known positive load."""
    spans = segment_steps(elapsed_s, load, min_rows=1)
    if not spans:
        return None
    best = max(spans, key=lambda s: (s.end_s - s.start_s, s.start_s))
    return best.start_s, best.end_s


def analyse_leak(
    elapsed_s: np.ndarray,
    cumulative_requests: np.ndarray,
    rss_bytes: np.ndarray,
    *,
    load: np.ndarray | None = None,
    warmup_s: float | None = None,
    max_points: int = 2000,
    rules: LeakRules = LeakRules(),
) -> LeakAnalysis:
    """Judge the target's RSS over a run (see the module docstring and :class:`LeakRules`).

    All arrays have one value per row; ``cumulative_requests`` counts requests since the
    run started; ``load`` (optional: users or offered rate per row) limits the analysis
    to the steady load (:func:`steady_stretch`), and the reason then says so.
    """
    t_all = np.asarray(elapsed_s, dtype=float).ravel()
    req_all = np.asarray(cumulative_requests, dtype=float).ravel()
    rss_all = np.asarray(rss_bytes, dtype=float).ravel()
    if not t_all.size == req_all.size == rss_all.size:
        raise ValueError("elapsed_s, cumulative_requests and rss_bytes differ in length")
    steady = None if load is None else steady_stretch(t_all, np.asarray(load, dtype=float))
    whole = (float(np.nanmin(t_all)), float(np.nanmax(t_all))) if t_all.size else None
    if whole is not None:  # the warm-up is the run's first seconds, wherever the stretch is
        run_start, run_s = whole[0], whole[1] - whole[0]
        warm = rules.warmup(run_s) if warmup_s is None else warmup_s
    if steady is not None and steady != whole:
        inside = (t_all >= steady[0]) & (t_all <= steady[1])
        t_all, req_all, rss_all = t_all[inside], req_all[inside], rss_all[inside]
    ok = np.isfinite(t_all) & np.isfinite(req_all) & np.isfinite(rss_all)
    t, req, rss = t_all[ok], req_all[ok], rss_all[ok]
    if t.size:
        after = t >= run_start + warm
        t, req, rss = t[after], req[after], rss[after]
    points = int(t.size)
    if points > max_points:
        pick = np.unique(np.linspace(0, points - 1, max_points).round().astype(int))
        t, req, rss = t[pick], req[pick], rss[pick]
    window_s = float(t[-1] - t[0]) if points else 0.0
    requests = int(round(req[-1] - req[0])) if points else 0
    by_request, by_time = _slope(rss, req), _slope(rss, t)
    r2 = _r2(rss, req)
    growth_mb = start_mb = None
    if by_request is not None:
        start_mb = float(by_request[1] + by_request[0] * req[0]) / MB
        growth_mb = float(by_request[0] * (req[-1] - req[0])) / MB
    per_hour = 3600.0 / MB
    kb = [None] * 3 if by_request is None else [v / KB for v in (by_request[0], *by_request[2:])]
    mbh = [None] * 3 if by_time is None else [v * per_hour for v in (by_time[0], *by_time[2:])]
    reason = _not_enough(points, window_s, requests, rules)
    if reason is not None:
        verdict = "unknown"
    elif by_request is None or growth_mb is None or start_mb is None:
        verdict, reason = "unknown", "no fit: the request count does not vary"
    else:
        verdict, reason = _judge(
            by_request[2], r2, growth_mb, start_mb, _halves(t, req, rss), rules
        )
        reason = (
            f"{reason}; slope {kb[0]:.3g} KB/request (95 % CI {kb[1]:.3g} to "
            f"{kb[2]:.3g}), {mbh[0]:.3g} MB/hour, over {requests} requests in "
            f"{window_s:.0f} s"
        )
    if steady is not None and steady != whole:
        reason = (
            f"judged at the steady load from {steady[0]:.0f} s to {steady[1]:.0f} s (the "
            f"load changed outside it, and memory follows load): {reason}"
        )
    return LeakAnalysis(
        verdict=verdict,
        reason=reason,
        slope_kb_per_request=kb[0],
        slope_kb_per_request_ci_low=kb[1],
        slope_kb_per_request_ci_high=kb[2],
        slope_mb_per_hour=mbh[0],
        slope_mb_per_hour_ci_low=mbh[1],
        slope_mb_per_hour_ci_high=mbh[2],
        r2=r2,
        growth_mb=growth_mb,
        start_rss_mb=start_mb,
        intercept_bytes=None if by_request is None else by_request[1],
        points=points,
        window_start_s=float(t[0]) if points else None,
        window_end_s=float(t[-1]) if points else None,
        requests_in_window=requests,
    )
