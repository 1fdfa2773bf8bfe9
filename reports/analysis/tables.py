"""Latency, error, cache and data-size tables from a run's histograms and endpoint rows.

Why here: the report and the threshold checks need the same numbers, computed the
same way, from data already aggregated (histograms as ``values, counts`` arrays,
endpoint rows as mappings), so this module only computes; reading and writing
live elsewhere.

Rules stated once:

- percentiles and Apdex are :mod:`metrics.summary`'s, the one implementation
  ``summary.json`` is built with: the nearest rank of HdrHistogram
  (:func:`metrics.summary.nearest_rank`), the Apdex score
  (:func:`metrics.summary.apdex_ratio`); here they are only applied to histograms
  given as value/count arrays (a run whose ``summary.json`` is missing);
- error types group messages that differ only in numbers, ids and URLs
  (:func:`error_type`);
- cache rows are named ``"<name> [cold]"``, ``"[warm]"`` and ``"[changed]"``;
  data-size rows ``"<name> [<N>y]"`` (N years of history).

Every result is a frozen dataclass of plain values with :meth:`JsonResult.as_dict`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from metrics.summary import (
    APDEX_TOLERATING_FACTOR,
    SUMMARY_PERCENTILES,
    apdex_ratio,
    percentile_key,
    rank_positions,
)

__all__ = [
    "CACHE_KEY_MIN_RATIO",
    "DEFAULT_PERCENTILES",
    "CacheEffect",
    "DataSizeScaling",
    "JsonResult",
    "apdex_score",
    "cache_effect",
    "data_size_scaling",
    "json_ready",
    "percentile_table",
]

DEFAULT_PERCENTILES: tuple[float, ...] = tuple(SUMMARY_PERCENTILES.values())
"""``summary.json``'s percentiles."""
CACHE_KEY_MIN_RATIO = 0.5
"""A ``[changed]`` request (a cache-key parameter changed) must cost at least this share
of a ``[cold]`` one; cheaper means the cache answered it: the key ignores the change."""


def json_ready(value: Any) -> Any:
    """``value`` as JSON-ready data: numpy scalars to Python, NaN/inf to None,
    tuples to lists, dataclasses and mappings recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JsonResult:
    """Base of this package's result dataclasses: :meth:`as_dict` for reports."""

    def as_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready data (no numpy scalars, None for NaN)."""
        data: dict[str, Any] = json_ready(self)
        return data


def _histogram(values_ms: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values and their counts, dropping non-positive counts and NaN values."""
    values = np.asarray(values_ms, dtype=float).ravel()
    weights = np.asarray(counts, dtype=float).ravel()
    if values.shape != weights.shape:
        raise ValueError(f"values and counts differ in length: {values.size} != {weights.size}")
    keep = (weights > 0) & np.isfinite(values)
    order = np.argsort(values[keep], kind="stable")
    return values[keep][order], weights[keep][order]


def percentile_table(
    values_ms: np.ndarray,
    counts: np.ndarray,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
) -> dict[str, float | None]:
    """``summary.json``'s latency columns from a histogram given as value/count arrays
    (a saved HDR histogram read back: each bucket's highest equivalent value, in ms).

    Keys :func:`metrics.summary.percentile_key` (``p50_ms`` ... ``p999_ms``), ``max_ms``
    and ``avg_ms`` (the count-weighted mean of the values); every value None when the
    histogram is empty. Percentiles by :func:`metrics.summary.rank_positions`, the rule
    ``summary.json``'s come from, so on the same histogram they are the same values.
    Raises ValueError for a percentile outside (0, 100].
    """
    values, weights = _histogram(values_ms, counts)
    keys = [percentile_key(p) for p in percentiles]
    if not values.size:
        return dict.fromkeys([*keys, "max_ms", "avg_ms"])
    if any(not 0 < p <= 100 for p in percentiles):
        raise ValueError(f"percentiles must be in (0, 100], got {list(percentiles)}")
    positions = rank_positions(np.cumsum(weights).tolist(), percentiles)
    table: dict[str, float | None] = {
        key: float(values[positions[p]]) for key, p in zip(keys, percentiles, strict=True)
    }
    table["max_ms"] = float(values[-1])
    table["avg_ms"] = float(np.dot(values, weights) / weights.sum())
    return table


def apdex_score(
    values_ms: np.ndarray,
    counts: np.ndarray,
    t_ms: float,
    failed_values_ms: np.ndarray | None = None,
    failed_counts: np.ndarray | None = None,
) -> float | None:
    """Apdex for target time ``t_ms`` of a histogram given as value/count arrays, unrounded,
    by :func:`metrics.summary.apdex_ratio` (the score ``summary.json``'s comes from).

    ``values_ms, counts`` is the histogram of successful requests: satisfied ``<= t_ms``,
    tolerating ``<= APDEX_TOLERATING_FACTOR * t_ms``; failed requests (``failed_counts``,
    or one per value of ``failed_values_ms`` when no counts are given) are all frustrated
    whatever their time. None when there is no request; ValueError when ``t_ms <= 0``.
    """
    if t_ms <= 0:
        raise ValueError(f"t_ms must be positive, got {t_ms}")
    values, weights = _histogram(values_ms, counts)
    failed = 0.0
    if failed_counts is not None:
        failed = float(np.clip(np.asarray(failed_counts, dtype=float), 0, None).sum())
    elif failed_values_ms is not None:
        failed = float(np.asarray(failed_values_ms).size)
    satisfied = float(weights[values <= t_ms].sum())
    tolerating = float(weights[(values > t_ms) & (values <= APDEX_TOLERATING_FACTOR * t_ms)].sum())
    return apdex_ratio(satisfied, tolerating, float(weights.sum()) + failed)


# -- tagged endpoint rows ----------------------------------------------------------------------

_TAGGED = re.compile(r"^(?P<base>.*?)\s*\[(?P<tag>[^\]]+)\]\s*$")
_YEARS = re.compile(r"(?i)(?P<n>\d+(?:\.\d+)?)\s*y")


TaggedRow = tuple[str, str, str, Mapping[str, Any]]
"""(method, base name, tag lower-cased, row)."""


def _tagged_rows(endpoints: Sequence[Mapping[str, Any]]) -> list[TaggedRow]:
    """(method, base name, tag lower-cased, row) of every row named ``"<base> [<tag>]"``."""
    found = []
    for row in endpoints:
        match = _TAGGED.match(str(row.get("name", "")))
        if match:
            found.append(
                (str(row.get("method", "")), match["base"], match["tag"].strip().lower(), row)
            )
    return found


def _p50(row: Mapping[str, Any]) -> float | None:
    value = row.get("p50_ms")
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den is not None and den > 0 else None


@dataclass(frozen=True)
class CacheEffect(JsonResult):
    """Cold, warm and changed-key medians of one endpoint (None where a row is missing)."""

    method: str
    name: str
    cold_p50_ms: float | None
    warm_p50_ms: float | None
    changed_p50_ms: float | None
    speedup: float | None
    """Cold p50 / warm p50: how many times faster a cache hit is."""
    changed_vs_cold: float | None
    """Changed p50 / cold p50: about 1 when a changed parameter misses the cache."""
    cache_key_ok: bool | None
    """``changed_vs_cold >= CACHE_KEY_MIN_RATIO`` (None without both rows)."""


def cache_effect(endpoints: Sequence[Mapping[str, Any]]) -> list[CacheEffect]:
    """One :class:`CacheEffect` per (method, base name) with ``[cold]``/``[warm]``/``[changed]``
    rows, sorted by name then method; when a tag appears twice the row with more requests
    counts. Empty when no row carries those tags."""
    best: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}
    for method, base, tag, row in _tagged_rows(endpoints):
        if tag not in ("cold", "warm", "changed"):
            continue
        tags = best.setdefault((base, method), {})
        if tag not in tags or (row.get("count") or 0) > (tags[tag].get("count") or 0):
            tags[tag] = row
    effects = []
    for (base, method), tags in sorted(best.items()):
        cold, warm, changed = (
            _p50(tags[t]) if t in tags else None for t in ("cold", "warm", "changed")
        )
        changed_vs_cold = _ratio(changed, cold)
        effects.append(
            CacheEffect(
                method=method,
                name=base,
                cold_p50_ms=cold,
                warm_p50_ms=warm,
                changed_p50_ms=changed,
                speedup=_ratio(cold, warm),
                changed_vs_cold=changed_vs_cold,
                cache_key_ok=None
                if changed_vs_cold is None
                else changed_vs_cold >= CACHE_KEY_MIN_RATIO,
            )
        )
    return effects


@dataclass(frozen=True)
class DataSizeScaling(JsonResult):
    """How one endpoint's median time grows with the years of history it processes."""

    method: str
    name: str
    years: tuple[float, ...]
    p50_ms: tuple[float, ...]
    intercept_ms: float
    ms_per_year: float
    """Slope of the least-squares line ``ms = intercept_ms + ms_per_year * years``."""
    r2: float
    ratio_per_year: float | None
    """``(t(y_max) / t(y_min)) ** (1 / (y_max - y_min))``: growth factor per extra year."""
    linear_ratio: float | None
    """``(t(y_max) / t(y_min)) / (y_max / y_min)``: 1.0 when time is proportional to
    history, below 1 when a fixed cost dominates, above 1 when worse than linear."""


def data_size_scaling(endpoints: Sequence[Mapping[str, Any]]) -> DataSizeScaling | None:
    """Fit time against history size from rows named ``"<name> [<N>y]"``.

    The (method, base name) with the most distinct sizes is used (ties: the most
    requests); a size appearing twice keeps its row with more requests. None with
    fewer than 2 sizes having a p50.
    """
    groups: dict[tuple[str, str], dict[float, Mapping[str, Any]]] = {}
    for method, base, tag, row in _tagged_rows(endpoints):
        match = _YEARS.fullmatch(tag)
        if not match or _p50(row) is None:
            continue
        sizes = groups.setdefault((method, base), {})
        size = float(match["n"])
        if size not in sizes or (row.get("count") or 0) > (sizes[size].get("count") or 0):
            sizes[size] = row
    if not groups:
        return None
    (method, base), sizes = max(
        groups.items(),
        key=lambda kv: (len(kv[1]), sum(r.get("count") or 0 for r in kv[1].values())),
    )
    if len(sizes) < 2:
        return None
    years = np.array(sorted(sizes), dtype=float)
    ms = np.array([_p50(sizes[y]) for y in years], dtype=float)
    design = np.column_stack([np.ones_like(years), years])
    (intercept, slope), *_ = np.linalg.lstsq(design, ms, rcond=None)
    residual = float(np.sum((ms - (intercept + slope * years)) ** 2))
    spread = float(np.sum((ms - ms.mean()) ** 2))
    r2 = 1.0 - residual / spread if spread > 0 else 1.0
    growth = _ratio(float(ms[-1]), float(ms[0]))
    return DataSizeScaling(
        method=method,
        name=base,
        years=tuple(float(y) for y in years),
        p50_ms=tuple(float(t) for t in ms),
        intercept_ms=float(intercept),
        ms_per_year=float(slope),
        r2=float(r2),
        ratio_per_year=None
        if growth is None or growth <= 0
        else float(growth ** (1.0 / (years[-1] - years[0]))),
        linear_ratio=None
        if growth is None or years[0] <= 0
        else float(growth / (years[-1] / years[0])),
    )
