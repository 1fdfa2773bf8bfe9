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
from dataclasses import dataclass, field
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


WHERE = ("command line", "config file", "environment")


@dataclass
class WebUiRun:
    """One web-UI locust with the key and the token given ``where``, in its own folder."""

    where: str
    folder: Path
    url: str
    proc: subprocess.Popen
    seen: list[str] = field(default_factory=list)
    """Every body the web UI answered."""


def start_web_ui(where: str, tmp_path: Path) -> WebUiRun:
    folder = tmp_path / where.replace(" ", "-")
    out = folder / "artefacts"
    out.mkdir(parents=True)
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
    with (folder / "locust.err").open("w") as err:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "locust", "-f", LOCUSTFILE),
                *("--web-host", "127.0.0.1", "--web-port", str(port)),
                *("--csv", str(out / "stats"), "--json-file", str(out / "stats")),
                *("--html", str(out / "locust.html"), "--logfile", str(out / "locust.log")),
                *args,
                "BacktestUser",  # think time: three web UIs side by side stay light
            ],
            cwd=folder,  # the default run directory: results/ here, relative
            env=env,
            stdout=err,
            stderr=subprocess.STDOUT,
        )
    return WebUiRun(where, folder, f"http://127.0.0.1:{port}", proc)


def check_left_no_secret(run: WebUiRun) -> None:
    """The run kept its key (no failure), left its files, and no secret anywhere."""
    assert_gone(started_targets((run.folder / "locust.err").read_text()))
    runs = [p for p in (run.folder / "results").iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    summary = (runs[0] / "summary.json").read_text()
    assert '"failures": 0' in summary and '"count": 0' not in summary.split('"total"')[1][:80]
    files = [p for p in run.folder.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    # Locust writes --html only headless: its HTML report is read here at /stats/report
    assert {"report.html", "meta.json", "stats_stats.csv", "stats.json", "locust.log"} <= names
    texts = [(str(p), p.read_text(errors="replace")) for p in files]
    for source, text in texts + [(s[:80], s) for s in run.seen]:
        for secret in (KEY, TOKEN):
            assert secret not in text, f"{run.where}: {secret} in {source}"


@pytest.mark.slow
def test_no_secret_anywhere_and_the_form_is_checked(tmp_path):
    runs = [start_web_ui(where, tmp_path) for where in WHERE]  # side by side: mostly idle
    try:
        for run in runs:
            wait_for(lambda run=run: requests.get(run.url + "/", timeout=2).ok)
            run.seen += read_routes(run.url)
            bad = {"user_count": 2, "spawn_rate": 2, "host": "notaurl"}
            refused = requests.post(run.url + "/swarm", data=bad, timeout=10).json()
            assert refused["success"] is False and "--host" in refused["message"], refused
            form = {"user_count": 2, "spawn_rate": 2, "api_key": "", "run_time": ""}
            started = requests.post(run.url + "/swarm", data=form, timeout=10).json()
            assert started["success"] is True, started
            assert started["host"].startswith("http://127.0.0.1:")  # notaurl was not taken
        time.sleep(3)
        for run in runs:
            run.seen.append(requests.post(run.url + "/stop", timeout=10).text)
        for run in runs:
            wait_for(lambda run=run: requests.get(run.url + "/quantload/report", timeout=5).ok)
            run.seen += read_routes(run.url)
        assert "quantload report" in open_report_in_browser(runs[0].url + "/")
    finally:
        for run in runs:
            run.proc.send_signal(signal.SIGTERM)
        for run in runs:
            run.proc.wait(60)
    for run in runs:
        check_left_no_secret(run)
