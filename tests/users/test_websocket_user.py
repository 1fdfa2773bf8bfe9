"""WebSocketUser in a real headless run through locustfile.py: job events arrive, their delivery
latency is right (checked against a raw websocket-client measurement of the same target in the
same test), and the row reaches summary.json and the report's WebSocket chart."""

from __future__ import annotations

import json
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import websocket

from tests.locust_runs import run_locust

EVENTS = "/v1/jobs/{id}/events"
FINAL = {"succeeded", "failed", "cancelled"}
JOB = {
    "kind": "monte_carlo",
    "symbol": "AAPL",
    "strategy": "sma_cross",
    "start": "2021-01-01",
    "end": "2023-12-31",
    "num_runs": 200,
}  # what WebSocketUser submits
RAW_JOBS = 3
LOOPBACK_MAX_MS = 50
AGREE_MS = 5


def hdr_p50(values: list[float]) -> float:
    """p50 by the suite's (HdrHistogram's) rank: the value at rank max(1, round(n/2))."""
    ordered = sorted(values)
    return ordered[max(1, int(0.5 * len(ordered) + 0.5)) - 1]


def wait_for_ws_rows(run_dir: Path, deadline_s: float = 90) -> None:
    """Until the run has written a timeseries row holding WebSocket messages (the load is on)."""
    series = run_dir / "timeseries.jsonl"
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if series.exists() and any('"WS_MSG ' in line for line in series.read_text().splitlines()):
            return
        time.sleep(0.1)
    raise AssertionError("the locust run never recorded a WebSocket message")


def raw_delivery_ms(base_url: str, jobs: int) -> list[float]:
    """Submit ``jobs`` jobs over HTTP and follow each one's events with websocket-client;
    latency per message = receive ``time.time()`` - ``sent_at`` (clamped at 0), as the user."""
    latencies = []
    ws_base = base_url.replace("http://", "ws://", 1)
    with requests.Session() as http:
        for _ in range(jobs):
            resp = http.post(f"{base_url}/v1/jobs", json=JOB, timeout=10)
            assert resp.status_code == 202, resp.text
            ws = websocket.create_connection(
                f"{ws_base}/v1/jobs/{resp.json()['id']}/events", timeout=30
            )
            try:
                status = None
                while status not in FINAL:
                    data = ws.recv()
                    received = time.time()
                    message = json.loads(data)
                    latencies.append(max(0.0, (received - float(message["sent_at"])) * 1000))
                    status = message["status"]
                assert status == "succeeded"
            finally:
                ws.close()
    return latencies


def report_charts(page: str) -> dict[str, dict]:
    found = re.search(r"var charts = (\[.*?\]);\n", page)
    assert found, "report.html has no chart data"
    return {chart["id"]: chart for chart in json.loads(found.group(1))}


@pytest.mark.timing
def test_follows_jobs_and_times_messages(start_target, tmp_path):
    target = start_target("--job-step-ms", "20")
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            run_locust,
            "-u",
            "3",
            "-r",
            "3",
            "-t",
            "7s",
            "--host",
            target.url,
            "WebSocketUser",
            tmp_path=tmp_path,
            timeout=90,
        )
        try:
            wait_for_ws_rows(tmp_path / "rundir")
            raw = raw_delivery_ms(target.url, RAW_JOBS)  # beside the run: same target, same load
        finally:
            run = running.result()
    assert run.returncode == 0, run.stderr[-2000:]
    # summary.json, not Locust's --csv: Locust rewrites its CSV once a second, so the file's
    # last rows can miss the final second of the run
    summary = json.loads((run.run_dir / "summary.json").read_text())
    rows = {(e["method"], e["name"]): e for e in summary["endpoints"]}
    assert sum(e["failures"] for e in rows.values()) == 0, run.failures
    connects, ws_msg = rows[("WS_CONNECT", EVENTS)], rows[("WS_MSG", EVENTS)]
    rate = rows[("WS_RATE", "messages_per_s")]
    assert connects["count"] > 0
    # every subscription starts with the job's state; every followed job ended with a final status
    assert ws_msg["count"] >= connects["count"] + rate["count"]
    assert rate["count"] > 0 and rate["p50_ms"] > 0
    assert ("WS_CONNECT", "disconnect") not in rows
    assert rows[("POST", "/v1/jobs")]["count"] >= rate["count"]

    assert 0 < ws_msg["p50_ms"] < LOOPBACK_MAX_MS, ws_msg
    assert len(raw) >= RAW_JOBS * 2
    raw_p50 = hdr_p50(raw)
    assert abs(ws_msg["p50_ms"] - raw_p50) <= AGREE_MS, (ws_msg["p50_ms"], raw_p50)

    chart = report_charts((run.run_dir / "report.html").read_text()).get("chart-websocket")
    assert chart is not None, "report.html has no WebSocket latency chart"
    p50_trace = next(t for t in chart["figure"]["data"] if t["name"] == "p50")
    plotted = [y for y in p50_trace["y"] if y is not None and math.isfinite(y)]
    assert plotted and max(plotted) > 0, p50_trace
