"""One real distributed run, read by several tests.

``locust -f locustfile.py --headless --master --expect-workers 2`` on a free loopback port
plus two ``--worker`` processes, running ``BacktestUser JobUser WebSocketUser`` with no
``--host``, so the master starts the embedded reference target. Locust's own final stats
(``--json-file``, merged from the workers' reports) are the truth the run directory is
checked against; the target's process tree is recorded while the run goes and checked gone
after it, before the fixture's cleanup could kill it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import psutil
import pytest

from rundir.layout import PSEUDO_REQUEST_TYPES, is_request
from tests.locust_runs import LOCUSTFILE, started_targets
from tests.plugin.test_faults import GONE_WITHIN_S, embedded_target_tree, kill_left, scratch_dir
from tests.processes import wait_gone
from tests.run_checks import (
    check_run_dir,
    locust_totals,
    start_master_and_workers,
    stop_all,
    summary_totals,
    wait_for_lines,
)

USER_CLASSES = ["BacktestUser", "JobUser", "WebSocketUser"]
USERS = 10  # weights 8:1:1, so exactly one JobUser and one WebSocketUser
PSEUDO_ROWS = {
    "JOB end_to_end",
    "JOB processing",
    "QUEUE depth",
    "QUEUE running",
    "WS_MSG /v1/jobs/{id}/events",
    "WS_RATE messages_per_s",
}
"""Measurements that are not requests, recorded by the workers' JobUser / WebSocketUser."""


@dataclass
class DistributedRun:
    returncode: int
    stderr: str
    meta: dict
    rows: list[dict]
    events: list[dict]
    summary: dict
    locust: dict[str, tuple[int, int]]
    target_pid: int
    tree: list[tuple[int, list[str]]]
    left_behind: list[tuple[int, list[str]]]
    scratch_left: bool


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> DistributedRun:
    tmp = tmp_path_factory.mktemp("distributed")
    run_dir = tmp / "run"
    # Short jobs (10 steps of 20 ms), so JOB and WS_* rows have many entries in a short run.
    master, workers = start_master_and_workers(
        LOCUSTFILE,
        dict(os.environ),
        tmp,
        run_dir,
        "9s",
        users=USERS,
        extra=["--target-flags=--job-step-ms 20", *USER_CLASSES],
    )
    tree: list[psutil.Process] = []
    scratch = None
    try:
        wait_for_lines(run_dir / "timeseries.jsonl", 1, master)
        tree = embedded_target_tree(master.pid)
        scratch = scratch_dir(tree)
        described = {p.pid: p.cmdline() for p in tree}
        _, err = master.communicate(timeout=120)
        for worker in workers:
            worker.wait(timeout=30)
        # Before any cleanup: whatever the master started must be gone by itself.
        alive = wait_gone(tree, timeout=GONE_WITHIN_S)
        left = [(p.pid, described[p.pid]) for p in alive]
    finally:
        kill_left(tree)
        stop_all([master, *workers])
        scratch_left = scratch is not None and scratch.exists()
        if scratch_left:
            shutil.rmtree(scratch, ignore_errors=True)
    assert master.returncode == 0, err[-3000:]
    meta, rows, events, summary = check_run_dir(run_dir)
    return DistributedRun(
        master.returncode,
        err,
        meta,
        rows,
        events,
        summary,
        locust_totals(tmp / "locust.json"),
        tree[0].pid,
        list(described.items()),
        left,
        scratch_left,
    )


@pytest.mark.slow
def test_every_row_has_the_count_the_workers_recorded(run):
    assert run.summary["complete"] is True, run.summary["incomplete_reasons"]
    requests = {k: v for k, v in summary_totals(run.summary).items() if is_request(k)}
    assert requests == run.locust  # (count, failures) per endpoint row
    assert run.summary["total"]["count"] == sum(c for c, _ in run.locust.values()) > 0
    assert sum(r["total"]["count"] for r in run.rows) == run.summary["total"]["count"]
    assert run.events[-1]["late_slots"] == 0, run.stderr[-3000:]


@pytest.mark.slow
def test_job_queue_and_websocket_measurements_are_rows_but_not_locust_requests(run):
    """The workers' measurements reach the run directory by the suite's own channel, by
    name, and never Locust's stats (its --json-file); the WebSocket handshake is a request."""
    totals = {
        f"{e['method']} {e['name']}": (e["count"], e["failures"]) for e in run.summary["endpoints"]
    }
    assert PSEUDO_ROWS <= set(totals), sorted(totals)
    assert all(totals[key][0] > 0 for key in PSEUDO_ROWS)
    assert not {k for k in run.locust if k.split()[0] in PSEUDO_REQUEST_TYPES}, sorted(run.locust)
    assert run.locust["WS_CONNECT /v1/jobs/{id}/events"][0] > 0
    rows = sum(r["endpoints"].get(k, {}).get("count", 0) for r in run.rows for k in PSEUDO_ROWS)
    assert rows == sum(totals[k][0] for k in PSEUDO_ROWS)
    # total and requests: the target's requests, as Locust's aggregate
    assert run.summary["requests"] == run.summary["total"]


@pytest.mark.slow
def test_rows_carry_both_workers_generator_readings(run):
    worker_ids = {w["id"] for w in run.meta["workers"]}
    assert len(worker_ids) == 2
    assert all(set(r["generators"]) == {*worker_ids, "master"} for r in run.rows[1:-2])
    for gid in worker_ids:
        readings = [r["generators"][gid] for r in run.rows if gid in r["generators"]]
        assert len(readings) >= len(run.rows) - 3, (gid, len(readings), len(run.rows))
        assert all(g["rss_bytes"] > 10_000_000 for g in readings), readings
        assert all(g["cpu_percent"] >= 0 for g in readings)
        assert max(g["cpu_percent"] for g in readings) > 0, readings


@pytest.mark.slow
def test_the_target_was_sampled(run):
    # Every row but the last (a short slot after the master's last tick) has a reading; the
    # first may lack a CPU rate (the sampler's first read can come before a rate window).
    targets = [r["target"] for r in run.rows[:-1]]
    assert len(targets) >= 7
    assert all(t is not None and t["rss_bytes"] > 10_000_000 for t in targets), targets
    assert all(t["cpu_percent"] is not None for t in targets[1:]), targets
    assert max(t["cpu_percent"] for t in targets[1:]) > 0
    assert all(t["children"] >= 2 for t in targets)  # its job workers were in the tree


@pytest.mark.slow
def test_meta_says_master_with_two_workers(run):
    meta = run.meta
    assert meta["mode"] == "master" and meta["expect_workers"] == 2
    assert len(meta["workers"]) == 2 and not any(w["lost"] for w in meta["workers"])
    assert meta["user_classes"] == USER_CLASSES and meta["users"] == USERS
    assert meta["embedded_target"] is True and meta["host"].startswith("http://127.0.0.1:")


@pytest.mark.slow
def test_no_target_or_job_worker_is_left(run):
    assert started_targets(run.stderr) == [run.target_pid]
    assert any("forkserver" in " ".join(cmd) for _, cmd in run.tree), run.tree  # job workers
    assert run.left_behind == []
    assert not run.scratch_left  # the target's database removed too
