"""The live threshold watch: a run's thresholds, and the ``[abort]`` ones watched as it goes.

The pure language lives in ``reports.thresholds``. This module holds the run's
:class:`~reports.thresholds.ThresholdSet` (parsed and checked at parse time; a
malformed threshold exits 2 before any load), watches the ``[abort]`` ones on
Locust's live stats once a second and quits the run on a breach. The final
verdict, ``junit.xml`` and the exit code come at the end of the run
(:mod:`plugin.run_end`, :func:`reports.finalize.finalize`), from its ``thresholds``
and ``breach``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent

from reports.thresholds import Result, ThresholdSet, evaluate_live

logger = logging.getLogger("quantload")
WATCH_INTERVAL_S = 1.0


def locust_snapshot(stats: Any) -> dict[str, Any]:
    """A summary-shaped view of Locust's live stats, enough for abort thresholds.

    Live percentiles come from Locust's own (2-significant-digit) stats; the
    final verdict uses the run's exact HDR summary instead.
    """

    def row(entry: Any) -> dict[str, Any]:
        count = entry.num_requests
        return {
            "count": count,
            "failures": entry.num_failures,
            "rps": entry.total_rps,
            "avg_ms": entry.avg_response_time,
            "max_ms": entry.max_response_time,
            **{
                f"p{label}_ms": entry.get_response_time_percentile(q) if count else None
                for label, q in (
                    ("50", 0.5),
                    ("75", 0.75),
                    ("90", 0.9),
                    ("95", 0.95),
                    ("99", 0.99),
                    ("999", 0.999),
                )
            },
        }

    endpoints = [{"method": e.method, "name": e.name, **row(e)} for e in stats.entries.values()]
    return {"total": row(stats.total), "endpoints": endpoints}


class ThresholdWatch:
    """One per process; only the master or local runner uses it."""

    def __init__(self) -> None:
        self.thresholds = ThresholdSet()
        self.environment: Any = None
        self.breach: Result | None = None
        self._watcher: gevent.Greenlet | None = None

    def configure(self, thresholds: ThresholdSet) -> None:
        self.thresholds = thresholds

    def on_test_start(self, environment: Any, event) -> None:
        self.environment = environment
        self.breach = None
        if self.thresholds.abort_on_fail and self._watcher is None:
            self._watcher = gevent.spawn(self._watch, time.monotonic(), event)

    def on_test_stop(self) -> None:
        if self._watcher is not None and self._watcher is not gevent.getcurrent():
            self._watcher.kill(block=False)
        self._watcher = None

    def _watch(self, started: float, event) -> None:
        ts = self.thresholds
        while self.breach is None:
            gevent.sleep(WATCH_INTERVAL_S)
            runner = self.environment.runner
            breach = evaluate_live(
                ts.abort_on_fail,
                locust_snapshot(runner.stats),
                time.monotonic() - started,
                ts.abort_delay_s,
            )
            if breach is not None:
                self.breach = breach
                logger.error(
                    "threshold %s breached (observed %s): stopping the run",
                    breach.name,
                    breach.observed,
                )
                event("threshold_abort", threshold=breach.name, observed=breach.observed)
                runner.quit()
