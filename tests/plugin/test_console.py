"""What a real run prints: one throughput everywhere, quiet profiles, the closing verdict.

The shared ``default_run`` (conftest) is read for the throughput; one short run of the
``ci`` profile, stdout and stderr in one stream, for the console's order.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rundir.layout import PSEUDO_REQUEST_TYPES
from tests.locust_runs import LOCUSTFILE, REPO, assert_gone, started_targets
from tests.reports.test_report_agrees_with_summary import AGGREGATE_LABEL, TableReader

AGGREGATED_ROW = re.compile(
    r"^\s+Aggregated\s+(\d+)\s+\d+\([\d.]+%\)\s+\|.*\|\s+([\d.]+)\s+[\d.]+$"
)
"""Locust's final console table's Aggregated row: requests, then req/s (second to last)."""
DONE_LINE = re.compile(r"progress: done \| (\d+) requests in \S+ \| ([\d.]+) req/s")
TABLE_HEADER = re.compile(r"^Type\s+Name\s+# reqs", re.MULTILINE)
ROUNDING = 0.05 + 0.005
"""Half of the 0.1 req/s the console shows, plus 0.005 for the progress line's rate (the
same count and ``metrics.summary.rate``, over the writer's clock at test stop rather than
summary.json's duration): a run whose summary.json said 10.55 req/s showed 10.5 there."""
LOCUST_RESET_S = 0.5
"""Locust resets its stats (its throughput's start) within this of the run's start."""


def report_aggregate_rps(report: Path) -> str:
    reader = TableReader({"percentile-table"})
    reader.feed(report.read_text())
    row = next(cells for cells in reader.tables["percentile-table"] if cells[0] == AGGREGATE_LABEL)
    return row[4]  # label, count, failures, error %, req/s


@pytest.mark.slow
def test_one_throughput_on_the_console_the_progress_line_the_report_and_summary(default_run):
    summary = json.loads((default_run.run_dir / "summary.json").read_text())
    rps, count = summary["total"]["rps"], summary["total"]["count"]
    assert summary["total"] == summary["requests"] and count > 0

    table = [m for line in default_run.stderr.splitlines() if (m := AGGREGATED_ROW.match(line))]
    assert table, default_run.stderr[-3000:]
    console_count, console_rps = int(table[0][1]), float(table[0][2])
    done = DONE_LINE.search(default_run.stderr)
    assert done, default_run.stderr[-3000:]
    report_rps = float(report_aggregate_rps(default_run.run_dir / "report.html"))
    verdict = re.search(r"throughput\s+([\d.]+) req/s", default_run.stdout)
    assert verdict, default_run.stdout

    # the same requests everywhere: no job, queue or WebSocket reading among them (they are
    # in the run directory, by name)
    measured = {e["method"] for e in summary["endpoints"]} & PSEUDO_REQUEST_TYPES
    assert {"JOB", "QUEUE", "WS_MSG"} <= measured, measured
    assert not {m for m, _ in default_run.stats} & PSEUDO_REQUEST_TYPES, sorted(default_run.stats)
    assert console_count == int(done[1]) == count
    # the progress line, the report and the verdict: summary.json's figure, to their rounding
    for shown in (float(done[2]), report_rps, float(verdict[1])):
        assert abs(shown - rps) <= ROUNDING, (shown, rps)
    # Locust's table divides the same count by the time from its stats' reset to its last
    # request, not by the run's length: in a loaded run the same figure (the demo: 20 users,
    # < 0.2 %), here (6 users with think time, 8 s) up to a second shorter. That request's
    # second is the last row with requests, so Locust's figure lies in the range it allows.
    rows = [json.loads(line) for line in (default_run.run_dir / "timeseries.jsonl").open()]
    last = max(r["elapsed_s"] for r in rows if r["total"]["count"])
    low, high = count / (last + 1 + LOCUST_RESET_S), count / max(last - LOCUST_RESET_S, 0.5)
    assert low - ROUNDING <= console_rps <= high + ROUNDING, (console_rps, low, high, rps)


@pytest.mark.slow
def test_a_profile_prints_locust_s_table_once_and_ends_with_the_verdict(tmp_path):
    """ci.conf: quiet (only-summary), progress lines, then Locust's final tables, then one
    verdict block (thresholds, throughput, errors, p95, leak) ending with the report."""
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--config", "config/ci.conf"]
        + ["-t", "11s", "--run-dir", str(tmp_path / "run")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    out = done.stdout
    assert_gone(started_targets(out))
    assert done.returncode == 0, out[-3000:]
    assert len(TABLE_HEADER.findall(out)) == 1, out[-5000:]  # the final table only
    assert re.search(r"progress: \d+ users \| [\d.]+ req/s, errors [\d.]+ %, p95 ", out), out
    assert "stage -" not in out and "open-ended" not in out
    tail = out[out.rindex("Response time percentiles") :]
    verdict = tail[tail.index("quantload verdict: ") :].splitlines()
    assert verdict[0].startswith("quantload verdict: PASSED ("), verdict
    labels = [line.split()[0] for line in verdict[1:] if line.startswith("  ")]
    for label in ("thresholds:", "throughput", "errors", "p95", "leak"):
        assert label in labels, verdict
    assert verdict[-1] == f"quantload report: {tmp_path / 'run' / 'report.html'}", verdict
    assert "Shutting down" not in "\n".join(verdict)  # nothing of Locust's after it
