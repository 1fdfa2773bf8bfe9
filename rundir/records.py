"""What a timeseries row and ``summary.json`` hold, built from a run's HDR cells.

The schema of both files (DESIGN.md, "The run directory"); the numbers in them
are :mod:`metrics.summary`'s. Pure: cells in, plain dicts out, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from metrics.latency import Cell, merge_cells
from metrics.summary import ROW_PERCENTILES, SUMMARY_PERCENTILES, apdex, cell_stats
from rundir.layout import is_request, split_key


def requests_cell(cells: Mapping[str, Cell]) -> Cell:
    """The target's requests only: every cell but the pseudo-requests, merged."""
    return merge_cells([cell for key, cell in cells.items() if is_request(key)])


def avg_size_bytes(cell: Cell) -> float | None:
    """Locust's "average size": response bytes per request, to 0.01 (None without any)."""
    return round(cell.sum_bytes / cell.count, 2) if cell.count else None


def build_row(
    t: float,
    elapsed_s: float,
    seconds: float,
    users: int | None,
    cells: Mapping[str, Cell],
    generators: Mapping[str, Mapping[str, float]],
) -> dict[str, Any]:
    """One ``timeseries.jsonl`` row (without ``target``, which the caller adds).

    ``seconds`` is how much of the slot the run covered (the last one may be
    short), so ``rps`` is a true rate. Endpoints (and measurements) without
    entries in the slot are left out; ``total`` and ``requests`` are always there,
    equal: the target's requests only (measurements, see
    :data:`rundir.layout.PSEUDO_REQUEST_TYPES`, never reach Locust's aggregate, so
    neither counts them; ``requests`` stays for readers of older runs).
    """
    endpoints = {
        key: cell_stats(cell, seconds, ROW_PERCENTILES) for key, cell in sorted(cells.items())
    }
    total = cell_stats(requests_cell(cells), seconds, ROW_PERCENTILES)
    return {
        "t": round(t, 3),
        "elapsed_s": round(elapsed_s, 3),
        "users": users,
        "endpoints": endpoints,
        "total": total,
        "requests": dict(total),
        "generators": {gid: dict(sample) for gid, sample in sorted(generators.items())},
    }


def default_sections() -> dict[str, Any]:
    """The parts of ``summary.json`` other stages fill in, at their schema defaults."""
    return {
        "breaking_point": {
            "found": False,
            "capacity_rps": None,
            "users_at_break": None,
            "reason": None,
            "usl": {"sigma": None, "kappa": None, "peak_users": None},
        },
        "leak": {
            "slope_kb_per_request": None,
            "slope_mb_per_hour": None,
            "r2": None,
            "verdict": "none",
        },
        "thresholds": [],
        "passed": True,
    }


def build_summary(
    *,
    run_id: str,
    duration_s: float,
    users_max: int,
    totals: Mapping[str, Cell],
    errors: Mapping[tuple[str, str], int],
    apdex_t_ms: float,
    complete: bool,
    incomplete_reasons: Iterable[str] = (),
) -> dict[str, Any]:
    """``summary.json`` per DESIGN.md from the run's cumulative cells.

    ``total`` is the target's requests only, as Locust's own aggregate row is (the
    measurements, :data:`rundir.layout.PSEUDO_REQUEST_TYPES`, go through the suite's
    own channel, not Locust's stats); ``requests`` is the same, kept for readers of
    older runs. ``avg_size_bytes`` (each endpoint's, and the total's) is Locust's "average
    size": response bytes per request (None without requests). ``endpoints`` are sorted by name then
    method (as Locust prints them); ``errors`` by count, largest first.
    """
    endpoints = []
    for key in sorted(totals, key=lambda k: split_key(k)[::-1]):
        cell = totals[key]
        method, name = split_key(key)
        endpoints.append(
            {
                "name": name,
                "method": method,
                **cell_stats(cell, duration_s, SUMMARY_PERCENTILES),
                "apdex": apdex(cell, apdex_t_ms),
                "avg_size_bytes": avg_size_bytes(cell),
            }
        )
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
        "total": {
            **cell_stats(requests, duration_s, SUMMARY_PERCENTILES),
            "apdex": apdex(requests, apdex_t_ms),
            "avg_size_bytes": avg_size_bytes(requests),
        },
        "requests": {
            **cell_stats(requests, duration_s, SUMMARY_PERCENTILES),
            "apdex": apdex(requests, apdex_t_ms),
            "avg_size_bytes": avg_size_bytes(requests),
        },
        "errors": error_rows,
        **default_sections(),
    }
