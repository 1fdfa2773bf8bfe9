"""StressUser's own cost: its requests/s on one core divided by a plain FastHttpUser's.

Both classes send the same request mix to a canned-response server (bytes
recorded once from the real target) pinned to the other core, so the Locust
process is the bottleneck and the ratio is the cost of quantload's API client
(validation, failure reasons, Retry-After bookkeeping, seeded choices). The two
classes alternate, ``--rounds`` times each, in one run; medians are compared.

Then, in the same run, why StressUser parses so little: the CPU time of ``json.loads``
of each recorded body, on the Locust core, against a plain request's whole CPU cost
(the Locust process's user + system time over its requests, start-up included). CPU
time, not wall time, so other processes sharing the machine do not count.

    python -m bench.generator_overhead [--seconds 20] [--rounds 3] [--users 50]
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import requests

from bench.machine import machine
from bench.static_server import serve
from plugin.embedded_target import EmbeddedTarget

REPO = Path(__file__).resolve().parent.parent
BACKTEST = {"symbol": "AAPL", "strategy": "sma_cross", "start": "2021-01-04", "end": "2023-12-29"}
LOCUST_CPU, SERVER_CPU = 0, 1

PLAIN_LOCUSTFILE = '''
from locust import FastHttpUser, constant, task

BODY = {body!r}


class PlainUser(FastHttpUser):
    """The same mix as StressUser (3 backtests : 2 market data : 1 reread), no checks."""

    wait_time = constant(0)

    @task(3)
    def run_backtest(self):
        self.client.post("/v1/backtests", json=BODY)

    @task(2)
    def fetch_market_data(self):
        self.client.get("/v1/market-data/AAPL?start=2021-01-04&end=2023-12-29",
                        name="/v1/market-data/{{symbol}}")

    @task(1)
    def reread_backtest(self):
        self.client.get("/v1/backtests/canned", name="/v1/backtests/{{id}}")
'''

STRESS_LOCUSTFILE = "from users.stress_user import StressUser  # noqa: F401\n"


def record_responses(backtest: dict[str, str] = BACKTEST) -> dict:
    """One real answer per route, from the reference target: ``backtest`` (a ``POST
    /v1/backtests`` body) run, its symbol's market data over the same dates, the run reread.
    Keys ``(method, path prefix)``, values ``(status, body bytes)``."""
    with EmbeddedTarget() as target, requests.Session() as s:
        created = s.post(f"{target.url}/v1/backtests", json=backtest)
        market = s.get(
            f"{target.url}/v1/market-data/{backtest['symbol']}",
            params={"start": backtest["start"], "end": backtest["end"]},
        )
        reread = s.get(f"{target.url}/v1/backtests/{created.json()['id']}")
    return {
        ("POST", "/v1/backtests"): (201, created.content),
        ("GET", "/v1/market-data/"): (200, market.content),
        ("GET", "/v1/backtests/"): (200, reread.content),
    }


def _server_main(sock: socket.socket, responses: dict) -> None:
    os.sched_setaffinity(0, {SERVER_CPU})
    serve(sock, responses)


def locust_rps(
    locustfile: Path,
    user_class: str,
    host: str,
    users: int,
    seconds: float,
    workdir: Path,
    extra: tuple[str, ...] = (),
    cpu_us: list[float] | None = None,
) -> float:
    """Requests/s of one headless Locust run; its CPU us per request appended to ``cpu_us``."""
    prefix = workdir / f"{user_class}-{len(list(workdir.iterdir()))}"
    cmd = [
        "taskset",
        "-c",
        str(LOCUST_CPU),
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{int(seconds)}s",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "ERROR",
        *extra,
        user_class,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(f"{prefix}_stats.csv") as f:
        total = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    if int(total["Failure Count"]):
        raise SystemExit(f"{user_class}: {total['Failure Count']} failures against canned server")
    if cpu_us is not None:
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        cpu_us.append(cpu / max(1, int(total["Request Count"])) * 1e6)
    return float(total["Requests/s"])


class CannedServer:
    """The canned-response server in its own process, pinned to ``SERVER_CPU``."""

    def __enter__(self) -> str:
        self.responses = responses = record_responses()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.process = multiprocessing.get_context("fork").Process(
            target=_server_main, args=(self.sock, responses), daemon=True
        )
        self.process.start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(10)
        self.sock.close()


def alternate(
    variants: dict[str, tuple[Path, str, tuple[str, ...]]],
    host: str,
    users: int,
    seconds: float,
    rounds: int,
    workdir: Path,
    cpu_us: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Run each variant (locustfile, class, extra args) in turn, ``rounds`` times; req/s each
    (and, into ``cpu_us`` when given, each run's CPU us per request)."""
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (locustfile, user_class, extra) in variants.items():
            rates[name].append(
                locust_rps(
                    locustfile,
                    user_class,
                    host,
                    users,
                    seconds,
                    workdir,
                    extra,
                    cpu_us.setdefault(name, []) if cpu_us is not None else None,
                )
            )
    return rates


def describe(rates: list[float]) -> str:
    rounds = ", ".join(f"{r:.0f}" for r in rates)
    return f"{statistics.median(rates):8.0f} req/s  (rounds: {rounds})"


def parse_cost_us(responses: dict, repeats: int = 7) -> dict[str, tuple[int, float]]:
    """Per recorded body: its size and the median of ``repeats`` CPU timings of
    ``json.loads``, in us, on ``LOCUST_CPU`` (where the requests were sent)."""
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {LOCUST_CPU})
    try:
        out = {}
        for (method, path), (_, body) in responses.items():
            timer = timeit.Timer(lambda body=body: json.loads(body), timer=time.process_time)
            number = max(1, int(0.2 / max(timer.timeit(1), 1e-6)))
            runs = timer.repeat(repeats, number)
            out[f"{method} {path}"] = (len(body), statistics.median(runs) / number * 1e6)
        return out
    finally:
        os.sched_setaffinity(0, affinity)


def parse_args(doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=50)
    return parser.parse_args()


def main() -> None:
    args = parse_args(__doc__)
    server = CannedServer()
    with server as host, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        plain = workdir / "plain_locustfile.py"
        plain.write_text(PLAIN_LOCUSTFILE.format(body=BACKTEST))
        stress = workdir / "stress_locustfile.py"
        stress.write_text(STRESS_LOCUSTFILE)
        cpu_us: dict[str, list[float]] = {}
        rates = alternate(
            {"StressUser": (stress, "StressUser", ()), "PlainUser": (plain, "PlainUser", ())},
            host,
            args.users,
            args.seconds,
            args.rounds,
            workdir,
            cpu_us,
        )
    stress_rps = statistics.median(rates["StressUser"])
    plain_rps = statistics.median(rates["PlainUser"])
    print(f"machine: {machine()}")
    print(
        f"locust on cpu {LOCUST_CPU}, canned server on cpu {SERVER_CPU}, {args.users} users, "
        f"{args.rounds} x {args.seconds:.0f} s each, alternating"
    )
    print(f"StressUser:            {describe(rates['StressUser'])}")
    print(f"plain FastHttpUser:    {describe(rates['PlainUser'])}")
    print(f"StressUser / plain:    {stress_rps / plain_rps:8.3f}")
    stress_us = statistics.median(cpu_us["StressUser"])
    request_us = statistics.median(cpu_us["PlainUser"])
    print(
        "CPU per request (the locust process's CPU time / its requests, start-up included; "
        "medians):"
    )
    print(f"  StressUser {stress_us:.0f} us, plain FastHttpUser {request_us:.0f} us")
    for route, (size, us) in parse_cost_us(server.responses).items():
        print(
            f"  json.loads of the recorded {route + ' body':26s} {size / 1000:5.1f} KB: "
            f"{us:5.0f} us CPU = {us / request_us:.1f}x a plain request"
        )


if __name__ == "__main__":
    main()
