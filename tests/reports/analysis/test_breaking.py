"""reports.analysis break criteria on synthetic data of known answer (pure: no I/O, no Locust)."""

from __future__ import annotations

import pytest

from reports.analysis.breaking import (
    RULE_DROPPED,
    RULE_ERRORS,
    RULE_P95,
    RULE_STALL,
    RULE_THROUGHPUT,
    BreakLimits,
    StatsSnapshot,
    StepMeasure,
    find_breaking_point,
    measure_window,
    p95_limit,
    step_verdict,
)

LIMITS = BreakLimits(
    max_error_ratio=0.01, max_p95_ms=500, min_throughput_ratio=0.9, max_dropped_ratio=0.001
)


def step(offered, achieved=None, errors=0.0, p95=50.0, dropped=0, answered=1000):
    return StepMeasure(
        offered_rps=offered,
        achieved_rps=offered if achieved is None else achieved,
        error_ratio=errors,
        p95_ms=p95,
        dropped=dropped,
        answered=answered,
        duration_s=10.0,
    )


# -- step_verdict: one rule at a time, at and just past each limit ------------------------------


def test_a_healthy_step_is_good():
    verdict = step_verdict(step(100), LIMITS)
    assert not verdict.broken and verdict.reason is None and verdict.rules == ()


@pytest.mark.parametrize(
    "measure,rule",
    [
        (step(100, errors=0.011), RULE_ERRORS),
        (step(100, dropped=2, answered=1000), RULE_DROPPED),
        (step(100, achieved=89.9), RULE_THROUGHPUT),
        (step(100, p95=501), RULE_P95),
        (step(100, achieved=0, p95=None, answered=0), RULE_STALL),
    ],
)
def test_each_rule_breaks_a_step_alone(measure, rule):
    verdict = step_verdict(measure, LIMITS)
    assert verdict.broken
    assert rule in verdict.rules
    if rule != RULE_STALL:  # a stall also fails the throughput rule
        assert verdict.rules == (rule,)


@pytest.mark.parametrize(
    "measure",
    [
        step(100, errors=0.01),  # exactly at the error limit
        step(100, dropped=1, answered=1000),  # 0.0999 % dropped
        step(100, achieved=90.0),  # exactly 0.9 of the offered rate
        step(100, p95=500),  # exactly at the p95 limit
        step(0, p95=None, answered=0, dropped=0, achieved=0),  # nothing offered
    ],
)
def test_limits_are_inclusive(measure):
    assert not step_verdict(measure, LIMITS).broken


def test_no_p95_limit_means_latency_never_breaks():
    assert not step_verdict(step(100, p95=60_000), BreakLimits(max_p95_ms=None)).broken


def test_every_broken_rule_is_named_and_explained():
    verdict = step_verdict(step(100, achieved=50, errors=0.2, p95=900, dropped=100), LIMITS)
    assert verdict.rules == (RULE_ERRORS, RULE_DROPPED, RULE_THROUGHPUT, RULE_P95)
    assert verdict.reason.count("; ") == 3
    assert "0.50 of the offered 100.0/s" in verdict.reason
    assert "p95 900 ms > 500 ms" in verdict.reason


# -- find_breaking_point ----------------------------------------------------------------------


def test_break_and_capacity_from_a_ramp_of_steps():
    """Capacity 300: up to 300 offered is followed; 400 is not."""
    steps = [
        step(50),
        step(100),
        step(200),
        step(300, achieved=297),
        step(400, achieved=300),
        step(800, achieved=290, dropped=500),
    ]
    point = find_breaking_point(steps, LIMITS)
    assert point.found
    assert point.offered_at_break == 400
    assert point.capacity_rps == 297
    assert point.last_good_step.offered_rps == 300
    assert "throughput" in point.reason


def test_steps_in_search_order_give_the_same_answer():
    """A search goes up, then bisects: the order of the steps must not matter."""
    steps = [
        step(64),
        step(128),
        step(256, achieved=250),
        step(512, achieved=300, p95=900),
        step(362, achieved=300, p95=800),
        step(304, achieved=296),
        step(332, achieved=300),
    ]
    point = find_breaking_point(steps, LIMITS)
    assert point.offered_at_break == 362
    assert point.capacity_rps == 300
    assert point.last_good_step.offered_rps == 332
    assert find_breaking_point(reversed(steps), LIMITS) == point


def test_the_best_throughput_below_the_break_is_the_capacity():
    """An overloaded but unbroken step (queue growing slowly) sustains the most."""
    steps = [
        step(100),
        step(320, achieved=300),
        step(330, achieved=299),
        step(400, achieved=300, p95=900),
    ]
    assert find_breaking_point(steps, LIMITS).capacity_rps == 300


def test_no_break_gives_a_lower_bound_only():
    point = find_breaking_point([step(10), step(20), step(40, achieved=39.5)], LIMITS)
    assert not point.found
    assert point.capacity_rps == 39.5 and point.offered_at_break is None
    assert point.reason is None and point.last_good_step.offered_rps == 40


def test_broken_at_the_lowest_step_has_no_capacity():
    point = find_breaking_point([step(2, errors=0.5), step(4, errors=0.5)], LIMITS)
    assert point.found and point.capacity_rps is None and point.offered_at_break == 2
    assert point.last_good_step is None


def test_no_steps():
    point = find_breaking_point([], LIMITS)
    assert not point.found and point.capacity_rps is None and point.last_good_step is None


# -- windows (their p95: metrics.summary.percentile_from_counts, tested in test_summary) ---


def test_a_window_counts_only_its_own_requests():
    before = StatsSnapshot(
        at_s=100.0, answered=1000, failures=10, dropped=3, response_times={50: 990, 3000: 10}
    )
    after = StatsSnapshot(
        at_s=110.0,
        answered=1500,
        failures=15,
        dropped=8,
        response_times={50: 1450, 3000: 10, 80: 20, 400: 20},
    )
    m = measure_window(before, after, offered_rps=52.0)
    assert m.answered == 500 and m.dropped == 5 and m.duration_s == 10.0
    assert m.achieved_rps == pytest.approx(49.5)  # (500 - 5 failures) / 10 s
    assert m.error_ratio == pytest.approx(0.01)
    assert m.p95_ms == 80  # the old 3000 ms outliers are outside the window; 460+20 >= 475
    assert m.dropped_ratio == pytest.approx(5 / 505)
    assert m.throughput_ratio == pytest.approx(49.5 / 52)


def test_an_empty_window_has_no_p95():
    snap = StatsSnapshot(0.0, 10, 0, 0, {50: 10})
    later = StatsSnapshot(5.0, 10, 0, 0, {50: 10})
    m = measure_window(snap, later, offered_rps=10)
    assert m.p95_ms is None and m.achieved_rps == 0 and m.error_ratio == 0
    assert step_verdict(m, LIMITS).rules == (RULE_STALL, RULE_THROUGHPUT)


def test_a_window_needs_a_positive_length():
    snap = StatsSnapshot(5.0, 10, 0, 0, {})
    with pytest.raises(ValueError):
        measure_window(snap, snap, offered_rps=1)


def test_the_p95_limit_is_given_or_ten_times_the_first_step_at_least_250_ms():
    given = p95_limit(400.0, 80.0)
    assert (given.ms, given.source) == (400.0, "given") and "as given" in given.describe()
    derived = p95_limit(None, 64.0)
    assert (derived.ms, derived.source) == (640.0, "derived")
    assert "10 x the first step's p95 (64.0 ms)" in derived.describe()
    assert p95_limit(None, 2.0).ms == 250.0  # the floor
    assert p95_limit(None, None).ms is None and "no p95 limit" in p95_limit(None, None).describe()
