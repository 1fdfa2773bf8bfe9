"""The numbers a chart draws: series reduced for plotting, the time axis, the percentile curve.

Pure numpy, no plotly: :func:`downsample` reduces a long series to at most
``max_points`` buckets (a latency spike is kept, never averaged away),
:func:`time_axis` picks the unit of elapsed time, :func:`percentile_spectrum` is
HdrHistogram's latency-by-percentile curve, and :func:`values` makes any of them
JSON-ready. The report's figures (:mod:`reports.figures`) draw what these return.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "axis_range",
    "downsample",
    "drawn_rows",
    "has_data",
    "integer_dtick",
    "outage_windows",
    "percentile_spectrum",
    "time_axis",
    "time_divisor",
    "values",
]

HOURS_FROM_S = 3 * 3600
"""Runs longer than this are drawn in hours, shorter than ``MINUTES_FROM_S`` in seconds."""
MINUTES_FROM_S = 600
PARTIAL_ROW_SHARE = 0.5
"""A last row covering less than this share of a full interval is not drawn over time."""
EPOCH_FROM = 1e9
"""An event time above this is a Unix time, not seconds since the run started."""
HEADROOM = 1.15
"""An axis fixed from its data reaches this much above the highest value, so a tick is above
the line."""


def downsample(
    x: np.ndarray, columns: Mapping[str, np.ndarray], how: Mapping[str, str], max_points: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
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


def time_divisor(elapsed_s: np.ndarray) -> tuple[float, str]:
    """Seconds per unit of the time axis, and its title, for a run of this length."""
    longest = float(np.nanmax(elapsed_s)) if len(elapsed_s) else 0.0
    if longest >= HOURS_FROM_S:
        return 3600.0, "elapsed (h)"
    if longest >= MINUTES_FROM_S:
        return 60.0, "elapsed (min)"
    return 1.0, "elapsed (s)"


def time_axis(elapsed_s: np.ndarray) -> tuple[np.ndarray, str]:
    """Elapsed time in the unit that reads best for the run's length."""
    divisor, title = time_divisor(elapsed_s)
    return elapsed_s / divisor, title


def drawn_rows(span_s: np.ndarray) -> int:
    """How many rows to draw over time: all but a last row that covers less than
    ``PARTIAL_ROW_SHARE`` of a full interval (the run ended inside it: its rate, from a
    fraction of a second, would read as a collapse or a spike). A rate is already per
    second of the row's own ``span_s``; only the stub is left out."""
    spans = np.asarray(span_s, dtype=float)
    if spans.size < 2 or not np.isfinite(spans[-1]):
        return int(spans.size)
    full = float(np.nanmedian(spans[:-1]))
    return int(spans.size) - 1 if spans[-1] < PARTIAL_ROW_SHARE * full else int(spans.size)


def axis_range(*arrays: np.ndarray) -> list[float] | None:
    """``[0, top]`` with ``top`` the highest finite value x ``HEADROOM``; None without one."""
    finite = [
        float(np.nanmax(a)) for a in arrays if len(a) and np.isfinite(np.asarray(a, float)).any()
    ]
    top = max(finite, default=0.0)
    return [0.0, top * HEADROOM] if top > 0 else None


def integer_dtick(top: float, ticks: int = 5) -> int:
    """A whole-number tick step for a count axis reaching ``top`` (users): at least 1."""
    return max(1, math.ceil(top / ticks))


def outage_windows(
    events: Sequence[Mapping[str, object]], end_s: float
) -> list[tuple[float, float]]:
    """``(start, end)`` in seconds since the run started of every ``target_outage`` event
    (fields ``start``, ``end``: seconds since the start, or Unix times, converted with the
    ``test_start`` event's clock); an outage without an end lasts to ``end_s``."""
    t0 = next(
        (
            float(e["t"]) - float(e.get("elapsed_s") or 0.0)  # type: ignore[arg-type]
            for e in events
            if e.get("kind") == "test_start" and e.get("t") is not None
        ),
        None,
    )

    def since_start(value: object) -> float | None:
        if not isinstance(value, int | float) or not math.isfinite(value):
            return None
        if value > EPOCH_FROM:
            return None if t0 is None else float(value) - t0
        return float(value)

    windows = []
    for event in events:
        if event.get("kind") != "target_outage":
            continue
        start, end = since_start(event.get("start")), since_start(event.get("end"))
        if start is not None:
            windows.append((start, end_s if end is None else max(start, end)))
    return windows


def values(array: Sequence[float] | np.ndarray, decimals: int = 3) -> list[float | None]:
    """JSON-ready: rounded, NaN and infinities as None (plotly draws a gap)."""
    return [
        round(v, decimals) if math.isfinite(v) else None
        for v in np.asarray(array, dtype=float).tolist()
    ]


def has_data(*arrays: np.ndarray) -> bool:
    return any(len(a) and np.isfinite(np.asarray(a, dtype=float)).any() for a in arrays)


def percentile_spectrum(
    values_ms: np.ndarray, counts: np.ndarray, max_points: int = 400
) -> tuple[list[float | None], list[float | None]]:
    """HdrHistogram's "latency by percentile" curve: x = 1 / (1 - q) (log scale, so the
    tail from p99 to p99.99 gets as much room as p0 to p90), y = latency at q."""
    total = float(np.sum(counts))
    if total <= 0:
        return [], []
    cumulative = np.cumsum(counts) / total
    keep = np.unique(
        np.linspace(0, len(values_ms) - 1, min(len(values_ms), max_points)).astype(int)
    )
    q = np.minimum(cumulative[keep], 1 - 1e-6)
    return values(1.0 / (1.0 - q), 6), values(values_ms[keep])
