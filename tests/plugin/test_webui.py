"""The web UI's Target and Measurements tabs, in a real browser (Debian chromium via
Playwright) during a real run; the Target panel's whole-run CSV and chart data (no Locust)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import sync_playwright

from plugin.webui import MAX_ROWS, TargetPanel, measurement_rows
from tests.browser import launch
from tests.locust_runs import LOCUSTFILE, REPO, assert_gone, started_targets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_report(url: str, deadline: float) -> str:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except urllib.error.HTTPError:
            time.sleep(0.2)  # 404 until the stopped run's report is written
    raise AssertionError(f"{url} never served a report")


def test_target_tab_shows_metrics_changing_over_time(tmp_path):
    port = free_port()
    log = tmp_path / "locust.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                LOCUSTFILE,
                "--web-host",
                "127.0.0.1",
                "--web-port",
                str(port),
                "--autostart",
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "40s",
                "--autoquit",
                "1",
                "--run-dir",
                str(tmp_path / "run"),
                "StressUser",
                "JobUser",
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, time.monotonic() + 60)
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page()
            page.goto(url)
            page.get_by_role("tab", name="Target").click()
            seen: list[list[str]] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                rows = [r.split("\t") for r in page.locator("table tbody tr").all_inner_texts()]
                rows = [r for r in rows if len(r) >= 3 and r[2] not in ("", "gap")]
                if len(rows) >= 4 and len({r[2] for r in rows} | {r[1] for r in rows}) > 2:
                    seen = rows
                    break
                time.sleep(0.5)  # the UI polls every 2 s; this only paces our reading
            charts = page.locator("#quantload-target-charts")
            charts.wait_for(timeout=10_000)
            drawn: dict = {}
            deadline = time.monotonic() + 10  # the charts redraw on the UI's next 2 s poll
            while time.monotonic() < deadline:
                drawn = {
                    svg.get_attribute("data-chart"): svg.locator("polyline").get_attribute("points")
                    for svg in charts.locator("svg").all()
                }
                if len((drawn.get("rss_mb") or "").split()) >= 4:
                    break
                time.sleep(0.5)
            page.screenshot(path=str(tmp_path / "webui-target.png"))
            page.get_by_role("tab", name="Measurements").click()
            measured: list[list[str]] = []
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not measured:
                rows = [r.split("\t") for r in page.locator("table tbody tr").all_inner_texts()]
                measured = [r for r in rows if r[0] == "QUEUE depth"]
                time.sleep(0.5)
            statistics = page.get_by_role("tab", name="Statistics")
            statistics.click()
            page.wait_for_timeout(2500)  # a poll of /stats/requests
            locust_rows = page.locator("table tbody tr").all_inner_texts()
            browser.close()
        assert seen, "the Target tab never showed changing target metrics"
        assert all(float(r[2]) > 10 for r in seen), "RSS of the target in MB"
        times = [r[0] for r in seen]
        assert len(set(times)) == len(times), "one row per sample time"
        # the Target tab's charts: CPU, RSS and queue depth over the run, as lines
        assert set(drawn) == {"cpu_percent", "rss_mb", "queue_depth"}, drawn
        assert len((drawn["rss_mb"] or "").split()) >= 4, drawn
        # the Measurements tab: job and queue readings, each in its unit; not Locust's
        assert measured and measured[0][1] == "jobs", measured
        assert locust_rows and not any(r.split("\t")[0] in ("QUEUE", "JOB") for r in locust_rows)
        # the run's report, from the web UI once the run stops
        assert http_status(url + "quantload/report") == 404  # still running: none yet
        urllib.request.urlopen(
            urllib.request.Request(url + "stop", method="POST"), timeout=10
        ).close()
        page_text = wait_report(url + "quantload/report", time.monotonic() + 30)
        assert "quantload report" in page_text and 'id="percentile-table"' in page_text
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        assert_gone(started_targets(log.read_text()))


def test_target_csv_and_charts_hold_the_whole_run_the_table_the_newest():
    panel = TargetPanel()
    for i in range(1000):
        sample = None if i == 500 else {"cpu_percent": i % 100, "rss_bytes": (i + 1) * 2**20}
        panel.add(sample, at=1_700_000_000.0 + i)
    lines = panel.csv_text().splitlines()
    assert len(lines) == 1 + 1000  # header and every sample, oldest first
    assert lines[1].split(",")[2:4] == ["0.0", "1.0"] and lines[-1].split(",")[3] == "1000.0"
    assert lines[501].split(",")[2:4] == ["gap", "gap"]
    assert len(panel.rows) == MAX_ROWS and panel.rows[0]["rss_mb"] == "1000.0"  # newest first
    data = panel.series.chart_data()
    assert data["samples"] == 1000 and len(data["t"]) <= 600
    assert data["t"][-1] == 1_700_000_999.0 and data["rss_mb"][-1] == 1000.0
    panel.clear()
    assert panel.csv_text().splitlines() == lines[:1] and not panel.rows


def test_measurement_rows_show_each_kind_in_its_unit_and_no_request():
    from metrics.latency import SlotRecorder

    recorder = SlotRecorder(0.0, 1.0)
    for value in (2, 4, 6):
        recorder.record("QUEUE depth", value, None, 0.5)
    recorder.record("JOB end_to_end", 1500.0, None, 0.5)
    recorder.record("DROPPED /v1/backtests", 0, RuntimeError("cap"), 0.5)
    recorder.record("GET /v1/strategies", 3.0, None, 0.5)
    (slot,) = recorder.take()
    rows = {r["measurement"]: r for r in measurement_rows(slot.cells)}
    assert set(rows) == {"QUEUE depth", "JOB end_to_end", "DROPPED /v1/backtests"}
    assert (rows["QUEUE depth"]["unit"], rows["QUEUE depth"]["max"]) == ("jobs", "6.0")
    job = rows["JOB end_to_end"]
    assert job["unit"] == "ms" and float(job["p50"].replace(",", "")) == pytest.approx(1500, 1e-3)
    assert rows["DROPPED /v1/backtests"]["failures"] == "1"
    assert rows["DROPPED /v1/backtests"]["p95"] == "-"  # a drop's value means nothing
