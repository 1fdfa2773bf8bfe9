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

__all__ = ["downsample", "has_data", "percentile_spectrum", "time_axis", "values"]

HOURS_FROM_S = 3 * 3600
"""Runs longer than this are drawn in hours, shorter than ``MINUTES_FROM_S`` in seconds."""
MINUTES_FROM_S = 600


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
