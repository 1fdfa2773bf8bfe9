"""What broke first, on synthetic steps of known answer: one case per rule, in rule order."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reports.analysis.saturation import (
    CONCURRENCY,
    ERRORS,
    GENERATOR,
    JOB_QUEUE,
    MEMORY,
    RATE_LIMITING,
    TARGET_CPU,
    ResourceColumns,
    StepReading,
    first_saturation,
    step_readings,
)
from reports.analysis.steps import StepStats

ROWS_PER_STEP = 10


def reading(level: float, **overrides) -> StepReading:
    """A healthy closed-model step: 10 req/s per user, each answered in 100 ms (so one request
    in flight per user, Little's law), p95 150 ms, 5 % of a core per 10 req/s."""
    values = {
        "level": level,
        "start_s": 10.0 * level,
        "throughput_rps": 10.0 * level,
        "p95_ms": 150.0,
        "mean_ms": 100.0,
        "error_ratio": 0.0,
        "target_cores_busy": 0.005 * level,
        "host_cpu_percent": 20.0,
        "cores": 2,
        "host_mem_fraction": 0.3,
        "queue_depth": 0.0,
        "queue_growth_per_s": 0.0,
        "generator_cpu_percent": 20.0,
        "dropped": 0,
    }
    return StepReading(**{**values, **overrides})


def judge(knee: StepReading, *, lower=(1.0, 2.0), **kwargs):
    steps = [reading(level) for level in lower] + [knee]
    return first_saturation(
        steps,
        knee_level=knee.level,
        good_level=lower[-1] if lower else None,
        unit="users",
        p95_limit_ms=250.0,
        **kwargs,
    )


def test_a_slot_bound_target_is_a_concurrency_limit_with_littles_estimate():
    # 2 slots of 50 ms: 40 req/s flat, latency climbing, CPU 0.04 cores
    steps = [
        reading(1, throughput_rps=20.0, mean_ms=50.0, p95_ms=52.0, target_cores_busy=0.02),
        reading(2, throughput_rps=40.0, mean_ms=50.0, p95_ms=53.0, target_cores_busy=0.04),
        reading(4, throughput_rps=40.0, mean_ms=100.0, p95_ms=160.0, target_cores_busy=0.04),
    ]
    found = first_saturation(steps, knee_level=4, good_level=2, unit="users", p95_limit_ms=250)
    assert found.resource == CONCURRENCY and not found.about_generator
    assert found.figures["concurrency_estimate"] == pytest.approx(2.0)
    assert "40.0 req/s" in found.evidence and "0.04 of 2 cores" in found.evidence


def test_a_cpu_bound_target_is_target_cpu_at_one_core_or_all():
    one = judge(reading(4, target_cores_busy=0.97, p95_ms=300.0))
    assert one.resource == TARGET_CPU and one.figures["saturated_cores"] == 1
    assert "0.97 of 2 cores" in one.evidence and "uses 1" in one.evidence
    both = judge(reading(4, target_cores_busy=1.8, p95_ms=300.0))
    assert both.resource == TARGET_CPU and both.figures["saturated_cores"] == 2
    between = judge(reading(4, target_cores_busy=1.3, p95_ms=300.0))
    assert between.resource is None, "1.3 cores is near no whole number: not CPU, not low"


def test_the_generator_comes_first_and_says_the_result_is_about_it():
    knee = reading(4, target_cores_busy=0.97, generator_cpu_percent=97.0, p95_ms=300.0)
    found = judge(knee)
    assert found.resource == GENERATOR and found.about_generator
    assert found.evidence.startswith("load generator: the result is about the load generator")
    dropped = judge(reading(4, dropped=40, p95_ms=30.0))
    assert dropped.resource == GENERATOR and "40 arrivals dropped" in dropped.evidence
    backlog = judge(reading(4, dropped=40, p95_ms=900.0, mean_ms=500.0))
    assert backlog.resource == CONCURRENCY, "drops behind a slow target are the target's"


def test_host_cpu_and_memory():
    starved = judge(reading(4, host_cpu_percent=97.0, target_cores_busy=0.7))
    assert starved.resource == TARGET_CPU and "host's CPU 97 % busy" in starved.evidence
    low = judge(reading(4, host_cpu_percent=97.0, p95_ms=300.0))  # the target's CPU 0.02
    assert low.resource == CONCURRENCY and "host's CPU was at 97 %" in low.evidence
    assert judge(reading(4, host_mem_fraction=0.95, p95_ms=300.0)).resource == MEMORY


def test_rate_limiting_and_other_errors_by_the_runs_failures():
    knee = reading(4, error_ratio=0.3)
    limited = judge(knee, error_kinds={"rate limited (429)": 900, "status 500": 10})
    assert limited.resource == RATE_LIMITING and "900 of the run's 910" in limited.evidence
    other = judge(knee, error_kinds={"rate limited (429)": 10, "status 500: boom": 900})
    assert other.resource == ERRORS and "status 500: boom (900)" in other.evidence
    same_as_below = first_saturation(
        [reading(2, error_ratio=0.3), knee], knee_level=4, good_level=2, unit="users"
    )
    assert same_as_below.resource != RATE_LIMITING, "errors already there below are not new"


def test_a_job_queue_growing_through_the_knee_only():
    knee = reading(4, queue_growth_per_s=0.8, queue_depth=30.0)
    assert judge(knee).resource == JOB_QUEUE
    steps = [reading(2, queue_growth_per_s=0.5, queue_depth=10.0), knee]
    assert first_saturation(steps, knee_level=4, good_level=2, unit="users").resource is None


def test_unknown_without_target_metrics_and_nothing_when_nothing_broke():
    knee = reading(4, target_cores_busy=None, p95_ms=300.0, mean_ms=100.0)
    unknown = judge(knee)
    assert unknown.resource is None and unknown.missing == ("target CPU",)
    assert "--target-metrics" in unknown.evidence
    calm = first_saturation([reading(1), reading(2)], knee_level=None, good_level=2, unit="users")
    assert not calm.found and calm.resource is None and "nothing broke up to 2.0" in calm.evidence


def test_step_readings_average_the_settled_rows_of_each_step():
    n = 3 * ROWS_PER_STEP
    t = np.arange(n, dtype=float)
    step = np.repeat([0, 1, 2], ROWS_PER_STEP)
    columns = ResourceColumns(
        elapsed_s=t,
        target_cpu=np.where(t % ROWS_PER_STEP < 5, 0.0, 50.0 * (step + 1)),  # settled: 50 x k
        host_cpu=np.full(n, 40.0),
        cores=np.full(n, 2.0),
        host_mem=np.full(n, np.nan),
        queue_depth=t * 0.5,
        generator_cpu={"a": np.full(n, 10.0), "b": np.full(n, 30.0)},
        dropped=np.where(step == 2, 1.0, 0.0),
    )
    stats = [
        StepStats(
            level=float(k + 1),
            start_s=float(k * ROWS_PER_STEP),
            end_s=float(k * ROWS_PER_STEP + ROWS_PER_STEP - 1),
            settle_s=5.0,
            rows_used=5,
            duration_s=5.0,
            requests=100,
            failures=0,
            throughput_rps=20.0,
            answered_rps=20.0,
            error_ratio=0.0,
            mean_ms=5.0,
            p50_ms=4.0,
            p95_ms=9.0,
            p99_ms=12.0,
            concurrency=float(k + 1),
        )
        for k in range(3)
    ]
    readings = step_readings(stats, columns)
    assert [r.target_cores_busy for r in readings] == [0.5, 1.0, 1.5]
    assert [r.generator_cpu_percent for r in readings] == [30.0, 30.0, 30.0]
    assert readings[0].queue_growth_per_s == pytest.approx(0.5)
    assert readings[0].host_mem_fraction is None and readings[0].cores == 2
    assert [r.dropped for r in readings] == [0, 0, 5]
    short = dataclasses.replace(stats[0], settle_s=100.0)  # settling longer than the step
    (last_rows,) = step_readings([short], columns)
    assert last_rows.target_cores_busy == 0.5  # its last 3 rows


def test_the_knee_is_found_at_a_rounded_level_and_its_last_measure_counts():
    """Rows keep offered rates to 0.001 while the search names them exactly; a rate measured
    twice (a doubtful break measured again) is judged by its repeat."""
    first = reading(43.336, start_s=90.0, target_cores_busy=0.97)
    again = reading(43.336, start_s=96.0, p95_ms=700.0, mean_ms=300.0)
    found = first_saturation(
        [reading(41.5), first, again],
        knee_level=43.33617750198057,
        good_level=41.49886574883231,
        unit="req/s",
    )
    assert found.knee == again and found.good is not None and found.resource == CONCURRENCY


def test_a_target_idle_most_of_the_time_while_latency_climbs_points_at_the_generator():
    """A generator starved of CPU by other processes reads well under 90 %; but the target
    served 0.16 requests at a time (117 req/s x 1.35 ms): the wait was outside it."""
    lowest = reading(1, throughput_rps=110.0, mean_ms=1.35, p95_ms=4.8, target_cores_busy=0.05)
    knee = reading(8, throughput_rps=117.0, mean_ms=60.0, p95_ms=62.5, target_cores_busy=0.05)
    found = first_saturation(
        [lowest, dataclasses.replace(knee, generator_cpu_percent=60.0)],
        knee_level=8,
        good_level=1,
        unit="users",
        p95_limit_ms=250,
    )
    assert found.resource == GENERATOR and found.about_generator
    assert found.figures["served_at_once"] == pytest.approx(117 * 1.35 / 1000)
    assert "0.16 requests at a time" in found.evidence and "60 %" in found.evidence
