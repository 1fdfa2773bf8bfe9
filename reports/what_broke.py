"""What broke first, for a whole run: the run directory's series in, a :class:`Saturation` out.

The glue between a finished run and :func:`reports.analysis.saturation.first_saturation`:
it picks the knee (the breakpoint search's lowest broken rate when a search ran, else the
stepped run's first broken level), the last good level below it, the p95 limit the steps
were judged by, and the run's failures by message (the target's requests only), and reads
the target host's series (:mod:`rundir.resources`) beside the ones already read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from metrics.generator import OVERLOADED_CPU_PERCENT
from reports.analysis import StepBreak, StepStats, aggregate_steps, segment_steps
from reports.analysis.saturation import (
    ResourceColumns,
    Saturation,
    first_saturation,
    step_readings,
)
from rundir.layout import is_request
from rundir.reader import RunData
from rundir.resources import read_host_rows
from rundir.series import RunSeries

MEASURE_STAGE = ": measure"
"""The breakpoint search's measuring windows end their stage name with this."""


def _levels(
    step_break: StepBreak | None, search: dict[str, Any] | None
) -> tuple[float | None, float | None]:
    """(knee level, last good level): the search's when one ran, else the stepped run's."""
    if search is not None:
        knee = search.get("offered_at_break") if search.get("found") else None
        good = (search.get("last_good") or {}).get("offered_rps")
        return knee, good
    if step_break is None:
        return None, None
    return step_break.break_level, step_break.last_good_level


def _search_windows(series: RunSeries) -> list[StepStats]:
    """Each measuring window of a breakpoint search, whole, however short (the report's steps
    leave out windows under 3 rows; a fast search's are 2 s)."""
    measured = np.array(
        [bool(st and st.endswith(MEASURE_STAGE)) for st in series.stage], dtype=bool
    )
    spans = segment_steps(series.elapsed_s, np.where(measured, series.load, np.nan), min_rows=1)
    return aggregate_steps(
        spans,
        series.elapsed_s,
        series.span_s,
        series.requests,
        series.failures,
        series.p50_ms,
        series.p95_ms,
        series.p99_ms,
        series.avg_ms,
        0.0,
        users=series.users,
    )


def _failures(summary: dict[str, Any]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for row in summary.get("errors") or []:
        if is_request(f"{row.get('method')} {row.get('name')}"):
            message = str(row.get("message"))
            kinds[message] = kinds.get(message, 0) + int(row.get("count") or 0)
    return kinds


def _column(values: np.ndarray, n: int) -> np.ndarray:
    return values if len(values) == n else np.full(n, np.nan)


def what_broke(
    run: RunData,
    steps: Sequence[StepStats],
    step_break: StepBreak | None,
    search: dict[str, Any] | None,
    p95_limit_ms: float | None,
) -> Saturation | None:
    """The first resource to saturate at the knee of ``run``: its ``steps`` of steady load,
    the stepped run's ``step_break`` or the breakpoint ``search``'s summary (which wins), and
    the p95 limit the steps were judged by. A search is judged on its own measuring windows.
    None for a run without steps (no knee)."""
    if search is not None:
        steps = _search_windows(run.series)
    if not steps:
        return None
    series = run.series
    n = len(series)
    host = read_host_rows(run.path)
    columns = ResourceColumns(
        elapsed_s=series.elapsed_s,
        target_cpu=series.target_cpu,
        host_cpu=_column(host.host_cpu, n),
        cores=_column(host.cores, n),
        host_mem=_column(host.host_mem, n),
        queue_depth=series.queue_depth,
        generator_cpu=series.generator_cpu,
        dropped=np.nan_to_num(_column(host.dropped, n)),
    )
    knee, good = _levels(step_break, search)
    return first_saturation(
        step_readings(steps, columns),
        knee_level=knee,
        good_level=good,
        unit=series.load_unit,
        p95_limit_ms=p95_limit_ms,
        error_kinds=_failures(run.summary or {}),
        generator_cpu_limit=OVERLOADED_CPU_PERCENT,
    )


def broke_first_line(section: Mapping[str, Any] | None) -> str | None:
    """The report's and the console's sentence for a ``first_saturation`` section (None
    without one): its evidence, which names the resource first (and, for a generator-bound
    run, that the result is about the load generator, not the service)."""
    if not section or not section.get("evidence"):
        return None
    return str(section["evidence"])
