"""The cost of quantload's hooks: StressUser req/s on one core with every hook on / hooks off.

"On" is the suite's own locustfile (HDR recording of every request, the run
store, generator and target monitoring, thresholds); "off" is a locustfile that
only imports StressUser. Both run against the canned-response server on the
other core, alternating, in one run. Also prints the recording cost per
request, measured directly on the recorder.

    python -m bench.hook_overhead [--seconds 20] [--rounds 3] [--users 50]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.generator_overhead import (
    LOCUST_CPU,
    REPO,
    SERVER_CPU,
    STRESS_LOCUSTFILE,
    CannedServer,
    alternate,
    describe,
    parse_args,
)
from bench.machine import machine

RECORDS = 200_000


def recording_cost_us() -> float:
    """Microseconds per request spent in the request listener's recorder."""
    from metrics.latency import SlotRecorder

    start = time.time()
    recorder = SlotRecorder(start, 1.0)
    t0 = time.perf_counter()
    for i in range(RECORDS):  # every event in one slot: the steady state of the hot path
        recorder.record("POST /v1/backtests", 1.0 + (i % 500) * 0.37, None, start)
    return (time.perf_counter() - t0) / RECORDS * 1e6


def main() -> None:
    args = parse_args(__doc__)
    with CannedServer() as host, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bare = workdir / "bare_locustfile.py"
        bare.write_text(STRESS_LOCUSTFILE)
        hooked = REPO / "locustfile.py"
        rates = alternate(
            {
                "on": (hooked, "StressUser", ("--run-dir", str(workdir / "run"))),
                "off": (bare, "StressUser", ()),
            },
            host,
            args.users,
            args.seconds,
            args.rounds,
            workdir,
        )
    on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
    print(f"machine: {machine()}")
    print(
        f"locust on cpu {LOCUST_CPU}, canned server on cpu {SERVER_CPU}, {args.users} users, "
        f"{args.rounds} x {args.seconds:.0f} s each, alternating"
    )
    print(f"hooks on:              {describe(rates['on'])}")
    print(f"hooks off:             {describe(rates['off'])}")
    print(f"on / off:              {on / off:8.3f}")
    print(f"recording cost:        {recording_cost_us():8.2f} us per request (HDR, in-process)")


if __name__ == "__main__":
    main()
