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
ROUNDING = 0.05
"""Half of the 0.1 req/s the console shows, plus the report's own rounding."""


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
    assert int(default_run.total["Request Count"]) == count  # Locust's --csv
    # Locust divides by the time to its last request, the others by the run's length
    # (8 s here, with think time): they agree to within that and the rounding
    for shown in (console_rps, float(done[2]), report_rps, float(verdict[1])):
        assert shown == pytest.approx(rps, rel=0.03, abs=ROUNDING), (shown, rps)
    assert abs(float(done[2]) - rps) <= ROUNDING and abs(report_rps - rps) <= ROUNDING


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
