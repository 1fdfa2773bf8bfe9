"""reports.analysis.tables on synthetic histograms and rows whose answer is known."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

import reports.analysis as analysis
from metrics.latency import new_histogram, to_us
from metrics.summary import SUMMARY_PERCENTILES, latency_stats, percentile_from_counts
from reports.analysis.errors import error_message, error_ratios, error_type
from reports.analysis.tables import (
    apdex_score,
    cache_effect,
    data_size_scaling,
    percentile_table,
)
from rundir.reader import recorded_values


def test_percentiles_are_nearest_rank_values():
    table = percentile_table(np.arange(1, 101), np.ones(100))
    assert table == {
        "p50_ms": 50.0,
        "p75_ms": 75.0,
        "p90_ms": 90.0,
        "p95_ms": 95.0,
        "p99_ms": 99.0,
        "p999_ms": 100.0,
        "max_ms": 100.0,
        "avg_ms": 50.5,
    }


def test_percentiles_weight_by_count_and_ignore_order_and_empty_bins():
    table = percentile_table(
        np.array([30.0, 10.0, 20.0, 99.0]), np.array([98, 1, 1, 0]), percentiles=(1, 2, 50)
    )
    assert table["p1_ms"] == 10.0 and table["p2_ms"] == 20.0 and table["p50_ms"] == 30.0
    assert table["max_ms"] == 30.0
    assert table["avg_ms"] == pytest.approx((30 * 98 + 10 + 20) / 100)
    # rank = round half up: the median of 3 values is the 2nd (rank 1.5 -> 2)
    assert percentile_table(np.array([1, 2, 3]), np.ones(3), (50,))["p50_ms"] == 2.0


def test_percentiles_of_an_empty_histogram_are_none():
    table = percentile_table(np.array([]), np.array([]))
    assert set(table) == {
        "p50_ms",
        "p75_ms",
        "p90_ms",
        "p95_ms",
        "p99_ms",
        "p999_ms",
        "max_ms",
        "avg_ms",
    }
    assert all(v is None for v in table.values())


def test_apdex_counts_tolerating_half_and_failures_frustrated():
    values, counts = np.array([50, 100, 150, 400, 500]), np.array([50, 10, 20, 10, 10])
    # satisfied <= 100 (60), tolerating <= 400 (30), frustrated 10
    assert apdex_score(values, counts, 100) == pytest.approx((60 + 15) / 100)
    assert apdex_score(values, counts, 100, failed_counts=np.array([20])) == pytest.approx(75 / 120)
    assert apdex_score(values, counts, 100, failed_values_ms=np.array([5.0, 9.0])) == pytest.approx(
        75 / 102
    )
    assert apdex_score(np.array([]), np.array([]), 100) is None
    with pytest.raises(ValueError):
        apdex_score(values, counts, 0)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("HTTPError 500 for /v1/backtests/123", "HTTPError 500 for <url>"),
        (
            "HTTPError('500 Server Error: INTERNAL SERVER ERROR for url: "
            "http://127.0.0.1:8089/v1/backtests/9')",
            "HTTPError('500 Server Error: INTERNAL SERVER ERROR for url: <url>')",
        ),
        (
            "job 7f3a9c2e-1b2c-4d5e-8f90-aabbccddeeff timed out after 250 ms",
            "job <n> timed out after <n> ms",
        ),
        (
            "ConnectionRefusedError(111, 'Connection refused')",
            "ConnectionRefusedError(<n>, 'Connection refused')",
        ),
        ("unexpected status 503", "unexpected status 503"),
        ("checksum 0xdeadbeef  mismatch", "checksum <n> mismatch"),
    ],
)
def test_error_type_normalises_ids_but_keeps_the_status(message, kind):
    assert error_type(message) == kind


def test_error_ratios_group_by_route_and_message_type_across_ids():
    url = "HTTPError('500 Server Error: boom for url: http://h:1/v1/backtests/{}')"
    rows = [
        {"method": "GET", "name": "/v1/backtests/[id]", "message": url.format(123), "count": 5},
        {"method": "GET", "name": "/v1/backtests/[id]", "message": url.format(456), "count": 3},
        {"method": "POST", "name": "/v1/backtests", "message": url.format(7), "count": 2},
        {
            "method": "GET",
            "name": "/v1/jobs/[id]",
            "message": "HTTPError('404 Client Error: Not Found for url: /v1/jobs/42')",
            "count": 4,
        },
        {"method": "GET", "name": "/v1/jobs/[id]", "message": "ignored", "count": 0},
    ]
    shares = error_ratios(rows, total_requests=1000)
    assert [(s.endpoints, s.count) for s in shares] == [
        (("GET /v1/backtests/[id]",), 8),
        (("GET /v1/jobs/[id]",), 4),
        (("POST /v1/backtests",), 2),
    ]
    first = shares[0]
    assert "500 Server Error" in first.error_type and first.ratio == pytest.approx(0.008)
    assert first.example == "HTTPError: 500 Server Error: boom for url: http://h:1/v1/backtests/123"
    assert "404 Client Error" in shares[1].error_type
    assert error_ratios(rows, total_requests=0)[0].ratio is None
    assert json.dumps([s.as_dict() for s in shares], allow_nan=False)


def _row(name, p50, method="GET", count=100):
    return {"method": method, "name": name, "count": count, "p50_ms": p50, "p95_ms": 2 * p50}


def test_cache_effect_speedup_and_cache_key_check():
    rows = [
        _row("/v1/backtests [cold]", 200),
        _row("/v1/backtests [warm]", 20),
        _row("/v1/backtests [changed]", 190),
        _row("/v1/prices [cold]", 100),
        _row("/v1/prices [warm]", 10),
        _row("/v1/prices [changed]", 12),
        _row("/v1/jobs [warm]", 5),
        _row("/v1/other", 1),
    ]
    by_name = {e.name: e for e in cache_effect(rows)}
    assert set(by_name) == {"/v1/backtests", "/v1/prices", "/v1/jobs"}
    backtests = by_name["/v1/backtests"]
    assert backtests.speedup == pytest.approx(10.0)
    assert backtests.changed_vs_cold == pytest.approx(0.95) and backtests.cache_key_ok is True
    assert by_name["/v1/prices"].cache_key_ok is False  # the changed key hit the cache
    jobs = by_name["/v1/jobs"]
    assert jobs.speedup is None and jobs.cache_key_ok is None
    assert cache_effect([_row("/v1/backtests", 5)]) == []


def test_data_size_scaling_fits_ms_per_year():
    rows = [_row(f"/v1/backtests [{y}y]", 40 + 30 * y, method="POST") for y in (1, 2, 3, 5)]
    rows += [_row("/v1/backtests [cold]", 1), _row("/v1/prices [1y]", 3)]
    fit = data_size_scaling(rows)
    assert fit is not None and (fit.method, fit.name) == ("POST", "/v1/backtests")
    assert fit.years == (1.0, 2.0, 3.0, 5.0)
    assert fit.ms_per_year == pytest.approx(30) and fit.intercept_ms == pytest.approx(40)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.ratio_per_year == pytest.approx((190 / 70) ** (1 / 4))
    assert fit.linear_ratio == pytest.approx((190 / 70) / 5)
    assert json.dumps(fit.as_dict(), allow_nan=False)


def test_data_size_scaling_proportional_and_too_few_sizes():
    fit = data_size_scaling([_row(f"/v1/backtests [{y}y]", 50 * y) for y in (1, 2, 4)])
    assert fit is not None and fit.linear_ratio == pytest.approx(1.0)
    assert fit.ratio_per_year == pytest.approx(4 ** (1 / 3))
    assert data_size_scaling([_row("/v1/backtests [1y]", 50)]) is None
    assert data_size_scaling([_row("/v1/backtests", 50)]) is None


def test_package_exports_every_public_name():
    for name in analysis.__all__:
        assert hasattr(analysis, name), name
    assert {
        "step_verdict",
        "find_breaking_point",
        "fit_usl",
        "analyse_leak",
        "segment_steps",
        "percentile_table",
    } <= set(analysis.__all__)


def test_error_type_does_not_take_a_closing_tag_for_a_path():
    kind = error_type("bad symbol </b> at /v1/backtests/42")
    assert "</b>" in kind and kind.endswith("<url>")


@pytest.mark.parametrize("seed", [0, 1])
def test_a_saved_histogram_gives_summary_json_s_percentiles(seed):
    """One rule, three forms: an HDR histogram (summary.json), the same histogram saved and
    read back as value/count arrays (the report's fallback), and ``{value: count}`` (the
    breakpoint search's windows) give the same percentiles and max."""
    rng = random.Random(seed)
    hist = new_histogram()
    for _ in range(rng.randint(1, 5000)):
        hist.record_value(to_us(rng.lognormvariate(3, 1.2)))
    summary = latency_stats(hist, SUMMARY_PERCENTILES)
    values_ms, counts = recorded_values(hist)
    table = percentile_table(values_ms, counts)
    by_value = dict(zip(values_ms.tolist(), counts.tolist(), strict=True))
    for key, p in SUMMARY_PERCENTILES.items():
        assert table[key] == summary[key], key
        assert percentile_from_counts(by_value, p / 100) == summary[key], key
    assert table["max_ms"] == summary["max_ms"]


@pytest.mark.parametrize(
    "raw,shown",
    [
        ("CatchResponseError('status 500: injected_error')", "status 500: injected_error"),
        (
            "CatchResponseError(\"body is not JSON (text/html): '<b>'\")",
            "body is not JSON (text/html): '<b>'",
        ),
        (
            "ConnectionRefusedError(111, 'Connection refused')",
            "ConnectionRefusedError: 111 Connection refused",
        ),
        ("RemoteDisconnected()", "RemoteDisconnected"),
        ("status 500: plain text", "status 500: plain text"),
        ("Broken(unclosed", "Broken(unclosed"),
    ],
)
def test_error_message_shows_the_message_not_the_repr(raw, shown):
    assert error_message(raw) == shown


def test_the_same_message_on_two_routes_is_two_rows_and_reprs_group_with_messages():
    rows = [
        {
            "method": "GET",
            "name": "/a",
            "message": "CatchResponseError('status 500: x')",
            "count": 2,
        },
        {"method": "GET", "name": "/a", "message": "status 500: x", "count": 1},
        {
            "method": "GET",
            "name": "/b",
            "message": "CatchResponseError('status 500: x')",
            "count": 1,
        },
    ]
    shares = error_ratios(rows, total_requests=10)
    assert [(s.endpoints, s.count, s.example) for s in shares] == [
        (("GET /a",), 3, "status 500: x"),
        (("GET /b",), 1, "status 500: x"),
    ]
