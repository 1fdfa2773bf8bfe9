"""Build over build: did the current run get worse than the baseline, past a limit?

``python -m reports compare BASELINE_DIR CURRENT_DIR [--max-regression 10%]`` exits
0 (no regression), 1 (regression) or 2 (bad input, one line on stderr), prints a
short table and writes ``compare.html`` (default: into CURRENT_DIR).

Rules, stated once (L is ``--max-regression``, a fraction: 0.10 for 10 %):

- compared: p95, p99 (ms), throughput (rps) and error ratio (failures / count), for
  the aggregate of the target's requests (``requests``; older runs without it fall
  back to Locust's ``total``) and per endpoint, matched by method + name;
- direction: latency and error ratio up are worse, throughput down is worse;
- latency regresses when it grows by more than L relatively AND by at least
  :data:`LATENCY_FLOOR_MS` (0.5 ms): below that it is timer and scheduler noise,
  which alone would turn a 0.4 ms -> 0.7 ms endpoint into "+75 %";
- throughput regresses when it falls by more than L relatively;
- error ratio regresses when it grows by more than L relatively (any growth from 0)
  AND by at least :data:`ERROR_RATIO_FLOOR` (0.1 percentage point): one failure
  more in 10,000 is not a regression;
- gated: the aggregate always; an endpoint only with at least
  :data:`MIN_GATED_REQUESTS` (20) requests in both runs (a p95 of 5 requests is one
  request), and only the target's requests (pseudo-requests such as JOB, QUEUE or
  WS_MSG are shown, not gated). Ungated rows past the limit are marked, never fail;
- endpoints in only one run are listed as added / removed, never regressions.

:func:`compare_summaries` is pure; :mod:`reports.compare_output` shows a comparison
(the table, ``compare.html``) and :mod:`reports.compare_cli` does the I/O (the CLI).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rundir.layout import is_request

__all__ = [
    "Comparison",
    "EndpointComparison",
    "MetricChange",
    "compare_summaries",
    "format_change",
    "format_limit",
    "format_value",
]

DEFAULT_MAX_REGRESSION = 0.10
MIN_GATED_REQUESTS = 20
"""An endpoint is gated only with at least this many requests in both runs."""
LATENCY_FLOOR_MS = 0.5
"""Latency changes smaller than this (absolute) never regress: noise on loopback."""
ERROR_RATIO_FLOOR = 0.001
"""Error-ratio changes smaller than this (0.1 percentage point) never regress."""
EPS = 1e-9
"""A change exactly at the limit is not past it (100 -> 110 ms is 0.1000000001 in floats)."""
AGGREGATE_NAME = "all requests"
METRICS = ("p95_ms", "p99_ms", "rps", "error_ratio")
LABELS = {"p95_ms": "p95", "p99_ms": "p99", "rps": "throughput", "error_ratio": "error ratio"}
VERDICT_ITEMS = 8
"""The verdict line names at most this many regressions (the tables show them all)."""


@dataclass(frozen=True)
class MetricChange:
    """One metric of one endpoint in both runs. ``delta`` is current - baseline (ms, rps,
    or a ratio: x100 for percentage points); ``change`` is delta / baseline, None when the
    baseline is 0 or a value is missing. ``past_limit``: worse past the limit and the noise
    floor; ``regressed``: past the limit on a gated row (what fails the build)."""

    metric: str
    baseline: float | None
    current: float | None
    delta: float | None
    change: float | None
    past_limit: bool
    regressed: bool

    @property
    def label(self) -> str:
        return LABELS.get(self.metric, self.metric)


@dataclass(frozen=True)
class EndpointComparison:
    """One endpoint (or the aggregate, ``method == ""``) in both runs."""

    method: str
    name: str
    baseline_count: int
    current_count: int
    gated: bool
    not_gated_because: str | None
    metrics: tuple[MetricChange, ...]

    @property
    def key(self) -> str:
        return f"{self.method} {self.name}".strip()

    @property
    def regressed(self) -> bool:
        return any(m.regressed for m in self.metrics)

    def metric(self, name: str) -> MetricChange:
        return next(m for m in self.metrics if m.metric == name)


@dataclass(frozen=True)
class Comparison:
    """The whole answer: aggregate, matched endpoints, added / removed keys, notes."""

    max_regression: float
    aggregate: EndpointComparison
    endpoints: tuple[EndpointComparison, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def regressions(self) -> tuple[tuple[str, MetricChange], ...]:
        """``(endpoint key, metric)`` of every regression, aggregate first."""
        return tuple(
            (row.key, m)
            for row in (self.aggregate, *self.endpoints)
            for m in row.metrics
            if m.regressed
        )

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    def verdict(self) -> str:
        """``"2 regressions past 10 %: p95 of POST /x +34 %, ..."`` or ``"No regression ..."``."""
        limit = format_limit(self.max_regression)
        found = self.regressions
        if not found:
            return f"No regression past {limit}"
        items = [f"{m.label} of {key} {format_change(m)}" for key, m in found[:VERDICT_ITEMS]]
        if len(found) > VERDICT_ITEMS:
            items.append(f"and {len(found) - VERDICT_ITEMS} more")
        noun = "regression" if len(found) == 1 else "regressions"
        return f"{len(found)} {noun} past {limit}: " + ", ".join(items)


def number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _count(row: Mapping[str, Any]) -> int:
    return int(number(row.get("count")) or 0)


def _value(row: Mapping[str, Any], metric: str) -> float | None:
    """The metric of a summary row; the error ratio is failures / count (None without any)."""
    if metric != "error_ratio":
        return number(row.get(metric))
    return (number(row.get("failures")) or 0.0) / _count(row) if _count(row) else None


def compare_metric(
    metric: str, base: float | None, cur: float | None, limit: float, gated: bool
) -> MetricChange:
    """One metric by the module docstring's rules; a missing value on either side compares
    as nothing (never a regression)."""
    if base is None or cur is None:
        return MetricChange(metric, base, cur, None, None, False, False)
    delta, change = cur - base, (cur - base) / base if base > 0 else None
    if metric == "rps":
        worse = change is not None and change < -limit - EPS
    else:
        floor = ERROR_RATIO_FLOOR if metric == "error_ratio" else LATENCY_FLOOR_MS
        worse = delta >= floor - EPS and (change is None or change > limit + EPS)
    return MetricChange(metric, base, cur, delta, change, worse, worse and gated)


def compare_rows(
    method: str,
    name: str,
    base: Mapping[str, Any],
    cur: Mapping[str, Any],
    limit: float,
    *,
    aggregate: bool = False,
) -> EndpointComparison:
    """One endpoint (or the aggregate, always gated) in both runs."""
    counts = _count(base), _count(cur)
    why = None
    if not aggregate and not is_request(f"{method} {name}"):
        why = "not a request to the target"
    elif not aggregate and min(counts) < MIN_GATED_REQUESTS:
        why = f"fewer than {MIN_GATED_REQUESTS} requests in a run"
    metrics = tuple(
        compare_metric(m, _value(base, m), _value(cur, m), limit, why is None) for m in METRICS
    )
    return EndpointComparison(method, name, *counts, why is None, why, metrics)


def _endpoints(summary: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    rows = summary.get("endpoints")
    return {
        (str(r.get("method", "")), str(r.get("name", ""))): r
        for r in (rows if isinstance(rows, list) else [])
        if isinstance(r, Mapping)
    }


def _aggregate(summary: Mapping[str, Any], which: str, notes: list[str]) -> Mapping[str, Any]:
    if isinstance(summary.get("requests"), Mapping):
        return summary["requests"]
    notes.append(
        f"the {which} run has no 'requests' aggregate (an older run): its Locust "
        "total is used, pseudo-requests included"
    )
    total = summary.get("total")
    return total if isinstance(total, Mapping) else {}


def compare_summaries(
    baseline: Mapping[str, Any],
    current: Mapping[str, Any],
    max_regression: float = DEFAULT_MAX_REGRESSION,
) -> Comparison:
    """Compare two ``summary.json`` dicts by the module's rules (pure: no I/O).
    Missing or malformed values are shown as missing, never raise."""
    notes: list[str] = []
    aggregate = compare_rows(
        "",
        AGGREGATE_NAME,
        _aggregate(baseline, "baseline", notes),
        _aggregate(current, "current", notes),
        max_regression,
        aggregate=True,
    )
    base_rows, cur_rows = _endpoints(baseline), _endpoints(current)
    order = sorted(base_rows.keys() & cur_rows.keys(), key=lambda k: (k[1], k[0]))
    endpoints = tuple(compare_rows(*k, base_rows[k], cur_rows[k], max_regression) for k in order)
    keys = sorted(base_rows.keys() ^ cur_rows.keys(), key=lambda k: (k[1], k[0]))
    added = tuple(f"{m} {n}" for m, n in keys if (m, n) in cur_rows)
    removed = tuple(f"{m} {n}" for m, n in keys if (m, n) in base_rows)
    users = number(baseline.get("users_max")), number(current.get("users_max"))
    if None not in users and users[0] != users[1]:
        notes.append(
            f"the runs had different peak users ({users[0]:g} vs {users[1]:g}): "
            "throughput is only comparable at the same load"
        )
    return Comparison(max_regression, aggregate, endpoints, added, removed, tuple(notes))


def format_limit(fraction: float) -> str:
    return f"{fraction * 100:g} %"


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return (
        f"{value * 100:.2f} %"
        if metric == "error_ratio"
        else f"{value:.1f} {'rps' if metric == 'rps' else 'ms'}"
    )


def _pct(fraction: float) -> str:
    pct = fraction * 100
    return f"{pct:+.1f} %" if abs(pct) < 10 else f"{pct:+.0f} %"


def format_change(m: MetricChange) -> str:
    """Relative change; error ratio in percentage points (and relative when defined)."""
    if m.delta is None:
        return "-"
    if m.metric == "error_ratio":
        points = f"{m.delta * 100:+.2f} pp"
        return points if m.change is None else f"{points} ({_pct(m.change)})"
    if m.change is not None:
        return _pct(m.change)
    return f"{m.delta:+.1f} {'rps' if m.metric == 'rps' else 'ms'}"
