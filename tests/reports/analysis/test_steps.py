"""reports.analysis.steps on synthetic stepped runs whose answer is known."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reports.analysis.breaking import (
    RULE_ERRORS,
    RULE_P95,
    RULE_THROUGHPUT,
    BreakLimits,
    StepMeasure,
    find_breaking_point,
)
from reports.analysis.littles_law import littles_law, littles_law_steps
from reports.analysis.step_break import RULE_GROWTH, breaking_point_from_steps
from reports.analysis.step_scaling import scalability
from reports.analysis.steps import StepStats, aggregate_steps, segment_steps

# ramp 2..8, 30 rows at 10 users, ramp 15, 30 rows at 20 (with float noise), 2 unknown rows,
# a 3-row blip at 25, 5 rows at 0, 5 rows at 40
LOAD = np.concatenate(
    [
        [2, 4, 6, 8],
        np.full(30, 10.0),
        [15],
        np.full(30, 20.0) + 1e-9,
        [np.nan, np.nan],
        np.full(3, 25.0),
        np.zeros(5),
        np.full(5, 40.0),
    ]
)
ELAPSED = np.arange(LOAD.size, dtype=float) + 1.0


def test_segment_steps_finds_runs_of_equal_level():
    spans = segment_steps(ELAPSED, LOAD)
    assert [(s.level, s.first_row, s.last_row) for s in spans] == [
        (10.0, 4, 33),
        (pytest.approx(20.0), 35, 64),
        (40.0, 75, 79),
    ]
    assert spans[0].start_s == 5.0 and spans[0].end_s == 34.0
    assert LOAD[spans[0].rows].size == 30
    assert [s.level for s in segment_steps(ELAPSED, LOAD, min_rows=1)] == [
        2,
        4,
        6,
        8,
        10,
        15,
        pytest.approx(20),
        25,
        40,
    ]
    assert segment_steps(np.array([]), np.array([])) == []


def _rows(n, count=100.0, failures=0.0, p50=10.0, p95=50.0, p99=90.0, avg=20.0):
    return {
        k: np.full(n, float(v))
        for k, v in (
            ("count", count),
            ("failures", failures),
            ("p50", p50),
            ("p95", p95),
            ("p99", p99),
            ("avg", avg),
        )
    }


def test_aggregate_steps_skips_settling_and_weights_by_count():
    n = 40
    cols = _rows(n)
    cols["p95"][:8] = 5000.0  # settling rows: must not count
    cols["count"][20:30] = 300.0
    cols["avg"][20:30] = 40.0
    cols["failures"][30:40] = 10.0
    cols["p95"][20:30] = 80.0
    span = segment_steps(np.arange(n, dtype=float), np.full(n, 10.0))[0]
    stats = aggregate_steps(
        [span],
        np.arange(n, dtype=float),
        np.ones(n),
        cols["count"],
        cols["failures"],
        cols["p50"],
        cols["p95"],
        cols["p99"],
        cols["avg"],
    )[0]
    assert stats.settle_s == 8.0  # 20 % of 40 s > 5 s
    assert stats.rows_used == 32 and stats.duration_s == 32.0
    assert stats.requests == 12 * 100 + 10 * 300 + 10 * 100 and stats.failures == 100
    assert stats.answered_rps == pytest.approx(5200 / 32)
    assert stats.throughput_rps == pytest.approx(5100 / 32)
    assert stats.error_ratio == pytest.approx(100 / 5200)
    assert stats.mean_ms == pytest.approx((22 * 100 * 20 + 10 * 300 * 40) / 5200)
    assert stats.p95_ms == 80.0  # 3000 of 5200 requests in rows with p95 80: the median
    assert stats.p50_ms == 10.0 and stats.p99_ms == 90.0 and stats.concurrency == 10.0
    assert json.dumps(stats.as_dict(), allow_nan=False)


def test_aggregate_keeps_three_rows_and_honours_explicit_settle_and_users():
    n = 6
    cols = _rows(n)
    args = (
        np.arange(n, dtype=float),
        np.ones(n),
        cols["count"],
        cols["failures"],
        cols["p50"],
        cols["p95"],
        cols["p99"],
        cols["avg"],
    )
    span = segment_steps(args[0], np.full(n, 4.0))[0]
    assert aggregate_steps([span], *args)[0].rows_used == 3  # settle 5 s would leave 1
    whole = aggregate_steps([span], *args, settle_s=0.0, users=np.full(n, 3.0))[0]
    assert whole.rows_used == 6 and whole.concurrency == 3.0
    empty = _rows(n, count=0.0, avg=np.nan)
    idle = aggregate_steps(
        [span],
        args[0],
        args[1],
        empty["count"],
        empty["failures"],
        empty["p50"],
        empty["p95"],
        empty["p99"],
        empty["avg"],
    )[0]
    assert idle.requests == 0 and idle.mean_ms is None and idle.p95_ms is None
    assert idle.error_ratio == 0.0 and idle.throughput_rps == 0.0


def step(level, x, p95=50.0, mean=20.0, errors=0.0, requests=1000):
    return StepStats(
        level=level,
        start_s=0.0,
        end_s=10.0,
        settle_s=5.0,
        rows_used=10,
        duration_s=10.0,
        requests=requests,
        failures=int(errors * requests),
        throughput_rps=x,
        answered_rps=x / (1 - errors),
        error_ratio=errors,
        mean_ms=mean,
        p50_ms=p95 / 2,
        p95_ms=p95,
        p99_ms=p95 * 2,
        concurrency=level,
    )


def test_scalability_against_first_and_previous_step():
    rows = scalability([step(40, 300, p95=150, mean=60), step(10, 100), step(20, 200, p95=60)])
    assert [r.level for r in rows] == [10, 20, 40]
    assert [r.efficiency for r in rows] == pytest.approx([1.0, 1.0, 0.75])
    # throughput +50 % for users +100 %: grew half as fast as the load
    assert [r.growth_efficiency for r in rows] == pytest.approx([1.0, 1.0, 0.5])
    assert [r.degradation for r in rows] == pytest.approx([1.0, 1.2, 3.0])
    assert rows[2].mean_degradation == pytest.approx(3.0)
    assert scalability([]) == []


LIMITS = BreakLimits(max_error_ratio=0.01, max_p95_ms=500, min_throughput_ratio=0.9)


def test_closed_model_breaks_when_throughput_stops_growing():
    steps = [step(10, 100), step(20, 200), step(40, 380), step(80, 370)]
    result = breaking_point_from_steps(steps, LIMITS, open_model=False)
    assert result.point.found and result.rule == RULE_GROWTH
    assert (result.last_good_level, result.break_level) == (40, 80)
    assert result.point.capacity_rps == 380 and result.point.offered_at_break == 80
    assert "growth efficiency" in result.point.reason
    assert result.point.last_good_step.offered_rps == 40
    # 10 users at 5 req/s: no offered rate in a closed model, so no throughput rule
    assert not breaking_point_from_steps(
        [step(10, 5), step(20, 10)], LIMITS, open_model=False
    ).point.found
    assert json.dumps(result.as_dict(), allow_nan=False)


def test_closed_model_errors_and_latency_break_too():
    errors = breaking_point_from_steps(
        [step(10, 100), step(20, 200), step(40, 390, errors=0.05)], LIMITS, open_model=False
    )
    assert errors.rules == (RULE_ERRORS,) and errors.point.capacity_rps == 200
    slow = breaking_point_from_steps(
        [step(10, 100, p95=900), step(20, 200)], LIMITS, open_model=False
    )
    assert slow.rule == RULE_P95 and slow.point.capacity_rps is None
    assert slow.last_good_level is None and slow.point.last_good_step is None


def test_open_model_agrees_with_find_breaking_point():
    steps = [step(100, 100), step(200, 199), step(300, 240), step(400, 390)]
    result = breaking_point_from_steps(steps, LIMITS, open_model=True)
    assert result.rule == RULE_THROUGHPUT and result.break_level == 300
    measures = [
        StepMeasure(
            offered_rps=s.level,
            achieved_rps=s.throughput_rps,
            error_ratio=s.error_ratio,
            p95_ms=s.p95_ms,
            answered=s.requests,
            duration_s=s.duration_s,
        )
        for s in steps
    ]
    assert result.point == find_breaking_point(measures, LIMITS)


def test_no_break_gives_best_throughput_as_lower_bound():
    result = breaking_point_from_steps([step(100, 100), step(200, 198)], LIMITS, open_model=True)
    assert not result.point.found and result.point.capacity_rps == 198
    assert result.last_good_level == 200 and result.break_level is None and result.rule is None


def test_littles_law_consistent_and_explained():
    ok = littles_law(100, 100, 10)
    assert ok.expected_concurrency == pytest.approx(10) and ok.consistent
    assert littles_law(100, 100, 40, think_time_ms=300).consistent
    outside = littles_law(120, 100, 40)
    assert not outside.consistent and outside.ratio == pytest.approx(40 / 12)
    assert "observed 40 users" in outside.note and "think time" in outside.note
    assert "bottleneck" in outside.note
    inside = littles_law(100, 100, 2)
    assert not inside.consistent and "more requests in flight" in inside.note


def test_littles_law_zeros_and_missing():
    assert littles_law(0, 10, 0).consistent
    idle = littles_law(0, 10, 5)
    assert not idle.consistent and idle.ratio is None and "no throughput" in idle.note
    assert not littles_law(10, None, 5).consistent
    assert not littles_law(10, math.nan, 5).consistent
    checks = littles_law_steps([step(10, 500, mean=20), step(20, 500, mean=20)])
    assert [c.consistent for c in checks] == [True, False]
    assert json.dumps([c.as_dict() for c in checks], allow_nan=False)
