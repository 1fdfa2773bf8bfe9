"""A real web-UI run (issue 13, defects 3 and 8; issue 12, the report link).

The API key and the agent token, given on the command line, in a ``--config`` file or in
the environment, reach no page, API response, log, CSV, JSON or HTML: every GET route of
Locust's web UI and the suite's is read before and after a run, and every file the run
left is grepped. A blank secret field in the ``/swarm`` form (what the page now holds)
keeps the run's key: the embedded target requires it, so a lost key fails every request.
``/swarm`` refuses ``host=notaurl`` as the command line does. The run uses the DEFAULT
run directory (cwd a temporary folder): chromium clicks the report link and the report
opens in a new tab.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import sync_playwright

from tests.browser import launch
from tests.locust_runs import LOCUSTFILE, assert_gone, free_port, started_targets

KEY = "k3y-SUPERSECRET-4417"
TOKEN = "t0ken-SUPERSECRET-9923"
LOCUST_WEB = Path(sys.executable).parent.parent / "lib/python3.11/site-packages/locust/web.py"
SUITE_ROUTES = ["/quantload/report", "/quantload/target.csv"]


def get_routes() -> list[str]:
    """Every GET route of Locust's web UI (read from its source: none is missed) and ours."""
    source = LOCUST_WEB.read_text()
    return sorted(set(re.findall(r'app_blueprint\.route\("([^"<]+)"\)', source))) + SUITE_ROUTES


def wait_for(check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError("timed out")


def read_routes(url: str) -> list[str]:
    bodies = []
    for route in get_routes():
        response = requests.get(url + route, timeout=10)
        assert response.status_code < 500, (route, response.status_code)
        bodies.append(f"{route}: {response.text}")
    return bodies


def open_report_in_browser(url: str) -> str:
    """Click the report link in the Download Data tab; the report opens in a new tab."""
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.goto(url)
            page.get_by_role("tab", name="Download Data").click()
            with page.expect_popup() as popup:
                page.locator('a[href$="/quantload/report"]').click()
            report = popup.value
            report.wait_for_load_state()
            assert page.url.startswith(url)  # the UI stayed where it was
            return report.content()
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.parametrize("where", ["command line", "config file", "environment"])
def test_no_secret_anywhere_and_the_form_is_checked(where, tmp_path):
    args: list[str] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTLOAD_")}
    if where == "command line":
        args = ["--api-key", KEY, "--agent-token", TOKEN]
    elif where == "config file":
        (tmp_path / "secret.conf").write_text(f"api-key = {KEY}\nagent-token = {TOKEN}\n")
        args = ["--config", str(tmp_path / "secret.conf")]
    else:
        env.update(QUANTLOAD_API_KEY=KEY, QUANTLOAD_AGENT_TOKEN=TOKEN)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out = tmp_path / "artefacts"
    out.mkdir()
    log = tmp_path / "locust.err"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "locust", "-f", LOCUSTFILE),
                *("--web-host", "127.0.0.1", "--web-port", str(port)),
                *("--csv", str(out / "stats"), "--json-file", str(out / "stats")),
                *("--html", str(out / "locust.html"), "--logfile", str(out / "locust.log")),
                *args,
                "StressUser",
            ],
            cwd=tmp_path,  # the default run directory: results/ here, relative
            env=env,
            stdout=err,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: requests.get(url + "/", timeout=2).ok)
        seen = read_routes(url)
        refused = requests.post(
            url + "/swarm", data={"user_count": 2, "spawn_rate": 2, "host": "notaurl"}
        ).json()
        assert refused["success"] is False and "--host" in refused["message"], refused
        form = {"user_count": 2, "spawn_rate": 2, "api_key": "", "run_time": ""}
        started = requests.post(url + "/swarm", data=form, timeout=10).json()
        assert started["success"] is True, started
        assert started["host"].startswith("http://127.0.0.1:")  # notaurl was not taken
        time.sleep(3)
        seen.append(requests.post(url + "/stop", timeout=10).text)
        wait_for(lambda: requests.get(url + "/quantload/report", timeout=5).ok)
        seen += read_routes(url)
        if where == "command line":
            assert "quantload report" in open_report_in_browser(url + "/")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert_gone(started_targets(log.read_text()))
    runs = [p for p in (tmp_path / "results").iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    summary = (runs[0] / "summary.json").read_text()
    assert '"failures": 0' in summary and '"count": 0' not in summary.split('"total"')[1][:80]
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "secret.conf"]
    names = {p.name for p in files}
    # Locust writes --html only headless: its HTML report is read here at /stats/report
    assert {"report.html", "meta.json", "stats_stats.csv", "stats.json", "locust.log"} <= names
    texts = [(str(p), p.read_text(errors="replace")) for p in files] + [(s[:80], s) for s in seen]
    for source, text in texts:
        for secret in (KEY, TOKEN):
            assert secret not in text, f"{secret} in {source}"
