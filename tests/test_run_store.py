"""The run directory: its pure helpers, and what real locust runs leave in it.

Real runs are subprocesses (``tests.locust_runs``), each bounded by ``-t`` and a
timeout, stopped by the test that starts it, traffic on 127.0.0.1 only. The
distributed and signal tests use a synthetic locustfile: its user fires request
events with latencies drawn from a seeded RNG (no network) and appends each raw
sample to a file, so merged percentiles can be checked against every raw sample.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import pytest
import requests

from metrics.latency import new_histogram, to_us
from rundir.files import write_atomic
from rundir.layout import claim_run_dir, make_run_id, slugify
from rundir.redact import REDACTED, public_host, redact_flags
from tests.locust_runs import REPO, free_port, run_locust

RUN_FILES = {"meta.json", "timeseries.jsonl", "events.jsonl", "summary.json", "histograms",
             "report.html", "junit.xml"}
ROW_KEYS = {"t", "elapsed_s", "users", "endpoints", "total", "requests", "generators", "span_s",
            "target", "load"}
ROW_STATS = {"count", "failures", "rps", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms",
             "avg_ms"}
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


# -- pure helpers -------------------------------------------------------------------------


def test_flags_are_redacted_for_the_record():
    flags = ("--slots 4 --api-key s3cr3t --token=abc --service-ms 50 "
             "--db /tmp/x.db AKIA1234567890ABCDEFGH")
    out = redact_flags(flags)
    assert "s3cr3t" not in out and "abc" not in out and "AKIA1234567890" not in out
    assert out == (f"--slots 4 --api-key '{REDACTED}' '--token={REDACTED}' --service-ms 50 "
                   f"--db /tmp/x.db '{REDACTED}'")
    assert redact_flags("--unbalanced 'quote") == REDACTED


def test_host_loses_credentials_and_query():
    assert public_host("https://user:pw@api.example.com:8443/base?key=1#x") == \
        "https://api.example.com:8443/base"
    assert public_host(None) is None


def test_run_dirs_are_unique_and_explicit_dirs_are_numbered(tmp_path):
    run_id = make_run_id(1795251681.0, "Config/CI Profile")
    assert run_id.endswith("-config-ci-profile") and len(run_id.split("-")[0]) == 8
    first = claim_run_dir(run_id, results_dir=str(tmp_path))
    second = claim_run_dir(run_id, results_dir=str(tmp_path))
    assert first.name == run_id and second.name == f"{run_id}-2"
    assert claim_run_dir(run_id, str(tmp_path / "mine")) == tmp_path / "mine"
    assert claim_run_dir(run_id, str(tmp_path / "mine"), nth=3) == tmp_path / "mine-3"
    assert slugify("WS_MSG /v1/jobs/{id}/events") == "ws_msg-v1-jobs-id-events"


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    write_atomic(tmp_path / "summary.json", "{}\n")
    write_atomic(tmp_path / "summary.json", '{"a": 1}\n')
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    assert json.loads((tmp_path / "summary.json").read_text()) == {"a": 1}


# -- helpers for real runs ------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def locust_totals(json_file: Path) -> dict[str, tuple[int, int]]:
    """(num_requests, num_failures) per "METHOD name" from Locust's own --json-file."""
    return {f"{e['method']} {e['name']}": (e["num_requests"], e["num_failures"])
            for e in json.loads(json_file.read_text())}


def summary_totals(summary: dict) -> dict[str, tuple[int, int]]:
    return {f"{e['method']} {e['name']}": (e["count"], e["failures"])
            for e in summary["endpoints"]}


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
    assert {e["endpoint"] for e in index["endpoints"].values()} == \
        {f"{e['method']} {e['name']}" for e in summary["endpoints"]}
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


# -- real runs ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_local_run_leaves_a_complete_run_dir_matching_locust(tmp_path):
    key = "q1-run-store-key-that-must-not-leak"
    run_dir = tmp_path / "run"
    run = run_locust("-u", "2", "-r", "2", "-t", "8s", "StressUser", "--run-dir", str(run_dir),
                     "--json-file", str(tmp_path / "locust"),
                     "--target-flags", f"--api-key {key}", tmp_path=tmp_path / "csv",
                     env={"QUANTLOAD_API_KEY": key})
    assert run.returncode == 0, run.stderr[-2000:]
    meta, rows, events, summary = check_run_dir(run_dir)

    assert summary["complete"] is True and summary["incomplete_reasons"] == []
    # ~one row per second of -t 8s; the upper bounds only catch a run that never ended
    assert 7 <= len(rows) <= 14, len(rows)
    assert 7.5 <= summary["duration_s"] <= 12 and summary["users_max"] == 2
    # Exactly Locust's own totals (its --json-file is final; the CSV can lag a request or so)
    locust = locust_totals(tmp_path / "locust.json")
    assert summary_totals(summary) == locust
    assert summary["total"]["count"] == sum(c for c, _ in locust.values()) > 0
    csv_total = int(run.total["Request Count"])
    assert 0 <= summary["total"]["count"] - csv_total <= summary["total"]["rps"]
    assert sum(r["total"]["count"] for r in rows) == summary["total"]["count"]
    assert all(r["users"] == 2 and set(r["generators"]) == {"local"} for r in rows[1:-1])

    assert meta["mode"] == "local" and meta["user_classes"] == ["StressUser"]
    assert meta["users"] == 2 and meta["locust_version"] and meta["embedded_target"] is True
    assert events[-1]["reason"] == "run_time" and events[-1]["complete"] is True
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert key not in path.read_text(errors="replace"), path


def start_master_and_workers(locustfile: str, env: dict, tmp_path: Path, run_dir: Path,
                             run_time: str, users: int = 4, extra: Sequence[str] = (),
                             ) -> tuple[subprocess.Popen, list[subprocess.Popen]]:
    """A headless master expecting 2 workers on a free loopback port, and the 2 workers;
    ``extra``: more master arguments (e.g. user class names)."""
    port = free_port()
    base = [sys.executable, "-m", "locust", "-f", locustfile]
    master = subprocess.Popen(
        [*base, "--headless", "--master", "--master-bind-host", "127.0.0.1",
         "--master-bind-port", str(port), "--expect-workers", "2", "--expect-workers-max-wait",
         "30", "-u", str(users), "-r", str(users), "-t", run_time, "--only-summary",
         "--run-dir", str(run_dir), "--json-file", str(tmp_path / "locust"),
         "--exit-code-on-error", "0", *extra],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers = [subprocess.Popen(
        [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2)]
    return master, workers


@pytest.mark.slow
def test_distributed_run_merges_workers_exactly(tmp_path):
    locustfile, samples, env = synthetic(tmp_path)
    run_dir = tmp_path / "run"
    master, workers = start_master_and_workers(locustfile, env, tmp_path, run_dir, "6s")
    try:
        _, err = master.communicate(timeout=90)
        for worker in workers:
            worker.wait(timeout=30)
    finally:
        stop_all([master, *workers])
    assert master.returncode == 0, err[-3000:]
    meta, rows, events, summary = check_run_dir(run_dir)

    assert meta["mode"] == "master" and len(meta["workers"]) == 2
    worker_ids = {w["id"] for w in meta["workers"]}
    assert all(w["first_seen"] and w["last_seen"] >= w["first_seen"] for w in meta["workers"])
    assert summary["complete"] is True, summary["incomplete_reasons"]
    assert summary_totals(summary) == locust_totals(tmp_path / "locust.json")
    assert events[-1]["late_slots"] == 0, err[-3000:]
    assert sum(r["total"]["count"] for r in rows) == summary["total"]["count"]
    assert all(set(r["generators"]) == {*worker_ids, "master"} for r in rows[1:-2])

    # Merged percentiles = the percentiles of every raw sample, to HDR precision (exactly
    # the HDR bucket of the sample at HDR's rank), for each endpoint and failures counted.
    raw = raw_samples(samples)
    endpoints = {f"{e['method']} {e['name']}": e for e in summary["endpoints"]}
    assert set(endpoints) == set(raw) == {"SYN /alpha", "SYN /beta"}
    for key, values in raw.items():
        stats = endpoints[key]
        assert stats["count"] == len(values) > 500
        assert stats["failures"] == sum(failed for _, failed in values)
        micros = sorted(to_us(ms) for ms, _ in values)
        bucket = new_histogram()
        for p_name, p in SUMMARY_PERCENTILES.items():
            rank = max(1, int(p * len(micros) / 100 + 0.5))
            expected = bucket.get_highest_equivalent_value(micros[rank - 1])
            assert stats[p_name] == round(expected / 1000, 3), (key, p_name)
            assert stats[p_name] == pytest.approx(micros[rank - 1] / 1000, rel=1e-3)
        assert stats["max_ms"] == round(bucket.get_highest_equivalent_value(micros[-1]) / 1000,
                                        3)
        assert stats["avg_ms"] == pytest.approx(sum(ms for ms, _ in values) / len(values),
                                                abs=1e-3)


@pytest.mark.slow
def test_a_lost_worker_does_not_stall_the_store(tmp_path):
    """SIGKILL one of two workers: rows go on, it is reported lost, totals stay Locust's."""
    locustfile, _, env = synthetic(tmp_path)
    run_dir = tmp_path / "run"
    master, workers = start_master_and_workers(locustfile, env, tmp_path, run_dir, "12s")
    try:
        wait_for_lines(run_dir / "timeseries.jsonl", 2, master)
        workers[1].send_signal(signal.SIGKILL)
        _, err = master.communicate(timeout=90)
        workers[0].wait(timeout=30)
    finally:
        stop_all([master, *workers])
    assert master.returncode == 0, err[-3000:]
    meta, rows, events, summary = check_run_dir(run_dir)
    lost = [e for e in events if e["kind"] == "worker_lost"]
    assert len(lost) == 1 and lost[0]["state"] == "missing", events
    assert [w["lost"] for w in meta["workers"]].count(True) == 1
    assert len(rows) >= 11 and rows[-2]["total"]["count"] > 0      # the rows went on
    assert summary["complete"] is True, summary["incomplete_reasons"]
    assert summary_totals(summary) == locust_totals(tmp_path / "locust.json")


@pytest.mark.slow
def test_sigkill_leaves_only_whole_lines(tmp_path):
    locustfile, _, env = synthetic(tmp_path)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", locustfile, "--headless", "-u", "2", "-r", "2",
         "-t", "30s", "--only-summary", "--run-dir", str(run_dir)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_lines(run_dir / "timeseries.jsonl", 3, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        stop_all([proc])
    text = (run_dir / "timeseries.jsonl").read_text()
    assert text.endswith("\n")
    rows = [json.loads(line) for line in text.splitlines()]
    assert len(rows) >= 3 and all(r["total"]["count"] > 0 for r in rows[:2])
    assert json.loads((run_dir / "meta.json").read_text())["stopped_at"] is None
    read_jsonl(run_dir / "events.jsonl")
    assert not (run_dir / "summary.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_writes_an_incomplete_summary(tmp_path, sig):
    locustfile, _, env = synthetic(tmp_path)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", locustfile, "--headless", "-u", "2", "-r", "2",
         "-t", "30s", "--only-summary", "--run-dir", str(run_dir),
         "--json-file", str(tmp_path / "locust")],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_lines(run_dir / "timeseries.jsonl", 2, proc)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        stop_all([proc])
    assert proc.returncode == 130, err[-2000:]  # interrupted: never a green exit
    meta, rows, events, summary = check_run_dir(run_dir)
    assert summary["complete"] is False and summary["incomplete_reasons"] == ["interrupted"]
    assert events[-1]["reason"] == "interrupted"
    assert summary_totals(summary) == locust_totals(tmp_path / "locust.json"), err[-2000:]
    assert summary["total"]["count"] > 0 and summary["duration_s"] < 20
    report = (run_dir / "report.html").read_text()
    assert "Incomplete run." in report and "interrupted" in report


def web_ui_ready(url: str, workers: int) -> bool:
    try:
        report = requests.get(f"{url}/stats/requests", timeout=2).json()
    except (requests.RequestException, ValueError):
        return False
    return len(report.get("workers", [])) >= workers


@pytest.mark.slow
@pytest.mark.parametrize("distributed", [False, True], ids=["local", "distributed"])
def test_web_ui_runs_each_get_a_complete_run_dir(tmp_path, distributed):
    """Start and stop twice in one Locust process (the web UI), then Ctrl-C it."""
    locustfile, _, env = synthetic(tmp_path)
    web, port = free_port(), free_port()
    run_dir = tmp_path / "run"
    base = [sys.executable, "-m", "locust", "-f", locustfile]
    cmd = [*base, "--web-host", "127.0.0.1", "--web-port", str(web), "--run-dir", str(run_dir)]
    if distributed:
        cmd += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)]
    if distributed:
        procs += [subprocess.Popen(
            [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(2)]
    url = f"http://127.0.0.1:{web}"
    try:
        deadline = time.monotonic() + 60
        while not web_ui_ready(url, workers=2 if distributed else 0):
            assert time.monotonic() < deadline and procs[0].poll() is None, "no web UI"
            time.sleep(0.2)
        for _ in range(2):
            started = requests.post(f"{url}/swarm", timeout=10,
                                    data={"user_count": 4, "spawn_rate": 4})
            assert started.json()["success"], started.text
            time.sleep(3)
            assert requests.post(f"{url}/stop", timeout=30).ok
            time.sleep(0.5)
        procs[0].send_signal(signal.SIGINT)
        _, err = procs[0].communicate(timeout=60)
    finally:
        stop_all(procs)
    for path in (run_dir, Path(f"{run_dir}-2")):
        meta, rows, events, summary = check_run_dir(path)
        assert summary["complete"] is True, (path, summary["incomplete_reasons"], err[-2000:])
        assert events[-1]["reason"] == "stopped" and events[-1]["late_slots"] == 0
        assert summary["total"]["count"] == sum(r["total"]["count"] for r in rows) > 0
        # 3 s between /swarm and /stop; on a busy machine the stop itself may take seconds
        assert 2.5 <= summary["duration_s"] <= 10 and len(meta["workers"]) == 2 * distributed
    assert not Path(f"{run_dir}-3").exists()
