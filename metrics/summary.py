"""Pure maths of the run directory: percentiles, Apdex, rows and ``summary.json``.

Histograms and counts in, plain dicts out; no I/O and no Locust, so every
number is tested against synthetic data of known answer.

Percentiles follow HdrHistogram's own definition (the value at rank
``max(1, round(p/100 * n))``, reported as the highest value equivalent to it),
so they are exact to 3 significant digits and match any HDR tool reading the
saved histograms. Values are microseconds inside, milliseconds in the output.
"""

from __future__ import annotations

import ctypes
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from itertools import accumulate
from typing import Any

from hdrh.histogram import HdrHistogram

from metrics.latency import US_PER_MS, Cell, as_histogram, merge_cells

ROW_PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p95_ms": 95.0, "p99_ms": 99.0}
"""Percentiles of each timeseries row (per endpoint and total)."""
SUMMARY_PERCENTILES = {"p50_ms": 50.0, "p75_ms": 75.0, "p90_ms": 90.0, "p95_ms": 95.0,
                       "p99_ms": 99.0, "p999_ms": 99.9}
"""Percentiles of ``summary.json``'s endpoints and total."""
APDEX_TOLERATING_FACTOR = 4
"""Apdex: satisfied <= T < tolerating <= 4T < frustrated."""
MS_DECIMALS = 3
"""Milliseconds keep microsecond resolution (HDR's own unit here)."""
RATE_DECIMALS = 3
APDEX_DECIMALS = 4
MIN_SECONDS = 1e-3
"""Rates over shorter spans are not meaningful; the span is floored to this."""
PSEUDO_REQUEST_TYPES = frozenset({"JOB", "QUEUE", "WS_MSG", "WS_RATE", "DROPPED"})
"""Request types some user classes record that are not requests to the target: job
durations, queue readings, WebSocket messages and rates, dropped arrivals. Locust's
aggregate (``total``) includes them; ``requests`` (rows and summary) leaves them out."""


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
    cumulative = list(accumulate(hist.counts[first: last + 1]))
    result: dict[float, int | None] = {}
    for p in wanted:
        rank = max(1, int(min(p, 100.0) * total / 100 + 0.5))
        index = first + min(bisect_left(cumulative, rank), last - first)
        value = hist.get_value_from_index(index)
        result[p] = hist.get_highest_equivalent_value(value) if p else \
            hist.get_lowest_equivalent_value(value)
    return result


def _first_nonzero_index(hist: HdrHistogram, last: int) -> int:
    """Index of the first non-zero count, found by C (``bytes.lstrip``) not a Python loop;
    hdrh's own ``min_value`` is unreliable after ``add`` into an empty histogram."""
    size = hist.word_size
    raw = ctypes.string_at(ctypes.addressof(hist.counts), (last + 1) * size)
    return min((len(raw) - len(raw.lstrip(b"\0"))) // size, last)


def count_at_or_below(hist: HdrHistogram, value_us: int) -> int:
    """Recorded values <= ``value_us``, to HDR precision (the bucket holding it counts whole)."""
    if not hist.get_total_count():
        return 0
    return sum(hist.counts[: hist.get_counts_array_index(value_us) + 1])


def ms(value_us: int | None) -> float | None:
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
    tolerating = within_4t - satisfied
    return round((satisfied + tolerating / 2) / timed, APDEX_DECIMALS)


def rate(count: int, seconds: float) -> float:
    return round(count / max(seconds, MIN_SECONDS), RATE_DECIMALS)


def cell_stats(cell: Cell, seconds: float, names: Mapping[str, float]) -> dict[str, Any]:
    """count, failures, rps, latency percentiles, ``max_ms`` and ``avg_ms`` (the exact mean,
    as Locust computes it) of one cell over ``seconds``."""
    hist = as_histogram(cell.hist)
    timed = hist.get_total_count()
    return {"count": cell.count, "failures": cell.failures, "rps": rate(cell.count, seconds),
            **latency_stats(hist, names),
            "avg_ms": round(cell.sum_ms / timed, MS_DECIMALS) if timed else None}


def split_key(key: str) -> tuple[str, str]:
    """``"POST /v1/backtests"`` -> ``("POST", "/v1/backtests")`` (method, name)."""
    method, _, name = key.partition(" ")
    return method, name


def is_request(key: str) -> bool:
    """Is the endpoint key ``"METHOD name"`` a request to the target (not a pseudo-request)?"""
    return split_key(key)[0] not in PSEUDO_REQUEST_TYPES


def requests_cell(cells: Mapping[str, Cell]) -> Cell:
    """The target's requests only: every cell but the pseudo-requests, merged."""
    return merge_cells([cell for key, cell in cells.items() if is_request(key)])


def build_row(t: float, elapsed_s: float, seconds: float, users: int | None,
              cells: Mapping[str, Cell], generators: Mapping[str, Mapping[str, float]],
              ) -> dict[str, Any]:
    """One ``timeseries.jsonl`` row (without ``target``, which the caller adds).

    ``seconds`` is how much of the slot the run covered (the last one may be
    short), so ``rps`` is a true rate. Endpoints without requests in the slot
    are left out; ``total`` (Locust's aggregate: every row) and ``requests`` (the
    target's requests only, see :data:`PSEUDO_REQUEST_TYPES`) are always there.
    """
    endpoints = {key: cell_stats(cell, seconds, ROW_PERCENTILES)
                 for key, cell in sorted(cells.items())}
    total = cell_stats(merge_cells(cells.values()), seconds, ROW_PERCENTILES)
    only_requests = all(is_request(key) for key in cells)
    return {"t": round(t, 3), "elapsed_s": round(elapsed_s, 3), "users": users,
            "endpoints": endpoints, "total": total,
            "requests": dict(total) if only_requests else
            cell_stats(requests_cell(cells), seconds, ROW_PERCENTILES),
            "generators": {gid: dict(sample) for gid, sample in sorted(generators.items())}}


def default_sections() -> dict[str, Any]:
    """The parts of ``summary.json`` other stages fill in, at their schema defaults."""
    return {
        "breaking_point": {"found": False, "capacity_rps": None, "users_at_break": None,
                           "reason": None,
                           "usl": {"sigma": None, "kappa": None, "peak_users": None}},
        "leak": {"slope_kb_per_request": None, "slope_mb_per_hour": None, "r2": None,
                 "verdict": "none"},
        "thresholds": [],
        "passed": True,
    }


def build_summary(*, run_id: str, duration_s: float, users_max: int,
                  totals: Mapping[str, Cell], errors: Mapping[tuple[str, str], int],
                  apdex_t_ms: float, complete: bool,
                  incomplete_reasons: Iterable[str] = ()) -> dict[str, Any]:
    """``summary.json`` per DESIGN.md from the run's cumulative cells.

    ``total`` is Locust's aggregate row (every row, pseudo-requests included, so it
    equals Locust's own totals); ``requests`` is the target's requests only.
    ``endpoints`` are sorted by name then method (as Locust prints them);
    ``errors`` by count, largest first.
    """
    endpoints = []
    for key in sorted(totals, key=lambda k: split_key(k)[::-1]):
        cell = totals[key]
        method, name = split_key(key)
        endpoints.append({"name": name, "method": method,
                          **cell_stats(cell, duration_s, SUMMARY_PERCENTILES),
                          "apdex": apdex(cell, apdex_t_ms)})
    total = merge_cells(totals.values())
    requests = requests_cell(totals)
    error_rows = []
    for (key, message), count in sorted(errors.items(), key=lambda item: (-item[1], item[0])):
        method, name = split_key(key)
        error_rows.append({"method": method, "name": name, "message": message, "count": count})
    return {
        "run_id": run_id,
        "complete": complete,
        "incomplete_reasons": list(incomplete_reasons),
        "duration_s": round(duration_s, 3),
        "users_max": users_max,
        "apdex_t_ms": apdex_t_ms,
        "endpoints": endpoints,
        "total": {**cell_stats(total, duration_s, SUMMARY_PERCENTILES),
                  "apdex": apdex(total, apdex_t_ms)},
        "requests": {**cell_stats(requests, duration_s, SUMMARY_PERCENTILES),
                     "apdex": apdex(requests, apdex_t_ms)},
        "errors": error_rows,
        **default_sections(),
    }
