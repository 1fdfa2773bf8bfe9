"""The noise-aware compare: the statistical tests (:mod:`reports.compare_stats`) on samples
of known distribution, the rules that use them, which runs are comparable
(:mod:`reports.compare_identity`), and the CLI's refusal and ``--force``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reports.compare import compare_summaries, format_value
from reports.compare_identity import comparability_problems, rate_driven
from reports.compare_stats import (
    error_ratio_worse,
    latency_worse,
    quantile_interval,
    rate_worse,
)
from tests.reports.test_compare import (
    BACKTESTS,
    base_endpoints,
    compare_cli,
    endpoint,
    regressed,
    summary,
    write_run,
)


def samples(rng: np.random.Generator, n: int, median_ms: float = 10.0, sigma: float = 0.5):
    """``n`` lognormal latencies as a histogram's ``(values_ms, counts)`` (1 us buckets)."""
    values, counts = np.unique(
        np.round(rng.lognormal(np.log(median_ms), sigma, n), 3), return_counts=True
    )
    return values, counts


def test_quantile_interval_brackets_the_true_quantile():
    values, counts = np.arange(1, 1001, dtype=float), np.ones(1000, dtype=np.int64)
    low, high = quantile_interval((values, counts), 0.95)
    assert 930 <= low < 950 < high <= 970  # ranks 950 -/+ 2.58 sqrt(47.5)
    assert quantile_interval((np.array([]), np.array([], dtype=np.int64)), 0.5) is None


def test_latency_test_finds_a_20_percent_shift_and_not_noise():
    rng = np.random.default_rng(1)
    base = samples(rng, 3000)
    assert latency_worse(base, samples(rng, 3000, median_ms=12.0), 0.95)
    false_alarms = sum(
        bool(latency_worse(base, samples(rng, 3000), q))
        for q in (0.5, 0.95, 0.99)
        for _ in range(20)
    )
    assert false_alarms <= 1  # 99 % intervals, non-overlap: far rarer than 1 in 60
    assert not latency_worse(samples(rng, 30), samples(rng, 30, median_ms=14.0), 0.95)  # too few


def test_rate_and_error_ratio_tests():
    assert rate_worse(100.0, 1000, 80.0, 800)  # -20 % on 1000 requests: real
    assert not rate_worse(2.0, 41, 1.0, 20)  # the demo's -51 % on 41 vs 20 requests: noise
    assert rate_worse(None, 0, 1.0, 10) is None
    assert error_ratio_worse(0, 1000, 50, 1000)  # 0 -> 5 %
    assert not error_ratio_worse(0, 40, 1, 40)  # one failure in 40
    assert error_ratio_worse(0, 0, 1, 10) is None


def test_past_the_limit_but_within_noise_is_listed_not_regressed():
    rng = np.random.default_rng(7)
    base_s, cur_s = samples(rng, 40), samples(rng, 40)  # same distribution, few samples
    base = summary(endpoint(*BACKTESTS, count=40, p95=20.0, p99=30.0))
    cur = summary(endpoint(*BACKTESTS, count=40, p95=28.0, p99=30.0))  # +40 % by chance
    key = " ".join(BACKTESTS)
    c = compare_summaries(base, cur, 0.10, samples=({key: base_s}, {key: cur_s}))
    p95 = c.endpoints[0].metric("p95_ms")
    assert p95.past_limit and p95.real is False and p95.noise and not c.regressed
    assert not any("no histograms" in n for n in c.notes)


def test_a_real_shift_with_histograms_regresses():
    rng = np.random.default_rng(3)
    key = " ".join(BACKTESTS)
    base_s, cur_s = samples(rng, 2000), samples(rng, 2000, median_ms=13.0)
    base = summary(endpoint(*BACKTESTS, count=2000, p95=22.8, p99=32.0))
    cur = summary(endpoint(*BACKTESTS, count=2000, p95=29.6, p99=41.6))
    c = compare_summaries(base, cur, 0.10, samples=({key: base_s}, {key: cur_s}))
    assert (key, "p95_ms") in regressed(c) and ("all requests", "p95_ms") in regressed(c)


def test_think_time_throughput_is_shown_not_gated():
    base = summary(*base_endpoints(rps=100.0))
    cur = summary(*base_endpoints(rps=50.0))
    c = compare_summaries(base, cur, 0.10, rate_driven=False)
    rps = c.aggregate.metric("rps")
    assert rps.past_limit and not rps.regressed and not c.regressed
    assert any("follows the users" in n for n in c.notes)


def test_too_few_requests_are_listed_as_too_few_to_judge():
    c = compare_summaries(
        summary(endpoint(*BACKTESTS, count=5)), summary(endpoint(*BACKTESTS, count=5, p95=900.0))
    )
    assert "too few to judge" in (c.endpoints[0].not_gated_because or "")


def test_rows_carry_their_units():
    queue = ("QUEUE", "depth")
    c = compare_summaries(
        summary(*base_endpoints(), endpoint(*queue, p95=4.0)),
        summary(*base_endpoints(), endpoint(*queue, p95=4.0)),
    )
    row = next(e for e in c.endpoints if e.method == "QUEUE")
    assert (
        format_value("p95_ms", row.metric("p95_ms").current, row.metric("p95_ms").unit)
        == "4.0 jobs"
    )
    assert format_value("p95_ms", 4.0) == "4.0 ms" and format_value("rps", 2.0) == "2.0 rps"


META = {
    "profile": "ci",
    "user_classes": ["StressUser"],
    "users": 4,
    "shape_class": None,
    "target_flags": "",
    "host": "http://127.0.0.1:1",
    "embedded_target": True,
}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"profile": "load-10"}, "different profile (ci vs load-10)"),
        ({"user_classes": ["BacktestUser"]}, "different user classes"),
        ({"users": 8}, "different users (4 vs 8)"),
        ({"shape_class": "StepShape"}, "different shape"),
        ({"target_flags": "--latency-ms 20"}, "different target flags"),
        ({"embedded_target": False, "host": "https://api"}, "different host"),
    ],
)
def test_runs_that_ran_different_loads_are_not_comparable(change, reason):
    problems = comparability_problems((META, {}, []), ({**META, **change}, {}, []))
    assert len(problems) == 1 and reason in problems[0]


def test_two_embedded_targets_on_other_ports_and_an_overloaded_generator():
    other_port = {**META, "host": "http://127.0.0.1:2"}
    assert comparability_problems((META, {}, []), (other_port, {}, [])) == []
    hot = [{"kind": "generator_overloaded"}]
    assert "over its CPU limit" in comparability_problems((META, {}, hot), (META, {}, []))[0]
    assert rate_driven(META) and not rate_driven(
        {**META, "user_classes": ["BacktestUser", "StressUser"]}
    )


def test_cli_refuses_runs_that_are_not_comparable_unless_forced(tmp_path):
    s = summary(*base_endpoints())
    base = write_run(tmp_path / "a", s, target_flags="")
    cur = write_run(tmp_path / "b", s, target_flags="--latency-ms 20")
    refused = compare_cli(base, cur)
    assert refused.returncode == 2 and not refused.stdout
    assert refused.stderr.count("\n") == 1 and "different target flags" in refused.stderr
    forced = compare_cli(base, cur, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "forced: different target flags" in (cur / "compare.html").read_text()
    json.loads((cur / "summary.json").read_text())  # untouched


def test_a_percentile_needs_ten_samples_beyond_it():
    rng = np.random.default_rng(5)
    base, slow = samples(rng, 500), samples(rng, 500, median_ms=30.0)
    assert latency_worse(base, slow, 0.95)  # 25 beyond p95: judged
    assert latency_worse(base, slow, 0.99) is False  # 5 beyond p99: never real


def test_compare_html_shows_units_per_row_and_a_p50_column(tmp_path):
    queue = endpoint("QUEUE", "depth", p95=4.0, p99=6.0)
    s = summary(*base_endpoints(), queue)
    base, cur = write_run(tmp_path / "a", s), write_run(tmp_path / "b", s)
    assert compare_cli(base, cur).returncode == 0
    html = (cur / "compare.html").read_text()
    row = html[html.index("QUEUE depth") : html.index("</tr>", html.index("QUEUE depth"))]
    assert "<td>4.0 jobs</td>" in row and " ms" not in row and "100.0 /s" in row
    assert '<th colspan="3">p50</th>' in html and "white-space: nowrap" in html
