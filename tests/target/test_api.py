"""Round trips against a real target on 127.0.0.1 (uvicorn, SQLite, worker processes, WebSocket)."""

from __future__ import annotations

import json
import time

import pytest
import websocket

BT = {"symbol": "AAPL", "strategy": "sma_cross", "start": "2021-01-04", "end": "2023-12-29"}
MC = {
    "kind": "monte_carlo",
    "symbol": "MSFT",
    "strategy": "rsi",
    "start": "2021-01-04",
    "end": "2023-12-29",
    "num_runs": 200,
}
FINAL = {"succeeded", "failed", "cancelled"}


def ws_url(base: str, job_id: str) -> str:
    return base.replace("http://", "ws://") + f"/v1/jobs/{job_id}/events"


def wait_final(http, base: str, job_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = http.get(f"{base}/v1/jobs/{job_id}").json()
        if doc["status"] in FINAL:
            return doc
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} not finished in {timeout}s")


def test_health_and_strategies(target, http):
    assert http.get(f"{target.url}/health").json()["status"] == "ok"
    names = {s["name"]: s for s in http.get(f"{target.url}/v1/strategies").json()["strategies"]}
    assert set(names) == {"sma_cross", "rsi", "macd", "bollinger", "momentum"}
    assert names["sma_cross"]["defaults"] == {"fast_period": 10, "slow_period": 20}
    assert names["bollinger"]["defaults"] == {"period": 20, "std_dev": 2.0}
    assert names["macd"]["defaults"] == {"fast": 12, "slow": 26, "signal_period": 9}


def test_market_data_is_deterministic_and_consistent(target, http, start_target):
    url = f"{target.url}/v1/market-data/aapl?start=2022-01-03&end=2022-12-30"
    first = http.get(url).json()
    assert first["symbol"] == "AAPL" and first["count"] == len(first["bars"]["date"]) > 250
    bars = first["bars"]
    for o, h, low, c in zip(bars["open"], bars["high"], bars["low"], bars["close"], strict=True):
        assert low <= min(o, c) and max(o, c) <= h
    other = start_target()  # a separate process must serve the very same series
    assert http.get(url.replace(target.url, other.url)).json() == first
    assert http.get(url.replace("aapl", "MSFT")).json()["bars"]["close"] != bars["close"]


def test_backtest_round_trip_and_cache(target, http):
    created = http.post(
        f"{target.url}/v1/backtests",
        json={**BT, "parameters": {"fast_period": 5, "slow_period": 30}},
    )
    assert created.status_code == 201, created.text
    doc = created.json()
    assert set(doc["metrics"]) == {
        "total_return",
        "annual_return",
        "sharpe_ratio",
        "sortino_ratio",
        "calmar_ratio",
        "max_drawdown",
        "win_rate",
        "profit_factor",
        "total_trades",
    }
    assert len(doc["equity_curve"]["dates"]) == len(doc["equity_curve"]["equity"]) > 700
    assert doc["metrics"]["total_trades"] == len(doc["trades"]) > 0
    again = http.post(
        f"{target.url}/v1/backtests",
        json={**BT, "parameters": {"fast_period": 5, "slow_period": 30}},
    ).json()
    assert again["cached"] is True and doc["cached"] is False
    assert again["id"] != doc["id"] and again["metrics"] == doc["metrics"]
    stored = http.get(f"{target.url}/v1/backtests/{doc['id']}").json()
    assert stored["metrics"] == doc["metrics"] and stored["trades"] == doc["trades"]
    assert http.get(f"{target.url}/v1/backtests/nope").status_code == 404


def test_query_filters_and_paginates(start_target, http):
    t = start_target()
    for symbol in ("AAA", "BBB", "AAA", "AAA"):
        assert http.post(f"{t.url}/v1/backtests", json={**BT, "symbol": symbol}).status_code == 201
    seen, cursor = [], None
    while True:
        page = http.get(
            f"{t.url}/v1/backtests",
            params={"symbol": "AAA", "limit": 2, **({"cursor": cursor} if cursor else {})},
        ).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i["symbol"] for i in seen] == ["AAA"] * 3
    assert len({i["id"] for i in seen}) == 3
    assert seen[0]["created_at"] >= seen[-1]["created_at"]  # newest first
    assert http.get(f"{t.url}/v1/backtests", params={"strategy": "rsi"}).json()["items"] == []


def test_monte_carlo_job_streams_progress_to_completion(target, http):
    submitted = http.post(f"{target.url}/v1/jobs", json=MC)
    assert submitted.status_code == 202
    job = submitted.json()
    assert submitted.headers["location"] == f"/v1/jobs/{job['id']}"
    ws = websocket.create_connection(ws_url(target.url, job["id"]), timeout=30)
    messages = []
    try:
        while True:
            raw = ws.recv()
            if not raw:
                break
            msg = json.loads(raw)
            msg["received"] = time.time()
            messages.append(msg)
            if msg["status"] in FINAL:
                break
    finally:
        ws.close()
    assert messages[-1]["status"] == "succeeded" and messages[-1]["progress"] == 1.0
    progress = [m["progress"] for m in messages]
    assert progress == sorted(progress) and len(set(progress)) >= 5
    assert all(set(m) == {"job_id", "progress", "status", "sent_at", "received"} for m in messages)
    assert all(0 <= m["received"] - m["sent_at"] < 2 for m in messages)
    result = http.get(f"{target.url}/v1/jobs/{job['id']}/result").json()["result"]
    assert result["num_runs"] == 200
    assert (
        result["final_return"]["p5"]
        <= result["final_return"]["p50"]
        <= result["final_return"]["p95"]
    )
    assert 0 <= result["prob_loss"] <= 1


def test_late_subscriber_gets_final_state_and_unknown_job(target, http):
    job = http.post(f"{target.url}/v1/jobs", json={**MC, "num_runs": 10}).json()
    done = wait_final(http, target.url, job["id"])
    ws = websocket.create_connection(ws_url(target.url, job["id"]), timeout=10)
    first = json.loads(ws.recv())
    assert (first["status"], first["progress"]) == (done["status"], 1.0)
    ws.close()
    ws = websocket.create_connection(ws_url(target.url, "missing"), timeout=10)
    assert json.loads(ws.recv())["error"]["code"] == "not_found"
    opcode, payload = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(payload[:2], "big") == 4404
    ws.close()


def test_batch_job_and_cancel_queued_and_running(start_target, http):
    t = start_target("--workers", "1", "--job-step-ms", "200")
    batch = {
        "kind": "batch_backtest",
        "symbols": ["AAA", "BBB", "CCC", "DDD", "EEE"],
        "strategy": "momentum",
        "start": "2022-01-03",
        "end": "2023-12-29",
    }
    running = http.post(f"{t.url}/v1/jobs", json=batch).json()
    queued = http.post(f"{t.url}/v1/jobs", json=batch).json()
    third = http.post(f"{t.url}/v1/jobs", json={**batch, "symbols": ["ZZZ"]}).json()
    queue = http.get(f"{t.url}/v1/queue").json()
    assert queue == {"depth": 2, "running": 1, "workers": 1}
    cancelled = http.delete(f"{t.url}/v1/jobs/{queued['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert http.get(f"{t.url}/v1/queue").json()["depth"] == 1
    assert http.delete(f"{t.url}/v1/jobs/{running['id']}").json()["status"] == "cancelled"
    done = wait_final(http, t.url, third["id"])  # the freed worker takes the next job
    assert done["status"] == "succeeded"
    result = http.get(f"{t.url}/v1/jobs/{third['id']}/result").json()["result"]
    assert [r["symbol"] for r in result["results"]] == ["ZZZ"] and result["best_symbol"] == "ZZZ"
    assert http.get(f"{t.url}/v1/jobs/{running['id']}").json()["status"] == "cancelled"
    assert http.delete(f"{t.url}/v1/jobs/{third['id']}").status_code == 409
    assert (
        http.get(f"{t.url}/v1/jobs/{queued['id']}/result").json()["error"]["code"]
        == "job_cancelled"
    )


def test_api_key_and_rate_limit(start_target, http):
    t = start_target("--api-key", "s3cret-key", "--rate-limit", "5")
    assert http.get(f"{t.url}/health").status_code == 200  # only /v1 is guarded
    denied = http.get(f"{t.url}/v1/strategies")
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "unauthorized"
    assert http.get(f"{t.url}/v1/strategies", headers={"X-API-Key": "wrong"}).status_code == 401
    for headers in ([], ["X-API-Key: wrong"]):  # the handshake completes, then close 4401
        ws = websocket.create_connection(ws_url(t.url, "x"), timeout=5, header=headers)
        opcode, payload = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(payload[:2], "big") == 4401
        assert payload[2:].decode() == "missing or wrong X-API-Key header"
        ws.close()
    key = {"X-API-Key": "s3cret-key"}
    codes = [http.get(f"{t.url}/v1/strategies", headers=key) for _ in range(12)]
    assert [r.status_code for r in codes[:5]] == [200] * 5
    limited = [r for r in codes if r.status_code == 429]
    assert limited and limited[0].json()["error"]["code"] == "rate_limited"
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert "s3cret-key" not in http.get(f"{t.url}/metrics").text


BAD_BACKTESTS = [
    ("not json", 400, "invalid_json"),
    ([], 422, "validation_error"),
    ({}, 422, "validation_error"),
    ({**BT, "strategy": "astrology"}, 422, "unknown_strategy"),
    ({**BT, "parameters": {"nope": 1}}, 422, "invalid_parameter"),
    ({**BT, "parameters": {"fast_period": "10"}}, 422, "invalid_parameter"),
    ({**BT, "parameters": {"fast_period": 10.5}}, 422, "invalid_parameter"),
    ({**BT, "parameters": {"fast_period": 500}}, 422, "invalid_parameter"),
    ({**BT, "parameters": {"fast_period": 30, "slow_period": 20}}, 422, "invalid_parameter"),
    ({**BT, "start": "2023-12-29", "end": "2021-01-04"}, 422, "invalid_date_range"),
    ({**BT, "start": "2021-02-30"}, 422, "invalid_date_range"),
    ({**BT, "start": "1970-01-01"}, 422, "invalid_date_range"),
    ({**BT, "start": "1991-01-01", "end": "2023-01-01"}, 422, "invalid_date_range"),
    ({**BT, "start": "2022-01-08", "end": "2022-01-09"}, 422, "invalid_date_range"),
    ({**BT, "start": "yesterday"}, 422, "validation_error"),
    ({k: v for k, v in BT.items() if k != "symbol"}, 422, "validation_error"),
    ({**BT, "symbol": "A" * 11}, 422, "invalid_symbol"),
    ({**BT, "symbol": "$$$"}, 422, "invalid_symbol"),
    ({**BT, "symbol": 42}, 422, "validation_error"),
    ({**BT, "extra": 1}, 422, "validation_error"),
    ({**BT, "fees": -1}, 422, "validation_error"),
]


@pytest.mark.parametrize("body,status,code", BAD_BACKTESTS)
def test_bad_backtest_input_is_a_clear_4xx(target, http, body, status, code):
    data = body if isinstance(body, str) else json.dumps(body)
    r = http.post(
        f"{target.url}/v1/backtests", data=data, headers={"content-type": "application/json"}
    )
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    assert r.json()["error"]["message"]


def test_other_bad_input(target, http):
    base = target.url
    big = http.post(
        f"{base}/v1/backtests",
        data=b"{" + b" " * 70_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
    cases = [
        http.get(f"{base}/v1/market-data/not%20a%20ticker"),
        http.get(f"{base}/v1/market-data/AAPL", params={"start": "2020-13-01"}),
        http.get(f"{base}/v1/backtests", params={"limit": 0}),
        http.get(f"{base}/v1/backtests", params={"cursor": "abc"}),
        http.post(f"{base}/v1/jobs", json={**MC, "num_runs": 10_001}),
        http.post(f"{base}/v1/jobs", json={**MC, "kind": "mining"}),
        http.post(
            f"{base}/v1/jobs",
            json={
                "kind": "batch_backtest",
                "symbols": [],
                "strategy": "rsi",
                "start": "2021-01-04",
                "end": "2022-01-04",
            },
        ),
        http.get(f"{base}/v1/jobs/unknown"),
        http.get(f"{base}/v1/jobs/unknown/result"),
        http.delete(f"{base}/v1/jobs/unknown"),
        http.get(f"{base}/v1/nothing-here"),
        http.put(f"{base}/v1/strategies"),
    ]
    for r in cases:
        assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
        assert set(r.json()["error"]) == {"code", "message"}, r.text
