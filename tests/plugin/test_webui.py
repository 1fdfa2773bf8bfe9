"""The web UI's Target tab, in a real browser (Debian chromium via Playwright) during a real run."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from playwright.sync_api import sync_playwright

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
                "3",
                "-r",
                "3",
                "-t",
                "40s",
                "--autoquit",
                "1",
                "--run-dir",
                str(tmp_path / "run"),
                "StressUser",
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
            page.screenshot(path=str(tmp_path / "webui-target.png"))
            browser.close()
        assert seen, "the Target tab never showed changing target metrics"
        assert all(float(r[2]) > 10 for r in seen), "RSS of the target in MB"
        times = [r[0] for r in seen]
        assert len(set(times)) == len(times), "one row per sample time"
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
