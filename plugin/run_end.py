"""The end of a run: analysis into ``summary.json``, then ``report.html``.

Two steps, wired by ``plugin.hooks``:

- :meth:`RunReporter.summary_hook` (a summary hook, before ``summary.json`` is
  written): reads the run's rows back, analyses them
  (:func:`reports.run_analysis.analyse_run`) and fills ``breaking_point`` (with the
  live breakpoint search's result when that shape ran) and ``leak``;
- :meth:`RunReporter.after_finish` (once the run directory is complete, Ctrl-C and
  SIGTERM included): renders ``report.html`` from the same analysis and prints its path.

The analysis is kept between the two, so a long run's rows are read once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rundir.writer import RunWriter

if TYPE_CHECKING:
    from reports.run_analysis import RunAnalysis
    from rundir.reader import RunData

# ``reports`` (numpy, scipy, plotly, Jinja2) is imported when a run ends, not at start: every
# locust process, workers included, would otherwise pay about 1.9 s for it before any load.


class RunReporter:
    """One per process; only the master or local runner's runs reach it."""

    def __init__(self) -> None:
        self.environment: Any = None
        self.last_report: Path | None = None
        """The newest report written (the web UI serves it)."""
        self._analysed: tuple[RunWriter, RunData, RunAnalysis] | None = None

    def summary_hook(self, summary: dict[str, Any], writer: RunWriter) -> None:
        from reports.run_analysis import analyse_run, breaking_point_section, leak_section
        from rundir.reader import load_run

        run = load_run(writer.path, summary=summary, histograms=False)
        search = getattr(self.environment, "quantload_breakpoint", None)
        analysis = analyse_run(run, search=search if isinstance(search, dict) else None)
        summary["breaking_point"] = breaking_point_section(analysis)
        summary["leak"] = leak_section(analysis)
        self._analysed = (writer, run, analysis)

    def after_finish(self, writer: RunWriter) -> None:
        from reports.render import render_report
        from rundir.reader import read_events, read_histograms

        analysed, self._analysed = self._analysed, None
        if analysed is not None and analysed[0] is writer:
            _, run, analysis = analysed
            # the final histograms and the test_stop event are written by now
            run.histograms = read_histograms(writer.path, run.problems)
            run.events = read_events(writer.path, run.problems)
            path = render_report(writer.path, run=run, analysis=analysis)
        else:  # the analysis hook failed: render from the directory alone
            path = render_report(writer.path)
        self.last_report = path
        print(f"quantload report: {path}", flush=True)
