"""Helpers for tests of real runs: what a finished run directory must hold, and how to
drive runs (a synthetic locustfile, a master with workers, the web UI) that write one.

The synthetic locustfile's user fires request events with latencies drawn from a seeded
RNG (no network) and appends each raw sample to a file, so merged percentiles can be
checked against every raw sample.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import requests

from rundir.layout import is_request
from tests.locust_runs import REPO, free_port

RUN_FILES = {
    "meta.json",
    "timeseries.jsonl",
    "events.jsonl",
    "summary.json",
    "histograms",
    "report.html",
    "junit.xml",
}
ROW_KEYS = {
    "t",
    "elapsed_s",
    "users",
    "endpoints",
    "total",
    "requests",
    "generators",
    "span_s",
    "target",
    "load",
}
ROW_STATS = {"count", "failures", "rps", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "avg_ms"}
SUMMARY_PERCENTILES = {"p50_ms": 50, "p90_ms": 90, "p95_ms": 95, "p99_ms": 99, "p999_ms": 99.9}

SYNTHETIC_LOCUSTFILE = textwrap.dedent('''
    """Synthetic traffic of known latencies: request events only, no network."""
    import os
    import random

    from locust import User, constant, task

    from plugin import hooks

    SAMPLES_DIR = os.environ["QUANTLOAD_TEST_SAMPLES"]
    NAMES = ("/alpha", "/beta")
    FAIL_SHARE = 0.03


    class SyntheticUser(User):
        host = "http://127.0.0.1:9"  # never contacted; a class host keeps the target unstarted
        wait_time = constant(0.005)

        def on_start(self):
            tag = f"{os.getpid()}-{id(self):x}"
            self.rng = random.Random(tag)
            self.samples = open(os.path.join(SAMPLES_DIR, tag + ".txt"), "a", buffering=1)

        @task
        def fire(self):
            name = self.rng.choice(NAMES)
            ms = self.rng.lognormvariate(1.5, 1.0)
            failed = self.rng.random() < FAIL_SHARE
            self.environment.events.request.fire(
                request_type="SYN", name=name, response_time=ms, response_length=0,
                exception=RuntimeError("synthetic failure") if failed else None, context={})
            self.samples.write(f"{name} {ms!r} {int(failed)}\\n")  # no yield since the event

        def on_stop(self):
            self.samples.close()


    hooks.register(["SyntheticUser"])
''')


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def locust_totals(json_file: Path) -> dict[str, tuple[int, int]]:
    """(num_requests, num_failures) per "METHOD name" from Locust's own --json-file."""
    return {
        f"{e['method']} {e['name']}": (e["num_requests"], e["num_failures"])
        for e in json.loads(json_file.read_text())
    }


def summary_totals(summary: dict) -> dict[str, tuple[int, int]]:
    """Count and failures of each request to the target (measurements are not Locust's)."""
    keys = ((f"{e['method']} {e['name']}", e) for e in summary["endpoints"])
    return {key: (e["count"], e["failures"]) for key, e in keys if is_request(key)}


def check_run_dir(run_dir: Path) -> tuple[dict, list[dict], list[dict], dict]:
    """The files every finished run has, each whole and well-formed."""
    assert RUN_FILES <= {p.name for p in run_dir.iterdir()}, list(run_dir.iterdir())
    meta = json.loads((run_dir / "meta.json").read_text())
    rows = read_jsonl(run_dir / "timeseries.jsonl")
    events = read_jsonl(run_dir / "events.jsonl")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [r["elapsed_s"] for r in rows] == [float(k) for k in range(len(rows))]
    for row in rows:
        assert set(row) == ROW_KEYS and ROW_STATS <= set(row["total"])
        assert all(set(stats) == ROW_STATS for stats in row["endpoints"].values())
    assert events[0]["kind"] == "test_start" and events[-1]["kind"] == "test_stop"
    index = json.loads((run_dir / "histograms" / "index.json").read_text())
    assert {e["endpoint"] for e in index["endpoints"].values()} == {
        f"{e['method']} {e['name']}" for e in summary["endpoints"]
    }
    assert meta["run_id"] == summary["run_id"] and meta["stopped_at"]
    return meta, rows, events, summary


def synthetic(tmp_path: Path) -> tuple[str, Path, dict[str, str]]:
    locustfile = tmp_path / "synthetic_locustfile.py"
    locustfile.write_text(SYNTHETIC_LOCUSTFILE)
    samples = tmp_path / "samples"
    samples.mkdir()
    return str(locustfile), samples, {**os.environ, "QUANTLOAD_TEST_SAMPLES": str(samples)}


def raw_samples(samples: Path) -> dict[str, list[tuple[float, bool]]]:
    out: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for path in samples.iterdir():
        for line in path.read_text().splitlines():
            name, ms, failed = line.split()
            out[f"SYN {name}"].append((float(ms), failed == "1"))
    return out


def stop_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.read_text().count("\n") >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} never had {n} lines (locust exit code {proc.poll()})")


def start_master_and_workers(
    locustfile: str,
    env: dict,
    tmp_path: Path,
    run_dir: Path,
    run_time: str,
    users: int = 4,
    extra: Sequence[str] = (),
) -> tuple[subprocess.Popen, list[subprocess.Popen]]:
    """A headless master expecting 2 workers on a free loopback port, and the 2 workers;
    ``extra``: more master arguments (e.g. user class names)."""
    port = free_port()
    base = [sys.executable, "-m", "locust", "-f", locustfile]
    master = subprocess.Popen(
        [
            *base,
            "--headless",
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            "2",
            "--expect-workers-max-wait",
            "30",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            run_time,
            "--only-summary",
            "--run-dir",
            str(run_dir),
            "--json-file",
            str(tmp_path / "locust"),
            "--exit-code-on-error",
            "0",
            *extra,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    workers = [
        subprocess.Popen(
            [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    return master, workers


def web_ui_ready(url: str, workers: int) -> bool:
    try:
        report = requests.get(f"{url}/stats/requests", timeout=2).json()
    except (requests.RequestException, ValueError):
        return False
    return len(report.get("workers", [])) >= workers
