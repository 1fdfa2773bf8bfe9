"""Each calibration knob measured against a real target: the known truths the suite relies on."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import requests

BT = {"symbol": "AAPL", "strategy": "sma_cross", "start": "2021-01-04", "end": "2023-12-29"}


def closed_loop(url: str, method: str, body: dict | None, clients: int, seconds: float):
    """``clients`` threads sending back to back for ``seconds``; returns (end times, latencies)."""
    stop_at = time.monotonic() + seconds
    ends, latencies, lock = [], [], threading.Lock()

    def client():
        with requests.Session() as s:
            while time.monotonic() < stop_at:
                t0 = time.monotonic()
                r = s.request(method, url, json=body, timeout=30)
                t1 = time.monotonic()
                assert r.status_code < 300, r.text
                with lock:
                    ends.append(t1)
                    latencies.append(t1 - t0)

    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(client) for _ in range(clients)]:
            f.result()
    return ends, latencies


def throughput(ends: list[float], skip_s: float = 0.5) -> float:
    first = min(ends) + skip_s
    window = [t for t in ends if t >= first]
    return (len(window) - 1) / (window[-1] - window[0])


def test_slots_and_service_time_set_backtest_capacity(start_target):
    t = start_target("--slots", "2", "--service-ms", "50")
    ends, _ = closed_loop(f"{t.url}/v1/backtests", "POST", BT, clients=8, seconds=4)
    rate = throughput(ends)
    assert 36 <= rate <= 44, f"capacity 2*1000/50 = 40/s, measured {rate:.1f}/s"


def test_latency_is_added_to_v1_only(start_target):
    t = start_target("--latency-ms", "40")
    with requests.Session() as s:
        s.get(f"{t.url}/v1/strategies")
        v1, health = [], []
        for _ in range(40):
            t0 = time.perf_counter()
            s.get(f"{t.url}/v1/strategies")
            v1.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            s.get(f"{t.url}/health")
            health.append((time.perf_counter() - t0) * 1000)
    assert 40 <= statistics.median(v1) <= 43, statistics.median(v1)
    assert statistics.median(health) < 10


def test_leak_shows_in_rss_per_request(start_target):
    kib = 64
    t = start_target("--leak-kb-per-request", str(kib))
    proc = psutil.Process(t.pid)
    with requests.Session() as s:
        for _ in range(50):  # warm every code path first
            s.get(f"{t.url}/v1/strategies")
        before = proc.memory_info().rss
        n = 400
        for _ in range(n):
            s.get(f"{t.url}/v1/strategies")
        after = proc.memory_info().rss
    per_request_kib = (after - before) / 1024 / n
    assert abs(per_request_kib - kib) / kib < 0.15, per_request_kib


def test_no_leak_when_not_asked(start_target):
    t = start_target()
    proc = psutil.Process(t.pid)
    with requests.Session() as s:
        for _ in range(200):
            s.get(f"{t.url}/v1/strategies")
        before = proc.memory_info().rss
        for _ in range(400):
            s.get(f"{t.url}/v1/strategies")
        growth_kib = (proc.memory_info().rss - before) / 1024
    assert growth_kib / 400 < 2, growth_kib


def _statuses(url: str, n: int) -> list[int]:
    with requests.Session() as s:
        return [s.get(f"{url}/v1/strategies").status_code for _ in range(n)]


def test_error_rate_is_seeded_and_close_to_asked(start_target):
    a = start_target("--error-rate", "0.25", "--seed", "7")
    b = start_target("--error-rate", "0.25", "--seed", "7")
    c = start_target("--error-rate", "0.25", "--seed", "8")
    first, second, third = (_statuses(t.url, 400) for t in (a, b, c))
    assert first == second, "same seed, same sequence of injected errors"
    assert first != third
    errors = first.count(500)
    assert set(first) == {200, 500}
    assert 65 <= errors <= 135, errors  # 100 expected, +-4 sigma
    body = requests.get(f"{a.url}/health").json()
    assert body["status"] == "ok"  # only /v1 is affected


def test_stall_delays_answers_by_its_length(start_target):
    stall_s = 2.0
    t = start_target("--stall-at", "1.5", "--stall-s", str(stall_s))
    samples = []
    with requests.Session() as s:
        deadline = time.monotonic() + 5.5
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            r = s.get(f"{t.url}/v1/strategies", timeout=30)
            samples.append((t0, time.monotonic() - t0, r.status_code))
            time.sleep(0.02)  # pacing of the probe, not synchronisation
    assert all(code == 200 for _, _, code in samples), "nothing is lost in a stall"
    worst = max(latency for _, latency, _ in samples)
    assert stall_s - 0.1 <= worst <= stall_s + 0.3, worst
    slow = [x for x in samples if x[1] > 0.5]
    assert len(slow) == 1, "one sequential probe is caught by the stall"
