"""Two tabs in Locust's web UI, and the last finished run's report.

- **Target**: the target's CPU, RSS and queue depth over the whole run as charts (like
  Locust's own Charts tab), drawn by a small script (``webui_charts.js``) from
  :data:`SERIES_PATH`, above the newest samples as a table; its CSV
  (:data:`CSV_PATH`) holds every sample of the run;
- **Measurements**: what the user classes measure that is not a request to the target
  (job durations, queue readings, WebSocket delivery and rates, dropped arrivals:
  ``users.measurements``), one row each, in its own unit; Locust's own tabs count
  requests to the target only;
- the last finished run's quantload report, linked from the "Download Data" tab.

It uses Locust's own extension points: ``extended_tabs``/``extended_tables`` in the
web UI's template arguments, an ``extended_stats`` entry added to ``/stats/requests``
(which the UI already polls), routes on its Flask app, and one script added to the
index page. The whole run's samples are kept as compact columns of floats
(:class:`~plugin.target_series.TargetSeries`, about 50 bytes a sample).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from metrics.latency import Cell
from metrics.summary import ROW_PERCENTILES, cell_stats
from plugin.target_series import TargetSeries
from rundir.layout import PSEUDO_REQUEST_UNITS, is_request, split_key

TAB_KEY = "quantload-target"
MEASUREMENTS_KEY = "quantload-measurements"
MAX_ROWS = 300
"""Newest samples in the Target tab's table (the charts and the CSV hold the whole run)."""
STATS_PATH = "/stats/requests"
CSV_PATH = "/quantload/target.csv"
SERIES_PATH = "/quantload/target.json"
CHARTS_SCRIPT_PATH = "/quantload/target-charts.js"
CHARTS_SCRIPT = Path(__file__).with_name("webui_charts.js")
REPORT_PATH = "/quantload/report"
MEASUREMENT_COLUMNS = (
    ("measurement", "Measurement"),
    ("unit", "Unit"),
    ("count", "Samples"),
    ("failures", "Failures"),
    ("p50", "Median"),
    ("p95", "95%ile"),
    ("max", "Max"),
    ("avg", "Average"),
)
COLUMNS = (
    ("time", "Time"),
    ("cpu_percent", "Target CPU %"),
    ("rss_mb", "Target RSS (MB)"),
    ("queue_depth", "Queue depth"),
    ("threads", "Threads"),
    ("children", "Child processes"),
)


def panel_row(sample: dict[str, Any] | None, at: float) -> dict[str, str]:
    """One table row from a target sample (None = the source did not answer: a gap)."""
    clock = time.strftime("%H:%M:%S", time.localtime(at))
    if sample is None:
        return {
            "time": clock,
            "cpu_percent": "gap",
            "rss_mb": "gap",
            "queue_depth": "",
            "threads": "",
            "children": "",
        }

    def fmt(key: str, scale: float = 1.0, digits: int = 1) -> str:
        value = sample.get(key)
        return "" if value is None else f"{value / scale:.{digits}f}"

    return {
        "time": clock,
        "cpu_percent": fmt("cpu_percent"),
        "rss_mb": fmt("rss_bytes", 2**20),
        "queue_depth": fmt("queue_depth", digits=0),
        "threads": fmt("threads", digits=0),
        "children": fmt("children", digits=0),
    }


def measurement_rows(totals: Mapping[str, Cell]) -> list[dict[str, str]]:
    """The Measurements tab's rows: every cell that is not a request to the target, its
    figures in its kind's unit (``rundir.layout.PSEUDO_REQUEST_UNITS``)."""
    rows = []
    for key in sorted(k for k in totals if not is_request(k)):
        kind = split_key(key)[0]
        unit = PSEUDO_REQUEST_UNITS.get(kind, "ms")
        stats = cell_stats(totals[key], 1.0, ROW_PERCENTILES)
        digits = 1
        values = {
            column: "-" if stats.get(name) is None else f"{stats[name]:,.{digits}f}"
            for column, name in (("p50", "p50_ms"), ("p95", "p95_ms"), ("max", "max_ms"))
        }
        values["avg"] = "-" if stats["avg_ms"] is None else f"{stats['avg_ms']:,.{digits}f}"
        if unit == "arrivals":  # a drop's value is always 0: only how many counts
            values = dict.fromkeys(values, "-")
        rows.append(
            {
                "measurement": key,
                "unit": unit,
                "count": f"{stats['count']:,}",
                "failures": f"{stats['failures']:,}",
                **values,
            }
        )
    return rows


class TargetPanel:
    """The target's samples for the web UI (the master's or local runner's view): the
    whole run for the charts and the CSV, the newest :data:`MAX_ROWS` for the table."""

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.rows: deque[dict[str, str]] = deque(maxlen=max_rows)
        self.series = TargetSeries()
        self.measurements: Callable[[], Mapping[str, Cell]] = dict
        """The run's cumulative cells (``plugin.hooks`` gives the run writer's)."""

    def add(self, sample: dict[str, Any] | None, at: float | None = None) -> None:
        at = time.time() if at is None else at
        self.rows.appendleft(panel_row(sample, at))
        self.series.add(at, sample)

    def clear(self) -> None:
        """A new run: its samples only."""
        self.rows.clear()
        self.series.clear()

    def csv_text(self) -> str:
        return self.series.csv_text()

    def install(self, web_ui: Any) -> None:
        """Add the tabs, the charts and the CSV to ``web_ui`` (a ``locust.web.WebUI``)."""
        from flask import Response, request  # Locust's own web stack

        web_ui.template_args["extended_tabs"] = [
            {"title": "Target", "key": TAB_KEY},
            {"title": "Measurements", "key": MEASUREMENTS_KEY},
        ]
        web_ui.template_args["extended_tables"] = [
            {
                "key": TAB_KEY,
                "structure": [{"key": key, "title": title} for key, title in COLUMNS],
            },
            {
                "key": MEASUREMENTS_KEY,
                "structure": [{"key": k, "title": t} for k, t in MEASUREMENT_COLUMNS],
            },
        ]
        web_ui.template_args["extended_csv_files"] = [
            *web_ui.template_args.get("extended_csv_files", []),
            {"href": CSV_PATH, "title": "Download target resource samples CSV"},
        ]

        @web_ui.app.after_request
        def _add_target_rows(response):
            if request.path == "/" and response.mimetype == "text/html":
                response.direct_passthrough = False
                page = response.get_data(as_text=True)
                script = f'<script src="{CHARTS_SCRIPT_PATH}"></script></body>'
                response.set_data(page.replace("</body>", script, 1))
                return response
            if request.path != STATS_PATH or not response.is_json:
                return response
            payload = response.get_json()
            payload["extended_stats"] = [
                {"key": TAB_KEY, "data": list(self.rows)},
                {"key": MEASUREMENTS_KEY, "data": measurement_rows(self.measurements())},
            ]
            response.set_data(json.dumps(payload))
            return response

        @web_ui.app.route(SERIES_PATH)
        def _target_series():
            return Response(json.dumps(self.series.chart_data()), mimetype="application/json")

        @web_ui.app.route(CHARTS_SCRIPT_PATH)
        def _charts_script():
            return Response(CHARTS_SCRIPT.read_text(), mimetype="text/javascript")

        @web_ui.app.route(CSV_PATH)
        def _target_csv():
            return Response(
                self.csv_text(),
                mimetype="text/csv",
                headers={"Content-Disposition": "attachment;filename=quantload_target.csv"},
            )


def install_report_link(web_ui: Any, last_report: Callable[[], Path | None]) -> None:
    """Serve the last finished run's ``report.html`` at :data:`REPORT_PATH` and link it
    from the web UI's "Download Data" tab (404 until a run has finished)."""
    from flask import Response, send_file  # Locust's own web stack

    web_ui.template_args["extended_csv_files"] = [
        *web_ui.template_args.get("extended_csv_files", []),
        {"href": REPORT_PATH, "title": "quantload report of the last finished run (HTML)"},
    ]

    @web_ui.app.route(REPORT_PATH)
    def _report():
        path = last_report()
        if path is None or not path.is_file():
            return Response(
                "no finished run yet: its report is written when it stops\n",
                status=404,
                mimetype="text/plain",
            )
        return send_file(path, mimetype="text/html")
