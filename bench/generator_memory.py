"""The load generator's memory over a long run: its RSS growth after the first minute.

The suite as a user runs it (``locustfile.py``: every hook, a run directory, answers
checked) drives ``ArrivalRateUser`` at ``--rate`` req/s (default 1,000), pinned to CPU 0,
against nginx on CPU 1 answering the recorded ~5 KB backtest document
(``bench.nginx_server``, the answers of ``bench.generator_ceiling``), for ``--minutes``
(default 10, as issue 16 asks: the bench takes that long). The Locust process's RSS is
sampled every ``SAMPLE_S``; then it prints:

- the growth after the first minute: the least-squares slope of RSS over the samples from
  minute 1 on (robust to the allocator's steps), in MB per hour and over the run, beside
  the plain difference of the last and the minute-1 samples;
- the 24-hour estimate: RSS at minute 1 plus the slope over 24 hours;
- the goal: a 10-minute run grows by at most 5 MB after its first minute (judged on the
  slope, so a shorter run is judged by the same rate: 5 MB per 9 minutes);
- what Locust held at the end (a wrapper locustfile reports it at ``quitting``): its
  stats' per-second counts (Locust issue #2045; ``plugin.stats_trim`` keeps them to the
  seconds Locust reads), its chart history points and response-time buckets; and the
  Python objects alive (``gc``) at minute 1 and just before the end: flat while RSS
  grows says the growth is below Python (the allocator, C buffers), not a structure.

    python -m bench.generator_memory [--minutes 10] [--rate 1000]

Needs ``nginx`` (Debian package ``nginx``): without it, says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from bench.generator_ceiling import (
    ARRIVAL_USERS,
    BACKTEST_5KB,
    FINISH_TIMEOUT_S,
    GENERATOR_CPU,
    SERVER_CPU,
    stop_group,
)
from bench.generator_overhead import REPO, record_responses
from bench.machine import machine
from bench.nginx_server import NginxServer, missing_tools

SAMPLE_S = 5.0
"""How often the generator's RSS is read."""
SETTLE_S = 60.0
"""Growth is measured from here on (start-up, imports and the first allocations before)."""
GOAL_MB = 5.0
GOAL_SPAN_S = 9 * 60.0
"""Issue 16: at most 5 MB of growth from minute 1 to minute 10."""
DAY_S = 24 * 3600.0
MB = 2**20

WRAPPER = """
import gc
import json
from pathlib import Path

import gevent
from locust import events

from locustfile import *  # noqa: F401,F403  the suite, every hook, as a user runs it

objects = {{}}


@events.test_start.add_listener
def _count_objects(environment, **_kwargs):
    def count(when):
        objects[when] = len(gc.get_objects())

    gevent.spawn_later({settle}, count, "settled")
    gevent.spawn_later({last}, count, "last")


@events.quitting.add_listener
def _what_locust_holds(environment, **_kwargs):
    stats = environment.stats
    entries = [stats.total, *stats.entries.values()]
    Path({out!r}).write_text(json.dumps({{
        "entries": len(entries),
        "per_second": max(len(e.num_reqs_per_sec) for e in entries),
        "history": len(stats.history),
        "buckets": sum(len(e.response_times) for e in entries),
        "errors": len(stats.errors),
        "objects": objects,
    }}))
"""


def sample_rss(proc: subprocess.Popen[bytes], seconds: float) -> list[tuple[float, int]]:
    """``(elapsed s, RSS bytes)`` of ``proc`` every ``SAMPLE_S`` until it exits (or
    ``seconds`` + ``FINISH_TIMEOUT_S`` pass)."""
    ps, start, out = psutil.Process(proc.pid), time.monotonic(), []
    while proc.poll() is None and time.monotonic() - start < seconds + FINISH_TIMEOUT_S:
        elapsed = time.monotonic() - start
        if elapsed <= seconds:  # the end-of-run report is not the run
            try:
                out.append((elapsed, ps.memory_info().rss))
            except psutil.NoSuchProcess:
                break
        time.sleep(SAMPLE_S - (time.monotonic() - start) % SAMPLE_S)
    return out


def growth(samples: list[tuple[float, int]]) -> tuple[float, float, float]:
    """RSS at ``SETTLE_S`` (MB, the fit's value), the slope from then on (MB per hour) and the
    plain last-minus-first difference of the samples after ``SETTLE_S`` (MB)."""
    later = [(t, rss) for t, rss in samples if t >= SETTLE_S]
    if len(later) < 3:
        raise SystemExit(f"bench: only {len(later)} RSS samples after the first minute")
    t = np.array([s[0] for s in later])
    rss = np.array([s[1] for s in later]) / MB
    slope, intercept = np.polyfit(t, rss, 1)
    return float(intercept + slope * SETTLE_S), float(slope * 3600), float(rss[-1] - rss[0])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="run length (default 10)")
    parser.add_argument("--rate", type=float, default=1000.0, help="arrivals per second")
    args = parser.parse_args()
    if args.minutes < 2 or args.rate <= 0:
        parser.error("--minutes must be >= 2 (growth is measured after the first), --rate > 0")
    return args


def main() -> None:
    args = parse_args()
    if missing := missing_tools("nginx"):
        print(missing, file=sys.stderr)
        raise SystemExit(2)
    seconds = args.minutes * 60
    answers = record_responses(BACKTEST_5KB)
    backtest, market = (
        answers[("POST", "/v1/backtests")][1],
        answers[("GET", "/v1/market-data/")][1],
    )
    server = NginxServer(backtest, market, SERVER_CPU)
    with server as host, tempfile.TemporaryDirectory() as tmp:
        held = Path(tmp) / "held.json"
        wrapper = WRAPPER.format(out=str(held), settle=SETTLE_S, last=seconds - SAMPLE_S)
        (Path(tmp) / "memory_locustfile.py").write_text(wrapper)
        cmd = ["taskset", "-c", str(GENERATOR_CPU), sys.executable, "-m", "locust"]
        cmd += ["-f", str(Path(tmp) / "memory_locustfile.py"), "--headless", "--host", host]
        cmd += ["-u", str(ARRIVAL_USERS), "-r", str(ARRIVAL_USERS), "-t", f"{int(seconds)}s"]
        cmd += ["--arrival-rate", str(args.rate), "--run-dir", str(Path(tmp) / "run")]
        cmd += ["--only-summary", "--loglevel", "ERROR", "ArrivalRateUser"]
        log = Path(tmp) / "locust.log"
        n0 = server.requests_served()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            samples = sample_rss(proc, seconds)
            code = proc.wait(FINISH_TIMEOUT_S)
        finally:
            stop_group(proc)
        achieved = (server.requests_served() - n0) / seconds
        if code != 0 or not held.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
            raise SystemExit(f"bench: the generator failed (exit {code}):\n{tail}")
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
        locust_held = json.loads(held.read_text())
    dropped = sum(e["count"] for e in summary["endpoints"] if e.get("method") == "DROPPED")
    report(args, samples, achieved, dropped, locust_held)


def report(
    args: argparse.Namespace,
    samples: list[tuple[float, int]],
    achieved: float,
    dropped: int,
    held: dict[str, int],
) -> None:
    at_settle, mb_per_hour, raw = growth(samples)
    span_s = samples[-1][0] - SETTLE_S
    over_goal_span = mb_per_hour * GOAL_SPAN_S / 3600
    print(f"machine: {machine()}")
    print(
        f"ArrivalRateUser asked {args.rate:.0f}/s for {args.minutes:g} min (the suite's "
        f"locustfile, every hook) on cpu {GENERATOR_CPU}, nginx on cpu {SERVER_CPU}: "
        f"{achieved:.0f} req/s achieved, {dropped} arrivals dropped"
    )
    marks = [
        f"{t / 60:.0f} min {rss / MB:.1f}"
        for t, rss in samples
        if t >= SETTLE_S and int(t) % 60 < SAMPLE_S
    ]
    print(f"RSS (MB): {', '.join(marks)}, end {samples[-1][1] / MB:.1f}")
    fitted = sum(1 for t, _ in samples if t >= SETTLE_S)
    objects = held.get("objects", {})
    print(
        f"after the first minute: {mb_per_hour:+.2f} MB/hour (least squares over {fitted} "
        f"samples), {mb_per_hour * span_s / 3600:+.2f} MB over the run's {span_s / 60:.1f} min "
        f"(last - first sample: {raw:+.2f} MB)"
    )
    print(
        f"24-hour estimate: {at_settle + mb_per_hour * (DAY_S - SETTLE_S) / 3600:.0f} MB "
        f"(RSS at minute 1: {at_settle:.1f} MB, {mb_per_hour * 24:+.1f} MB a day)"
    )
    verdict = "PASS" if over_goal_span <= GOAL_MB else "FAIL"
    print(
        f"{verdict}: minute 1 to minute 10 at this rate: {over_goal_span:+.2f} MB "
        f"(goal <= {GOAL_MB:.0f} MB)"
    )
    print(
        f"Locust held at the end: {held['per_second']} seconds of per-second counts per "
        f"entry ({held['entries']} entries), {held['history']} chart history points, "
        f"{held['buckets']} response-time buckets, {held['errors']} error kinds; Python "
        f"objects (gc) at minute 1: {objects.get('settled', '?')}, "
        f"{SAMPLE_S:.0f} s before the end: {objects.get('last', '?')}"
    )


if __name__ == "__main__":
    main()
