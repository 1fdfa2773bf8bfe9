"""Each calibration knob measured against a real target: the known truths the suite relies on."""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
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


@pytest.mark.timing
def test_slots_and_service_time_set_backtest_capacity(start_target):
    t = start_target("--slots", "2", "--service-ms", "50")
    ends, _ = closed_loop(f"{t.url}/v1/backtests", "POST", BT, clients=8, seconds=4)
    rate = throughput(ends)
    assert 36 <= rate <= 44, f"capacity 2*1000/50 = 40/s, measured {rate:.1f}/s"


def _medians_ms(url: str, paths: tuple[str, ...], n: int = 40) -> dict[str, float]:
    """Median wall time of ``n`` GETs of each path, interleaved, after one warm-up each."""
    times: dict[str, list[float]] = {path: [] for path in paths}
    with requests.Session() as s:
        for path in paths:
            s.get(f"{url}{path}")
        for _ in range(n):
            for path in paths:
                t0 = time.perf_counter()
                s.get(f"{url}{path}")
                times[path].append((time.perf_counter() - t0) * 1000)
    return {path: statistics.median(values) for path, values in times.items()}


@pytest.mark.timing
def test_latency_is_added_to_v1_only(start_target):
    """Against a ``--latency-ms 0`` baseline target measured in the same test, /v1 answers
    grow by the knob (at least; queueing on a busy machine may add, never remove) and
    /health does not grow by it."""
    added_ms = 40
    paths = ("/v1/strategies", "/health")
    baseline = _medians_ms(start_target("--latency-ms", "0").url, paths)
    slowed = _medians_ms(start_target("--latency-ms", str(added_ms)).url, paths)
    grown = slowed["/v1/strategies"] - baseline["/v1/strategies"]
    assert added_ms - 1 <= grown <= added_ms + 10, (baseline, slowed)
    assert slowed["/health"] - baseline["/health"] < added_ms / 2, (baseline, slowed)


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


@pytest.mark.timing
def test_stall_delays_answers_by_its_length(start_target):
    """``--stall-at``: timed from the target's start, so it only suits a probe that starts
    at once (a locust run uses ``--stall-after-requests``, below)."""
    stall_s = 2.0
    t = start_target("--stall-at", "2", "--stall-s", str(stall_s))
    samples = []
    with requests.Session() as s:
        deadline = time.monotonic() + 8
        # Probe until the stall has been seen and a prompt answer came after it.
        while time.monotonic() < deadline and not (
            samples and samples[-1][1] < 0.5 and any(x[1] > 0.5 for x in samples)
        ):
            t0 = time.monotonic()
            r = s.get(f"{t.url}/v1/strategies", timeout=30)
            samples.append((t0, time.monotonic() - t0, r.status_code))
            time.sleep(0.02)  # pacing of the probe, not synchronisation
    assert all(code == 200 for _, _, code in samples), "nothing is lost in a stall"
    worst = max(latency for _, latency, _ in samples)
    assert stall_s - 0.1 <= worst <= stall_s + 1.0, worst
    slow = [x for x in samples if x[1] > 0.5]
    assert len(slow) == 1, "one sequential probe is caught by the stall"


def _timed_get(url: str, timeout: float = 30) -> tuple[int, float, float]:
    """(status, seconds taken, monotonic time answered) of one GET on a new connection."""
    t0 = time.monotonic()
    status = requests.get(url, timeout=timeout).status_code
    t1 = time.monotonic()
    return status, t1 - t0, t1


@pytest.mark.timing
def test_stall_after_requests_starts_at_the_nth_v1_request(start_target):
    stall_s, nth = 2.0, 5
    t = start_target("--stall-after-requests", str(nth), "--stall-s", str(stall_s))
    v1 = f"{t.url}/v1/strategies"
    with requests.Session() as s:
        for i in range(1, nth):  # /health in between: only /v1 requests count
            assert s.get(f"{t.url}/health", timeout=30).status_code == 200
            t0 = time.monotonic()
            assert s.get(v1, timeout=30).status_code == 200
            took = time.monotonic() - t0
            assert took < stall_s / 2, f"/v1 request {i} of {nth - 1} before the stall took {took}"
    with ThreadPoolExecutor(1) as pool:
        sent = time.monotonic()
        nth_call = pool.submit(_timed_get, v1)
        stalled = False  # on when a /health probe goes unanswered: polled, not slept for
        while not stalled and not nth_call.done():
            try:
                requests.get(f"{t.url}/health", timeout=0.5)
            except requests.exceptions.ReadTimeout:
                stalled = True
        assert stalled, f"/v1 request {nth} did not start the stall"
        queued = _timed_get(v1)  # arrives during the stall, on its own connection
        status, nth_took, _ = nth_call.result()
    assert status == 200 and stall_s <= nth_took <= stall_s + 3, nth_took
    assert queued[0] == 200, "what arrives during the stall is answered afterwards"
    assert queued[2] >= sent + stall_s, "a request that arrived during the stall waited for it"
    after = _timed_get(v1)
    assert after[0] == 200 and after[1] < stall_s / 2, f"the stall happens once: {after}"


def _run_target(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "target", "--port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "flags, says",
    [
        (["--stall-after-requests", "0", "--stall-s", "1"], "must be > 0"),
        (["--stall-after-requests", "2.5", "--stall-s", "1"], "is not a int"),
        (["--stall-after-requests", "many", "--stall-s", "1"], "is not a int"),
        (["--stall-after-requests", "5"], "--stall-s goes with one of"),
        (["--stall-s", "1"], "--stall-s goes with one of"),
        (["--stall-at", "1", "--stall-after-requests", "5", "--stall-s", "1"], "not allowed with"),
    ],
)
def test_bad_stall_flags_are_one_line_and_exit_2(flags, says):
    done = _run_target(*flags)
    assert done.returncode == 2, done
    assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
