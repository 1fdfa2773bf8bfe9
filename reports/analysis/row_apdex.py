"""Apdex of a span of rows, approximated from the rows' own percentiles.

A step's requests have no histogram of their own (only the run's is saved), so the Apdex
at a step is read from the step's rows: their latencies spread between each row's
percentile points by :func:`metrics.summary.percentiles_from_rows` (the one rule for that),
the share at or under T and 4T read off that mixture, and failed requests counted as
frustrated (the Apdex standard; :func:`metrics.summary.apdex_ratio`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from metrics.summary import APDEX_TOLERATING_FACTOR, apdex_ratio, percentiles_from_rows

__all__ = ["GRID", "rows_apdex"]

GRID = 1000
"""The mixture is read at this many evenly spaced percentiles (0.1 % apart)."""
_NAMES = {f"q{i}": 100.0 * i / GRID for i in range(1, GRID + 1)}


def _share_at_or_under(quantiles: Sequence[float], limit_ms: float) -> float:
    """The largest grid share whose quantile is at or under ``limit_ms`` (0 when none)."""
    share = 0.0
    for i, value in enumerate(quantiles, start=1):
        if value <= limit_ms:
            share = i / GRID
    return share


def rows_apdex(rows: Sequence[Mapping[str, Any]], t_ms: float) -> float | None:
    """Approximate Apdex (T = ``t_ms``) of the requests in ``rows`` (a row's ``count``,
    ``failures``, percentiles and ``max_ms``), to within the rows' spread; None without a
    timed request."""
    count = sum(float(r.get("count") or 0) for r in rows)
    failures = sum(float(r.get("failures") or 0) for r in rows)
    stats = percentiles_from_rows(rows, _NAMES)
    quantiles = [stats[name] for name in _NAMES]
    if count <= 0 or any(q is None for q in quantiles):
        return None
    values = [float(q) for q in quantiles if q is not None]
    satisfied = _share_at_or_under(values, t_ms) * count
    within_4t = _share_at_or_under(values, APDEX_TOLERATING_FACTOR * t_ms) * count
    satisfied_ok = max(0.0, satisfied - failures)
    tolerating = max(0.0, within_4t - failures - satisfied_ok)
    return apdex_ratio(satisfied_ok, tolerating, count)
