"""Backtests per second for a 3-year daily SMA backtest: the engine alone, then through the API.

The API figure is one uvicorn worker driven by client processes on the same
machine, with every request a cache miss (distinct parameters), so it measures
the engine plus HTTP, validation, JSON and the SQLite write. Both numbers come
from one run, with the machine they ran on.

    make bench        # or: python -m bench.target_throughput [--seconds 10]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from datetime import date

import requests

from bench.machine import machine
from plugin.embedded_target import EmbeddedTarget
from target.engine import run_backtest
from target.market_data import MarketDataCache

START, END = date(2021, 1, 4), date(2023, 12, 29)
CLIENT_PROCESSES = 3


def engine_rate(seconds: float) -> float:
    bars = MarketDataCache().bars("AAPL", START, END)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fast = 2 + n % 50
        run_backtest(bars, "sma_cross", {"fast_period": fast, "slow_period": fast + 20})
        n += 1
    return n / (time.perf_counter() - t0)


def _client(url: str, offset: int, stop_at: float, counts) -> None:
    n = 0
    with requests.Session() as s:
        while time.time() < stop_at:
            fast = 2 + (offset + n * CLIENT_PROCESSES) % 150
            slow = fast + 1 + (n // 150) % 200
            r = s.post(
                f"{url}/v1/backtests",
                json={
                    "symbol": "AAPL",
                    "strategy": "sma_cross",
                    "start": START.isoformat(),
                    "end": END.isoformat(),
                    "parameters": {"fast_period": fast, "slow_period": slow},
                },
            )
            r.raise_for_status()
            n += 1
    counts[offset] = n


def api_rate(seconds: float) -> float:
    with EmbeddedTarget("--workers", "1") as target:
        counts = multiprocessing.Manager().dict()
        stop_at = time.time() + seconds
        procs = [
            multiprocessing.Process(target=_client, args=(target.url, i, stop_at, counts))
            for i in range(CLIENT_PROCESSES)
        ]
        t0 = time.time()
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        return sum(counts.values()) / (time.time() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    engine = engine_rate(args.seconds)
    print(f"engine alone:          {engine:8.0f} backtests/s (3-year daily sma_cross, 1 core)")
    api = api_rate(args.seconds)
    print(
        f"through the API:       {api:8.0f} backtests/s (1 uvicorn worker, "
        f"{CLIENT_PROCESSES} client processes, all cache misses)"
    )
    print(f"API / engine ratio:    {api / engine:8.2f}")


if __name__ == "__main__":
    main()
