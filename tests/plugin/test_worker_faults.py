"""Processes of a distributed run killed mid-run, for real (issue 13, "Faults to survive").

A worker killed: the master goes on, records the loss (time, worker id) and keeps what
that worker sent; the report says so. The master killed: the workers quit by themselves
(Locust: 60 s after its last heartbeat; ``--master-timeout`` shortens it), none left.
"""

from __future__ import annotations

import json
import os
import signal
import time

import psutil

from tests.locust_runs import LOCUSTFILE
from tests.run_checks import read_jsonl, start_master_and_workers, stop_all, wait_for_lines


def test_a_worker_killed_mid_run_is_recorded_and_its_data_kept(target, tmp_path):
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTLOAD_")}
    # 12 s: the master notices a dead worker by its missed heartbeats (about 3 s), and the
    # kill may come late on a busy machine; BacktestUser's think time keeps the CPU free
    master, workers = start_master_and_workers(
        LOCUSTFILE, env, tmp_path, run_dir, "12s", extra=["--host", target.url, "BacktestUser"]
    )
    try:
        wait_for_lines(run_dir / "timeseries.jsonl", 2, master)
        killed_at = time.time()
        workers[0].send_signal(signal.SIGKILL)
        _, err = master.communicate(timeout=60)
    finally:
        stop_all([master, *workers])
    assert master.returncode == 0, err[-2000:]
    events = read_jsonl(run_dir / "events.jsonl")
    lost = [e for e in events if e["kind"] == "worker_lost"]
    assert len(lost) == 1 and lost[0]["t"] >= killed_at, lost
    assert events[-1]["kind"] == "test_stop" and events[-1]["reason"] == "run_time"
    meta = json.loads((run_dir / "meta.json").read_text())
    assert len(meta["workers"]) == 2, meta["workers"]
    rows = read_jsonl(run_dir / "timeseries.jsonl")
    summary = json.loads((run_dir / "summary.json").read_text())
    early = [r for r in rows if r["t"] < killed_at - 1]
    assert any(len(r["generators"]) == 3 for r in early), early[:1]  # both workers
    assert summary["total"]["count"] == sum(r["total"]["count"] for r in rows)  # nothing lost
    report = (run_dir / "report.html").read_text()
    assert "worker_lost" in report and lost[0]["worker"] in report


MASTER_TIMEOUT_S = 3


def test_workers_quit_by_themselves_when_the_master_is_killed(target, tmp_path):
    """Locust's workers quit 60 s after the master's last heartbeat (``bench.master_loss``
    measures it); ``--master-timeout`` (here by its environment variable) shortens it."""
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTLOAD_")}
    env["QUANTLOAD_MASTER_TIMEOUT"] = str(MASTER_TIMEOUT_S)
    master, workers = start_master_and_workers(
        LOCUSTFILE, env, tmp_path, run_dir, "60s", extra=["--host", target.url, "StressUser"]
    )
    try:
        wait_for_lines(run_dir / "timeseries.jsonl", 2, master)
        master.kill()
        master.wait(10)
        killed = time.monotonic()
        for worker in workers:
            worker.wait(timeout=MASTER_TIMEOUT_S + 20)
        took = time.monotonic() - killed
    finally:
        stop_all([master, *workers])
    assert took < MASTER_TIMEOUT_S + 3, f"workers quit {took:.1f} s after the master died"
    assert not [w for w in workers if psutil.pid_exists(w.pid)], "a worker left running"
