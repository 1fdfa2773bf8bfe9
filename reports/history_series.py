"""A run history as series: one value per run and metric, oldest first (pure).

:func:`series_of` turns the history's rows (:class:`reports.history_store.HistoryRow`)
of one profile and endpoint into :class:`HistorySeries`: the runs' ids, builds and
starts, and per metric (p50, p95, p99, throughput, error ratio, capacity, leak slope)
the values (NaN where a run has none). :func:`gate` judges the newest run of each
gated metric (:func:`reports.history_changes.judge`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from reports.compare_identity import RATE_DRIVEN_CLASSES
from reports.history_changes import Verdict, judge
from reports.history_store import HistoryRow

__all__ = ["LABELS", "METRICS", "HistorySeries", "gate", "series_of"]

METRICS = (
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "rps",
    "error_ratio",
    "capacity_rps",
    "leak_kb_per_request",
)
LABELS = {
    "p50_ms": "p50 (ms)",
    "p95_ms": "p95 (ms)",
    "p99_ms": "p99 (ms)",
    "rps": "throughput (req/s)",
    "error_ratio": "error ratio",
    "capacity_rps": "capacity (req/s)",
    "leak_kb_per_request": "leak slope (KB/request)",
}
SHOWN_NOT_GATED = ("leak_kb_per_request",)
"""The leak slope has its own verdict in each run's report; the history shows it."""


@dataclass(frozen=True)
class HistorySeries:
    """One profile's and endpoint's runs, oldest first."""

    profile: str
    endpoint: str
    run_ids: tuple[str, ...]
    builds: tuple[str, ...]
    started: tuple[str, ...]
    rate_driven: bool
    values: dict[str, np.ndarray] = field(default_factory=dict)
    endpoints: tuple[str, ...] = ()
    """Every endpoint the profile's runs recorded (what ``--endpoint`` may name)."""

    @property
    def runs(self) -> int:
        return len(self.run_ids)


def _value(row: HistoryRow, metric: str) -> float:
    if metric == "error_ratio":
        value = row.failures / row.count if row.count else None
    else:
        value = getattr(row, metric)
    return float(value) if value is not None and math.isfinite(value) else math.nan


def series_of(rows: Sequence[HistoryRow], profile: str, endpoint: str) -> HistorySeries:
    """The series of ``endpoint`` in ``profile``'s complete runs (rows of other profiles and
    endpoints, and interrupted runs, are left out: a run cut short measures nothing whole)."""
    mine = [r for r in rows if r.profile == profile and r.endpoint == endpoint and r.complete]
    classes = set(mine[-1].classes.split(",")) if mine else set()
    return HistorySeries(
        profile=profile,
        endpoint=endpoint,
        run_ids=tuple(r.run_id for r in mine),
        builds=tuple(r.build_id or "-" for r in mine),
        started=tuple(r.started_at or "" for r in mine),
        rate_driven=bool(classes) and classes <= RATE_DRIVEN_CLASSES,
        values={m: np.array([_value(r, m) for r in mine], dtype=float) for m in METRICS},
    )


def gated_metrics(series: HistorySeries) -> tuple[str, ...]:
    """Throughput only where the profile drives the rate; the leak slope never."""
    return tuple(
        m for m in METRICS if m not in SHOWN_NOT_GATED and (m != "rps" or series.rate_driven)
    )


def gate(series: HistorySeries, limit: float) -> list[Verdict]:
    """The verdict on the newest run for every gated metric that has values."""
    return [
        judge(m, series.values[m], limit)
        for m in gated_metrics(series)
        if bool(np.isfinite(series.values[m]).any())
    ]
