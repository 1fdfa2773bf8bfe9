"""Pure analysis of load-test measurements: numbers in, dataclasses out, no I/O.

Breaking point
--------------
A *step* is a window of steady offered load (an open-model arrival rate).
Its :class:`StepMeasure` is what the window saw; :func:`step_verdict` says
whether the service was broken at that load, by the rules of
:class:`BreakLimits`; :func:`find_breaking_point` turns a list of steps into
the capacity: the highest throughput sustained below the lowest broken load.

The live breakpoint search (``scenarios/breakpoint.py``) and the report judge
steps with the same function, so they always agree.

Windows
-------
:func:`measure_window` computes a step's measure from two cumulative snapshots
of the request statistics (:class:`StatsSnapshot`), taken at the window's start
and end, so each step counts only its own requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from metrics.summary import percentile_from_counts

__all__ = [
    "RULE_DROPPED",
    "RULE_ERRORS",
    "RULE_P95",
    "RULE_STALL",
    "RULE_THROUGHPUT",
    "BreakLimits",
    "BreakingPoint",
    "P95Limit",
    "StatsSnapshot",
    "StepMeasure",
    "Verdict",
    "find_breaking_point",
    "measure_window",
    "p95_limit",
    "step_verdict",
]

P95 = 0.95
P95_LIMIT_FACTOR = 10.0
"""Without a given limit, a step's p95 over this many times the first step's breaks it ..."""
P95_LIMIT_FLOOR_MS = 250.0
"""... but never a limit below this (a fast service's 2 ms p95 would otherwise set 20 ms)."""


@dataclass(frozen=True)
class BreakLimits:
    """What "broken" means for one step; a step breaking ANY rule is broken.

    ``max_p95_ms`` None means latency alone never breaks a step.
    """

    max_error_ratio: float = 0.01
    """Failed / answered requests in the window above this: broken."""

    max_p95_ms: float | None = None
    """95th percentile response time (ms) of the window above this: broken."""

    min_throughput_ratio: float = 0.9
    """Successful responses/s below this share of the offered rate: broken (the service
    no longer follows the load; its queue grows)."""

    max_dropped_ratio: float = 0.001
    """Dropped arrivals / all arrivals in the window above this: broken (the load
    generator's in-flight cap filled up: requests outstanding without answer)."""


@dataclass(frozen=True)
class P95Limit:
    """The p95 limit a search or a stepped run judged its steps by, and where it came from.

    ``source``: ``"given"`` (an option set it), ``"derived"`` (``factor`` x the first step's
    p95 ``first_p95_ms``, at least ``floor_ms``) or ``"none"`` (no limit: latency alone
    never broke a step).
    """

    ms: float | None
    source: str
    first_p95_ms: float | None = None
    factor: float = P95_LIMIT_FACTOR
    floor_ms: float = P95_LIMIT_FLOOR_MS

    def describe(self) -> str:
        """One plain sentence: the limit and its origin."""
        if self.ms is None:
            return "no p95 limit: latency alone never broke a step"
        if self.source == "given":
            return f"p95 limit {self.ms:,.0f} ms, as given"
        basis = "-" if self.first_p95_ms is None else f"{self.first_p95_ms:,.1f}"
        return (
            f"p95 limit {self.ms:,.0f} ms: {self.factor:g} x the first step's p95 "
            f"({basis} ms), at least {self.floor_ms:,.0f} ms"
        )


def p95_limit(
    given_ms: float | None,
    first_p95_ms: float | None,
    *,
    factor: float = P95_LIMIT_FACTOR,
    floor_ms: float = P95_LIMIT_FLOOR_MS,
) -> P95Limit:
    """The p95 limit: ``given_ms`` when set, else ``max(factor * first_p95_ms, floor_ms)``
    (no limit while the first step's p95 is unknown). The live search and the report's
    stepped runs both take it from here."""
    if given_ms is not None:
        return P95Limit(given_ms, "given", first_p95_ms, factor, floor_ms)
    if first_p95_ms is None:
        return P95Limit(None, "none", None, factor, floor_ms)
    return P95Limit(max(factor * first_p95_ms, floor_ms), "derived", first_p95_ms, factor, floor_ms)


@dataclass(frozen=True)
class StepMeasure:
    """What one window of steady offered load saw.

    ``achieved_rps`` counts successful responses only; ``error_ratio`` is
    failures over answered requests (dropped arrivals are neither);
    ``p95_ms`` is None when nothing was answered.
    """

    offered_rps: float
    achieved_rps: float
    error_ratio: float
    p95_ms: float | None
    dropped: int = 0
    answered: int = 0
    """Requests answered (successfully or not) in the window."""
    duration_s: float = 0.0

    @property
    def dropped_ratio(self) -> float:
        """Dropped / (answered + dropped); 0 when the window had neither."""
        total = self.answered + self.dropped
        return self.dropped / total if total else 0.0

    @property
    def throughput_ratio(self) -> float:
        """Achieved / offered (1.0 when nothing was offered)."""
        return self.achieved_rps / self.offered_rps if self.offered_rps > 0 else 1.0


RULE_STALL, RULE_ERRORS, RULE_DROPPED, RULE_THROUGHPUT, RULE_P95 = (
    "stall",
    "errors",
    "dropped",
    "throughput",
    "p95",
)
"""Names of the rules of :func:`step_verdict`, as listed in ``Verdict.rules``."""


@dataclass(frozen=True)
class Verdict:
    """A step's judgement: ``rules`` names every broken rule (``RULE_*``), in the order
    checked; ``reason`` explains them, ``"; "``-separated (None when not broken)."""

    broken: bool
    reason: str | None = None
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class BreakingPoint:
    """Where the service broke, from a set of judged steps.

    ``found``: some step was broken. ``offered_at_break``: the lowest offered
    load that broke it, with its ``reason``. ``capacity_rps``: the highest
    achieved throughput of a good step offered less than that (None when the
    very lowest step was already broken). With no broken step, ``found`` is
    False and ``capacity_rps`` is the best throughput seen, a lower bound.
    ``last_good_step``: the good step with the highest offered load below the break.
    """

    found: bool
    capacity_rps: float | None
    offered_at_break: float | None
    reason: str | None
    last_good_step: StepMeasure | None


@dataclass(frozen=True)
class StatsSnapshot:
    """Cumulative request statistics at one instant (counts since the run started).

    Dropped arrivals are counted in ``dropped`` only: ``answered``,
    ``failures`` and ``response_times`` exclude them.
    """

    at_s: float
    """A monotonic clock reading, seconds."""
    answered: int
    failures: int
    dropped: int
    response_times: Mapping[float, int]
    """Response time (ms, as rounded by the stats) -> how many requests took it."""


def measure_window(start: StatsSnapshot, end: StatsSnapshot, offered_rps: float) -> StepMeasure:
    """The measure of the window between two snapshots, at ``offered_rps``.

    Throughput, error ratio and p95 come from the differences of the
    cumulative counts, so requests before ``start`` never count; the p95 is
    :func:`metrics.summary.percentile_from_counts`'s (``summary.json``'s rank rule).
    """
    duration = end.at_s - start.at_s
    if duration <= 0:
        raise ValueError(f"the window must have a positive length, got {duration} s")
    answered = end.answered - start.answered
    failures = end.failures - start.failures
    window_times = {
        value: n - start.response_times.get(value, 0) for value, n in end.response_times.items()
    }
    return StepMeasure(
        offered_rps=offered_rps,
        achieved_rps=(answered - failures) / duration,
        error_ratio=failures / answered if answered else 0.0,
        p95_ms=percentile_from_counts(window_times, P95),
        dropped=end.dropped - start.dropped,
        answered=answered,
        duration_s=duration,
    )


def step_verdict(measure: StepMeasure, limits: BreakLimits) -> Verdict:
    """Is the service broken at this step? The rules, each checked:

    1. ``stall``: nothing answered while load was offered and nothing dropped;
    2. ``errors``: ``error_ratio > limits.max_error_ratio``;
    3. ``dropped``: ``dropped_ratio > limits.max_dropped_ratio``;
    4. ``throughput``: ``achieved_rps / offered_rps < limits.min_throughput_ratio``;
    5. ``p95``: ``p95_ms > limits.max_p95_ms`` (when that limit is set).
    """
    broken: dict[str, str] = {}
    if measure.offered_rps > 0 and measure.answered == 0 and measure.dropped == 0:
        broken[RULE_STALL] = "no responses"
    if measure.error_ratio > limits.max_error_ratio:
        broken[RULE_ERRORS] = (
            f"error ratio {measure.error_ratio:.1%} > {limits.max_error_ratio:.1%}"
        )
    if measure.dropped_ratio > limits.max_dropped_ratio:
        broken[RULE_DROPPED] = (
            f"dropped {measure.dropped:g} arrivals "
            f"({measure.dropped_ratio:.1%} > {limits.max_dropped_ratio:.1%})"
        )
    if measure.offered_rps > 0 and measure.throughput_ratio < limits.min_throughput_ratio:
        broken[RULE_THROUGHPUT] = (
            f"throughput {measure.achieved_rps:.1f}/s is "
            f"{measure.throughput_ratio:.2f} of the offered "
            f"{measure.offered_rps:.1f}/s "
            f"(< {limits.min_throughput_ratio:.2f})"
        )
    if (
        limits.max_p95_ms is not None
        and measure.p95_ms is not None
        and measure.p95_ms > limits.max_p95_ms
    ):
        broken[RULE_P95] = f"p95 {measure.p95_ms:.0f} ms > {limits.max_p95_ms:.0f} ms"
    return Verdict(
        broken=bool(broken), reason="; ".join(broken.values()) or None, rules=tuple(broken)
    )


def find_breaking_point(steps: Iterable[StepMeasure], limits: BreakLimits) -> BreakingPoint:
    """Judge every step and locate the break (see :class:`BreakingPoint` for the rules).

    Steps may come in any order (a search goes up, then bisects): they are
    considered by offered load, and the lowest broken load is the break.
    """
    ordered: Sequence[StepMeasure] = sorted(steps, key=lambda s: s.offered_rps)
    judged = [(step, step_verdict(step, limits)) for step in ordered]
    broken = [(step, v) for step, v in judged if v.broken]
    if not broken:
        return BreakingPoint(
            found=False,
            capacity_rps=max((s.achieved_rps for s in ordered), default=None),
            offered_at_break=None,
            reason=None,
            last_good_step=ordered[-1] if ordered else None,
        )
    first_bad, verdict = broken[0]
    good_below = [s for s, v in judged if not v.broken and s.offered_rps < first_bad.offered_rps]
    return BreakingPoint(
        found=True,
        capacity_rps=max((s.achieved_rps for s in good_below), default=None),
        offered_at_break=first_bad.offered_rps,
        reason=verdict.reason,
        last_good_step=good_below[-1] if good_below else None,
    )
