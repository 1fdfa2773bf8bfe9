"""The collectors (plugin.collector and its local, worker and master roles) in real runs:
what they leave in the run directory, against Locust's own counts and the raw samples.

Real runs are subprocesses (``tests.locust_runs``), each bounded by ``-t`` and a
timeout, stopped by the test that starts it, traffic on 127.0.0.1 only. The
distributed and signal tests use the synthetic locustfile of ``tests.run_checks``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from metrics.latency import new_histogram, to_us
from tests.locust_runs import REPO, free_port, run_locust
from tests.run_checks import (
    SUMMARY_PERCENTILES,
    check_run_dir,
    locust_totals,
    raw_samples,
    read_jsonl,
    start_master_and_workers,
    stop_all,
    summary_totals,
    synthetic,
    wait_for_lines,
    web_ui_ready,
)


@pytest.mark.slow
def test_local_run_leaves_a_complete_run_dir_matching_locust(tmp_path):
    key = "q1-run-store-key-that-must-not-leak"
    run_dir = tmp_path / "run"
    run = run_locust(
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "8s",
        "StressUser",
        "--run-dir",
        str(run_dir),
        "--json-file",
        str(tmp_path / "locust"),
        "--target-flags",
        f"--api-key {key}",
        tmp_path=tmp_path / "csv",
        env={"QUANTLOAD_API_KEY": key},
    )
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
        assert stats["max_ms"] == round(bucket.get_highest_equivalent_value(micros[-1]) / 1000, 3)
        assert stats["avg_ms"] == pytest.approx(sum(ms for ms, _ in values) / len(values), abs=1e-3)


@pytest.mark.slow
def test_a_lost_worker_does_not_stall_the_store(tmp_path):
    """SIGKILL one of two workers: rows go on, it is reported lost, totals stay Locust's."""
    locustfile, samples, env = synthetic(tmp_path)
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
    assert len(rows) >= 11 and rows[-2]["total"]["count"] > 0  # the rows went on
    assert summary["complete"] is True, summary["incomplete_reasons"]
    # Every request the surviving worker made is counted, and none the killed worker made
    # after its last report could be: between the two bounds. Locust's own totals may miss
    # the survivor's last report (its master does not wait for it when a worker is
    # missing), so they are a lower bound, not the answer.
    ours = summary_totals(summary)
    locust = locust_totals(tmp_path / "locust.json")
    survivor, killed = (_sample_counts(samples, w.pid) for w in workers)
    assert set(ours) == set(locust) == set(survivor) == {"SYN /alpha", "SYN /beta"}
    for key, (count, failures) in ours.items():
        bounds = (survivor[key], locust[key], (count, failures))
        assert survivor[key][0] <= count <= survivor[key][0] + killed[key][0], (key, bounds)
        assert survivor[key][1] <= failures <= survivor[key][1] + killed[key][1], (key, bounds)
        assert locust[key][0] <= count and locust[key][1] <= failures, (key, bounds)


def _sample_counts(samples: Path, pid: int) -> dict[str, tuple[int, int]]:
    """(requests, failures) per endpoint that worker ``pid`` recorded in its sample files."""
    counts: dict[str, list[int]] = {}
    for path in samples.glob(f"{pid}-*.txt"):
        for line in path.read_text().splitlines():
            name, _ms, failed = line.split()
            entry = counts.setdefault(f"SYN {name}", [0, 0])
            entry[0] += 1
            entry[1] += failed == "1"
    return {key: (n, f) for key, (n, f) in counts.items()}


@pytest.mark.slow
def test_sigkill_leaves_only_whole_lines(tmp_path):
    locustfile, _, env = synthetic(tmp_path)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            locustfile,
            "--headless",
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "30s",
            "--only-summary",
            "--run-dir",
            str(run_dir),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            locustfile,
            "--headless",
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "30s",
            "--only-summary",
            "--run-dir",
            str(run_dir),
            "--json-file",
            str(tmp_path / "locust"),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
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
    procs = [
        subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
    ]
    if distributed:
        procs += [
            subprocess.Popen(
                [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
    url = f"http://127.0.0.1:{web}"
    try:
        deadline = time.monotonic() + 60
        while not web_ui_ready(url, workers=2 if distributed else 0):
            assert time.monotonic() < deadline and procs[0].poll() is None, "no web UI"
            time.sleep(0.2)
        for _ in range(2):
            started = requests.post(
                f"{url}/swarm", timeout=10, data={"user_count": 4, "spawn_rate": 4}
            )
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
