"""The report's charts as plain plotly figure specs (``{"data": [...], "layout": {...}}``).

Figures are built as dicts, not ``plotly.graph_objects`` (whose validation costs
seconds on long runs), and drawn in the page by the inlined plotly.js. Every
series over time goes through :func:`downsample` first, so a 24-hour run
(86,400 rows) draws at most ``MAX_POINTS`` points per line; tables never use
downsampled data.

Trace names may come from the target (endpoint names): they are HTML-escaped
here, because plotly renders a subset of HTML in legends and labels.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

MAX_POINTS = 1500
"""Points per line over time: enough to see every minute of a day on a wide screen."""
HOURS_FROM_S = 3 * 3600
"""Runs longer than this are drawn in hours, shorter than ``MINUTES_FROM_S`` in seconds."""
MINUTES_FROM_S = 600
GENERATOR_CPU_LIMIT = 90.0
COLORS = ["#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#1b7c83",
          "#57606a", "#fb8500", "#6e7781"]


def downsample(x: np.ndarray, columns: Mapping[str, np.ndarray], how: Mapping[str, str],
               max_points: int = MAX_POINTS) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """At most ``max_points`` buckets of consecutive rows; each column reduced by its rule:
    ``"mean"`` (rates, levels) or ``"max"`` (latencies, so a spike is never averaged away).
    NaNs are ignored within a bucket (a bucket of NaNs stays NaN). ``x`` takes each
    bucket's first value. Short series come back unchanged."""
    n = len(x)
    if n <= max_points:
        return x, dict(columns)
    starts = (np.arange(max_points) * n) // max_points
    out: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        values = np.asarray(values, dtype=float)
        finite = np.isfinite(values)
        if how.get(name, "mean") == "max":
            reduced = np.maximum.reduceat(np.where(finite, values, -np.inf), starts)
            reduced[np.isneginf(reduced)] = np.nan
        else:
            sums = np.add.reduceat(np.where(finite, values, 0.0), starts)
            counts = np.add.reduceat(finite.astype(float), starts)
            with np.errstate(invalid="ignore", divide="ignore"):
                reduced = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        out[name] = reduced
    return np.asarray(x, dtype=float)[starts], out


def time_axis(elapsed_s: np.ndarray) -> tuple[np.ndarray, str]:
    """Elapsed time in the unit that reads best for the run's length."""
    longest = float(np.nanmax(elapsed_s)) if len(elapsed_s) else 0.0
    if longest >= HOURS_FROM_S:
        return elapsed_s / 3600.0, "elapsed (h)"
    if longest >= MINUTES_FROM_S:
        return elapsed_s / 60.0, "elapsed (min)"
    return elapsed_s, "elapsed (s)"


def values(array: Sequence[float] | np.ndarray, decimals: int = 3) -> list[float | None]:
    """JSON-ready: rounded, NaN and infinities as None (plotly draws a gap)."""
    return [round(v, decimals) if math.isfinite(v) else None
            for v in np.asarray(array, dtype=float).tolist()]


def label(text: str) -> str:
    return html.escape(str(text), quote=False)


def line(x, y, name: str, *, color: str | None = None, axis: str | None = None,
         dash: str | None = None, mode: str = "lines", fill: str | None = None) -> dict:
    trace: dict[str, Any] = {"type": "scatter", "mode": mode, "x": values(x), "y": values(y),
                             "name": label(name), "line": {"width": 1.6}}
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


def layout(x_title: str, y_title: str, *, y2_title: str | None = None, log_x: bool = False,
           **extra: Any) -> dict:
    spec: dict[str, Any] = {
        "margin": {"l": 60, "r": 60 if y2_title else 20, "t": 10, "b": 45},
        "xaxis": {"title": {"text": label(x_title)}, "zeroline": False},
        "yaxis": {"title": {"text": label(y_title)}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": -0.22}, "hovermode": "x unified",
        "paper_bgcolor": "#fff", "plot_bgcolor": "#fff"}
    if log_x:
        spec["xaxis"]["type"] = "log"
    if y2_title:
        spec["yaxis2"] = {"title": {"text": label(y2_title)}, "overlaying": "y", "side": "right",
                          "rangemode": "tozero", "showgrid": False}
    spec.update(extra)
    return spec


def figure(chart_id: str, title: str, data: list[dict], spec: dict, note: str = "") -> dict:
    """One chart for the template: ``id`` (the div), ``title``, ``note``, ``figure``."""
    return {"id": chart_id, "title": title, "note": note,
            "figure": {"data": data, "layout": spec}}


def has_data(*arrays: np.ndarray) -> bool:
    return any(len(a) and np.isfinite(np.asarray(a, dtype=float)).any() for a in arrays)


def percentile_spectrum(values_ms: np.ndarray, counts: np.ndarray,
                        max_points: int = 400) -> tuple[list[float | None], list[float | None]]:
    """HdrHistogram's "latency by percentile" curve: x = 1 / (1 - q) (log scale, so the
    tail from p99 to p99.99 gets as much room as p0 to p90), y = latency at q."""
    total = float(np.sum(counts))
    if total <= 0:
        return [], []
    cumulative = np.cumsum(counts) / total
    keep = np.unique(np.linspace(0, len(values_ms) - 1, min(len(values_ms), max_points))
                     .astype(int))
    q = np.minimum(cumulative[keep], 1 - 1e-6)
    return values(1.0 / (1.0 - q), 6), values(values_ms[keep])


PERCENTILE_TICKS = {"tickvals": [1, 2, 10, 100, 1000, 10000, 100000],
                    "ticktext": ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"]}
