"""reports.analysis.job_capacity on synthetic job-arrival runs whose answer is known.

The model: workers finish CAPACITY jobs/s; at an arrival rate below it the queue stays
near 0 (it jitters by a job or two), above it the backlog grows at ``rate - CAPACITY``;
after the stop it drains at CAPACITY jobs/s.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from reports.analysis.job_capacity import JobCapacityRules, job_capacity

CAPACITY = 2.0
STEP_ROWS = 20


def pipeline(rates, drain_rows=30, seed=0, accepted=None, capacity=CAPACITY):
    """Rows of a stepped run against a pipeline of ``capacity`` jobs/s: (elapsed, span,
    offered, depth, draining, submitted). ``accepted``: the rates really submitted
    (default: as offered)."""
    rng = np.random.default_rng(seed)
    accepted = rates if accepted is None else accepted
    offered, depth, submitted = [], [], []
    backlog = 0.0
    for rate, real in zip(rates, accepted, strict=True):
        for _ in range(STEP_ROWS):
            backlog = max(0.0, backlog + real - capacity)
            offered.append(rate)
            submitted.append(real)
            depth.append(backlog + rng.integers(0, 2))  # a job or so waiting at any rate
    for _ in range(drain_rows):
        backlog = max(0.0, backlog - capacity)
        offered.append(0.0)
        submitted.append(0.0)
        depth.append(backlog)
    n = len(offered)
    draining = np.arange(n) >= len(rates) * STEP_ROWS
    return (
        np.arange(n, dtype=float),
        np.ones(n),
        np.array(offered),
        np.array(depth, dtype=float),
        draining,
        np.array(submitted),
    )


def test_the_capacity_the_backlog_growth_and_the_drain_are_found():
    elapsed, span, offered, depth, draining, _ = pipeline([1.0, 1.5, 2.5, 3.0])
    found = job_capacity(elapsed, span, offered, depth, draining)
    assert [s.growing for s in found.steps] == [False, False, True, True]
    assert found.found
    assert found.capacity_jobs_per_s == pytest.approx(CAPACITY, rel=0.05)
    assert found.sustained_jobs_per_s == 1.5
    assert found.first_growing_jobs_per_s == 2.5
    assert found.backlog_growth_jobs_per_s == pytest.approx(1.0, rel=0.05)
    assert found.steps[2].growth_jobs_per_s == pytest.approx(0.5, rel=0.1)
    # backlog at the stop: 0.5 + 1.0 jobs/s for 20 s each, plus up to a job of jitter
    drain = found.drain
    assert drain is not None and drain.drained
    assert drain.backlog_jobs == pytest.approx(30, abs=1)
    assert drain.drain_s == pytest.approx(30 / CAPACITY, abs=1.0)
    assert drain.expected_s == pytest.approx(30 / CAPACITY, rel=0.1)
    assert drain.depth_at_end == 0
    json.dumps(found.as_dict())  # summary.json takes it as it is


def test_the_real_arrival_rate_is_used_when_the_submissions_were_counted():
    """The generator sent 2.6 jobs/s of the 3 offered: the workers' rate is 2.6 - slope."""
    rates, real = [1.0, 3.0], [1.0, 2.6]
    elapsed, span, offered, depth, draining, submitted = pipeline(rates, accepted=real)
    found = job_capacity(elapsed, span, offered, depth, draining, submitted=submitted)
    assert found.steps[1].arrival_jobs_per_s == pytest.approx(2.6)
    assert found.capacity_jobs_per_s == pytest.approx(CAPACITY, rel=0.05)
    offered_only = job_capacity(elapsed, span, offered, depth, draining)
    assert offered_only.capacity_jobs_per_s == pytest.approx(2.4, rel=0.05)  # 3 - 0.6
    # a count above the offered rate is the window's edges, never more arrivals
    edges = job_capacity(elapsed, span, offered, depth, draining, submitted=submitted * 1.1)
    assert edges.steps[0].arrival_jobs_per_s == 1.0


def test_a_pipeline_that_keeps_up_has_no_capacity_found():
    elapsed, span, offered, depth, draining, _ = pipeline([0.5, 1.0, 1.5])
    found = job_capacity(elapsed, span, offered, depth, draining)
    assert not found.found and found.capacity_jobs_per_s is None
    assert found.sustained_jobs_per_s == 1.5
    assert found.backlog_growth_jobs_per_s is None
    assert "stable at every rate" in found.reason
    assert found.drain is not None and found.drain.drain_s == pytest.approx(0, abs=1)


def test_overloaded_from_the_first_step():
    elapsed, span, offered, depth, draining, _ = pipeline([3.0, 4.0])
    found = job_capacity(elapsed, span, offered, depth, draining)
    assert found.sustained_jobs_per_s is None and found.first_growing_jobs_per_s == 3.0
    assert found.capacity_jobs_per_s == pytest.approx(CAPACITY, rel=0.05)


@pytest.mark.parametrize("seed", range(20))
def test_a_jittering_queue_below_capacity_is_not_growth(seed):
    """Depth 0 to 3 at random, every row: no trend, so no step grows (20 seeds)."""
    rng = np.random.default_rng(seed)
    n = 3 * STEP_ROWS
    offered = np.repeat([0.5, 1.0, 1.5], STEP_ROWS)
    depth = rng.integers(0, 4, n).astype(float)
    found = job_capacity(np.arange(n, dtype=float), np.ones(n), offered, depth, np.zeros(n, bool))
    assert not found.found, [(s.growth_jobs_per_s, s.p_value) for s in found.steps]


def test_a_slow_trend_under_the_floors_is_not_growth():
    """+0.04 jobs/s at 1 job/s is under the 5 % floor (and rises 0.6 jobs in the window):
    stable, however clean the line; with both floors lowered it grows."""
    n = STEP_ROWS
    depth = 0.04 * np.arange(n)
    found = job_capacity(
        np.arange(n, dtype=float), np.ones(n), np.ones(n), depth, np.zeros(n, bool)
    )
    assert found.steps[0].growing is False
    loose = JobCapacityRules(min_growth_fraction=0.01, min_rise_jobs=0.5)
    again = job_capacity(
        np.arange(n, dtype=float), np.ones(n), np.ones(n), depth, np.zeros(n, bool), rules=loose
    )
    assert again.steps[0].growing is True


def test_a_queue_that_does_not_drain_in_the_watched_time():
    elapsed, span, offered, depth, draining, _ = pipeline([1.0, 4.0], drain_rows=5)
    found = job_capacity(elapsed, span, offered, depth, draining)
    drain = found.drain
    assert drain is not None and not drain.drained and drain.drain_s is None
    assert drain.watched_s == 5
    assert drain.depth_at_end == pytest.approx(drain.backlog_jobs - 5 * CAPACITY, abs=1)
    assert drain.expected_s == pytest.approx(drain.backlog_jobs / CAPACITY, rel=0.1)


def test_a_run_cut_before_the_drain_has_none():
    elapsed, span, offered, depth, draining, _ = pipeline([1.0, 3.0], drain_rows=0)
    found = job_capacity(elapsed, span, offered, depth, draining)
    assert found.drain is None and found.found


def test_without_queue_readings_nothing_is_judged():
    elapsed, span, offered, depth, draining, _ = pipeline([1.0, 3.0])
    found = job_capacity(elapsed, span, offered, np.full(depth.size, np.nan), draining)
    assert [s.growing for s in found.steps] == [None, None]
    assert not found.found and found.sustained_jobs_per_s is None
    assert "not read" in found.reason


def test_websocket_delivery_per_step_is_the_median_of_its_settled_rows():
    elapsed, span, offered, depth, draining, _ = pipeline([1.0, 3.0])
    p50 = np.where(offered == 1.0, 2.0, 8.0)
    p95 = np.where(offered == 1.0, 5.0, 40.0)
    p95[STEP_ROWS + 1] = 10_000.0  # one outlier row in the second step changes no median
    found = job_capacity(elapsed, span, offered, depth, draining, ws_p50_ms=p50, ws_p95_ms=p95)
    assert [(s.ws_p50_ms, s.ws_p95_ms) for s in found.steps] == [(2.0, 5.0), (8.0, 40.0)]


def test_arrays_of_different_lengths_are_refused():
    elapsed, span, offered, depth, draining, _ = pipeline([1.0])
    with pytest.raises(ValueError, match="queue_depth has"):
        job_capacity(elapsed, span, offered, depth[:-1], draining)
    with pytest.raises(ValueError, match="draining has"):
        job_capacity(elapsed, span, offered, depth, draining[:-1])


@pytest.mark.parametrize("seed", range(20))
def test_a_queue_at_three_quarters_load_that_wanders_is_not_growth(seed):
    """Jobs arriving on a timetable (1.5 a second) at workers that finish 2 a second give or
    take one (a job's time varies): the depth wanders (each row depends on the one before)
    yet the step does not grow; the same queue at 3 jobs/s does (20 seeds)."""
    rng = np.random.default_rng(seed)
    depth, backlog, arrived = [], 0.0, 0.0
    rates = np.repeat([1.5, 3.0], STEP_ROWS)
    for rate in rates:
        due = np.floor(arrived + rate) - np.floor(arrived)  # whole jobs this second
        arrived += rate
        backlog = max(0.0, backlog + due - (CAPACITY + rng.integers(-1, 2)))
        depth.append(backlog)
    n = rates.size
    found = job_capacity(
        np.arange(n, dtype=float), np.ones(n), rates, np.array(depth), np.zeros(n, bool)
    )
    assert [s.growing for s in found.steps] == [False, True], found.steps


def test_the_drain_starts_when_the_submissions_stop_not_when_the_stage_says():
    """The rows' stage can run a row ahead of the submissions: the first 'drain' row still
    submitted jobs. With the submissions counted, the stop is after it, and the drain is
    timed from there; without them, from the stage."""
    elapsed, span, offered, depth, draining, submitted = pipeline([1.0, 3.0])
    early = draining.copy()
    early[np.argmax(draining) - 1] = True  # labelled drain a row before the last submissions
    counted = job_capacity(elapsed, span, offered, depth, early, submitted=submitted)
    on_time = job_capacity(elapsed, span, offered, depth, draining)
    same = ("stop_s", "backlog_jobs", "drain_s", "watched_s")
    assert [getattr(counted.drain, k) for k in same] == [getattr(on_time.drain, k) for k in same]
    assert counted.drain.drain_s == pytest.approx(20 / CAPACITY, abs=1.0)
    by_stage = job_capacity(elapsed, span, offered, depth, early)
    assert by_stage.drain.stop_s == on_time.drain.stop_s - 1
