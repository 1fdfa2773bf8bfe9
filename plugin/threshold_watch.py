"""Thresholds in a run: checked at parse time, watched live for ``[abort]``, judged at the end.

The pure language lives in ``reports.thresholds``; this module is the glue to a
Locust run. It sets ``environment.process_exit_code`` (0 pass, 3 fail; a
malformed threshold already exited 2 at parse time), prints every threshold
with its observed value, and writes ``junit.xml`` into the run directory.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent

from reports.junit import JUNIT_FILENAME, write_junit
from reports.thresholds import (
    Result,
    ThresholdSet,
    evaluate_live,
    exit_code,
    final_results,
    format_results,
)

logger = logging.getLogger("quantload")
WATCH_INTERVAL_S = 1.0


def locust_snapshot(stats: Any) -> dict[str, Any]:
    """A summary-shaped view of Locust's live stats, enough for abort thresholds.

    Live percentiles come from Locust's own (2-significant-digit) stats; the
    final verdict uses the run's exact HDR summary instead.
    """

    def row(entry: Any) -> dict[str, Any]:
        count = entry.num_requests
        return {"count": count, "failures": entry.num_failures, "rps": entry.total_rps,
                "avg_ms": entry.avg_response_time, "max_ms": entry.max_response_time,
                **{f"p{label}_ms": entry.get_response_time_percentile(q) if count else None
                   for label, q in (("50", 0.5), ("75", 0.75), ("90", 0.9), ("95", 0.95),
                                    ("99", 0.99), ("999", 0.999))}}

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
            breach = evaluate_live(ts.abort_on_fail, locust_snapshot(runner.stats),
                                   time.monotonic() - started, ts.abort_delay_s)
            if breach is not None:
                self.breach = breach
                logger.error("threshold %s breached (observed %s): stopping the run",
                             breach.name, breach.observed)
                event("threshold_abort", threshold=breach.name, observed=breach.observed)
                runner.quit()

    def summary_hook(self, summary: dict[str, Any], writer: Any) -> None:
        """Fill ``thresholds`` and ``passed``, print them, write junit.xml, set the exit code."""
        results = final_results(self.thresholds, summary, self.breach)
        summary["thresholds"] = [r.as_dict() for r in results]
        summary["passed"] = all(r.passed for r in results)
        write_junit(writer.path / JUNIT_FILENAME, results,
                    duration_s=float(summary.get("duration_s") or 0.0))
        if not results:
            return
        print(format_results(results), flush=True)
        if self.environment is not None:
            self.environment.process_exit_code = exit_code(results)
