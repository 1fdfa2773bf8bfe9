"""reports.analysis.leak on synthetic RSS series whose answer is known."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from reports.analysis.leak import KB, MB, LeakRules, analyse_leak

RATE = 100.0


def run(seconds, rss_of, *, noise_mb=1.0, seed=0):
    """One row per second at RATE req/s; RSS = rss_of(requests, t) + noise."""
    t = np.arange(seconds, dtype=float)
    requests = RATE * t
    rng = np.random.default_rng(seed)
    return t, requests, rss_of(requests, t) + rng.normal(0, noise_mb * MB, t.size)


def test_steady_growth_per_request_is_a_leak():
    t, req, rss = run(600, lambda r, _: 200 * MB + 50 * KB * r)
    leak = analyse_leak(t, req, rss)
    assert leak.verdict == "leak"
    assert leak.slope_kb_per_request == pytest.approx(50, rel=0.03)
    assert leak.slope_kb_per_request_ci_low <= 50 <= leak.slope_kb_per_request_ci_high
    assert leak.slope_mb_per_hour == pytest.approx(50 * KB * RATE * 3600 / MB, rel=0.03)
    assert leak.r2 > 0.99 and leak.points == 540  # 60 s warm-up (10 % of 600 s)
    assert (leak.window_start_s, leak.window_end_s) == (60.0, 599.0)
    assert leak.requests_in_window == 53_900
    assert leak.growth_mb == pytest.approx(50 * KB * 53_900 / MB, rel=0.03)
    assert leak.start_rss_mb == pytest.approx(200 + 50 * KB * 6000 / MB, rel=0.01)
    assert leak.fitted_rss_bytes(0.0) == pytest.approx(200 * MB, rel=0.01)
    assert json.dumps(leak.as_dict(), allow_nan=False)


def test_flat_rss_with_gc_spikes_is_no_leak():
    t, req, rss = run(600, lambda r, _: np.full(r.size, 300.0 * MB))
    rss[::37] += 40 * MB  # collections' transient peaks
    rss[5::53] -= 20 * MB
    leak = analyse_leak(t, req, rss)
    assert leak.verdict == "none", leak.reason
    assert abs(leak.slope_kb_per_request) < 0.01


def test_too_little_data_is_unknown_and_says_why():
    t, req, rss = run(20, lambda r, _: 200 * MB + 50 * KB * r)
    leak = analyse_leak(t, req, rss)
    assert leak.verdict == "unknown" and "not enough data" in leak.reason
    assert "points" in leak.reason and "window" in leak.reason
    few_requests = analyse_leak(
        t, req / 100, rss, warmup_s=0, rules=LeakRules(min_points=5, min_window_s=5)
    )
    assert few_requests.verdict == "unknown" and "requests" in few_requests.reason


def test_slow_small_growth_is_suspected():
    t, req, rss = run(600, lambda r, s: 200 * MB + 4 * MB * s / 600, noise_mb=0.2)
    leak = analyse_leak(t, req, rss)
    assert leak.verdict == "suspected", leak.reason
    assert 2 <= leak.growth_mb < 8 and "growth" in leak.reason


def test_growth_that_levels_off_is_warm_up_not_a_leak():
    # +30 MB over the first half of the window (a ramp filling pools), flat after it
    t, req, rss = run(600, lambda r, s: 200 * MB + 30 * MB * np.minimum(s, 300) / 300, noise_mb=0.2)
    leak = analyse_leak(t, req, rss)
    assert leak.slope_kb_per_request_ci_low > 0  # the whole window does grow ...
    assert leak.verdict == "none" and "stopped growing" in leak.reason  # ... then stops


def test_missing_rss_rows_are_dropped_and_warmup_can_be_given():
    t, req, rss = run(600, lambda r, _: 200 * MB + 50 * KB * r)
    rss[100:150] = np.nan
    leak = analyse_leak(t, req, rss, warmup_s=0)
    assert leak.points == 550 and leak.window_start_s == 0.0
    assert leak.slope_kb_per_request == pytest.approx(50, rel=0.03)


def test_a_day_of_rows_is_fast():
    t, req, rss = run(86_400, lambda r, _: 200 * MB + 0.01 * KB * r)
    started = time.perf_counter()
    leak = analyse_leak(t, req, rss)
    assert time.perf_counter() - started < 1.0
    assert leak.points == 86_400 - 300  # warm-up capped at 300 s
    assert leak.slope_kb_per_request == pytest.approx(0.01, rel=0.03)
    assert leak.verdict == "leak"
