"""A "Target" tab in Locust's web UI: the target's CPU, RSS and queue depth over time;
and the last finished run's quantload report, linked from the "Download Data" tab.

It uses Locust's own extension points: ``extended_tabs``/``extended_tables`` in
the web UI's template arguments, and an ``extended_stats`` entry added to
``/stats/requests``, which the UI already polls. Rows are kept in a bounded ring
(newest first on screen), so a long run never grows this state.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

TAB_KEY = "quantload-target"
MAX_ROWS = 300
STATS_PATH = "/stats/requests"
CSV_PATH = "/quantload/target.csv"
REPORT_PATH = "/quantload/report"
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


class TargetPanel:
    """Recent target samples for the web UI (the master's or local runner's view)."""

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.rows: deque[dict[str, str]] = deque(maxlen=max_rows)

    def add(self, sample: dict[str, Any] | None, at: float | None = None) -> None:
        self.rows.appendleft(panel_row(sample, time.time() if at is None else at))

    def clear(self) -> None:
        self.rows.clear()

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[key for key, _ in COLUMNS])
        writer.writeheader()
        writer.writerows(reversed(self.rows))
        return out.getvalue()

    def install(self, web_ui: Any) -> None:
        """Add the tab to ``web_ui`` (a ``locust.web.WebUI``)."""
        from flask import Response, request  # Locust's own web stack

        web_ui.template_args["extended_tabs"] = [{"title": "Target", "key": TAB_KEY}]
        web_ui.template_args["extended_tables"] = [
            {
                "key": TAB_KEY,
                "structure": [{"key": key, "title": title} for key, title in COLUMNS],
            }
        ]
        web_ui.template_args["extended_csv_files"] = [
            *web_ui.template_args.get("extended_csv_files", []),
            {"href": CSV_PATH, "title": "Download target resource samples CSV"},
        ]

        @web_ui.app.after_request
        def _add_target_rows(response):
            if request.path != STATS_PATH or not response.is_json:
                return response
            payload = response.get_json()
            payload["extended_stats"] = [{"key": TAB_KEY, "data": list(self.rows)}]
            response.set_data(json.dumps(payload))
            return response

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
