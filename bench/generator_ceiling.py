"""The load generator's ceiling: each generator's requests/s and CPU per request on one core.

Debian's nginx on CPU 1 (``bench.nginx_server``) answers with bytes recorded once from the
reference target: a ~5 KB backtest document (a half-year ``sma_cross``) for ``POST
/v1/backtests`` (201) and its rereads, the market data over the same dates, a tiny body
for ``GET /tiny``. Each generator runs pinned to CPU 0, alone, in turn: ``wrk`` (C, the
physical ceiling), bare Locust users (``FastHttpUser`` POST backtest, ``HttpUser`` and
``FastHttpUser`` GET tiny, a ``FastHttpUser`` with StressUser's mix), the same tiny-GET
user under quantload's hooks (``plugin.register`` in its locustfile, a run directory),
``ArrivalRateUser`` (the suite's locustfile, every hook) asked 1,500/s and 6,000/s (over
its ceiling), and ``StressUser`` without hooks, as ``bench.generator_overhead`` runs it.
Closed-loop users: ``USERS``, no think time.

Every run is measured the same way over a window after a warm-up (start-up, imports and
the end-of-run report left out): requests counted by nginx (``stub_status``), CPU time
(user + system) of the generator process, so CPU per request is exact even on a machine
shared with other work, where requests/s are not. The rounds run every generator in turn;
the goals' ratios are taken per round between runs made back to back (their order
alternating between rounds), and their median printed with each round's value.

    python -m bench.generator_ceiling [--seconds 10] [--warmup 5] [--rounds 3]

About 3 minutes a round. Needs ``nginx`` and ``wrk`` (Debian packages of the same
names): without them it says which to install and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.generator_overhead import (
    PLAIN_LOCUSTFILE,
    REPO,
    STRESS_LOCUSTFILE,
    record_responses,
)
from bench.machine import machine
from bench.nginx_server import NginxServer, missing_tools, tool_path

GENERATOR_CPU, SERVER_CPU = 0, 1
USERS = 32
"""Closed-loop users of every Locust run but ArrivalRateUser's."""
ARRIVAL_USERS = 4
"""ArrivalRateUser's users: connection holders (100 connections each), not the load."""
ASKED_RATES = (1500, 6000)
"""ArrivalRateUser's asked rates (req/s): 1,500 as in issue 16's table (nothing may be
dropped), 6,000 above what one core sends (what it achieves is its ceiling)."""
BACKTEST_5KB = {
    "symbol": "AAPL",
    "strategy": "sma_cross",
    "start": "2023-07-03",
    "end": "2023-12-29",
}
"""A half-year backtest: the target answers ~5.5 KB."""
OPEN_ASKED_RATE = 12000
"""The bare open model's asked rate (req/s): more than one core sends, so it sends its most."""
OPEN_MAX_IN_FLIGHT = 200
"""The bare open model's in-flight cap: ``users.arrival_rate_user.DEFAULT_MAX_IN_FLIGHT`` (not
imported: that imports Locust, which monkey-patches this process)."""
WRK_CONNECTIONS = 32
FINISH_TIMEOUT_S = 90.0
"""How long a generator may take to exit after its run time (a hooked run writes its report)."""
HOOKS_GOAL = 0.95
ARRIVAL_GOAL = 0.90
ARRIVAL_DROP_GOAL = 0.01
STRESS_GOAL = 0.97

BARE_LOCUSTFILE = """
from locust import FastHttpUser, HttpUser, constant, task

BODY = {body!r}


class PostBacktest(FastHttpUser):
    wait_time = constant(0)

    @task
    def post(self):
        self.client.post("/v1/backtests", json=BODY)


class TinyGet(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/tiny")


class TinyGetHttp(HttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/tiny")
"""
OPEN_LOCUSTFILE = """
import time

import gevent
from gevent.pool import Group
from locust import FastHttpUser, constant, task

BODY = {body!r}
RATE = {rate}
MAX_IN_FLIGHT = {cap}


class OpenPost(FastHttpUser):
    \"\"\"The least an open model does: one greenlet per arrival on a timetable, no checks.\"\"\"

    wait_time = constant(1)
    concurrency = 100
    scheduler = None

    def on_start(self):
        if OpenPost.scheduler is None:
            OpenPost.scheduler = gevent.spawn(arrivals, self.client)

    @task
    def hold(self):
        pass


def arrivals(client):
    in_flight, t0, k = Group(), time.perf_counter(), 0
    while True:
        delay = t0 + k / RATE - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)
            continue
        if len(in_flight) < MAX_IN_FLIGHT:
            in_flight.spawn(client.post, "/v1/backtests", json=BODY)
        k += 1
"""
HOOKED_LOCUSTFILE = """
import plugin
from bare_locustfile import TinyGet  # noqa: F401  the very same user

plugin.register(["TinyGet"])
"""


CLOSED_LOOP = {
    "post": (
        "bare FastHttpUser POST backtest, {users} users",
        "bare_locustfile.py",
        "PostBacktest",
    ),
    "http_get": ("bare HttpUser GET tiny", "bare_locustfile.py", "TinyGetHttp"),
    "get": ("bare FastHttpUser GET tiny", "bare_locustfile.py", "TinyGet"),
    "get_hooked": ("  the same under quantload's hooks", "hooked_locustfile.py", "TinyGet"),
    "plain_mix": ("bare FastHttpUser, StressUser's mix", "plain_locustfile.py", "PlainUser"),
    "stress": ("StressUser (its mix, no hooks)", "stress_locustfile.py", "StressUser"),
}
"""The closed-loop generators: label, locustfile (written by :func:`variants`), user class."""


@dataclass(frozen=True)
class Measure:
    """One generator's window: requests/s (counted by nginx), CPU us per request, cores used,
    and, for ArrivalRateUser, arrivals dropped per second (None for the others)."""

    rps: float
    cpu_us: float
    cores: float
    dropped_per_s: float | None = None


@dataclass(frozen=True)
class Variant:
    """A generator: its command line (after ``taskset -c CPU``), run ``seconds`` long."""

    label: str
    command: Callable[[float], list[str]]
    run_dir: bool = False
    """A quantload run: ``--run-dir`` given, dropped arrivals read from its rows."""


def locust_command(workdir: Path, locustfile: str, *args: str) -> Callable[[float], list[str]]:
    def command(seconds: float) -> list[str]:
        return [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(workdir / locustfile) if locustfile != "locustfile.py" else locustfile,
            "--headless",
            "-t",
            f"{int(seconds)}s",
            "--only-summary",
            "--loglevel",
            "ERROR",
            *args,
        ]

    return command


def variants(workdir: Path, host: str) -> dict[str, Variant]:
    """Every generator measured, by key (the locustfiles are written into ``workdir``)."""
    (workdir / "bare_locustfile.py").write_text(BARE_LOCUSTFILE.format(body=BACKTEST_5KB))
    (workdir / "hooked_locustfile.py").write_text(HOOKED_LOCUSTFILE)
    (workdir / "open_locustfile.py").write_text(
        OPEN_LOCUSTFILE.format(body=BACKTEST_5KB, rate=OPEN_ASKED_RATE, cap=OPEN_MAX_IN_FLIGHT)
    )
    (workdir / "plain_locustfile.py").write_text(PLAIN_LOCUSTFILE.format(body=BACKTEST_5KB))
    (workdir / "stress_locustfile.py").write_text(STRESS_LOCUSTFILE)
    closed = ("-u", str(USERS), "-r", str(USERS), "--host", host)
    wrk = str(tool_path("wrk"))
    out = {
        "wrk": Variant(
            "wrk (C, GET tiny)",
            lambda s: [wrk, "-t1", f"-c{WRK_CONNECTIONS}", f"-d{int(s)}s", f"{host}/tiny"],
        )
    }
    for key, (label, locustfile, user_class) in CLOSED_LOOP.items():
        out[key] = Variant(
            label.format(users=USERS),
            locust_command(workdir, locustfile, *closed, user_class),
            run_dir=locustfile == "hooked_locustfile.py",
        )
    out["open"] = Variant(
        f"bare open model asked {OPEN_ASKED_RATE}/s, no checks",
        locust_command(
            workdir,
            "open_locustfile.py",
            "-u",
            str(ARRIVAL_USERS),
            "-r",
            str(ARRIVAL_USERS),
            "--host",
            host,
            "OpenPost",
        ),
    )
    for rate in ASKED_RATES:
        out[f"arrival_{rate}"] = Variant(
            f"ArrivalRateUser asked {rate}/s (all hooks)",
            locust_command(
                workdir,
                "locustfile.py",
                *("-u", str(ARRIVAL_USERS), "-r", str(ARRIVAL_USERS), "--host", host),
                *("--arrival-rate", str(rate), "ArrivalRateUser"),
            ),
            run_dir=True,
        )
    return out


ROUND = [("wrk",), ("post", f"arrival_{ASKED_RATES[1]}", f"arrival_{ASKED_RATES[0]}", "open")]
ROUND += [("http_get",), ("get", "get_hooked"), ("plain_mix", "stress")]
"""One round: groups run back to back (reversed every other round)."""


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """End a generator we started (its own session) if it still runs: SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            continue


def measure(
    variant: Variant,
    server: NginxServer,
    warmup: float,
    window: float,
    workdir: Path,
    run_dir: Path | None = None,
) -> Measure:
    """Run ``variant`` on ``GENERATOR_CPU``; measure it over ``window`` s after ``warmup`` s
    (a quantload run writes its run directory to ``run_dir``, default a new one in
    ``workdir``)."""
    run_dir = run_dir or workdir / f"run-{time.monotonic_ns()}"
    cmd = ["taskset", "-c", str(GENERATOR_CPU), *variant.command(warmup + window + 2)]
    if variant.run_dir:
        cmd += ["--run-dir", str(run_dir)]
    log = workdir / "generator.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        ps = psutil.Process(proc.pid)
        time.sleep(warmup)
        c0, n0, t0, e0 = cpu_seconds(ps), server.requests_served(), time.monotonic(), time.time()
        time.sleep(window)
        c1, n1, t1, e1 = cpu_seconds(ps), server.requests_served(), time.monotonic(), time.time()
        code = proc.wait(FINISH_TIMEOUT_S)
    except (psutil.NoSuchProcess, subprocess.TimeoutExpired):
        code = None
    finally:
        stop_group(proc)
    if code != 0:  # Locust exits 1 when any request failed
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
        raise SystemExit(f"bench: {variant.label.strip()} failed (exit {code}):\n{tail}")
    requests = max(1, n1 - n0)
    dropped = dropped_per_s(run_dir, e0, e1) if variant.run_dir else None
    return Measure(requests / (t1 - t0), (c1 - c0) / requests * 1e6, (c1 - c0) / (t1 - t0), dropped)


def dropped_per_s(run_dir: Path, start: float, end: float) -> float:
    """Arrivals dropped per second in the run's rows that lie in ``[start, end)`` (epoch s)."""
    rows = [json.loads(line) for line in (run_dir / "timeseries.jsonl").open()]
    inside = [r for r in rows if start <= r["t"] and r["t"] + r.get("span_s", 1) <= end]
    drops = sum(
        cell.get("count", 0)
        for r in inside
        for key, cell in r["endpoints"].items()
        if key.startswith("DROPPED ")
    )
    return drops / max(1e-9, sum(r.get("span_s", 1) for r in inside))


FIELDS = ("rps", "cpu_us", "cores")


def verdict(value: float, goal: float, above: bool = True) -> str:
    return "PASS" if (value >= goal if above else value < goal) else "FAIL"


def pairs(values: list[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def report(runs: dict[str, list[Measure]], labels: dict[str, str]) -> None:
    """The table (medians of the rounds) and each goal's ratio with its verdict."""
    print(f"{'generator':44s} {'req/s':>8s} {'CPU us/req':>11s} {'cores used':>11s}")
    for key, ms in runs.items():
        rps, cpu_us, cores = (statistics.median(getattr(m, f) for m in ms) for f in FIELDS)
        extra = ""
        if key.startswith("arrival_"):
            drops = statistics.median(m.dropped_per_s or 0.0 for m in ms)
            extra = f"  achieved; {drops:.0f}/s dropped"
        print(f"{labels[key]:44s} {rps:8.0f} {cpu_us:11.1f} {cores:11.2f}{extra}")
    print("goals (ratios of runs made back to back, per round; medians):")
    hooks = [b.cpu_us / h.cpu_us for b, h in zip(runs["get"], runs["get_hooked"], strict=True)]
    hooks_rps = [h.rps / b.rps for b, h in zip(runs["get"], runs["get_hooked"], strict=True)]
    h = statistics.median(hooks)
    print(
        f"  hooks on / off, CPU per request (bare us / hooked us), tiny GET: {h:.3f} "
        f"(rounds {pairs(hooks)}; req/s ratio {statistics.median(hooks_rps):.3f}); "
        f"goal >= {HOOKS_GOAL}: {verdict(h, HOOKS_GOAL)}"
    )
    top, low = f"arrival_{ASKED_RATES[1]}", f"arrival_{ASKED_RATES[0]}"
    arr = [a.rps / p.rps for p, a in zip(runs["post"], runs[top], strict=True)]
    arr_cpu = [p.cpu_us / a.cpu_us for p, a in zip(runs["post"], runs[top], strict=True)]
    a = statistics.median(arr)
    drop = statistics.median((m.dropped_per_s or 0.0) / ASKED_RATES[0] for m in runs[low])
    print(
        f"  ArrivalRateUser asked {ASKED_RATES[1]}/s (over its ceiling: it sends what one core "
        f"can) / bare FastHttpUser closed loop, POST backtest, req/s: {a:.3f} (rounds "
        f"{pairs(arr)}; per CPU-second {statistics.median(arr_cpu):.3f}); goal >= "
        f"{ARRIVAL_GOAL}: {verdict(a, ARRIVAL_GOAL)}"
    )
    floor = [o.rps / p.rps for p, o in zip(runs["post"], runs["open"], strict=True)]
    print(
        f"  (the bare open model, asked {OPEN_ASKED_RATE}/s / the same bare closed loop, req/s: "
        f"{statistics.median(floor):.3f}, rounds {pairs(floor)}: the most an open model with "
        "a greenlet per arrival sends here)"
    )
    print(
        f"  ArrivalRateUser asked {ASKED_RATES[0]}/s: {drop:.1%} of arrivals dropped; "
        f"goal < {ARRIVAL_DROP_GOAL:.0%}: {verdict(drop, ARRIVAL_DROP_GOAL, above=False)}"
    )
    stress = [s.rps / p.rps for p, s in zip(runs["plain_mix"], runs["stress"], strict=True)]
    stress_cpu = [
        p.cpu_us / s.cpu_us for p, s in zip(runs["plain_mix"], runs["stress"], strict=True)
    ]
    s = statistics.median(stress)
    print(
        f"  StressUser / bare FastHttpUser on its mix, req/s: {s:.3f} (rounds {pairs(stress)}; "
        f"per CPU-second {statistics.median(stress_cpu):.3f}); goal >= {STRESS_GOAL}: "
        f"{verdict(s, STRESS_GOAL)}"
    )


def tool_versions() -> str:
    nginx = subprocess.run([str(tool_path("nginx")), "-v"], capture_output=True, text=True)
    wrk = subprocess.run([str(tool_path("wrk")), "-v"], capture_output=True, text=True)
    return f"{nginx.stderr.strip()}; {(wrk.stdout or wrk.stderr).splitlines()[0].strip()}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=5.0, help="left out before each window")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.seconds < 1 or args.warmup < 1 or args.rounds < 1:
        parser.error("--seconds and --warmup must be >= 1, --rounds >= 1")
    return args


def main() -> None:
    args = parse_args()
    if missing := missing_tools("nginx", "wrk"):
        print(missing, file=sys.stderr)
        raise SystemExit(2)
    answers = record_responses(BACKTEST_5KB)
    backtest = answers[("POST", "/v1/backtests")][1]
    market = answers[("GET", "/v1/market-data/")][1]
    runs: dict[str, list[Measure]] = {}
    server = NginxServer(backtest, market, SERVER_CPU)
    with server as host, tempfile.TemporaryDirectory() as tmp:
        table = variants(Path(tmp), host)
        order = [key for group in ROUND for key in group]
        for r in range(args.rounds):
            for group in ROUND:
                for key in group if r % 2 == 0 else reversed(group):
                    m = measure(table[key], server, args.warmup, args.seconds, Path(tmp))
                    runs.setdefault(key, []).append(m)
        labels = {k: table[k].label for k in order}
    print(f"machine: {machine()}")
    print(f"tools: {tool_versions()}")
    print(
        f"nginx on cpu {SERVER_CPU} answering recorded bodies (backtest {len(backtest) / 1000:.1f} "
        f"KB, POST 201; market data {len(market) / 1000:.1f} KB), each generator alone on cpu "
        f"{GENERATOR_CPU}; {args.rounds} rounds, each run measured {args.seconds:.0f} s after "
        f"{args.warmup:.0f} s of warm-up (requests counted by nginx, the generator's CPU time); "
        "medians"
    )
    report({k: runs[k] for k in order}, labels)


if __name__ == "__main__":
    main()
