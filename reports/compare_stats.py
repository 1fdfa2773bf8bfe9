"""Is a change between two runs statistically real? Count- and rank-based intervals, pure.

Each test answers "is the current run *worse*, beyond sampling noise?" for one metric:

- a latency percentile: the distribution-free (binomial order-statistic) interval of
  the quantile in each run, read from the run's HDR histogram (``values_ms``, ``counts``);
  worse is real when the current interval lies wholly above the baseline's;
- throughput: the two rates, their noise from the request counts behind them (Poisson);
  worse is real when the interval of the rate ratio current / baseline lies wholly below 1;
- error ratio: the difference of two proportions (Agresti-Caffo: one failure and one
  success added to each run); worse is real when its interval lies wholly above 0.

Every interval is two-sided at :data:`CONFIDENCE`. A test returns ``None`` when it
cannot be done (no samples), ``True``/``False`` otherwise.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "CONFIDENCE",
    "Z",
    "error_ratio_worse",
    "quantile_interval",
    "latency_worse",
    "rate_worse",
]

CONFIDENCE = 0.99
"""Two-sided confidence of every interval: a gate that cries wolf gets switched off."""
Z = 2.5758293035489
"""The standard normal quantile of (1 + CONFIDENCE) / 2."""

MIN_TAIL = 10
"""A percentile q is judged only with at least this many samples beyond it in each run
(``n (1 - q) >= MIN_TAIL``: p99 needs 1,000 requests, p95 200, p50 20): with fewer its
interval reaches the run's maximum, one stalled request."""

Samples = tuple[np.ndarray, np.ndarray]
"""``(values_ms, counts)`` of a histogram's non-zero buckets, values ascending."""


def quantile_interval(samples: Samples, q: float, z: float = Z) -> tuple[float, float] | None:
    """The ``(low, high)`` values bracketing quantile ``q`` of the samples: the order
    statistics at ranks ``n q -/+ z sqrt(n q (1 - q))`` (normal approximation of the
    binomial), clamped to the smallest and largest sample. None without samples."""
    values, counts = np.asarray(samples[0], dtype=float), np.asarray(samples[1], dtype=np.int64)
    n = int(counts.sum())
    if n <= 0 or values.size != counts.size:
        return None
    half = z * math.sqrt(n * q * (1.0 - q))
    low_rank = max(1, math.floor(n * q - half))
    high_rank = min(n, math.ceil(n * q + half) + 1)
    cumulative = np.cumsum(counts)
    low = values[int(np.searchsorted(cumulative, low_rank))]
    high = values[int(np.searchsorted(cumulative, high_rank))]
    return float(low), float(high)


def latency_worse(base: Samples | None, cur: Samples | None, q: float) -> bool | None:
    """True when the current run's ``q`` quantile is above the baseline's beyond noise:
    the two intervals do not overlap and the current one is higher. False (never real)
    when a run has too few samples for ``q`` (:data:`MIN_TAIL`); None without samples."""
    if base is None or cur is None:
        return None
    if min(int(np.sum(base[1])), int(np.sum(cur[1]))) * (1.0 - q) < MIN_TAIL - 1e-9:
        return False
    b, c = quantile_interval(base, q), quantile_interval(cur, q)
    if b is None or c is None:
        return None
    return c[0] > b[1]


def rate_worse(
    base_rps: float | None, base_count: int, cur_rps: float | None, cur_count: int
) -> bool | None:
    """True when the current rate is below the baseline's beyond Poisson noise: the upper
    bound of ``log(cur_rps / base_rps)`` (standard error ``sqrt(1/c1 + 1/c2)`` from the
    request counts behind each rate) is below 0."""
    if base_rps is None or cur_rps is None or base_rps <= 0 or base_count <= 0:
        return None
    if cur_rps <= 0 or cur_count <= 0:
        return True
    log_ratio = math.log(cur_rps / base_rps)
    return log_ratio + Z * math.sqrt(1.0 / base_count + 1.0 / cur_count) < 0


def error_ratio_worse(
    base_failures: int, base_count: int, cur_failures: int, cur_count: int
) -> bool | None:
    """True when the current error ratio is above the baseline's beyond binomial noise
    (Agresti-Caffo interval of the difference wholly above 0)."""
    if base_count <= 0 or cur_count <= 0:
        return None
    p1 = (base_failures + 1) / (base_count + 2)
    p2 = (cur_failures + 1) / (cur_count + 2)
    se = math.sqrt(p1 * (1 - p1) / (base_count + 2) + p2 * (1 - p2) / (cur_count + 2))
    return (p2 - p1) - Z * se > 0


def merge(parts: list[Samples]) -> Samples | None:
    """Several histograms' samples as one (the aggregate of the target's requests)."""
    if not parts:
        return None
    values = np.concatenate([np.asarray(p[0], dtype=float) for p in parts])
    counts = np.concatenate([np.asarray(p[1], dtype=np.int64) for p in parts])
    order = np.argsort(values, kind="stable")
    return values[order], counts[order]
