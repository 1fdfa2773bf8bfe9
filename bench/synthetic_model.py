"""The synthetic run's shape and its per-row truths (for :mod:`bench.synthetic_run`).

The endpoints (latency medians, spreads, rates, failure shares) and :class:`_Model`:
per 1 s row the load, each endpoint's request count and latency median, the failure
shares, the spikes, and the target's and the generator's resources.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

START_EPOCH = 1_795_161_600.25
"""2026-11-20, a little after midnight UTC: a fixed start, so a seed gives the same files."""
DAY_S = 86_400
INTERVAL_S = 1.0
USERS = 50
WARMUP_S = 60
LEAK_BYTES_PER_REQUEST = 16
"""~250 req/s for a day is ~21.6 M requests: 16 B each is ~330 MB of growth (2 KB would
be 40 GB, no process survives that), a leak the report must call a leak."""
GENERATOR = "local"

# (method name, median ms, log-normal sigma, requests/s at full load, failure share)
ENDPOINTS: tuple[tuple[str, float, float, float, float], ...] = (
    ("GET /v1/strategies", 3.5, 0.35, 40.0, 0.001),
    ("GET /v1/market-data/{symbol}", 11.0, 0.55, 50.0, 0.002),
    ("POST /v1/backtests", 42.0, 0.45, 30.0, 0.003),
    ("GET /v1/backtests/{id}", 5.5, 0.40, 25.0, 0.001),
    ("GET /v1/backtests", 9.0, 0.50, 15.0, 0.001),
    ("POST /v1/jobs", 7.5, 0.40, 12.0, 0.002),
    ("GET /v1/jobs/{id}", 3.0, 0.35, 35.0, 0.001),
    ("GET /v1/jobs/{id}/result", 14.0, 0.60, 10.0, 0.002),
    ("DELETE /v1/jobs/{id}", 4.5, 0.40, 5.0, 0.001),
    ("GET /v1/queue", 2.0, 0.30, 20.0, 0.001),
)
SPIKE_EVERY_S = 1200
"""About one latency spike (5-30 s, 4-10x slower, 5 % failures) per 20 minutes."""
SPIKE_FAILURE_SHARE = 0.05


def endpoint_specs(n: int) -> list[tuple[str, float, float, float, float]]:
    """``n`` endpoints: the ten above, then variants of them (``.../v2`` ...) if more."""
    if n < 1:
        raise ValueError(f"endpoints must be >= 1, got {n}")
    specs = []
    for i in range(n):
        key, median, sigma, rate, fail = ENDPOINTS[i % len(ENDPOINTS)]
        if i >= len(ENDPOINTS):
            key = f"{key}/v{i // len(ENDPOINTS) + 1}"
        specs.append((key, median, sigma, rate, fail))
    return specs


class _Model:
    """The run's per-row truths: load, latency medians, failure shares, resources."""

    def __init__(
        self,
        n: int,
        specs: Sequence[tuple],
        rng: np.random.Generator,
        leak_bytes_per_request: float,
    ) -> None:
        k = np.arange(n, dtype=np.float64)
        self.n = n
        self.offered = np.where(k < WARMUP_S, np.round(USERS * k / WARMUP_S, 3), float(USERS))
        self.stage = np.where(k < WARMUP_S, "warm-up", "soak")
        self.users = np.minimum(USERS, np.ceil(USERS * (k + 1) / WARMUP_S)).astype(np.int64)
        phase = 2 * np.pi * k / DAY_S
        busy = np.sin(phase - np.pi / 2)  # -1 at the start, +1 twelve hours in
        traffic = (1.0 + 0.25 * busy) * self.users / USERS
        slow = 1.0 + 0.35 * (busy + 1) / 2 + 0.02 * rng.standard_normal(n)
        spike = np.zeros(n)
        for _ in range(max(1, n // SPIKE_EVERY_S)):
            at = int(rng.integers(min(WARMUP_S, n - 1), n))
            spike[at : at + int(rng.integers(5, 31))] = rng.uniform(4.0, 10.0)
        self.spike = spike > 0
        slow = slow * np.where(self.spike, spike, 1.0)
        traffic = traffic * np.where(self.spike, 0.6, 1.0)  # closed model: slower, fewer
        specs = sorted(specs)  # build_row writes the endpoints sorted by key
        e = len(specs)
        self.keys = [s[0] for s in specs]
        self.sigma = np.array([s[2] for s in specs])
        rates = np.array([s[3] for s in specs])
        self.counts = rng.poisson(np.outer(traffic, rates))  # (n, e)
        self.median_ms = np.outer(slow, [s[1] for s in specs]) * rng.lognormal(0.0, 0.03, (n, e))
        self.fail_share = np.where(
            self.spike[:, None], SPIKE_FAILURE_SHARE, np.array([s[4] for s in specs])[None, :]
        )
        requests = self.counts.sum(axis=1)
        done = np.cumsum(requests)
        # the target: CPU follows the request rate; RSS warms up, then leaks per request
        self.target_cpu = np.round(
            8.0 + 0.32 * requests * slow**0.3 + rng.normal(0, 3.0, n), 1
        ).clip(0.5)
        warm = 140e6 * (1 - np.exp(-k / 120.0))
        gc = 6e6 * ((k % 900) / 900.0)  # allocator sawtooth, freed every 15 min
        self.target_rss = (
            95e6 + warm + gc + leak_bytes_per_request * done + rng.normal(0, 4e5, n)
        ).astype(np.int64)
        self.threads = 14 + rng.integers(0, 3, n)
        self.open_files = 40 + (self.users // 2) + rng.integers(0, 4, n)
        self.queue_depth = np.round(
            np.maximum(
                0.0,
                rng.poisson((1.5 + 2.5 * (busy + 1)) * np.where(self.spike, 6.0, 1.0)).astype(
                    float
                ),
            ),
            0,
        )
        self.host_cpu = np.round((self.target_cpu / 2 + 25 + rng.normal(0, 2, n)).clip(1, 100), 1)
        self.host_mem = (3.2e9 + self.target_rss + rng.normal(0, 2e7, n)).astype(np.int64)
        self.load1 = np.round(
            (self.host_cpu / 50).clip(0.05) + rng.normal(0, 0.05, n).clip(-0.04), 2
        )
        self.disk_read = (9.1e9 + np.cumsum(rng.integers(0, 40_000, n))).astype(np.int64)
        self.disk_write = (2.7e10 + np.cumsum(requests * 600)).astype(np.int64)
        self.net_sent = (4.1e10 + np.cumsum(requests * 9_000)).astype(np.int64)
        self.net_recv = (1.3e10 + np.cumsum(requests * 700)).astype(np.int64)
        # one generator: busy with the load, one overload episode (> 90 %) 60 % into the run
        cpu = 30.0 + 0.12 * requests + rng.normal(0, 2.5, n)
        at = int(n * 0.6)
        episode = np.zeros(n, dtype=bool)
        episode[at : at + max(3, min(120, n // 100))] = True
        cpu = np.where(episode, rng.uniform(91.0, 98.0, n), cpu.clip(1.0, 85.0))
        self.generator_cpu = np.round(cpu, 1)
        self.generator_rss = (
            88e6 + 30e6 * (1 - np.exp(-k / 300.0)) + rng.normal(0, 3e5, n)
        ).astype(np.int64)
