"""What the HDR request listener costs per request, next to Locust's own stats listener.

Every request event runs ``LocalCollector.on_request`` (endpoint key, slot check,
dict lookup, ``record_value``) in the load generator's only thread, so its
cost comes straight out of the requests/s a generator can send. This fires
request events through a real Locust ``EventHook`` with and without the
listener, and also times the listener alone; then ``record_value`` alone on hdrh's
``HdrHistogram`` and on quantload's :class:`metrics.latency.Histogram` (its index
computed inline), with the same values. Medians of ``--rounds``, all in one run.

    python -m bench.recording_cost [--events 200000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from hdrh.histogram import HdrHistogram
from locust.env import Environment
from locust.event import EventHook
from locust.stats import RequestStats

from bench.machine import machine
from metrics.latency import HIGHEST_US, LOWEST_US, SIGNIFICANT_FIGURES, SlotRecorder, to_us
from metrics.latency import Histogram as QuantloadHistogram
from plugin.local_collector import LocalCollector

NAMES = ("/v1/backtests", "/v1/market-data/{symbol}", "/v1/backtests/{id}", "/v1/jobs")
FAILURE_SHARE = 0.01


def fire_all(hook: EventHook, events: list[tuple[str, float, object]]) -> float:
    """Seconds to fire every event through ``hook``."""
    t0 = time.perf_counter()
    for name, ms, exc in events:
        hook.fire(
            request_type="GET",
            name=name,
            response_time=ms,
            response_length=100,
            exception=exc,
            context={},
        )
    return time.perf_counter() - t0


def record_all(histogram: HdrHistogram, values: list[int]) -> float:
    """Seconds to ``record_value`` every value into ``histogram``."""
    record = histogram.record_value
    t0 = time.perf_counter()
    for value in values:
        record(value)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(0)
    events = [
        (
            rng.choice(NAMES),
            rng.lognormvariate(2, 1),
            RuntimeError("500") if rng.random() < FAILURE_SHARE else None,
        )
        for _ in range(args.events)
    ]

    def locust_stats_listener() -> EventHook:
        stats, hook = RequestStats(), EventHook()

        def on_request(
            request_type, name, response_time, response_length, exception=None, **_kwargs
        ):  # what Locust's runner registers
            stats.log_request(request_type, name, response_time, response_length)
            if exception:
                stats.log_error(request_type, name, exception)

        hook.add_listener(on_request)
        return hook

    values = [to_us(ms) for _, ms, _ in events]
    baseline, with_ours, alone, hdrh, ours = [], [], [], [], []
    for _ in range(args.rounds):
        hook = locust_stats_listener()
        baseline.append(fire_all(hook, events))
        hook = locust_stats_listener()
        collector = LocalCollector(Environment())
        collector.recorder = SlotRecorder(time.time(), 1.0)
        hook.add_listener(collector.on_request)
        with_ours.append(fire_all(hook, events))
        collector.recorder = SlotRecorder(time.time(), 1.0)
        t0 = time.perf_counter()
        for name, ms, exc in events:
            collector.on_request("GET", name, ms, 100, exc)
        alone.append(time.perf_counter() - t0)
        hdrh.append(record_all(HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES), values))
        ours.append(
            record_all(QuantloadHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES), values)
        )

    per = {
        label: statistics.median(v) / args.events * 1e6
        for label, v in (
            ("base", baseline),
            ("ours", with_ours),
            ("alone", alone),
            ("hdrh", hdrh),
            ("record", ours),
        )
    }
    print(f"machine: {machine()}")
    print(
        f"events: {args.events} per round, {args.rounds} rounds, medians; "
        f"{FAILURE_SHARE:.0%} failures"
    )
    rows = [
        ("Locust's stats listener only:", f"{per['base']:6.2f} us/request"),
        ("+ quantload HDR listener:", f"{per['ours']:6.2f} us/request"),
        (
            "added per request:",
            f"{per['ours'] - per['base']:6.2f} us "
            f"({per['ours'] / per['base']:.2f}x Locust's own stats cost)",
        ),
        ("quantload listener, called alone:", f"{per['alone']:6.2f} us/request"),
        ("record_value, hdrh's HdrHistogram:", f"{per['hdrh']:6.2f} us/value"),
        (
            "record_value, quantload's Histogram:",
            f"{per['record']:6.2f} us/value ({per['record'] / per['hdrh']:.2f}x hdrh's)",
        ),
    ]
    for label, value in rows:
        print(f"{label:38s}{value}")


if __name__ == "__main__":
    main()
