"""A target killed (-9) and restarted on the same port mid-run (issue 13, defect 2).

The run goes on, counts the failures by type, records the outage (``target_outage`` in
``events.jsonl``: start, end, what failed) from the request stream alone (an explicit
``--host``, so no metrics source samples the target), shows it in ``report.html``, and
ends by itself on time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from urllib.parse import urlsplit

from tests.locust_runs import LOCUSTFILE, REPO, free_port, read_stats, run_locust
from tests.run_checks import read_jsonl, stop_all, wait_for_lines

RUN_S = 10


def test_target_killed_and_restarted_is_one_outage_and_the_run_goes_on(tmp_path, start_target):
    first = start_target()
    assert first.url is not None and first.process is not None
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [*(sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless"), "--only-summary"]
        + ["-u", "3", "-r", "3", "-t", f"{RUN_S}s", "--host", first.url, "StressUser"]
        + ["--run-dir", str(run_dir), "--csv", str(tmp_path / "stats")]
        + ["--exit-code-on-error", "0"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_lines(run_dir / "timeseries.jsonl", 3, proc)  # ~3 s in
        killed_at = time.time()
        first.process.kill()
        first.process.wait(10)
        time.sleep(0.5)
        start_target("--port", str(urlsplit(first.url).port))  # answers /health when it returns
        back_at = time.time()
        _, err = proc.communicate(timeout=60)
    finally:
        stop_all([proc])
    assert proc.returncode == 0, err[-2000:]
    assert back_at - killed_at < RUN_S - 4, "the target must be back well before the end"
    events = read_jsonl(run_dir / "events.jsonl")
    outages = [e for e in events if e["kind"] == "target_outage"]
    assert len(outages) == 1, outages
    outage = outages[0]
    assert killed_at - 0.5 <= outage["start"] <= killed_at + 1.5, (outage, killed_at)
    assert killed_at + 0.5 <= outage["end"] <= back_at + 1.5, (outage, back_at)
    assert outage["failures"].get("refused", 0) > 0 and "ongoing" not in outage, outage
    assert not [e for e in events if e["kind"].startswith("metrics_source")]
    stop = events[-1]
    assert stop["kind"] == "test_stop" and stop["reason"] == "run_time", stop
    assert abs(stop["elapsed_s"] - RUN_S) < 1.0, stop  # ended by itself, on time
    rows = read_jsonl(run_dir / "timeseries.jsonl")
    after = [r for r in rows if r["t"] > back_at + 1]
    assert after and sum(r["total"]["count"] - r["total"]["failures"] for r in after) > 0
    _, failures = read_stats(tmp_path / "stats")
    kinds = {f["Error"] for f in failures}
    assert any("ConnectionRefused" in k for k in kinds), kinds  # counted by type
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["total"]["failures"] > 0 and summary["complete"] is True
    report = (run_dir / "report.html").read_text()
    assert "target_outage" in report  # the events table (and the charts shade the window)


def test_a_failing_metrics_source_is_not_a_target_outage(target, tmp_path):
    """The target answers while its metrics source does not: a metrics_source_gap event,
    never an outage (it was target_unreachable)."""
    nobody = f"agent:http://127.0.0.1:{free_port()}"
    run = run_locust(
        *("-u", "1", "-r", "1", "-t", "3s", "--host", target.url, "StressUser"),
        *("--target-metrics", nobody),
        tmp_path=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.run_dir is not None
    kinds = [e["kind"] for e in read_jsonl(run.run_dir / "events.jsonl")]
    assert "metrics_source_gap" in kinds and "target_outage" not in kinds, kinds
    assert "target_unreachable" not in kinds
