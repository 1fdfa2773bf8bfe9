"""WebSocketUser in a real headless run: job events arrive, are timed, nothing is left behind."""

from __future__ import annotations

import psutil

from tests.locust_runs import REPO, run_locust

WEBSOCKET_LOCUSTFILE = str(REPO / "users" / "websocket_user.py")
EVENTS = "/v1/jobs/{id}/events"


def locust_children() -> list[psutil.Process]:
    """Locust processes started by this test process that are still alive."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any("locust" in part for part in child.cmdline()):
                found.append(child)
        except psutil.Error:
            pass
    return found


def test_follows_jobs_and_times_messages(start_target, tmp_path):
    target = start_target("--job-step-ms", "20")
    run = run_locust("-u", "3", "-r", "3", "-t", "15s", "--host", target.url, "--tags", "ws",
                     tmp_path=tmp_path, locustfile=WEBSOCKET_LOCUSTFILE, timeout=75)
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.total["Failure Count"]) == 0, run.failures

    connects = run.row("WS_CONNECT", EVENTS)
    messages = run.row("WS_MSG", EVENTS)
    rate = run.row("WS_RATE", "messages_per_s")
    assert int(connects["Request Count"]) > 0
    assert int(messages["Request Count"]) >= int(connects["Request Count"])  # state + progress
    assert float(messages["50%"]) < 500  # delivery latency on loopback
    assert int(rate["Request Count"]) > 0 and float(rate["Average Response Time"]) > 0
    assert ("WS_CONNECT", "disconnect") not in run.stats
    assert int(run.row("POST", "/v1/jobs")["Request Count"]) >= int(rate["Request Count"])

    gone, alive = psutil.wait_procs(locust_children(), timeout=10)
    assert not alive, f"locust processes left behind: {alive}"

