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
    t, req, rss = run(600, lambda r, s: 200 * MB + 8 * MB * s / 600, noise_mb=0.2)
    leak = analyse_leak(t, req, rss)
    assert leak.verdict == "suspected", leak.reason
    assert 5 <= leak.growth_mb < 10 and "growth" in leak.reason  # 2.5 % .. 5 % of 200 MB


def test_growth_under_2_5_percent_of_the_rss_is_not_suspected():
    t, req, rss = run(600, lambda r, s: 200 * MB + 4 * MB * s / 600, noise_mb=0.2)
    leak = analyse_leak(t, req, rss)
    assert leak.verdict == "none" and "2.5 % of the starting RSS" in leak.reason


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
    """At most 1 s of CPU for a day of one-second rows (CPU, not wall time: other tests may
    share the machine), after a first call that pays for importing scipy."""
    analyse_leak(*run(600, lambda r, _: 200 * MB + 0.01 * KB * r))
    t, req, rss = run(86_400, lambda r, _: 200 * MB + 0.01 * KB * r)
    started = time.process_time()
    leak = analyse_leak(t, req, rss)
    assert time.process_time() - started < 1.0
    assert leak.points == 86_400 - 300  # warm-up capped at 300 s
    assert leak.slope_kb_per_request == pytest.approx(0.01, rel=0.03)
    assert leak.verdict == "leak"


STEPPED_RATE = np.repeat([10.0, 20.0, 40.0, 80.0, 40.0], 20)
"""A 100 s stepped run's request rate (a breakpoint-like mixed workload)."""


def stepped(rss_of, noise_mb=0.2, seed=0):
    t = np.arange(STEPPED_RATE.size, dtype=float)
    req = np.cumsum(STEPPED_RATE)
    return t, req, rss_of(req) + np.random.default_rng(seed).normal(0, noise_mb * MB, t.size)


@pytest.mark.parametrize("tau", [1000, 2000, 3000])
def test_cache_warm_up_of_a_stepped_run_is_not_suspected(tau):
    # caches filling: +20 MB approached exponentially, still growing (slower) in the later half
    t, req, rss = stepped(lambda r: 100 * MB + 20 * MB * (1 - np.exp(-r / tau)))
    leak = analyse_leak(t, req, rss)
    assert leak.verdict == "none", leak.reason
    assert "slowed" in leak.reason


def test_a_steady_leak_under_stepped_load_is_still_a_leak():
    t, req, rss = stepped(lambda r: 100 * MB + 4 * KB * r)
    leak = analyse_leak(t, req, rss)
    assert leak.verdict == "leak", leak.reason
    assert leak.slope_kb_per_request == pytest.approx(4, rel=0.05)


def test_memory_that_follows_a_stepped_load_is_judged_at_its_steady_part():
    # RSS steps up with the load (buffers per user), flat within each step: not a leak
    load = np.repeat([5.0, 10.0, 20.0], 40)
    t = np.arange(load.size, dtype=float)
    req = np.cumsum(load * 10)
    rss = 300 * MB + load * 0.5 * MB + np.random.default_rng(1).normal(0, 0.1 * MB, t.size)
    leak = analyse_leak(t, req, rss, load=load)
    assert leak.verdict in ("none", "unknown"), leak.reason
    assert leak.reason.startswith("judged at the steady load from 80 s to 119 s")


def test_a_leak_at_steady_load_is_found_with_the_load_given():
    t, req, rss = run(600, lambda r, _: 200 * MB + 50 * KB * r)
    leak = analyse_leak(t, req, rss, load=np.full(t.size, 10.0))
    assert leak.verdict == "leak" and not leak.reason.startswith("judged at")
