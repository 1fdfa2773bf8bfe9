"""The breakpoint table's rows and the figures at capacity, for :mod:`reports.run_analysis`.

Glue, not rules: the rows are judged by :mod:`reports.analysis` (``step_verdict`` through
:func:`~reports.analysis.judge_search_steps`), with the limits the search recorded; the
figures at capacity are read from the last good step's rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metrics.summary import percentiles_from_rows
from reports.analysis import (
    BreakLimits,
    JudgedStep,
    P95Limit,
    StepStats,
    judge_search_steps,
    p95_limit,
    rows_apdex,
)
from rundir.layout import DEFAULT_APDEX_T_MS
from rundir.reader import RunData
from rundir.series import REQUESTS_ROW_KEY, read_row_stats

__all__ = ["at_capacity_figures", "search_judged", "search_limits"]

LEVEL_MATCH_RTOL = 1e-3
P99 = {"p99_ms": 99.0}
"""A search step and a row step are at the same rate within this (rows keep 3 decimals)."""


def search_judged(search: dict[str, Any]) -> tuple[list[JudgedStep], P95Limit]:
    """The search's steps re-judged with its own final limits; its p95 limit as it recorded
    it (older summaries: given unless it equals the derived one)."""
    limits = search_limits(search)
    recorded = search.get("p95_limit")
    if recorded:
        limit = P95Limit(
            **{k: v for k, v in recorded.items() if k in P95Limit.__dataclass_fields__}
        )
    else:
        first: dict[str, Any] = min(
            [*search.get("steps", []), *search.get("retried", [])],
            key=lambda s: s.get("number") or 0,
            default={},
        )
        settings = search.get("settings") or {}
        derived = p95_limit(
            None,
            first.get("p95_ms"),
            factor=settings.get("p95_limit_factor", 10.0),
            floor_ms=settings.get("p95_limit_floor_ms", 250.0),
        )
        limit = derived if derived.ms == limits.max_p95_ms else p95_limit(limits.max_p95_ms, None)
    judged = judge_search_steps(search.get("steps") or [], search.get("retried") or [], limits)
    return judged, limit


def search_limits(search: dict[str, Any] | None) -> BreakLimits:
    given = (search or {}).get("limits", {})
    return BreakLimits(**{k: v for k, v in given.items() if k in BreakLimits.__dataclass_fields__})


def at_capacity_figures(
    run: RunData, steps: list[StepStats], level: float | None, row_p95_ms: float | None = None
) -> dict[str, Any] | None:
    """The figures at the last good step (at ``level``), as its row of the breakpoint table
    shows them: p95 is the row's (``row_p95_ms``, a search step's own window; else the
    settled step's), p99 the settled step's (a stepped run) or, for a search step, the
    step's rows mixed (:func:`metrics.summary.percentiles_from_rows`; left out if it reads
    under the row's p95: two estimates of one window); Apdex from the step's rows
    (:func:`~reports.analysis.rows_apdex`). All approximate. None when no settled step or
    rows match ``level``."""
    matches = [
        s for s in steps if level is not None and np.isclose(s.level, level, rtol=LEVEL_MATCH_RTOL)
    ]
    elapsed = run.series.elapsed_s
    rows = read_row_stats(run.path, set(), run.problems)[REQUESTS_ROW_KEY]
    if not matches or len(rows) != len(elapsed):
        return None
    step = matches[-1]  # a re-measured level: the later window is the one that counted
    inside = np.flatnonzero((elapsed >= step.start_s) & (elapsed <= step.end_s))
    used = [rows[i] for i in inside[-step.rows_used :]]
    p95, p99 = step.p95_ms, step.p99_ms
    if row_p95_ms is not None:
        p95, p99 = row_p95_ms, percentiles_from_rows(used, P99)["p99_ms"]
        p99 = None if p99 is None or p99 < p95 else p99
    return {
        "level": step.level,
        "p95_ms": p95,
        "p99_ms": p99,
        "apdex": rows_apdex(used, float(run.meta.get("apdex_t_ms") or DEFAULT_APDEX_T_MS)),
    }
