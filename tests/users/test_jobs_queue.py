"""JobUser's job timings and queue readings against what the target really did.

Two real runs through locustfile.py, side by side, each against its own target:
- ``timed``: ``--job-step-ms 20``; the suite's ``JOB processing`` row is checked against the
  floor the target's step count puts under every job, and against the jobs' own
  ``finished_at - started_at`` as the target stored them;
- ``backlog``: ``--workers 1`` with slow jobs, and a backlog this test creates over HTTP
  before the run; the suite's ``QUEUE depth`` row must have seen it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import psutil
import pytest
import requests

from plugin.embedded_target import EmbeddedTarget
from target.job_worker import MONTE_CARLO_STEPS
from tests.locust_runs import run_locust
from tests.processes import wait_gone

STEP_MS = 20.0
SLOW_STEP_MS = 2000.0
"""Backlog target: a Monte-Carlo job lasts 10 x 2 s, far longer than a locust start."""
BACKLOG_JOBS = 20
FINAL = ("succeeded", "failed", "cancelled")
MC_JOB = {
    "kind": "monte_carlo",
    "symbol": "MSFT",
    "strategy": "rsi",
    "start": "2020-01-01",
    "end": "2022-12-31",
    "num_runs": 2000,
}


def hdr_rank_value(values: list[float], percentile: float) -> float:
    """The value at HdrHistogram's rank ``max(1, round(p/100 * n))`` (the suite's definition)."""
    ordered = sorted(values)
    return ordered[max(1, int(percentile / 100 * len(ordered) + 0.5)) - 1]


def job_steps(kind: str, request: dict) -> int:
    """Progress steps the target's worker runs for a job (target/job_worker.py): each step
    lasts at least --job-step-ms."""
    return MONTE_CARLO_STEPS if kind == "monte_carlo" else len(request["symbols"])


def stored_jobs(db, deadline_s: float = 30) -> list[dict]:
    """Every job in the target's database, once none is queued or running any more."""
    deadline = time.monotonic() + deadline_s
    while True:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            conn.row_factory = sqlite3.Row
            jobs = [
                dict(r)
                for r in conn.execute(
                    "SELECT kind, status, request, started_at, finished_at FROM jobs"
                )
            ]
        if all(j["status"] in FINAL for j in jobs) or time.monotonic() > deadline:
            return jobs
        time.sleep(0.1)


def endpoint(run, method: str, name: str) -> dict:
    summary = json.loads((run.run_dir / "summary.json").read_text())
    return next(e for e in summary["endpoints"] if e["method"] == method and e["name"] == name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jobs-queue")
    with ExitStack() as stack, requests.Session() as http:
        timed = stack.enter_context(
            EmbeddedTarget("--job-step-ms", str(STEP_MS), db=tmp / "timed.db")
        )
        backlog = stack.enter_context(
            EmbeddedTarget(
                "--workers", "1", "--job-step-ms", str(SLOW_STEP_MS), db=tmp / "backlog.db"
            )
        )
        workers = [c for t in (timed, backlog) for c in psutil.Process(t.pid).children(True)]

        created = []
        for _ in range(BACKLOG_JOBS):
            resp = http.post(f"{backlog.url}/v1/jobs", json=MC_JOB, timeout=10)
            assert resp.status_code == 202, resp.text
            created.append(resp.json()["id"])
        queue = http.get(f"{backlog.url}/v1/queue", timeout=10).json()

        with ThreadPoolExecutor(2) as pool:
            # --stop-timeout: at -t the users finish the batch they track, so every job the
            # target ran is one the suite timed
            timed_run = pool.submit(
                run_locust,
                "-u",
                "2",
                "-r",
                "2",
                "-t",
                "8s",
                "--stop-timeout",
                "60",
                "--host",
                timed.url,
                "JobUser",
                tmp_path=tmp / "timed",
                timeout=150,
            )
            backlog_run = pool.submit(
                run_locust,
                "-u",
                "1",
                "-r",
                "1",
                "-t",
                "5s",
                "--host",
                backlog.url,
                "JobUser",
                tmp_path=tmp / "backlog",
                timeout=150,
            )
            result = {
                "timed": timed_run.result(),
                "backlog": backlog_run.result(),
                "queue_before": queue,
            }
        result["timed_jobs"] = stored_jobs(timed.db)

        for job_id in created:  # drain what this test queued
            resp = http.delete(f"{backlog.url}/v1/jobs/{job_id}", timeout=10)
            assert resp.status_code == 409 or resp.json()["status"] == "cancelled", resp.text
        yield result
    alive = wait_gone(workers, timeout=10)
    assert not alive, f"targets left job workers behind: {alive}"


@pytest.mark.timing
def test_job_processing_is_at_least_the_target_steps(runs):
    run = runs["timed"]
    assert run.returncode == 0, run.stderr[-2000:]
    processing = endpoint(run, "JOB", "processing")
    jobs = [j for j in runs["timed_jobs"] if j["status"] == "succeeded"]
    assert jobs and len(jobs) == len(runs["timed_jobs"]), runs["timed_jobs"]
    assert processing["failures"] == 0
    assert processing["count"] == len(jobs), "the suite timed every job the target ran"

    # each job lasts at least steps x step: the same order statistic of the floors bounds p50
    floors = [job_steps(j["kind"], json.loads(j["request"])) * STEP_MS for j in jobs]
    assert processing["p50_ms"] >= hdr_rank_value(floors, 50) >= 5 * STEP_MS, (
        processing,
        sorted(floors),
    )
    assert processing["max_ms"] >= MONTE_CARLO_STEPS * STEP_MS or all(
        j["kind"] != "monte_carlo" for j in jobs
    )
    # and it is the worker time the target stored, to HDR's 3 significant digits
    stored = [(j["finished_at"] - j["started_at"]) * 1000 for j in jobs]
    assert processing["p50_ms"] == pytest.approx(hdr_rank_value(stored, 50), rel=2e-3)
    assert processing["max_ms"] == pytest.approx(max(stored), rel=2e-3)


@pytest.mark.timing
def test_queue_depth_sees_the_backlog(runs):
    run, before = runs["backlog"], runs["queue_before"]
    assert run.returncode == 0, run.stderr[-2000:]
    assert before["running"] == 1 and before["depth"] == BACKLOG_JOBS - 1, before
    depth = endpoint(run, "QUEUE", "depth")
    assert depth["count"] > 0
    assert depth["max_ms"] >= before["depth"], (depth, before)  # the row holds job counts
