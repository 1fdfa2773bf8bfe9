"""``users/api.py`` and ``users/responses.py``: verdicts, messages and Retry-After, no network;
then one real headless Locust run against a server that answers garbage.

Locust monkey-patches on import, so this process never imports it: the pure
modules are imported directly, and anything that needs Locust runs in a subprocess.
"""

from __future__ import annotations

import csv
import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from users.api import BacktestApi
from users.exchange import snapshot
from users.responses import (
    BACKTEST_SHAPE,
    JOB_SHAPE,
    QUEUE_SHAPE,
    RawResponse,
    check_job_status,
    judge,
    parse_retry_after,
    validate_shape,
)
from users.retry_after import RetryAfterGate
from users.routes import (
    ROUTE_BACKTEST,
    ROUTE_BACKTESTS,
    ROUTE_JOB,
    ROUTE_MARKET_DATA,
    job_events_url,
)

REPO = Path(__file__).resolve().parents[1]
LOCUST = Path(sys.executable).with_name("locust")
JSON = {"content-type": "application/json"}

BACKTEST = {
    "id": "b1", "symbol": "AAPL", "strategy": "sma_cross", "parameters": {}, "start": "2021-01-01",
    "end": "2023-12-31", "created_at": 1.5, "cached": False,
    "metrics": {"total_return": 0.1, "annual_return": 0.03, "sharpe_ratio": 1.0,
                "sortino_ratio": None, "calmar_ratio": None, "max_drawdown": 0.2,
                "win_rate": 0.5, "profit_factor": 1.2, "total_trades": 4},
    "equity_curve": {"dates": ["2021-01-04"], "equity": [100000.0]},
    "trades": [{"entry_date": "2021-02-01", "entry_price": 10.0, "exit_date": "2021-03-01",
                "exit_price": 11.0, "return": 0.1, "pnl": 1.0, "status": "closed"}],
}
JOB = {"id": "j1", "kind": "monte_carlo", "status": "queued", "progress": 0, "created_at": 1.0,
       "started_at": None, "finished_at": None, "error": None}


def raw(status: int, body: object = None, headers: dict | None = None, **kw) -> RawResponse:
    content = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    hdrs = dict(JSON if headers is None else headers)
    if content is not None:
        hdrs.setdefault("content-length", str(len(content)))
    return RawResponse(status=status, content=content, headers=hdrs, **kw)


# -- validate_shape ------------------------------------------------------------------------------

def test_shape_accepts_a_real_backtest_and_job():
    assert validate_shape(BACKTEST, BACKTEST_SHAPE) is None
    assert validate_shape(JOB, JOB_SHAPE) is None


@pytest.mark.parametrize("obj, shape, message", [
    ({k: v for k, v in BACKTEST.items() if k != "metrics"}, BACKTEST_SHAPE,
     "missing key 'metrics'"),
    ({**BACKTEST, "metrics": {**BACKTEST["metrics"], "total_trades": "4"}}, BACKTEST_SHAPE,
     "key 'metrics.total_trades' is string, expected integer"),
    ({**BACKTEST, "trades": [{"entry_date": "x"}]}, BACKTEST_SHAPE,
     "missing key 'trades[].entry_price'"),
    ({**BACKTEST, "trades": {}}, BACKTEST_SHAPE, "key 'trades' is object, expected array"),
    ({**JOB, "progress": "half"}, JOB_SHAPE, "key 'progress' is string, expected number"),
    ({**JOB, "progress": True}, JOB_SHAPE, "key 'progress' is boolean, expected number"),
    ({**JOB, "started_at": "soon"}, JOB_SHAPE,
     "key 'started_at' is string, expected number or null"),
    ([1, 2], QUEUE_SHAPE, "body is array, expected object"),
])
def test_shape_names_the_first_problem(obj, shape, message):
    assert validate_shape(obj, shape) == message


# -- judge: the failure messages Locust will group by ----------------------------------------------

@pytest.mark.parametrize("response, expected, shape, message", [
    (raw(500, {"error": {"code": "injected_error", "message": "id 42 at 12:00"}}), 200, JOB_SHAPE,
     "status 500: injected_error"),
    (raw(502, b"<html>bad gateway</html>", {"content-type": "text/html"}), 200, JOB_SHAPE,
     "status 502"),
    (raw(404, {"error": {"code": "not found for id 1234567, a long free-text code"}}), 200,
     JOB_SHAPE, "status 404"),
    (raw(200, BACKTEST), 201, BACKTEST_SHAPE, "status 200, expected 201"),
    (raw(200, b"<html><body>" + b"x" * 200 + b"</body></html>",
         {"content-type": "text/html; charset=utf-8"}), 200, BACKTEST_SHAPE,
     "body is not JSON (text/html): '<html><body>" + "x" * 68 + "...'"),
    (raw(201, {k: v for k, v in BACKTEST.items() if k != "metrics"}), 201, BACKTEST_SHAPE,
     "missing key 'metrics'"),
    (raw(200, b'{"depth": 0, "running":', {**JSON, "content-length": "500"}), 200, QUEUE_SHAPE,
     "truncated body"),
    (raw(200, None, read_error=ConnectionResetError()), 200, QUEUE_SHAPE,
     "body read failed: ConnectionResetError"),
    (raw(0, None, {}, error=type("IncompleteRead", (Exception,), {})()), 200, QUEUE_SHAPE,
     "truncated body"),
    (raw(200, b""), 200, QUEUE_SHAPE, "empty body"),
    (raw(0, None, {}, error=ConnectionRefusedError(111, "refused")), 200, QUEUE_SHAPE,
     "connection error: ConnectionRefusedError"),
    (raw(200, [1]), 200, QUEUE_SHAPE, "body is array, expected object"),
])
def test_judge_failure_messages(response, expected, shape, message):
    verdict = judge(response, expected, shape)
    assert verdict.failure == message and verdict.body is None and not verdict.ok


def test_judge_runs_the_extra_check_after_the_shape():
    assert judge(raw(200, {**JOB, "status": "exploded"}), 200, JOB_SHAPE,
                 check_job_status).failure == "unknown job status"
    assert judge(raw(200, JOB), 200, JOB_SHAPE, check_job_status).body == JOB


def test_judge_passes_good_bodies_and_ignores_compressed_lengths():
    assert judge(raw(201, BACKTEST), 201, BACKTEST_SHAPE).body == BACKTEST
    gz = raw(200, {"depth": 1, "running": 0, "workers": 2},
             {**JSON, "content-length": "5", "content-encoding": "gzip"})
    assert judge(gz, 200, QUEUE_SHAPE).ok


def test_judge_429_is_its_own_kind_and_carries_retry_after():
    limited = judge(raw(429, {"error": {"code": "rate_limited"}}, {**JSON, "retry-after": "3"}),
                    200, QUEUE_SHAPE)
    assert limited.failure == "rate limited (429)" and limited.retry_after_s == 3.0
    assert judge(raw(429, b""), 200, QUEUE_SHAPE).retry_after_s == 1.0  # no header: default


def test_parse_retry_after_forms():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" -4 ") == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


# -- Retry-After bookkeeping ----------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_gate_waits_out_retry_after_per_route():
    clock = FakeClock()
    gate = RetryAfterGate(clock=clock, sleep=clock.sleep, max_wait_s=30)
    gate.hold(ROUTE_BACKTEST, 2)
    assert gate.remaining(ROUTE_BACKTEST) == 2 and gate.remaining(ROUTE_JOB) == 0
    clock.now += 0.5
    assert gate.wait(ROUTE_BACKTEST) == 1.5 and clock.slept == [1.5]
    assert gate.wait(ROUTE_BACKTEST) == 0 and clock.slept == [1.5]  # open again
    gate.hold(ROUTE_JOB, 5)
    gate.hold(ROUTE_JOB, 1)  # a shorter hold never shortens a longer one
    assert gate.remaining(ROUTE_JOB) == 5
    gate.hold(ROUTE_JOB, 10_000)
    assert gate.remaining(ROUTE_JOB) == 30  # capped


# -- BacktestApi glue with a fake client (no Locust, no network) -----------------------------------

class FakeResponse:
    def __init__(self, status: int, body: object, headers: dict | None = None) -> None:
        self.status_code = status
        self.content = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = {**JSON, **(headers or {})}
        self.outcome: object = None

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> bool:
        return False

    def success(self) -> None:
        self.outcome = True

    def failure(self, message: str) -> None:
        self.outcome = message


class FakeClient:
    def __init__(self, *responses: FakeResponse) -> None:
        self.responses = list(responses)
        self.calls: list[tuple] = []

    def request(self, method: str, path: str, **kwargs: object) -> FakeResponse:
        self.calls.append((method, path, kwargs))
        return self.responses.pop(0)


def test_api_names_requests_by_route_and_sends_key_and_payload():
    client = FakeClient(FakeResponse(201, BACKTEST), FakeResponse(200, BACKTEST),
                        FakeResponse(200, {"symbol": "X"}))
    api = BacktestApi(client, api_key="k")
    assert api.headers == {"X-API-Key": "k"} and BacktestApi(client).headers == {}
    assert api.run_backtest("AAPL", "rsi", {"period": 9}, "2020-01-01", "2021-01-01") == BACKTEST
    assert api.get_backtest("a/b") == BACKTEST
    assert api.market_data("BRK.B", start="2020-01-01") is None
    (m1, p1, k1), (m2, p2, k2), (m3, p3, k3) = client.calls
    assert (m1, p1, k1["name"]) == ("POST", "/v1/backtests", ROUTE_BACKTESTS)
    assert json.loads(k1["data"]) == {"symbol": "AAPL", "strategy": "rsi",
                                      "parameters": {"period": 9}, "start": "2020-01-01",
                                      "end": "2021-01-01"}
    assert k1["headers"] == {"X-API-Key": "k", "Content-Type": "application/json"}
    assert k1["catch_response"] is True and k2["headers"] == {"X-API-Key": "k"}
    assert (p2, k2["name"]) == ("/v1/backtests/a%2Fb", ROUTE_BACKTEST)
    assert (p3, k3["name"]) == ("/v1/market-data/BRK.B?start=2020-01-01", ROUTE_MARKET_DATA)
    assert api.last_failure == "missing key 'start'"


def test_api_records_429_and_holds_the_route():
    clock = FakeClock()
    limited = FakeResponse(429, {"error": {"code": "rate_limited"}}, {"retry-after": "2"})
    ok = FakeResponse(202, JOB)
    api = BacktestApi(FakeClient(limited, ok),
                      gate=RetryAfterGate(clock=clock, sleep=clock.sleep))
    assert api.submit_batch(["AAPL"], "rsi", "2020-01-01", "2021-01-01") is None
    assert limited.outcome == "rate limited (429)"
    assert api.submit_monte_carlo("AAPL", "rsi", "2020-01-01", "2021-01-01", num_runs=5) == JOB
    assert clock.slept == [2.0] and ok.outcome is True


def test_api_survives_a_client_that_raises():
    class Exploding:
        def request(self, *_a: object, **_k: object) -> None:
            raise ValueError("bad url")

    api = BacktestApi(Exploding())
    assert api.queue() is None and api.last_failure == "client error: ValueError"


def test_snapshot_captures_body_read_errors():
    class Broken:
        status_code = 200
        headers = JSON

        @property
        def content(self) -> bytes:
            raise ConnectionResetError

    assert isinstance(snapshot(Broken()).read_error, ConnectionResetError)


def test_job_events_url():
    assert job_events_url("http://127.0.0.1:8080", "j 1") == "ws://127.0.0.1:8080/v1/jobs/j%201/events"
    assert job_events_url("https://h/api/", "j") == "wss://h/api/v1/jobs/j/events"
    assert BacktestApi(None).job_events_url("http://h", "j") == "ws://h/v1/jobs/j/events"


def test_api_module_does_not_import_locust():
    code = "import sys, users.api, users.responses; print('locust' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "False", done.stderr


# -- one real run: headless Locust against a server that answers garbage -------------------------

class GarbageHandler(http.server.BaseHTTPRequestHandler):
    """Answers every route wrongly, in one way per route."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              length: int | None = None, extra: dict | None = None) -> None:
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
            self._send(429, b'{"error": {"code": "rate_limited", "message": "slow down"}}',
                       extra={"Retry-After": "1"})
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


GARBAGE_LOCUSTFILE = '''
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
'''

RUN_S, USERS = 5, 2  # one GarbageUser, one RateLimitedUser


@pytest.mark.slow
def test_locust_against_garbage_counts_failures_with_reasons(tmp_path):
    locustfile = tmp_path / "garbage_locustfile.py"
    locustfile.write_text(textwrap.dedent(GARBAGE_LOCUSTFILE))
    with garbage_server() as host:
        done = subprocess.run(
            [str(LOCUST), "-f", str(locustfile), "--headless", "-u", str(USERS), "-r", str(USERS),
             "-t", f"{RUN_S}s", "--host", host, "--only-summary", "--csv", str(tmp_path / "run")],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
            text=True, timeout=90,
        )
    output = done.stdout + done.stderr
    assert done.returncode in (0, 1), output  # 1 = "there were failures", which is the point
    assert "Traceback" not in output
    with open(tmp_path / "run_failures.csv") as f:
        failures = {(row["Name"], row["Error"]) for row in csv.DictReader(f)}
    reasons = {name: error for name, error in failures}
    assert "body is not JSON (text/html): '<html><body>502 Bad Gateway</body></html>'" \
        in reasons["/v1/strategies"]
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


def test_light_validation_checks_framing_and_samples_full_checks(monkeypatch):
    import users.api as api_module

    clock = [1000.0]
    monkeypatch.setattr(api_module.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(BacktestApi, "_last_full_check", 0.0)
    wrong_shape = {"id": "abc", "nothing": "else"}
    responses = [FakeResponse(201, wrong_shape),  # first call: the full check catches it
                 FakeResponse(201, wrong_shape),  # within the interval: light, passes
                 FakeResponse(201, BACKTEST),
                 FakeResponse(201, b"<html>oops</html>", {"content-type": "text/html"}),
                 FakeResponse(201, wrong_shape)]  # a second later: full again
    api = BacktestApi(FakeClient(*responses), validation="light")
    assert api.run_backtest("AAPL", "rsi") is None
    assert responses[0].outcome == "missing key 'symbol'"
    assert api.run_backtest("AAPL", "rsi") == {"id": "abc"}
    assert api.run_backtest("AAPL", "rsi") == {"id": BACKTEST["id"]}
    assert api.run_backtest("AAPL", "rsi") is None
    assert responses[3].outcome.startswith("body is not JSON (text/html)")
    clock[0] += api_module.FULL_CHECK_INTERVAL_S
    assert api.run_backtest("AAPL", "rsi") is None
    with pytest.raises(ValueError):
        BacktestApi(FakeClient(), validation="sloppy")
