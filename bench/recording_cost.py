"""What the HDR request listener costs per request, next to Locust's own stats listener.

Every request event runs ``Collector.on_request`` (endpoint key, slot check,
dict lookup, ``record_value``) in the load generator's only thread, so its
cost comes straight out of the requests/s a generator can send. This fires
request events through a real Locust ``EventHook`` with and without the
listener, and also times the listener alone; medians of ``--rounds``.

    python -m bench.recording_cost [--events 200000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from locust.event import EventHook
from locust.stats import RequestStats

from bench.machine import machine
from metrics.collector import Collector
from metrics.latency import SlotRecorder

NAMES = ("/v1/backtests", "/v1/market-data/{symbol}", "/v1/backtests/{id}", "/v1/jobs")
FAILURE_SHARE = 0.01


def fire_all(hook: EventHook, events: list[tuple[str, float, object]]) -> float:
    """Seconds to fire every event through ``hook``."""
    t0 = time.perf_counter()
    for name, ms, exc in events:
        hook.fire(request_type="GET", name=name, response_time=ms, response_length=100,
                  exception=exc, context={})
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(0)
    events = [(rng.choice(NAMES), rng.lognormvariate(2, 1),
               RuntimeError("500") if rng.random() < FAILURE_SHARE else None)
              for _ in range(args.events)]

    def locust_stats_listener() -> EventHook:
        stats, hook = RequestStats(), EventHook()

        def on_request(request_type, name, response_time, response_length, exception=None,
                       **_kwargs):  # what Locust's runner registers
            stats.log_request(request_type, name, response_time, response_length)
            if exception:
                stats.log_error(request_type, name, exception)

        hook.add_listener(on_request)
        return hook

    baseline, with_ours, alone = [], [], []
    for _ in range(args.rounds):
        hook = locust_stats_listener()
        baseline.append(fire_all(hook, events))
        hook = locust_stats_listener()
        collector = Collector()
        collector.recorder = SlotRecorder(time.time(), 1.0)
        hook.add_listener(collector.on_request)
        with_ours.append(fire_all(hook, events))
        collector.recorder = SlotRecorder(time.time(), 1.0)
        t0 = time.perf_counter()
        for name, ms, exc in events:
            collector.on_request("GET", name, ms, 100, exc)
        alone.append(time.perf_counter() - t0)

    per = {label: statistics.median(v) / args.events * 1e6
           for label, v in (("base", baseline), ("ours", with_ours), ("alone", alone))}
    print(machine())
    print(f"events: {args.events} per round, {args.rounds} rounds, medians; "
          f"{FAILURE_SHARE:.0%} failures")
    print(f"Locust's stats listener only:   {per['base']:6.2f} us/request")
    print(f"+ quantload HDR listener:       {per['ours']:6.2f} us/request")
    print(f"quantload listener, called alone: {per['alone']:4.2f} us/request")
    print(f"added per request:              {per['ours'] - per['base']:6.2f} us "
          f"({per['ours'] / per['base']:.2f}x Locust's own stats cost)")


if __name__ == "__main__":
    main()
