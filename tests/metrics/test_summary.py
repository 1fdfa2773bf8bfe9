"""metrics.summary and rundir.records: percentiles, Apdex, rows and summary.json on data of
known answer."""

from __future__ import annotations

import random

import pytest

from metrics.latency import Cell, Slot, SlotRecorder, new_histogram, to_us
from metrics.summary import (
    ROW_PERCENTILES,
    SUMMARY_PERCENTILES,
    apdex,
    percentile_from_counts,
    percentiles_us,
    rate,
)
from rundir.records import build_row, build_summary

DESIGN_SUMMARY_KEYS = {
    "run_id",
    "duration_s",
    "users_max",
    "endpoints",
    "total",
    "breaking_point",
    "leak",
    "thresholds",
    "passed",
}
DESIGN_ENDPOINT_KEYS = {
    "name",
    "method",
    "count",
    "failures",
    "rps",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
}
DESIGN_TOTAL_KEYS = {"count", "failures", "rps", "p50_ms", "p95_ms", "p99_ms"}


def cell_of(samples_ms, failed_ms=()) -> Cell:
    cell = Cell()
    for ms in [*samples_ms, *failed_ms]:
        cell.hist.record_value(to_us(ms))
        cell.sum_ms += ms
        cell.count += 1
    if failed_ms:
        cell.failed_hist = new_histogram()
        for ms in failed_ms:
            cell.failed_hist.record_value(to_us(ms))
            cell.failures += 1
    return cell


def raw_percentile(sorted_values, p):
    """HdrHistogram's rank definition applied to the raw samples."""
    rank = max(1, int(p * len(sorted_values) / 100 + 0.5))
    return sorted_values[rank - 1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_percentiles_match_hdrh_and_the_raw_samples(seed):
    rng = random.Random(seed)
    values = sorted(to_us(rng.lognormvariate(2, 1.5)) for _ in range(rng.randint(1, 20000)))
    hist = new_histogram()
    for v in values:
        hist.record_value(v)
    ps = [0, 1, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100]
    ours = percentiles_us(hist, ps)
    for p in ps:
        assert ours[p] == hist.get_value_at_percentile(p), p
        raw = raw_percentile(values, p)
        assert hist.values_are_equivalent(ours[p], raw)  # same HDR bucket
        assert abs(ours[p] - raw) <= max(1, raw * 1e-3)  # 3 significant digits


def test_percentiles_of_known_samples():
    # 1..2000 us: below 2048 us HDR keeps every microsecond, so these are exact
    hist = new_histogram()
    for us in range(1, 2001):
        hist.record_value(us)
    assert percentiles_us(hist, [50, 90, 99, 100]) == {50: 1000, 90: 1800, 99: 1980, 100: 2000}
    # 1..1000 ms: exact to 3 significant digits
    cell = cell_of(range(1, 1001))
    row = build_row(0.0, 0.0, 1.0, 1, {"GET /x": cell}, {})["endpoints"]["GET /x"]
    for name, expected in [
        ("p50_ms", 500),
        ("p90_ms", 900),
        ("p95_ms", 950),
        ("p99_ms", 990),
        ("max_ms", 1000),
    ]:
        assert row[name] == pytest.approx(expected, rel=1e-3), name
        assert row[name] >= expected  # HDR reports the bucket top
    assert row["avg_ms"] == 500.5 and row["count"] == 1000 and row["rps"] == 1000.0


def test_empty_histograms_have_no_percentiles():
    assert percentiles_us(new_histogram(), [50, 99]) == {50: None, 99: None}
    row = build_row(10.0, 0.0, 1.0, None, {}, {})
    assert row["total"]["count"] == 0 and row["total"]["p99_ms"] is None
    assert row["endpoints"] == {}


def test_apdex_on_known_data():
    # T = 500 ms: 60 satisfied (100 ms), 30 tolerating (1 s, 2 s), 10 frustrated (3 s)
    samples = [100] * 60 + [1000] * 20 + [2000] * 10 + [3000] * 10
    assert apdex(cell_of(samples), 500) == pytest.approx((60 + 30 / 2) / 100)
    # the boundaries: exactly T satisfies, exactly 4T tolerates
    assert apdex(cell_of([500, 2000]), 500) == pytest.approx((1 + 0.5) / 2)
    # failures are frustrated whatever their latency
    with_failures = cell_of([100] * 50 + [1000] * 30 + [3000] * 10, failed_ms=[100] * 10)
    assert apdex(with_failures, 500) == pytest.approx((50 + 30 / 2) / 100)
    assert apdex(Cell(), 500) is None


def test_row_rates_use_the_covered_span():
    row = build_row(
        100.0,
        5.0,
        0.25,
        3,
        {"GET /x": cell_of([1.0] * 10)},
        {"w1": {"cpu_percent": 50.0, "rss_bytes": 7}},
    )
    assert set(row) == {"t", "elapsed_s", "users", "endpoints", "total", "requests", "generators"}
    assert row["requests"] == row["total"]  # no pseudo-request: the same numbers
    assert set(row["endpoints"]["GET /x"]) == {
        "count",
        "failures",
        "rps",
        *ROW_PERCENTILES,
        "max_ms",
        "avg_ms",
    }
    assert row["total"]["rps"] == 40.0 and row["generators"]["w1"]["cpu_percent"] == 50.0


def test_summary_has_the_design_schema():
    totals = {
        "POST /v1/backtests": cell_of([10.0] * 90, failed_ms=[900.0] * 10),
        "GET /v1/backtests/{id}": cell_of([2.0] * 50),
        "WS_MSG /v1/jobs/{id}/events": cell_of([30.0] * 40),
    }
    errors = {("POST /v1/backtests", "HTTPError('500')"): 10}
    summary = build_summary(
        run_id="r1",
        duration_s=10.0,
        users_max=5,
        totals=totals,
        errors=errors,
        apdex_t_ms=500,
        complete=True,
    )
    assert DESIGN_SUMMARY_KEYS <= set(summary)
    assert summary["complete"] is True and summary["passed"] is True
    assert summary["thresholds"] == [] and summary["breaking_point"]["found"] is False
    assert summary["leak"]["verdict"] == "none"
    names = [(e["name"], e["method"]) for e in summary["endpoints"]]
    assert names == [
        ("/v1/backtests", "POST"),
        ("/v1/backtests/{id}", "GET"),
        ("/v1/jobs/{id}/events", "WS_MSG"),
    ]
    post = summary["endpoints"][0]
    assert DESIGN_ENDPOINT_KEYS | set(SUMMARY_PERCENTILES) <= set(post)
    assert (post["count"], post["failures"], post["rps"]) == (100, 10, 10.0)
    assert post["apdex"] == 0.9
    assert DESIGN_TOTAL_KEYS <= set(summary["total"])
    # total: the target's requests only (as Locust's aggregate, which never sees measurements)
    assert summary["total"]["count"] == 150 and summary["total"]["failures"] == 10
    assert summary["requests"] == summary["total"]
    assert summary["errors"] == [
        {"method": "POST", "name": "/v1/backtests", "message": "HTTPError('500')", "count": 10}
    ]


def test_incomplete_summary_says_why():
    summary = build_summary(
        run_id="r",
        duration_s=1,
        users_max=0,
        totals={},
        errors={},
        apdex_t_ms=500,
        complete=False,
        incomplete_reasons=["interrupted"],
    )
    assert summary["complete"] is False and summary["incomplete_reasons"] == ["interrupted"]
    assert summary["endpoints"] == [] and summary["total"]["count"] == 0


def test_total_and_requests_leave_out_pseudo_requests():
    cells = {
        "GET /x": cell_of([10.0] * 4),
        "QUEUE depth": cell_of([0.0] * 6),
        "JOB end_to_end": cell_of([5000.0] * 2),
    }
    row = build_row(0.0, 0.0, 1.0, 1, cells, {})
    assert row["total"]["count"] == 4 and row["requests"] == row["total"]
    assert row["endpoints"]["QUEUE depth"]["count"] == 6  # still addressed by name
    assert row["requests"]["max_ms"] == pytest.approx(10.0, rel=1e-3)


def test_percentile_nearest_rank():
    counts = {10: 90, 20: 5, 500: 5}  # 100 requests
    assert percentile_from_counts(counts, 0.90) == 10
    assert percentile_from_counts(counts, 0.95) == 20
    assert percentile_from_counts(counts, 0.96) == 500
    assert percentile_from_counts(counts, 1.0) == 500
    assert percentile_from_counts({}, 0.95) is None
    assert percentile_from_counts({5: 0}, 0.95) is None
    with pytest.raises(ValueError):
        percentile_from_counts(counts, 0)


def test_rate():
    assert rate(600, 60.0) == 10.0
    assert rate(5, 0.0) == 0.0


# --- percentiles rebuilt from rows (a run whose histograms were lost) ----------------------


def row_of(values_ms: list[float]) -> dict:
    """A timeseries row's stats of ``values_ms``, computed as the run writer does."""
    from hdrh.histogram import HdrHistogram

    from metrics.latency import HIGHEST_US, LOWEST_US, SIGNIFICANT_FIGURES
    from metrics.summary import ROW_PERCENTILES, latency_stats

    hist = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)
    for v in values_ms:
        hist.record_value(int(v * 1000))
    return {
        "count": len(values_ms),
        "avg_ms": sum(values_ms) / len(values_ms),
        **latency_stats(hist, ROW_PERCENTILES),
    }


def test_rows_of_one_value_give_that_value():
    from metrics.summary import SUMMARY_PERCENTILES, percentiles_from_rows

    row = row_of([5.0] * 100)  # 5.003: HDR's highest value equivalent to 5 ms
    stats = percentiles_from_rows([row] * 3, SUMMARY_PERCENTILES)
    assert {stats[k] for k in SUMMARY_PERCENTILES} == {row["p50_ms"]} == {row["max_ms"]}
    assert stats["max_ms"] == row["max_ms"] and stats["avg_ms"] == 5.0


def test_rows_are_weighted_by_their_counts():
    from metrics.summary import percentiles_from_rows

    fast, slow = row_of([1.0] * 300), row_of([10.0] * 100)
    stats = percentiles_from_rows([fast, slow], {"p50_ms": 50.0, "p75_ms": 75.0, "p80_ms": 80.0})
    assert (stats["p50_ms"], stats["p75_ms"], stats["p80_ms"]) == (
        fast["p50_ms"],
        fast["p50_ms"],
        slow["p50_ms"],
    )
    assert stats["avg_ms"] == 3.25 and stats["max_ms"] == slow["max_ms"]


def test_estimates_from_rows_stay_close():
    """Lognormal latencies over 30 rows of 50-400 requests: each estimate within -15 %
    and +20 % of the exact percentile of all values (p50 .. p95 within 15 % either way)."""
    import random

    from metrics.summary import SUMMARY_PERCENTILES, percentile_from_counts, percentiles_from_rows

    rng = random.Random(7)
    rows, every = [], []
    for _ in range(30):
        values = [round(rng.lognormvariate(3, 0.6), 3) for _ in range(rng.randint(50, 400))]
        rows.append(row_of(values))
        every += values
    stats = percentiles_from_rows(rows, SUMMARY_PERCENTILES)
    counts: dict[float, int] = {}
    for v in every:
        counts[v] = counts.get(v, 0) + 1
    for key, p in SUMMARY_PERCENTILES.items():
        exact = percentile_from_counts(counts, p / 100)
        assert exact is not None and stats[key] is not None
        assert exact * 0.85 <= stats[key] <= exact * 1.2, (key, exact, stats[key])
        if p <= 95:
            assert stats[key] <= exact * 1.15, (key, exact, stats[key])


def test_no_timed_rows_give_no_percentiles():
    from metrics.summary import SUMMARY_PERCENTILES, percentiles_from_rows

    stats = percentiles_from_rows([{"count": 0}, {"count": 3, "p50_ms": None}], SUMMARY_PERCENTILES)
    assert set(stats.values()) == {None}


def test_average_response_size_per_endpoint_is_bytes_per_request():
    recorder = SlotRecorder(0.0, 1.0)
    for length in (100, 300, None, 200):  # None: Locust's length of a failed connection
        recorder.record("GET /x", 5.0, None, 0.5, length)
    recorder.record("QUEUE depth", 3.0, None, 0.5)
    (slot,) = recorder.take()
    wire = Slot.from_wire(slot.to_wire())  # the size travels worker -> master
    summary = build_summary(
        run_id="r",
        duration_s=1,
        users_max=1,
        totals=wire.cells,
        errors={},
        apdex_t_ms=500,
        complete=True,
    )
    sizes = {(e["method"], e["name"]): e["avg_size_bytes"] for e in summary["endpoints"]}
    assert sizes == {("GET", "/x"): 150.0, ("QUEUE", "depth"): 0.0}
