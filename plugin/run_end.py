"""The end of a run, read top to bottom: :meth:`RunEnd.__call__`.

The collector calls it once per run (master or local runner; Ctrl-C and SIGTERM
included) when the load is over and every worker's last data is in:

1. the run writer writes what was measured: the last rows, the histograms, the
   measured ``summary.json``, the final ``meta.json`` and the ``test_stop`` event;
2. :func:`reports.finalize.finalize` turns the finished directory into the verdicts
   (``breaking_point``, ``leak``, ``thresholds``, ``passed`` in ``summary.json``),
   ``junit.xml`` and ``report.html``, and appends the run to the history
   (``--history-db``, ``--build-id``); the breakpoint search's findings come from the
   run's shape (:meth:`scenarios.base.ParameterizedShape.findings`), the thresholds
   and an ``[abort]`` breach from the live threshold watch;
3. the console gets the threshold table and the report's path;
4. the process exit code: :data:`EXIT_INTERRUPTED` for a run cut short by Ctrl-C or
   SIGTERM (so CI never reads it as green); else, with thresholds, theirs (0 pass,
   3 fail); else Locust's own.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugin.collector import INTERRUPTED, RunStop
from plugin.threshold_watch import ThresholdWatch
from rundir.writer import RunWriter
from scenarios.base import ParameterizedShape
from users.settings import settings_of

if TYPE_CHECKING:
    from locust.env import Environment

logger = logging.getLogger("quantload")
EXIT_INTERRUPTED = 130
"""Exit code of a run interrupted (Ctrl-C, SIGTERM) before it ended by itself, and of
Ctrl-C while the embedded target starts."""

# ``reports`` (numpy, scipy, plotly, Jinja2) is imported when a run ends, not at start: every
# locust process, workers included, would otherwise pay about 1.9 s for it before any load.


class RunEnd:
    """One per process; only the master or local runner's runs reach it."""

    def __init__(self, thresholds: ThresholdWatch) -> None:
        self.thresholds = thresholds
        self.environment: Environment | None = None
        """Set at ``init``: whose shape and exit code these runs are."""
        self.last_report: Path | None = None
        """The newest report written (the web UI serves it)."""

    def __call__(self, writer: RunWriter, stop: RunStop) -> None:
        from reports.finalize import finalize
        from reports.thresholds import format_results

        summary = writer.finish(
            stop.epoch, complete=not stop.reasons, reasons=stop.reasons, stop_reason=stop.reason
        )
        logger.info(
            "quantload run %s written to %s (complete: %s)",
            writer.run_id,
            writer.path,
            summary["complete"],
        )

        settings = settings_of(self.environment)
        outcome = finalize(
            writer.path,
            thresholds=self.thresholds.thresholds,
            breach=self.thresholds.breach,
            search=self._findings(),
            history_db=settings.history_db,
            build_id=settings.build_id,
        )
        writer.summary = outcome.summary

        if outcome.results:
            print(format_results(outcome.results), flush=True)
        if outcome.report is not None:
            self.last_report = outcome.report
            print(f"quantload report: {outcome.report}", flush=True)
        code = EXIT_INTERRUPTED if stop.reason == INTERRUPTED else outcome.exit_code
        if code is not None and self.environment is not None:
            self.environment.process_exit_code = code

    def _findings(self) -> dict[str, Any] | None:
        shape = self.environment.shape_class if self.environment is not None else None
        return shape.findings() if isinstance(shape, ParameterizedShape) else None
