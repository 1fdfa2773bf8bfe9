"""One real headless Locust run of ``users.api.BacktestApi`` against a server that answers
garbage: every failure is counted with a stable reason, and Retry-After holds a route.

Locust monkey-patches on import, so this process never imports it: Locust runs in a
subprocess.
"""

from __future__ import annotations

import csv
import http.server
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.locust_runs import REPO

LOCUST = Path(sys.executable).with_name("locust")


# -- one real run: headless Locust against a server that answers garbage -------------------------


class GarbageHandler(http.server.BaseHTTPRequestHandler):
    """Answers every route wrongly, in one way per route."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: object) -> None:
        pass

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        length: int | None = None,
        extra: dict | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.startswith("/v1/strategies"):
            self._send(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
        elif self.path.startswith("/v1/market-data"):
            self._send(200, b'{"symbol": "AAPL", "ok": true}')
        elif self.path.startswith("/v1/queue"):  # promises 500 bytes, sends 23, hangs up
            self.close_connection = True
            self._send(200, b'{"depth": 0, "running":', length=500, extra={"Connection": "close"})
        elif self.path.startswith("/v1/backtests/"):
            self._send(
                429,
                b'{"error": {"code": "rate_limited", "message": "slow down"}}',
                extra={"Retry-After": "1"},
            )
        else:
            self._send(500, b'{"error": {"code": "injected_error", "message": "boom"}}')


@contextmanager
def garbage_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GarbageHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


GARBAGE_LOCUSTFILE = """
from locust import FastHttpUser, constant, task

from users.api import BacktestApi


class GarbageUser(FastHttpUser):
    fixed_count = 1
    wait_time = constant(0.05)

    def on_start(self):
        self.api = BacktestApi(self.client, api_key="k")

    @task
    def everything(self):
        results = [self.api.strategies(), self.api.market_data("AAPL"), self.api.queue(),
                   self.api.get_job("j1")]
        assert results == [None] * 4


class RateLimitedUser(FastHttpUser):
    fixed_count = 1
    wait_time = constant(0)  # without the Retry-After gate this would spin hundreds of times/s

    def on_start(self):
        self.api = BacktestApi(self.client)

    @task
    def reopen(self):
        assert self.api.get_backtest("b1") is None
"""

RUN_S, USERS = 5, 2  # one GarbageUser, one RateLimitedUser


@pytest.mark.slow
def test_locust_against_garbage_counts_failures_with_reasons(tmp_path):
    locustfile = tmp_path / "garbage_locustfile.py"
    locustfile.write_text(textwrap.dedent(GARBAGE_LOCUSTFILE))
    with garbage_server() as host:
        done = subprocess.run(
            [
                str(LOCUST),
                "-f",
                str(locustfile),
                "--headless",
                "-u",
                str(USERS),
                "-r",
                str(USERS),
                "-t",
                f"{RUN_S}s",
                "--host",
                host,
                "--only-summary",
                "--csv",
                str(tmp_path / "run"),
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=90,
        )
    output = done.stdout + done.stderr
    assert done.returncode in (0, 1), output  # 1 = "there were failures", which is the point
    assert "Traceback" not in output
    with open(tmp_path / "run_failures.csv") as f:
        failures = {(row["Name"], row["Error"]) for row in csv.DictReader(f)}
    reasons = {name: error for name, error in failures}
    assert (
        "body is not JSON (text/html): '<html><body>502 Bad Gateway</body></html>'"
        in reasons["/v1/strategies"]
    )
    assert "missing key 'start'" in reasons["/v1/market-data/{symbol}"]
    assert "truncated body" in reasons["/v1/queue"]
    assert "rate limited (429)" in reasons["/v1/backtests/{id}"]
    assert "status 500: injected_error" in reasons["/v1/jobs/{id}"]
    assert len(failures) == 5, failures  # one stable message per route, no per-request variants
    with open(tmp_path / "run_stats.csv") as f:
        counts = {row["Name"]: int(row["Request Count"]) for row in csv.DictReader(f)}
    # Retry-After: 1 holds the rate-limited user to about one request per second.
    assert 1 <= counts["/v1/backtests/{id}"] <= RUN_S + 2, counts
    assert counts["/v1/strategies"] > 2 * (RUN_S + 2), counts
