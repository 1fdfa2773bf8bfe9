"""``make demo``: start the reference target and exercise it briefly.

Grows into a real Locust swarm with a report as the suite grows.
"""

from __future__ import annotations

import json
import time

import requests
import websocket

from metrics.embedded_target import EmbeddedTarget

BACKTEST = {"symbol": "AAPL", "strategy": "sma_cross", "start": "2021-01-04", "end": "2023-12-29"}


def main() -> None:
    with EmbeddedTarget("--job-step-ms", "50") as target, requests.Session() as s:
        print(f"reference target at {target.url}")
        names = [x["name"] for x in s.get(f"{target.url}/v1/strategies").json()["strategies"]]
        print(f"strategies: {', '.join(names)}")
        doc = s.post(f"{target.url}/v1/backtests", json=BACKTEST).json()
        m = doc["metrics"]
        print(f"backtest {doc['id'][:8]}: return {m['total_return']:+.1%}, "
              f"sharpe {m['sharpe_ratio']:.2f}, trades {m['total_trades']}")
        job = s.post(f"{target.url}/v1/jobs", json={**BACKTEST, "kind": "monte_carlo",
                                                    "num_runs": 500}).json()
        ws = websocket.create_connection(
            target.url.replace("http", "ws") + f"/v1/jobs/{job['id']}/events", timeout=30)
        try:
            while True:
                msg = json.loads(ws.recv())
                lag_ms = (time.time() - msg["sent_at"]) * 1000
                print(f"job {msg['status']:>9} {msg['progress']:4.0%} "
                      f"(delivered in {lag_ms:.1f} ms)")
                if msg["status"] in ("succeeded", "failed", "cancelled"):
                    break
        finally:
            ws.close()
        result = s.get(f"{target.url}/v1/jobs/{job['id']}/result").json()["result"]
        print(f"monte carlo p5/p50/p95 final return: "
              f"{result['final_return']['p5']:+.1%} / {result['final_return']['p50']:+.1%} / "
              f"{result['final_return']['p95']:+.1%}")


if __name__ == "__main__":
    main()
