"""The one implementation of every figure: percentiles, Apdex, rates, a cell's statistics.

Histograms and counts in, plain dicts out; no I/O and no Locust, so every
number is tested against synthetic data of known answer. What a timeseries row
and ``summary.json`` hold is built from these by :mod:`rundir.records`; the
report's tables (:mod:`reports.analysis.tables`) and the breakpoint search's
windows (:mod:`reports.analysis.breaking`) use the same rules from here, so the
report, the search and ``summary.json`` cannot disagree on what a figure means.

Rules stated once:

- percentiles follow HdrHistogram's own definition: the value at rank
  ``max(1, round_half_up(p/100 * n))`` of the ``n`` recorded values
  (:func:`nearest_rank`), found in running counts by :func:`rank_positions`;
  on an HDR histogram reported as the highest value equivalent to it, so exact
  to 3 significant digits and matching any HDR tool reading the saved histograms;
- Apdex: satisfied ``<= T``, tolerating ``<= 4T``, frustrated slower or failed;
  score = (satisfied + tolerating / 2) / timed requests (:func:`apdex_ratio`);
- a rate is a count over seconds, the seconds floored to :data:`MIN_SECONDS` (:func:`rate`).

Values are microseconds inside, milliseconds in the output.
"""

from __future__ import annotations

import ctypes
import itertools
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate
from typing import Any

from hdrh.histogram import HdrHistogram

from metrics.latency import US_PER_MS, Cell, as_histogram


def percentile_key(p: float) -> str:
    """The name of percentile ``p`` in rows and ``summary.json``: ``"p50_ms"``, ``"p999_ms"``
    for 99.9 (the dot removed)."""
    return f"p{format(p, 'g').replace('.', '')}_ms"


ROW_PERCENTILES = {percentile_key(p): p for p in (50.0, 90.0, 95.0, 99.0)}
"""Percentiles of each timeseries row (per endpoint and total)."""
SUMMARY_PERCENTILES = {percentile_key(p): p for p in (50.0, 75.0, 90.0, 95.0, 99.0, 99.9)}
"""Percentiles of ``summary.json``'s endpoints and total."""
APDEX_TOLERATING_FACTOR = 4
"""Apdex: satisfied <= T < tolerating <= 4T < frustrated."""
MS_DECIMALS = 3
"""Milliseconds keep microsecond resolution (HDR's own unit here)."""
RATE_DECIMALS = 3
APDEX_DECIMALS = 4
MIN_SECONDS = 1e-3
"""Rates over shorter spans are not meaningful; the span is floored to this."""


def nearest_rank(p: float, total: float) -> int:
    """The 1-based rank of the ``p``-th percentile (``p`` above 100 counts as 100) among
    ``total`` recorded values: ``max(1, round_half_up(p / 100 * total))``, HdrHistogram's rule.

    The percentile is the recorded value at that rank, never an interpolation."""
    return max(1, int(min(p, 100.0) * total / 100 + 0.5))


def rank_positions(cumulative: Sequence[float], percentiles: Iterable[float]) -> dict[float, int]:
    """``{p: position}``: where in ``cumulative`` (running totals of the counts of values in
    ascending order, so its last item is the number of values) the value at
    :func:`nearest_rank` of each ``p`` lies. ``cumulative`` must not be empty."""
    total, last = cumulative[-1], len(cumulative) - 1
    return {p: min(bisect_left(cumulative, nearest_rank(p, total)), last) for p in percentiles}


def percentile_from_counts(counts: Mapping[float, int], q: float) -> float | None:
    """The ``q`` quantile (0 < q <= 1) of a histogram ``{value: count}`` by
    :func:`nearest_rank` (of ``100 * q``); None for an empty histogram. Non-positive
    counts are ignored. Raises ValueError for ``q`` outside (0, 1]."""
    if not 0 < q <= 1:
        raise ValueError(f"q must be in (0, 1], got {q}")
    items = sorted((value, n) for value, n in counts.items() if n > 0)
    if not items:
        return None
    position = rank_positions(list(accumulate(n for _, n in items)), [100 * q])[100 * q]
    return float(items[position][0])


def percentiles_from_rows(
    rows: Iterable[Mapping[str, Any]], names: Mapping[str, float]
) -> dict[str, float | None]:
    """Approximate percentiles of many intervals from their rows' own stats (``count``, the
    :data:`ROW_PERCENTILES`, ``max_ms``, ``avg_ms``), for a run whose histograms were lost.

    Each row's latencies are taken as spread evenly between its percentile points, the
    half below its p50 at its p50 (a row does not say how low they went, so low
    percentiles err high); the rows' mixture, weighted by ``count``, is read at each
    percentile. On lognormal latencies the estimates land within -15 % .. +20 % of the
    exact ones (``tests/metrics/test_summary.py``). ``max_ms`` is exact (the largest row
    maximum); ``avg_ms`` is the count-weighted mean of the rows' means. Every value is
    None without a timed row.
    """
    jumps: dict[float, float] = {}
    slopes: dict[float, float] = {}
    total = timed = weighted_sum = 0.0
    for row in rows:
        count = float(row.get("count") or 0)
        points = [
            (p / 100, float(row[key]))
            for key, p in sorted(ROW_PERCENTILES.items(), key=lambda item: item[1])
            if row.get(key) is not None
        ]
        if row.get("max_ms") is not None:
            points.append((1.0, float(row["max_ms"])))
        if count <= 0 or not points:
            continue
        total += count
        (q0, v0), below = points[0], points[0][0]
        jumps[v0] = jumps.get(v0, 0.0) + count * q0
        for (qa, va), (qb, vb) in itertools.pairwise(points):
            if vb > va:
                slope = count * (qb - qa) / (vb - va)
                slopes[va] = slopes.get(va, 0.0) + slope
                slopes[vb] = slopes.get(vb, 0.0) - slope
            else:
                jumps[va] = jumps.get(va, 0.0) + count * (qb - qa)
            below = qb
        jumps[points[-1][1]] = jumps.get(points[-1][1], 0.0) + count * (1.0 - below)
        if row.get("avg_ms") is not None:
            timed += count
            weighted_sum += count * float(row["avg_ms"])
    stats: dict[str, float | None] = dict.fromkeys([*names, "max_ms", "avg_ms"])
    if total <= 0:
        return stats
    xs = sorted(set(jumps) | set(slopes))
    for name, p in names.items():
        stats[name] = round(
            _mixture_quantile(xs, jumps, slopes, min(p, 100.0) / 100 * total), MS_DECIMALS
        )
    stats["max_ms"] = xs[-1]
    stats["avg_ms"] = round(weighted_sum / timed, MS_DECIMALS) if timed else None
    return stats


def _mixture_quantile(
    xs: Sequence[float], jumps: Mapping[float, float], slopes: Mapping[float, float], rank: float
) -> float:
    """The least ``x`` where the piecewise-linear cumulative count (``jumps`` at points,
    ``slopes`` changing at points, over the sorted points ``xs``) reaches ``rank``."""
    cumulative = slope = 0.0
    for x, following in zip(xs, [*xs[1:], None], strict=True):
        cumulative += jumps.get(x, 0.0)
        slope += slopes.get(x, 0.0)
        if cumulative >= rank * (1 - 1e-12):
            return x
        if following is None:
            break
        reached = cumulative + slope * (following - x)
        if slope > 0 and reached >= rank:
            return x + (rank - cumulative) / slope
        cumulative = reached
    return xs[-1]


def percentiles_us(hist: HdrHistogram, percentiles: Iterable[float]) -> dict[float, int | None]:
    """``{p: value_us}`` by HDR's definition; None for every p when nothing was recorded.

    Same answer as ``hist.get_value_at_percentile``, 10-100x faster (this runs for
    every endpoint of every row): only the counts between the lowest and highest
    recorded values are read, summed once in C (``accumulate``), and each rank is
    found by bisection, where hdrh walks the whole 23k-entry array in Python per call.
    """
    total = hist.get_total_count()
    wanted = list(percentiles)
    if not total:
        return dict.fromkeys(wanted)
    last = hist.get_counts_array_index(hist.max_value)
    first = _first_nonzero_index(hist, last)
    cumulative = list(accumulate(hist.counts[first : last + 1]))
    result: dict[float, int | None] = {}
    for p, position in rank_positions(cumulative, wanted).items():
        value = hist.get_value_from_index(first + position)
        result[p] = (
            hist.get_highest_equivalent_value(value)
            if p
            else hist.get_lowest_equivalent_value(value)
        )
    return result


def _first_nonzero_index(hist: HdrHistogram, last: int) -> int:
    """Index of the first non-zero count, found by C (``bytes.lstrip``) not a Python loop;
    hdrh's own ``min_value`` is unreliable after ``add`` into an empty histogram."""
    size = hist.word_size
    raw = ctypes.string_at(ctypes.addressof(hist.counts), (last + 1) * size)
    first: int = min((len(raw) - len(raw.lstrip(b"\0"))) // size, last)
    return first


def count_at_or_below(hist: HdrHistogram, value_us: int) -> int:
    """Recorded values <= ``value_us``, to HDR precision (the bucket holding it counts whole)."""
    if not hist.get_total_count():
        return 0
    return sum(hist.counts[: hist.get_counts_array_index(value_us) + 1])


def ms(value_us: int | None) -> float | None:
    """Microseconds to milliseconds, rounded to :data:`MS_DECIMALS`; None stays None."""
    return None if value_us is None else round(value_us / US_PER_MS, MS_DECIMALS)


def latency_stats(hist: HdrHistogram, names: Mapping[str, float]) -> dict[str, float | None]:
    """``{name: ms}`` for the named percentiles, plus ``max_ms``; None when empty."""
    values = percentiles_us(hist, names.values())
    stats = {name: ms(values[p]) for name, p in names.items()}
    stats["max_ms"] = ms(hist.get_max_value()) if hist.get_total_count() else None
    return stats


def apdex(cell: Cell, t_ms: float) -> float | None:
    """Apdex of one endpoint: (satisfied + tolerating / 2) / timed requests.

    Satisfied: latency <= T; tolerating: T < latency <= 4T; frustrated: slower,
    or failed whatever its latency (the Apdex standard: an error is no answer).
    Requests without a latency are left out. None when there is none.
    """
    hist = as_histogram(cell.hist)
    timed = hist.get_total_count()
    if not timed:
        return None
    t_us = int(t_ms * US_PER_MS)
    t4_us = int(t_ms * APDEX_TOLERATING_FACTOR * US_PER_MS)
    satisfied = count_at_or_below(hist, t_us)
    within_4t = count_at_or_below(hist, t4_us)
    if cell.failed_hist is not None:
        failed = as_histogram(cell.failed_hist)
        satisfied -= count_at_or_below(failed, t_us)
        within_4t -= count_at_or_below(failed, t4_us)
    score = apdex_ratio(satisfied, within_4t - satisfied, timed)
    return None if score is None else round(score, APDEX_DECIMALS)


def apdex_ratio(satisfied: float, tolerating: float, total: float) -> float | None:
    """The Apdex score, unrounded: ``(satisfied + tolerating / 2) / total`` (the rest of
    ``total`` is frustrated); None when ``total`` is not positive."""
    return (satisfied + tolerating / 2) / total if total > 0 else None


def rate(count: float, seconds: float) -> float:
    """``count`` per second over ``seconds`` (floored to :data:`MIN_SECONDS`), rounded to
    :data:`RATE_DECIMALS`; 0.0 when ``seconds`` is not positive (no time, no rate)."""
    if seconds <= 0:
        return 0.0
    return round(count / max(seconds, MIN_SECONDS), RATE_DECIMALS)


def cell_stats(cell: Cell, seconds: float, names: Mapping[str, float]) -> dict[str, Any]:
    """count, failures, rps, latency percentiles, ``max_ms`` and ``avg_ms`` (the exact mean,
    as Locust computes it) of one cell over ``seconds``."""
    hist = as_histogram(cell.hist)
    timed = hist.get_total_count()
    return {
        "count": cell.count,
        "failures": cell.failures,
        "rps": rate(cell.count, seconds),
        **latency_stats(hist, names),
        "avg_ms": round(cell.sum_ms / timed, MS_DECIMALS) if timed else None,
    }
