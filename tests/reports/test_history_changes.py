"""Change points and the gate (``reports.history_changes``) on synthetic histories of known
answer: the issue's accuracy figures, each over 20 seeds."""

from __future__ import annotations

import numpy as np
import pytest

from reports.history_changes import MIN_RUNS, change_points, judge

SEEDS = range(20)


def history(seed: int, n: int = 60, noise: float = 0.03, level: float = 100.0) -> np.ndarray:
    return level * (1 + np.random.default_rng(seed).normal(0, noise, n))


def test_a_10_percent_step_at_build_40_is_found_at_40_within_1():
    found = 0
    for seed in SEEDS:
        values = history(seed)
        values[40:] *= 1.10
        points = change_points(values)
        found += any(abs(p.index - 40) <= 1 for p in points)
    assert found >= 19, found


def test_noise_alone_has_no_change_point():
    assert sum(not change_points(history(100 + seed)) for seed in SEEDS) >= 19


def test_one_outlier_build_is_not_a_change_point():
    for seed in SEEDS:
        values = history(200 + seed)
        values[30] *= 1.5
        assert not any(abs(p.index - 30) <= 2 for p in change_points(values)), seed


def test_change_point_carries_size_and_confidence():
    values = history(1)
    values[40:] *= 1.10
    (point,) = change_points(values)
    assert point.change == pytest.approx(0.10, abs=0.03) and point.confidence > 0.99


def test_gate_continues_a_regression_against_the_last_stable_segment():
    values = history(2, n=15)
    values[10:] *= 1.5  # ten runs, then five slower: the sixth-last run is the change point
    verdict = judge("p95_ms", values, 0.10)
    assert verdict.regressed and verdict.change_point is not None
    assert verdict.change_point.index == 10 and "continues" in verdict.reason
    assert not judge("p95_ms", values, 0.60).regressed  # +50 % is within a 60 % limit


def test_gate_newest_run_starting_a_regression_and_a_clean_history():
    values = history(3, n=15)
    assert not judge("p95_ms", values, 0.10).regressed
    values[-1] *= 1.4
    verdict = judge("p95_ms", values, 0.10)
    assert verdict.regressed and "starts" in verdict.reason


def test_gate_direction_floor_and_too_little_history():
    values = history(4, n=20)
    values[14:] *= 0.7  # throughput down 30 %: worse; latency down 30 %: better
    assert judge("rps", values, 0.10).regressed and not judge("p95_ms", values, 0.10).regressed
    tiny = history(5, n=20, level=0.3)
    tiny[14:] *= 1.5  # 0.3 -> 0.45 ms: under the 0.5 ms floor
    assert not judge("p95_ms", tiny, 0.10).regressed
    short = judge("p95_ms", history(6, n=MIN_RUNS - 1), 0.10)
    assert not short.judged and not short.regressed and "too little history" in short.reason
