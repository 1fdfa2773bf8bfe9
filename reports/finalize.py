"""The end of a run: a finished run directory in; its verdicts, report and exit code out.

:func:`finalize` is the one path from "the load is over and every row, histogram and
the measured ``summary.json`` are on disk" (:meth:`rundir.writer.RunWriter.finish`)
to what the user reads. In order:

1. read the run directory once (:func:`rundir.reader.load_run`);
2. analyse it (:func:`reports.run_analysis.analyse_run`): ``summary.json``'s
   ``breaking_point`` (with the live breakpoint search's findings, when that shape
   ran), ``leak``, ``correctness`` and ``generator_ceiling`` (when there is one);
3. judge the thresholds on that summary: ``thresholds`` and ``passed``;
4. write ``junit.xml`` (one test case per threshold; empty when there are none);
5. render ``report.html`` from the same run data, analysis and verdicts;
6. append the run to the history database (:mod:`reports.history_store`; SQLite
   beside the run directories by default, ``--history-db``; ``none`` disables);
7. write ``summary.json`` again, whole (temp file, fsync, rename), last, so it names
   any stage that failed.

A stage that fails is logged and named in ``summary.json``'s ``stage_errors``; the
stages after it still run, so a bug in the analysis never costs the run its
summary, thresholds or report. ``python -m reports render`` re-renders a report
from the directory alone; it does not judge again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from reports.history_record import run_record
from reports.history_store import append_run, history_url, open_history, shown_url
from reports.job_capacity_view import job_capacity_section
from reports.junit import JUNIT_FILENAME, write_junit
from reports.render import render_report
from reports.run_analysis import RunAnalysis, analyse_run, breaking_point_section, leak_section
from reports.thresholds import Result, ThresholdSet, exit_code, final_results
from rundir.files import write_summary
from rundir.reader import RunData, load_run

logger = logging.getLogger("quantload")
T = TypeVar("T")


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run came to."""

    summary: dict[str, Any]
    """``summary.json`` as written: the measured figures plus the verdict sections."""
    results: list[Result] = field(default_factory=list)
    """Every threshold judged, in the order given (empty: none were given)."""
    report: Path | None = None
    """``report.html``, or None when it could not be rendered."""
    stage_errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int | None:
        """0 when every threshold passed, 3 when one failed; None without thresholds
        (the runner's own exit code stands)."""
        return exit_code(self.results) if self.results else None


def finalize(
    run_dir: Path | str,
    *,
    thresholds: ThresholdSet | None = None,
    breach: Result | None = None,
    search: dict[str, Any] | None = None,
    history_db: str | None = None,
    build_id: str | None = None,
) -> RunOutcome:
    """Turn a finished run directory into its verdicts, ``junit.xml`` and ``report.html``.

    ``thresholds``: the run's threshold set; ``breach``: the ``[abort]`` threshold that
    stopped the run early, if any (it stays a failure); ``search``: the breakpoint
    search's findings (``BreakpointSearch.summary()``) when that shape ran.
    ``history_db``: ``--history-db`` (None: ``history.sqlite`` beside the run directory;
    ``none``: no history); ``build_id``: ``--build-id`` (None: the git commit, if any).
    Raises :class:`rundir.reader.RunDirError` only if ``run_dir`` is not a run directory.
    """
    errors: list[str] = []
    run = load_run(run_dir)
    summary: dict[str, Any] = dict(run.summary or {})

    analysis = _stage("analysis", errors, lambda: analyse_run(run, search=search))
    if analysis is not None:
        summary["breaking_point"] = breaking_point_section(analysis)
        summary["leak"] = leak_section(analysis)
        if analysis.correctness is not None:
            summary["correctness"] = analysis.correctness.as_dict()
        if analysis.generator_ceiling is not None:
            summary["generator_ceiling"] = analysis.generator_ceiling.as_dict()

    jobs = _stage("job capacity", errors, lambda: job_capacity_section(run))
    if jobs is not None:
        summary["job_capacity"] = jobs

    results = (
        _stage(
            "thresholds",
            errors,
            lambda: final_results(thresholds or ThresholdSet(), summary, breach),
        )
        or []
    )
    summary["thresholds"] = [r.as_dict() for r in results]
    summary["passed"] = all(r.passed for r in results)

    _stage(
        "junit",
        errors,
        lambda: write_junit(
            run.path / JUNIT_FILENAME, results, duration_s=float(summary.get("duration_s") or 0.0)
        ),
    )
    report = _stage("report", errors, lambda: _render(run, analysis, summary))

    _stage("history", errors, lambda: _record_history(run, summary, history_db, build_id))

    if errors:
        summary["stage_errors"] = errors
    write_summary(run.path, summary)
    return RunOutcome(summary=summary, results=results, report=report, stage_errors=errors)


def _render(run: RunData, analysis: RunAnalysis | None, summary: dict[str, Any]) -> Path:
    run.summary = summary
    return render_report(run.path, run=run, analysis=analysis)


def _record_history(
    run: RunData, summary: dict[str, Any], history_db: str | None, build_id: str | None
) -> None:
    """Append the run to the history (nothing when it is disabled)."""
    url = history_url(history_db, run.path)
    if url is None:
        return
    engine = open_history(url)
    try:
        append_run(engine, run_record(run, summary, build_id))
    finally:
        engine.dispose()
    logger.info("quantload: run appended to the history %s", shown_url(url))


def _stage(name: str, errors: list[str], work: Callable[[], T]) -> T | None:
    """``work()``, or None (and ``name`` noted in ``errors``) if it raised."""
    try:
        return work()
    except Exception:  # a broken stage must not cost the run the stages after it
        logger.exception("quantload: the end of the run's %s stage failed", name)
        errors.append(name)
        return None
