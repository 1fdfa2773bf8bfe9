"""The adaptive breakpoint search, as a pure state machine (no Locust, no clock of its own).

Feed it ``update(now_s, snapshot)`` about once a second (the shape's tick) with
the cumulative request statistics; it answers the arrival rate to offer from
now on, or None when it has finished. It needs no guess of the service's size:

1. **Grow**: offer ``start_rate``, then multiply by ``growth`` after every good
   step, until a step is broken (by :func:`reports.analysis.step_verdict`).
2. **Refine**: bisect (geometric mean) between the highest good and the lowest
   broken rate until ``(broken - good) / good <= resolution``.
3. If even ``start_rate`` is broken, **descend**: divide by ``growth`` (at
   most ``descend_steps`` times) until a step is good, then refine.

Each step first waits ``settle`` seconds (``settle_s``, or 1.5x the latest
good step's p95 when that is longer), then measures a window long enough to hold
about ``window_requests`` requests (``window_requests / rate``, kept within
``min_window_s``..``max_window_s``); the window's measure is the difference of
the snapshots at its ends (:func:`reports.analysis.measure_window`). After a
broken step the search **drains**: it offers ``drain rate`` (a quarter of the
lowest rate tried) until the completions per ``drain_check_s`` fall to about
that rate (the backlog is worked off; at most ``max_drain_s``), so the next
step starts clean.

A break that may be a hiccup of the machine rather than the service is
measured once more at the same rate before it is believed: a step broken by
its p95 alone (throughput kept up: no backlog, no drops, no errors), and any
break while growing (a false one there would halve the answer). Only the
repeat counts; the first measure is kept in ``retried``.

With no ``max_p95_ms`` in the limits, the p95 limit becomes
``max(p95_limit_factor x the first step's p95, p95_limit_floor_ms)``.
The capacity is :func:`reports.analysis.find_breaking_point` over the steps.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, replace

from reports.analysis.breaking import (
    RULE_P95,
    BreakingPoint,
    BreakLimits,
    P95Limit,
    StatsSnapshot,
    StepMeasure,
    Verdict,
    find_breaking_point,
    measure_window,
    p95_limit,
    step_verdict,
)

__all__ = ["BreakpointSearch", "SearchSettings", "SearchStep"]

TICK_TOLERANCE_S = 0.05
"""A window due at t is over at any update from t - this on (updates come ~1 s apart)."""

DRAIN_SLACK_REQUESTS = 1.5
"""Completions per drain check allowed above the drain rate for the backlog to count as gone."""

SETTLE_P95_FACTOR = 1.5
"""A step settles at least this many times the previous step's p95 (slow services)."""


@dataclass(frozen=True)
class SearchSettings:
    """How the search paces itself (see the module docstring)."""

    start_rate: float = 2.0
    growth: float = 2.0
    resolution: float = 0.05
    settle_s: float = 1.0
    min_window_s: float = 3.0
    max_window_s: float = 10.0
    window_requests: float = 200.0
    drain_check_s: float = 1.0
    max_drain_s: float = 30.0
    max_steps: int = 40
    descend_steps: int = 4
    p95_limit_factor: float = 10.0
    p95_limit_floor_ms: float = 250.0

    def __post_init__(self) -> None:
        if self.start_rate <= 0 or self.growth <= 1 or self.resolution <= 0:
            raise ValueError("start_rate must be > 0, growth > 1 and resolution > 0")
        if not 0 < self.min_window_s <= self.max_window_s:
            raise ValueError("need 0 < min_window_s <= max_window_s")

    def window_s(self, rate: float) -> float:
        """Measuring window at ``rate``: ``window_requests / rate`` within the min/max."""
        return min(self.max_window_s, max(self.min_window_s, self.window_requests / rate))


@dataclass(frozen=True)
class SearchStep:
    """One measured step: its number (1-based), phase, start (s since the search began)."""

    number: int
    phase: str
    started_s: float
    measure: StepMeasure
    verdict: Verdict


class BreakpointSearch:
    """The search; see the module docstring. ``state`` is one of
    ``settle``, ``measure``, ``drain``, ``done``."""

    def __init__(
        self, settings: SearchSettings | None = None, limits: BreakLimits | None = None
    ) -> None:
        self.settings = settings or SearchSettings()
        self.limits = limits or BreakLimits()
        self.p95_limit = self._p95_limit(self.limits.max_p95_ms, None)
        """The p95 limit and where it came from (given, or derived from the first step)."""
        self.steps: list[SearchStep] = []
        self.retried: list[SearchStep] = []
        """Doubtful breaks, measured again (the repeat is in ``steps``)."""
        self.good: float | None = None
        """Highest rate judged good."""
        self.bad: float | None = None
        """Lowest rate judged broken."""
        self.state = "settle"
        self.phase = "grow"
        self.rate = self.settings.start_rate
        """The step's offered rate (during a drain: the rate of the step to come)."""
        self.stop_reason: str | None = None
        self._t0: float | None = None
        self._now = 0.0
        self._since = 0.0
        self._settle_s = self.settings.settle_s
        self._window_start: StatsSnapshot | None = None
        self._completions: deque[tuple[float, int]] = deque()
        self._lowest_tried = self.settings.start_rate

    @property
    def done(self) -> bool:
        """True once the search has finished (found, gave up, or stopped)."""
        return self.state == "done"

    @property
    def drain_rate(self) -> float:
        """Offered while draining: a quarter of the lowest rate tried."""
        return self._lowest_tried / 4

    @property
    def offered_now(self) -> float:
        """The rate offered now: the drain rate while draining, else the step's rate."""
        return self.drain_rate if self.state == "drain" else self.rate

    def update(self, now_s: float, snapshot: StatsSnapshot) -> float | None:
        """Advance to ``now_s``; the rate to offer from now on, or None once done."""
        if self.done:
            return None
        if self._t0 is None:
            self._t0 = self._since = now_s
        self._now = now_s
        self._remember(now_s, snapshot)
        if self.state == "settle" and now_s - self._since >= self._settle_s - TICK_TOLERANCE_S:
            self._window_start = snapshot
            self.state = "measure"
        elif self.state == "measure" and self._window_over(now_s):
            self._finish_step(now_s, snapshot)
        elif self.state == "drain" and self._drained(now_s):
            self._begin_step(now_s, self.rate, self.phase)
        return None if self.done else self.offered_now

    def stop(self, reason: str) -> None:
        """End the search from outside (e.g. the run time is over)."""
        if not self.done:
            self.state, self.stop_reason = "done", reason

    def result(self) -> BreakingPoint:
        """The breaking point over the steps measured so far."""
        return find_breaking_point([s.measure for s in self.steps], self.limits)

    def summary(self) -> dict:
        """Plain data for logs and reports: the result, the limits used, every step."""
        point = self.result()
        return {
            "found": point.found,
            "capacity_rps": point.capacity_rps,
            "offered_at_break": point.offered_at_break,
            "reason": point.reason,
            "last_good": asdict(point.last_good_step) if point.last_good_step else None,
            "complete": self.done and self.stop_reason in ("resolved", "broken at the lowest rate"),
            "stop_reason": self.stop_reason,
            "elapsed_s": self._now - self._t0 if self._t0 is not None else 0.0,
            "limits": asdict(self.limits),
            "p95_limit": asdict(self.p95_limit),
            "settings": asdict(self.settings),
            "steps": [_step_dict(s) for s in self.steps],
            "retried": [_step_dict(s) for s in self.retried],
        }

    def progress(self, now_s: float) -> dict:
        """The console progress line's data (``remaining_s`` is None: the search adapts)."""
        elapsed = now_s - self._t0 if self._t0 is not None else 0.0
        number = len(self.steps) + 1
        if self.state == "settle":
            stage, left = f"step {number} ({self.phase}): settle", self._settle_s
            left -= now_s - self._since
        elif self.state == "measure":
            assert self._window_start is not None  # a window is open in every "measure" state
            stage = f"step {number} ({self.phase}): measure"
            left = self.settings.window_s(self.rate) - (now_s - self._window_start.at_s)
        elif self.state == "drain":
            stage, left = f"drain before step {number}", None
        else:
            stage, left = "done", 0.0
        return {
            "stage": stage,
            "offered": self.offered_now if not self.done else 0.0,
            "unit": "req/s",
            "elapsed_s": elapsed,
            "stage_remaining_s": None if left is None else max(0.0, left),
            "remaining_s": 0.0 if self.done else None,
        }

    # -- internals ---------------------------------------------------------------------------

    def _remember(self, now_s: float, snapshot: StatsSnapshot) -> None:
        self._completions.append((now_s, snapshot.answered + snapshot.dropped))
        horizon = now_s - 2 * self.settings.drain_check_s - 1.0
        while len(self._completions) > 2 and self._completions[1][0] <= horizon:
            self._completions.popleft()

    def _window_over(self, now_s: float) -> bool:
        assert self._window_start is not None
        window = self.settings.window_s(self.rate)
        return now_s - self._window_start.at_s >= window - TICK_TOLERANCE_S

    def _begin_step(self, now_s: float, rate: float, phase: str) -> None:
        self.rate, self.phase = rate, phase
        self._lowest_tried = min(self._lowest_tried, rate)
        self.state, self._since, self._window_start = "settle", now_s, None

    def _finish_step(self, now_s: float, snapshot: StatsSnapshot) -> None:
        assert self._window_start is not None and self._t0 is not None
        measure = measure_window(self._window_start, snapshot, self.rate)
        if not self.steps and self.limits.max_p95_ms is None and measure.p95_ms is not None:
            self.p95_limit = self._p95_limit(None, measure.p95_ms)
            self.limits = replace(self.limits, max_p95_ms=self.p95_limit.ms)
        verdict = step_verdict(measure, self.limits)
        started = self._since - self._t0
        step = SearchStep(len(self.steps) + 1, self.phase, started, measure, verdict)
        doubtful = verdict.rules == (RULE_P95,) or (verdict.broken and self.phase == "grow")
        if doubtful and self.rate not in {r.measure.offered_rps for r in self.retried}:
            self.retried.append(step)  # measure this rate again before believing it
            self.state, self._since = "drain", now_s
            return
        self.steps.append(step)
        if not verdict.broken:  # a broken step's p95 is its queue, not the service's latency
            p95_s = (measure.p95_ms or 0.0) / 1000
            self._settle_s = min(
                self.settings.max_window_s, max(self.settings.settle_s, SETTLE_P95_FACTOR * p95_s)
            )
        if verdict.broken:
            self.bad = self.rate if self.bad is None else min(self.bad, self.rate)
        else:
            self.good = self.rate if self.good is None else max(self.good, self.rate)
        next_rate, phase = self._next_rate()
        if next_rate is None:
            return
        if len(self.steps) >= self.settings.max_steps:
            self.stop("step limit")
        elif verdict.broken:
            self.rate, self.phase = next_rate, phase
            self._lowest_tried = min(self._lowest_tried, next_rate)
            self.state, self._since = "drain", now_s
        else:
            self._begin_step(now_s, next_rate, phase)

    def _p95_limit(self, given_ms: float | None, first_p95_ms: float | None) -> P95Limit:
        return p95_limit(
            given_ms,
            first_p95_ms,
            factor=self.settings.p95_limit_factor,
            floor_ms=self.settings.p95_limit_floor_ms,
        )

    def _next_rate(self) -> tuple[float | None, str]:
        """The next step's rate and phase, or (None, _) after stopping the search."""
        s = self.settings
        if self.bad is None:
            return self.rate * s.growth, "grow"
        if self.good is None:
            lowest = s.start_rate / s.growth**s.descend_steps
            if self.rate / s.growth < lowest * (1 - 1e-9):
                self.stop("broken at the lowest rate")
                return None, "descend"
            return self.rate / s.growth, "descend"
        if (self.bad - self.good) / self.good <= s.resolution:
            self.stop("resolved")
            return None, "refine"
        return math.sqrt(self.good * self.bad), "refine"

    def _drained(self, now_s: float) -> bool:
        s = self.settings
        waited = now_s - self._since
        if waited >= s.max_drain_s - TICK_TOLERANCE_S:
            return True
        if waited < s.drain_check_s - TICK_TOLERANCE_S:
            return False
        then = [
            (t, c)
            for t, c in self._completions
            if t <= now_s - s.drain_check_s + TICK_TOLERANCE_S
            and t >= self._since - TICK_TOLERANCE_S
        ]
        if not then:
            return False
        t_then, c_then = then[-1]
        done = self._completions[-1][1] - c_then
        return done <= self.drain_rate * (now_s - t_then) + DRAIN_SLACK_REQUESTS


def _step_dict(step: SearchStep) -> dict:
    return {
        "number": step.number,
        "phase": step.phase,
        "started_s": step.started_s,
        "broken": step.verdict.broken,
        "reason": step.verdict.reason,
        "rules": list(step.verdict.rules),
        **asdict(step.measure),
    }
