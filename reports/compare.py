"""Build over build: did the current run get worse than the baseline, past a limit?

``python -m reports compare BASELINE_DIR CURRENT_DIR [--max-regression 10%]`` exits
0 (no regression), 1 (regression) or 2 (bad input, one line on stderr), prints a
short table and writes ``compare.html`` (default: into CURRENT_DIR).

Rules, stated once (L is ``--max-regression``, a fraction: 0.10 for 10 %):

- compared: p50, p95, p99 (ms), throughput (rps) and error ratio (failures / count), for
  the aggregate of the target's requests (``requests``; older runs without it fall
  back to Locust's ``total``) and per endpoint, matched by method + name;
- direction: latency and error ratio up are worse, throughput down is worse;
- a change counts only when it is past the limit AND statistically real
  (:mod:`reports.compare_stats`, 99 % intervals): a latency percentile's interval from
  the two runs' HDR histograms, throughput's and the error ratio's from the counts.
  Without histograms (given none) the latency test is not made and the note says so;
- latency is past the limit when it grows by more than L relatively AND by at least
  :data:`LATENCY_FLOOR_MS` (0.5 ms): below that it is timer and scheduler noise;
- throughput is past the limit when it falls by more than L relatively; it is gated
  only where the profile drives the rate (``rate_driven``: the open model, stress):
  think-time traffic's throughput follows the users, not the service;
- error ratio is past the limit when it grows by more than L relatively (any growth
  from 0) AND by at least :data:`ERROR_RATIO_FLOOR` (0.1 percentage point);
- gated: the aggregate always; an endpoint only with at least
  :data:`MIN_GATED_REQUESTS` (20) requests in both runs (fewer are listed as too few
  to judge), and only the target's requests (pseudo-requests such as JOB, QUEUE or
  WS_MSG are shown, not gated). Ungated rows past the limit are marked, never fail;
- endpoints in only one run are listed as added / removed, never regressions.

Whether the two runs may be compared at all is :mod:`reports.compare_identity`'s.
:func:`compare_summaries` is pure; :mod:`reports.compare_output` shows a comparison
(the table, ``compare.html``) and :mod:`reports.compare_cli` does the I/O (the CLI).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reports.compare_stats import Samples, error_ratio_worse, latency_worse, merge, rate_worse
from rundir.layout import PSEUDO_REQUEST_UNITS, is_request

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
METRICS = ("p50_ms", "p95_ms", "p99_ms", "rps", "error_ratio")
LABELS = {
    "p50_ms": "p50",
    "p95_ms": "p95",
    "p99_ms": "p99",
    "rps": "throughput",
    "error_ratio": "error ratio",
}
QUANTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}
VERDICT_ITEMS = 8
"""The verdict line names at most this many regressions (the tables show them all)."""


@dataclass(frozen=True)
class MetricChange:
    """One metric of one endpoint in both runs. ``delta`` is current - baseline (ms, rps,
    or a ratio: x100 for percentage points); ``change`` is delta / baseline, None when the
    baseline is 0 or a value is missing. ``past_limit``: worse past the limit and the noise
    floor; ``real``: the statistical test's answer (None: not made); ``regressed``: past the
    limit, not refuted as noise, on a gated row and metric (what fails the build)."""

    metric: str
    baseline: float | None
    current: float | None
    delta: float | None
    change: float | None
    past_limit: bool
    regressed: bool
    real: bool | None = None
    unit: str = "ms"

    @property
    def label(self) -> str:
        return LABELS.get(self.metric, self.metric)

    @property
    def noise(self) -> bool:
        """Past the limit, but within the runs' sampling noise."""
        return self.past_limit and self.real is False


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
    metric: str,
    base: float | None,
    cur: float | None,
    limit: float,
    gated: bool,
    real: bool | None = None,
    unit: str = "ms",
) -> MetricChange:
    """One metric by the module docstring's rules; a missing value on either side compares
    as nothing (never a regression). ``real``: the statistical test (None: not made)."""
    if base is None or cur is None:
        return MetricChange(metric, base, cur, None, None, False, False, real, unit)
    delta, change = cur - base, (cur - base) / base if base > 0 else None
    if metric == "rps":
        worse = change is not None and change < -limit - EPS
    else:
        floor = ERROR_RATIO_FLOOR if metric == "error_ratio" else LATENCY_FLOOR_MS
        worse = delta >= floor - EPS and (change is None or change > limit + EPS)
    regressed = worse and gated and real is not False
    return MetricChange(metric, base, cur, delta, change, worse, regressed, real, unit)


@dataclass(frozen=True)
class Evidence:
    """What the statistical tests read beyond a summary row: each run's histogram samples
    of the row (None: no histogram); whether throughput is gated."""

    base_samples: Samples | None = None
    cur_samples: Samples | None = None
    rate_driven: bool = True


def _real(
    metric: str, base: Mapping[str, Any], cur: Mapping[str, Any], ev: Evidence
) -> bool | None:
    if metric in QUANTILES:
        return latency_worse(ev.base_samples, ev.cur_samples, QUANTILES[metric])
    if metric == "rps":
        return rate_worse(
            number(base.get("rps")), _count(base), number(cur.get("rps")), _count(cur)
        )
    return error_ratio_worse(
        int(number(base.get("failures")) or 0),
        _count(base),
        int(number(cur.get("failures")) or 0),
        _count(cur),
    )


def compare_rows(
    method: str,
    name: str,
    base: Mapping[str, Any],
    cur: Mapping[str, Any],
    limit: float,
    *,
    aggregate: bool = False,
    evidence: Evidence | None = None,
) -> EndpointComparison:
    """One endpoint (or the aggregate, always gated) in both runs."""
    ev = evidence or Evidence()
    counts = _count(base), _count(cur)
    why = None
    if not aggregate and not is_request(f"{method} {name}"):
        why = "not a request to the target"
    elif not aggregate and min(counts) < MIN_GATED_REQUESTS:
        why = f"too few to judge: fewer than {MIN_GATED_REQUESTS} requests in a run"
    unit = PSEUDO_REQUEST_UNITS.get(method, "ms")  # a queue depth is a count of jobs
    rate_unit = "rps" if aggregate or is_request(f"{method} {name}") else "/s"
    metrics = tuple(
        compare_metric(
            m,
            _value(base, m),
            _value(cur, m),
            limit,
            why is None and (m != "rps" or ev.rate_driven),
            _real(m, base, cur, ev),
            rate_unit if m == "rps" else unit,
        )
        for m in METRICS
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
    *,
    samples: tuple[Mapping[str, Samples], Mapping[str, Samples]] | None = None,
    rate_driven: bool = True,
) -> Comparison:
    """Compare two ``summary.json`` dicts by the module's rules (pure: no I/O).

    ``samples``: each run's histogram samples by ``"METHOD name"`` (the latency test);
    None when there are none. ``rate_driven``: gate throughput (the profile drives the
    rate). Missing or malformed values are shown as missing, never raise."""
    notes: list[str] = []
    base_s, cur_s = samples if samples is not None else ({}, {})
    if samples is None:
        notes.append(
            "no histograms were given: latency changes are judged by the limit alone, "
            "without the test of sampling noise"
        )
    if not rate_driven:
        notes.append(
            "throughput is shown, not gated: think-time traffic's throughput follows the "
            "users, not the service (gated only where the profile drives the rate)"
        )

    def evidence(key: str | None) -> Evidence:
        if key is None:  # the aggregate: every request endpoint's samples merged
            b = merge([v for k, v in base_s.items() if k != "_total" and is_request(k)])
            c = merge([v for k, v in cur_s.items() if k != "_total" and is_request(k)])
        else:
            b, c = base_s.get(key), cur_s.get(key)
        return Evidence(b, c, rate_driven)

    aggregate = compare_rows(
        "",
        AGGREGATE_NAME,
        _aggregate(baseline, "baseline", notes),
        _aggregate(current, "current", notes),
        max_regression,
        aggregate=True,
        evidence=evidence(None),
    )
    base_rows, cur_rows = _endpoints(baseline), _endpoints(current)
    order = sorted(base_rows.keys() & cur_rows.keys(), key=lambda k: (k[1], k[0]))
    endpoints = tuple(
        compare_rows(
            *k, base_rows[k], cur_rows[k], max_regression, evidence=evidence(f"{k[0]} {k[1]}")
        )
        for k in order
    )
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


def format_value(metric: str, value: float | None, unit: str = "ms") -> str:
    """A value with the row's unit: ms (or the pseudo-request's own), rps, %."""
    if value is None:
        return "-"
    if metric == "error_ratio":
        return f"{value * 100:.2f} %"
    shown = "rps" if metric == "rps" and unit == "ms" else unit
    return f"{value:.1f} {shown}".rstrip()


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
    return format_value(m.metric, m.delta, m.unit).replace(f"{m.delta:.1f}", f"{m.delta:+.1f}")
