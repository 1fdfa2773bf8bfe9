"""The job-capacity profile, short, against a reference target of known job capacity.

``--workers 2 --job-step-ms 50``: a Monte-Carlo job is 10 steps of 50 ms, so the pipeline
finishes 4 jobs/s (steps of 50 ms, not less: a busy machine's late wake-ups lengthen each
step by a few ms, which would be the truth's error, not the measurement's). Jobs arrive at
2 then 6.5 jobs/s (3.5 s each, rows of 0.5 s), then 3 s of drain: the
run must find the capacity within 20 % (the full check, within 10 % at two settings, is
``bench/job_capacity_accuracy.py`` in ``make calibrate``), see the queue stable at 2.5 and
growing at 8 jobs/s, time the drain, measure WebSocket delivery per step, and say so in
``summary.json``, the report and the console. This run also stands for the profile in
``test_profiles.py`` (which runs every other profile for 5 s: too short for this one).
"""

from __future__ import annotations

import json

import pytest

from tests.locust_runs import run_locust

WORKERS, STEP_MS = 2, 50
TRUTH = WORKERS / (10 * STEP_MS / 1000)
"""Jobs/s: ``target/job_worker.py``'s 10 progress steps of at least ``--job-step-ms``."""
LIMIT = 0.20
STEPS = (2.0, 6.5)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    done = run_locust(
        "--config",
        "config/job-capacity.conf",
        "--target-flags",
        f"--workers {WORKERS} --job-step-ms {STEP_MS}",
        "--steps",
        ",".join(map(str, STEPS)),
        "--step-s",
        "3.5",
        "--drain-s",
        "3",
        "--interval",
        "0.5",  # rows of 0.5 s: a 3.5 s step has enough queue readings to judge
        "--history-db",
        "none",
        tmp_path=tmp_path_factory.mktemp("job-capacity"),
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_the_profile_finds_the_job_capacity_and_the_drain(run):
    summary = json.loads((run.run_dir / "summary.json").read_text())
    jobs = summary["job_capacity"]
    steps = jobs["steps"]
    assert [s["offered_jobs_per_s"] for s in steps] == list(STEPS), steps
    assert [s["growing"] for s in steps] == [False, True], steps
    assert jobs["found"] and jobs["capacity_jobs_per_s"] == pytest.approx(TRUTH, rel=LIMIT), jobs
    assert jobs["sustained_jobs_per_s"] == pytest.approx(STEPS[0], rel=0.2)
    growth = jobs["backlog_growth_jobs_per_s"]
    assert growth == pytest.approx(STEPS[1] - TRUTH, rel=0.4), jobs
    drain = jobs["drain"]
    assert drain["drained"] and drain["backlog_jobs"] > 0, drain
    assert drain["drain_s"] <= drain["backlog_jobs"] / TRUTH + 1.5, drain  # one row's slack
    assert all(s["ws_p95_ms"] is not None for s in steps), steps
    assert not summary.get("stage_errors"), summary.get("stage_errors")


@pytest.mark.slow
def test_the_report_and_the_console_say_it(run):
    page = (run.run_dir / "report.html").read_text()
    assert 'id="job-capacity"' in page and "Job pipeline capacity" in page
    verdict = run.stdout + run.stderr
    assert "  jobs        " in verdict and " jobs/s, queue grew from 6.5 jobs/s" in verdict
