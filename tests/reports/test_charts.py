"""The report's time charts on series of known shape (no processes): what each line draws,
where, and on which axis range."""

from __future__ import annotations

import numpy as np
import pytest

from reports import figures
from reports.chart_data import axis_range, drawn_rows, integer_dtick, outage_windows
from reports.chart_marks import shade_outages
from rundir.series import RunSeries

NAN = float("nan")


def series(n: int = 6, *, last_span: float = 1.0, offered=None, users=None, rss=None) -> RunSeries:
    """``n`` one-second rows at 10 req/s; the last row covers ``last_span`` seconds."""
    span = np.ones(n)
    span[-1] = last_span
    nan = np.full(n, NAN)
    return RunSeries(
        elapsed_s=np.arange(n, dtype=float),
        span_s=span,
        users=np.asarray(users if users is not None else np.full(n, 2.0), dtype=float),
        offered=np.asarray(offered if offered is not None else nan, dtype=float),
        offered_unit="req/s" if offered is not None else None,
        stage=[None] * n,
        requests=10.0 * span,
        failures=np.zeros(n),
        p50_ms=nan,
        p95_ms=nan,
        p99_ms=nan,
        avg_ms=nan,
        ws_p50_ms=nan,
        ws_p95_ms=nan,
        target_cpu=np.full(n, 50.0),
        target_rss=np.asarray(rss if rss is not None else nan, dtype=float),
        queue_depth=nan,
        generator_cpu={},
        endpoint_counts={},
        endpoint_failures={},
    )


def trace(chart: dict, name_start: str) -> dict:
    return next(t for t in chart["figure"]["data"] if t["name"].startswith(name_start))


def test_a_last_partial_row_is_not_drawn():
    assert drawn_rows(np.array([1.0, 1.0, 1.0, 0.3])) == 3
    assert drawn_rows(np.array([1.0, 1.0, 1.0, 0.8])) == 4
    chart = figures.throughput(series(last_span=0.2))
    assert chart is not None
    ys = trace(chart, "requests/s")["y"]
    assert len(ys) == 5 and ys == [10.0] * 5  # no collapse to a fraction at the end


def test_users_and_offered_are_drawn_when_sampled_at_the_rows_end():
    offered = [5.0, 5.0, 10.0, 10.0, 20.0, 20.0]
    chart = figures.load(series(offered=offered, users=[1, 1, 2, 2, 3, 3]))
    assert chart is not None
    assert trace(chart, "users")["x"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert trace(chart, "offered")["x"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert trace(chart, "achieved")["x"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # rates: the row's


def test_the_load_chart_has_whole_users_and_holds_the_offered_rate():
    chart = figures.load(series(offered=[5, 5, 10, 10, 40, 40], users=[1, 1, 2, 2, 3, 3]))
    assert chart is not None
    spec = chart["figure"]["layout"]
    assert spec["yaxis"]["dtick"] == 1 and spec["yaxis"]["tick0"] == 0
    assert spec["yaxis"]["range"] == [0.0, pytest.approx(3 * 1.15)]  # 3 users inside the plot
    assert spec["yaxis2"]["range"] == [0.0, pytest.approx(40 * 1.15)]
    assert integer_dtick(0.4) == 1 and integer_dtick(100) == 20


def test_the_rss_axis_reaches_above_its_line():
    chart = figures.target_resources(series(rss=np.full(6, 300.0 * 1024 * 1024)))
    assert chart is not None
    assert chart["figure"]["layout"]["yaxis2"]["range"][1] > 300.0
    assert chart["figure"]["layout"]["yaxis2"]["tickmode"] == "auto"  # round ticks, not synced
    assert axis_range(np.array([NAN])) is None


def test_target_outages_are_shaded_and_nothing_without_them():
    events = [
        {"kind": "test_start", "t": 1000000000.0, "elapsed_s": 0.0},
        {"kind": "target_outage", "start": 2.0, "end": 3.5},
        {"kind": "target_outage", "start": 1000000004.0},  # a Unix time, no end yet
        {"kind": "target_back", "start": 9.0},
    ]
    windows = outage_windows(events, 6.0)
    assert windows == [(2.0, 3.5), (4.0, 6.0)]
    chart = shade_outages(figures.throughput(series()), windows, np.arange(6.0))
    shapes = chart["figure"]["layout"]["shapes"]
    assert [(s["x0"], s["x1"]) for s in shapes] == [(2.0, 3.5), (4.0, 6.0)]
    assert "unreachable" in chart["note"]
    bare = shade_outages(figures.throughput(series()), [], np.arange(6.0))
    assert "shapes" not in bare["figure"]["layout"]
