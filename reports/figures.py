"""The report's charts: plotly figure specs built as plain dicts, then one function per chart.

Figures are built as dicts (``{"data": [...], "layout": {...}}``), not
``plotly.graph_objects`` (whose validation costs seconds on long runs), and drawn
in the page by the inlined plotly.js. Every series over time goes through
:func:`~reports.chart_data.downsample` first, so a 24-hour run (86,400 rows) draws at
most ``MAX_POINTS`` points per line; tables never use downsampled data. The numbers
a chart draws (downsampled series, time axis, percentile spectrum) are
:mod:`reports.chart_data`'s.

Trace names may come from the target (endpoint names): they are HTML-escaped
here, because plotly renders a subset of HTML in legends and labels.

The figure functions (after the building blocks) take a run's series and its
analysis and return a chart for the template (see :func:`figure`), or None when
the run has nothing to draw for it (no target samples, no WebSocket user...), so
the page only shows charts that say something.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from reports.chart_data import (
    axis_range,
    downsample,
    drawn_rows,
    has_data,
    integer_dtick,
    percentile_spectrum,
    time_axis,
    values,
)
from rundir.reader import HistogramData
from rundir.series import RunSeries

MAX_POINTS = 1500
"""Points per line over time: enough to see every minute of a day on a wide screen."""
GENERATOR_CPU_LIMIT = 90.0
COLORS = [
    "#0969da",
    "#cf222e",
    "#1a7f37",
    "#9a6700",
    "#8250df",
    "#bf3989",
    "#1b7c83",
    "#57606a",
    "#fb8500",
    "#6e7781",
]


def label(text: str) -> str:
    return html.escape(str(text), quote=False)


def line(
    x,
    y,
    name: str,
    *,
    color: str | None = None,
    axis: str | None = None,
    dash: str | None = None,
    mode: str = "lines",
    fill: str | None = None,
) -> dict:
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": mode,
        "x": values(x),
        "y": values(y),
        "name": label(name),
        "line": {"width": 1.6},
    }
    if color:
        trace["line"]["color"] = color
        trace["marker"] = {"color": color, "size": 7}
    if dash:
        trace["line"]["dash"] = dash
    if axis:
        trace["yaxis"] = axis
    if fill:
        trace["fill"] = fill
    return trace


def layout(
    x_title: str, y_title: str, *, y2_title: str | None = None, log_x: bool = False, **extra: Any
) -> dict:
    spec: dict[str, Any] = {
        "margin": {"l": 60, "r": 60 if y2_title else 20, "t": 10, "b": 45},
        "xaxis": {"title": {"text": label(x_title)}, "zeroline": False},
        "yaxis": {"title": {"text": label(y_title)}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": -0.22},
        "hovermode": "x unified",
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
    }
    if log_x:
        spec["xaxis"]["type"] = "log"
    if y2_title:
        spec["yaxis2"] = {
            "title": {"text": label(y2_title)},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
            "tickmode": "auto",  # plotly.js 3 syncs an overlaying axis to the first: odd ticks
        }
    spec.update(extra)
    return spec


def figure(chart_id: str, title: str, data: list[dict], spec: dict, note: str = "") -> dict:
    """One chart for the template: ``id`` (the div), ``title``, ``note``, ``figure``."""
    return {"id": chart_id, "title": title, "note": note, "figure": {"data": data, "layout": spec}}


PERCENTILE_TICKS = {
    "tickvals": [1, 2, 10, 100, 1000, 10000, 100000],
    "ticktext": ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"],
}


# -- the report's figures ---------------------------------------------------------------------
MB = 1024 * 1024


def _over_time(
    series: RunSeries,
    columns: dict[str, np.ndarray],
    how: dict[str, str],
    *,
    sampled_at_end: bool = False,
):
    """Columns over time, the last partial row left out (:func:`drawn_rows`). A row's rates
    are drawn at its start; ``sampled_at_end``: readings taken as the row closed (users,
    offered load) are drawn when they were taken, the row's end, not one interval early."""
    n = drawn_rows(series.span_s)
    x = series.elapsed_s[:n] + (np.nan_to_num(series.span_s[:n]) if sampled_at_end else 0.0)
    x, cols = downsample(x, {k: v[:n] for k, v in columns.items()}, how, max_points=MAX_POINTS)
    x, title = time_axis(x)
    return x, cols, title


def throughput(series: RunSeries) -> dict | None:
    if not len(series):
        return None
    x, c, xt = _over_time(
        series,
        {"rps": series.rps, "fails": series.failures_per_s},
        {"rps": "mean", "fails": "mean"},
    )
    return figure(
        "chart-throughput",
        "Requests and failures per second",
        [
            line(x, c["rps"], "requests/s", color=COLORS[0]),
            line(x, c["fails"], "failures/s", color=COLORS[1]),
        ],
        layout(xt, "per second"),
        "The target's requests only (job timings, queue readings "
        "and WebSocket messages are not requests).",
    )


def latency(series: RunSeries) -> dict | None:
    if not has_data(series.p50_ms, series.p95_ms):
        return None
    cols = {"p50": series.p50_ms, "p95": series.p95_ms, "p99": series.p99_ms}
    x, c, xt = _over_time(series, cols, dict.fromkeys(cols, "max"))
    note = "Per interval; when many intervals share a point (long runs), the highest is drawn."
    return figure(
        "chart-latency",
        "Response time percentiles over time",
        [
            line(x, c["p50"], "p50", color=COLORS[2]),
            line(x, c["p95"], "p95", color=COLORS[3]),
            line(x, c["p99"], "p99", color=COLORS[1]),
        ],
        layout(xt, "ms"),
        note,
    )


def load(series: RunSeries) -> dict | None:
    if not has_data(series.users, series.offered):
        return None
    sampled = {"users": series.users, "offered": series.offered}
    xs, c, xt = _over_time(series, sampled, dict.fromkeys(sampled, "mean"), sampled_at_end=True)
    data = [line(xs, c["users"], "users", color=COLORS[4])]
    unit, open_model = series.load_unit, has_data(series.offered) and series.load_unit != "users"
    spec = layout(xt, "users", y2_title="req/s" if open_model else None)
    spec["yaxis"].update(tick0=0, dtick=integer_dtick(float(np.nanmax(c["users"]))))
    _fix_range(spec["yaxis"], c["users"])  # the top step is drawn inside the plot, not on its edge
    if not open_model:
        return figure("chart-load", "Load: users", data, spec)
    x, rates, _ = _over_time(series, {"rps": series.rps}, {"rps": "mean"})
    data.append(line(xs, c["offered"], f"offered ({unit})", color=COLORS[0], axis="y2", dash="dot"))
    data.append(line(x, rates["rps"], "achieved (req/s)", color=COLORS[2], axis="y2"))
    _fix_range(spec["yaxis2"], c["offered"], rates["rps"])
    return figure("chart-load", "Load: users and offered rate", data, spec)


def _fix_range(axis: dict, *arrays: np.ndarray) -> None:
    """Fix ``axis`` to 0 .. a little above the highest value (a tick above the line)."""
    top = axis_range(*arrays)
    if top is not None:
        axis["range"] = top


def target_resources(series: RunSeries) -> dict | None:
    if not has_data(series.target_cpu, series.target_rss):
        return None
    cols = {"cpu": series.target_cpu, "rss": series.target_rss / MB}
    x, c, xt = _over_time(series, cols, {"cpu": "mean", "rss": "max"})
    spec = layout(xt, "CPU %", y2_title="MB")
    _fix_range(spec["yaxis2"], c["rss"])  # a tick above the line, not every tick below it
    _fix_range(spec["yaxis"], c["cpu"])
    return figure(
        "chart-target",
        "Target: CPU and memory (RSS)",
        [
            line(x, c["cpu"], "CPU %", color=COLORS[0]),
            line(x, c["rss"], "RSS (MB)", color=COLORS[4], axis="y2"),
        ],
        spec,
    )


def generator_cpu(series: RunSeries) -> dict | None:
    if not series.generator_cpu:
        return None
    x, c, xt = _over_time(series, series.generator_cpu, {})
    data = [
        line(x, ys, f"generator {name}", color=COLORS[i % len(COLORS)])
        for i, (name, ys) in enumerate(c.items())
    ]
    data.append(
        line(
            x,
            np.full(len(x), GENERATOR_CPU_LIMIT),
            "overload line (90 %)",
            color="#999",
            dash="dash",
        )
    )
    return figure(
        "chart-generator",
        "Load generator CPU",
        data,
        layout(xt, "CPU %"),
        "Above 90 % the generator itself may be the bottleneck: its numbers then "
        "understate what the target can do.",
    )


def queue_depth(series: RunSeries) -> dict | None:
    if not has_data(series.queue_depth) or not np.nanmax(series.queue_depth) > 0:
        return None  # no queue, or it never held a job: nothing to see
    x, c, xt = _over_time(series, {"depth": series.queue_depth}, {"depth": "max"})
    return figure(
        "chart-queue",
        "Job queue depth",
        [line(x, c["depth"], "queued jobs", color=COLORS[3], fill="tozeroy")],
        layout(xt, "jobs"),
    )


def websocket_latency(series: RunSeries) -> dict | None:
    if not has_data(series.ws_p50_ms, series.ws_p95_ms):
        return None
    cols = {"p50": series.ws_p50_ms, "p95": series.ws_p95_ms}
    x, c, xt = _over_time(series, cols, dict.fromkeys(cols, "max"))
    return figure(
        "chart-websocket",
        "WebSocket progress delivery latency",
        [line(x, c["p50"], "p50", color=COLORS[2]), line(x, c["p95"], "p95", color=COLORS[3])],
        layout(xt, "ms"),
        "From the job's sent_at stamp to the message's arrival.",
    )


def distribution(histograms: dict[str, HistogramData], keys: list[str]) -> dict | None:
    data = []
    for i, key in enumerate(keys):
        hist = histograms.get(key)
        if hist is None or not len(hist.values_ms):
            continue
        x, y = percentile_spectrum(hist.values_ms, hist.counts)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": y,
                "name": label(key),
                "line": {"width": 1.6, "color": COLORS[i % len(COLORS)]},
            }
        )
    if not data:
        return None
    spec = layout("percentile", "ms", log_x=True, hovermode="closest")
    spec["xaxis"].update(PERCENTILE_TICKS)
    return figure(
        "chart-distribution",
        "Latency distribution by percentile",
        data,
        spec,
        "Each endpoint's full HDR histogram: read a percentile on the x axis, its "
        "response time on the y axis. The tail (right) is where users wait.",
    )


def scatter(x, y, name: str, color: str, text: list[str] | None = None) -> dict:
    trace = line(x, y, name, color=color, mode="markers+lines")
    if text:
        trace["text"] = [label(t) for t in text]
    return trace


def leak(
    requests: np.ndarray,
    rss: np.ndarray,
    fitted: tuple[float, float] | None,
    window_start: float | None,
) -> dict | None:
    """RSS against cumulative requests, with the fitted line ``(intercept_bytes,
    bytes_per_request)`` over the analysed window (from ``window_start`` requests on)."""
    if not has_data(rss):
        return None
    x, c = downsample(requests, {"rss": rss / MB}, {"rss": "mean"}, max_points=MAX_POINTS)
    data = [line(x, c["rss"], "target RSS (MB)", color=COLORS[4], mode="markers")]
    data[0]["marker"]["size"] = 4
    if fitted is not None and len(x):
        lo = window_start if window_start is not None else float(np.nanmin(x))
        xs = np.array([lo, float(np.nanmax(x))])
        data.append(
            line(
                xs, (fitted[0] + fitted[1] * xs) / MB, "fitted slope", color=COLORS[1], dash="dash"
            )
        )
    spec = layout("requests served (cumulative)", "RSS (MB)", hovermode="closest")
    spec["yaxis"]["rangemode"] = "normal"  # growth is the point: do not squash it against 0
    return figure("chart-leak", "Target memory against requests served", data, spec)


__all__ = [
    "COLORS",
    "distribution",
    "figure",
    "generator_cpu",
    "latency",
    "layout",
    "leak",
    "line",
    "load",
    "queue_depth",
    "scatter",
    "target_resources",
    "throughput",
    "values",
    "websocket_latency",
]
