"""``users/api.py`` with a fake client: routes, payloads, Retry-After, light validation; no
network. The response shapes and verdicts are ``test_responses.py``'s, one real Locust run
against a garbage server ``test_users_api_against_garbage.py``'s.

Locust monkey-patches on import, so this process never imports it: the pure
modules are imported directly, and anything that needs Locust runs in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.api_bodies import BACKTEST, JOB, JSON
from tests.locust_runs import REPO
from users.api import BacktestApi
from users.exchange import FULL_CHECKS_PER_ROUTE_S, FullChecks, snapshot
from users.retry_after import RetryAfterGate
from users.routes import (
    ROUTE_BACKTEST,
    ROUTE_BACKTESTS,
    ROUTE_JOB,
    ROUTE_MARKET_DATA,
    job_events_url,
)

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
    client = FakeClient(
        FakeResponse(201, BACKTEST), FakeResponse(200, BACKTEST), FakeResponse(200, {"symbol": "X"})
    )
    api = BacktestApi(client, api_key="k")
    assert api.headers == {"X-API-Key": "k"} and BacktestApi(client).headers == {}
    assert api.run_backtest("AAPL", "rsi", {"period": 9}, "2020-01-01", "2021-01-01") == BACKTEST
    assert api.get_backtest("a/b") == BACKTEST
    assert api.market_data("BRK.B", start="2020-01-01") is None
    (m1, p1, k1), (m2, p2, k2), (m3, p3, k3) = client.calls
    assert (m1, p1, k1["name"]) == ("POST", "/v1/backtests", ROUTE_BACKTESTS)
    assert json.loads(k1["data"]) == {
        "symbol": "AAPL",
        "strategy": "rsi",
        "parameters": {"period": 9},
        "start": "2020-01-01",
        "end": "2021-01-01",
    }
    assert k1["headers"] == {"X-API-Key": "k", "Content-Type": "application/json"}
    assert k1["catch_response"] is True and k2["headers"] == {"X-API-Key": "k"}
    assert (p2, k2["name"]) == ("/v1/backtests/a%2Fb", ROUTE_BACKTEST)
    assert (p3, k3["name"]) == ("/v1/market-data/BRK.B?start=2020-01-01", ROUTE_MARKET_DATA)
    assert api.last_failure == "missing key 'start'"


def test_api_records_429_and_holds_the_route():
    clock = FakeClock()
    limited = FakeResponse(429, {"error": {"code": "rate_limited"}}, {"retry-after": "2"})
    ok = FakeResponse(202, JOB)
    api = BacktestApi(FakeClient(limited, ok), gate=RetryAfterGate(clock=clock, sleep=clock.sleep))
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
    assert (
        job_events_url("http://127.0.0.1:8080", "j 1") == "ws://127.0.0.1:8080/v1/jobs/j%201/events"
    )
    assert job_events_url("https://h/api/", "j") == "wss://h/api/v1/jobs/j/events"
    assert BacktestApi(None).job_events_url("http://h", "j") == "ws://h/v1/jobs/j/events"


def test_api_module_does_not_import_locust():
    code = "import sys, users.api, users.responses; print('locust' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "False", done.stderr


def test_light_validation_checks_framing_and_samples_full_checks(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(BacktestApi, "full_checks", FullChecks(clock=lambda: clock[0]))
    wrong_shape = {"id": "abc", "nothing": "else"}
    responses = [
        FakeResponse(201, wrong_shape),  # first call: the full check catches it
        FakeResponse(201, wrong_shape),  # within the gap: light, passes
        FakeResponse(201, BACKTEST),
        FakeResponse(201, b"<html>oops</html>", {"content-type": "text/html"}),
        FakeResponse(201, b'{"no": "id"}'),  # doubted (no id): checked in full
        FakeResponse(200, []),  # another route keeps its own budget: full
        FakeResponse(201, wrong_shape),
    ]  # a gap later: full again
    api = BacktestApi(FakeClient(*responses), validation="light")
    assert api.run_backtest("AAPL", "rsi") is None
    assert responses[0].outcome == "missing key 'symbol'"
    assert api.run_backtest("AAPL", "rsi") == {"id": "abc"}
    assert api.run_backtest("AAPL", "rsi") == {"id": BACKTEST["id"]}
    assert api.run_backtest("AAPL", "rsi") is None
    assert responses[3].outcome.startswith("body is not JSON (text/html)")
    assert api.run_backtest("AAPL", "rsi") is None
    assert responses[4].outcome == "missing key 'id'"
    assert api.strategies() is None
    assert responses[5].outcome == "body is array, expected object"
    clock[0] += 1.0 / FULL_CHECKS_PER_ROUTE_S
    assert api.run_backtest("AAPL", "rsi") is None
    assert responses[6].outcome == "missing key 'symbol'"


def test_full_checks_take_at_most_the_rate_per_route():
    clock = [0.0]
    checks = FullChecks(per_second=5, clock=lambda: clock[0])
    taken = {"a": 0, "b": 0}
    for step in range(1000):  # 10 s at 100 answers/s on each of two routes
        clock[0] = step / 100
        for route in taken:
            taken[route] += checks.take(route)
    assert taken == {"a": 50, "b": 50}


def test_light_validation_rejects_unknown_modes():
    with pytest.raises(ValueError):
        BacktestApi(FakeClient(), validation="sloppy")
