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
3. the console gets one verdict block (:func:`verdict_block`: thresholds passed or
   failed, throughput, errors, p95, capacity when measured, the leak verdict, the
   report's path); in a headless run it waits for Locust's ``quit`` event, so it comes
   after Locust's final tables (``locust.main.shutdown`` prints them, then fires
   ``quit``), last on the console; in a web-UI run it is printed at once;
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
        self.verdict: str | None = None
        """The newest run's verdict block, until printed."""

    def print_verdict(self, **_kwargs: Any) -> None:
        """Print the newest run's verdict block once (``plugin.hooks`` calls it at Locust's
        ``quit``, after Locust's final tables)."""
        verdict, self.verdict = self.verdict, None
        if verdict:
            print(verdict, flush=True)

    def _quits_after_run(self) -> bool:
        """Does this process end with the run (headless), so the block can wait for ``quit``?"""
        options = self.environment.parsed_options if self.environment is not None else None
        return bool(options is not None and getattr(options, "headless", False))

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

        if outcome.report is not None:
            self.last_report = outcome.report
        self.verdict = verdict_block(
            outcome.summary,
            format_results(outcome.results) if outcome.results else None,
            outcome.report,
        )
        if not self._quits_after_run():
            self.print_verdict()
        code = EXIT_INTERRUPTED if stop.reason == INTERRUPTED else outcome.exit_code
        if code is not None and self.environment is not None:
            self.environment.process_exit_code = code

    def _findings(self) -> dict[str, Any] | None:
        shape = self.environment.shape_class if self.environment is not None else None
        return shape.findings() if isinstance(shape, ParameterizedShape) else None


def _num(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def verdict_block(summary: dict[str, Any], thresholds: str | None, report: Path | None) -> str:
    """The end-of-run block from the final ``summary.json`` (and the thresholds' table):
    the verdict first, then the figures a reader checks, then where the report is."""
    total = summary.get("total") or {}
    count, failures = total.get("count") or 0, total.get("failures") or 0
    judged = summary.get("thresholds") or []
    if not judged:
        verdict = "no thresholds"
    elif summary.get("passed"):
        verdict = f"PASSED ({len(judged)} of {len(judged)} thresholds)"
    else:
        failed = sum(not t.get("passed") for t in judged)
        verdict = f"FAILED ({failed} of {len(judged)} thresholds failed)"
    if summary.get("complete") is False:
        verdict += ", run incomplete: " + ", ".join(summary.get("incomplete_reasons") or [])
    lines = [f"quantload verdict: {verdict}"]
    if thresholds:
        lines += ["  " + line for line in thresholds.splitlines()]
    error_pct = 100.0 * failures / count if count else 0.0
    lines += [
        f"  throughput  {_num(total.get('rps'))} req/s "
        f"({count:,} requests in {_num(summary.get('duration_s'))} s)",
        f"  errors      {failures:,} ({error_pct:.2f} %)",
        f"  p95         {_num(total.get('p95_ms'))} ms",
    ]
    errors = summary.get("errors") or []
    if errors:
        top = errors[0]
        lines.append(
            f"  top error   {top.get('count')} x {top.get('method')} {top.get('name')}: "
            f"{top.get('message')}"
        )
    point = summary.get("breaking_point") or {}
    if point.get("capacity_rps") is not None:
        found = "breaks above" if point.get("found") else "held at least"
        lines.append(f"  capacity    {found} {_num(point['capacity_rps'])} req/s")
    broke = point.get("first_saturation") or {}
    if broke.get("found"):  # what saturated first at the knee (reports.what_broke)
        lines.append(f"  broke first {broke.get('evidence')}")
    jobs = summary.get("job_capacity")
    if jobs:  # reports is imported by now: the run has been finalized
        from reports.job_capacity_view import headline

        lines.append(f"  jobs        {headline(jobs)}")
    answers = summary.get("correctness") or {}
    if answers.get("checked"):  # --check-answers: wrong answers by load level
        lines.append(f"  answers     {answers.get('headline')}")
    leak = summary.get("leak") or {}
    lines.append(f"  leak        {leak.get('verdict') or 'none'}")
    lines.append(f"quantload report: {report if report is not None else 'not written'}")
    return "\n".join(lines)
