"""``JobUser``: submits asynchronous jobs in batches and measures how long they really take.

HTTP response times say nothing about a job API's real latency, so besides the
ordinary request rows this user records measurements (``users.measurements``: the
suite's own channel, never Locust's request stats):

* ``JOB end_to_end``: submit sent → final status seen by polling (what a client waits);
* ``JOB processing``: ``finished_at - started_at`` from the job document (worker time);
* ``QUEUE depth`` / ``QUEUE running``: samples of ``GET /v1/queue``: a job COUNT,
  not milliseconds (the run directory's time columns hold it; read them as counts).

A job that ends ``failed`` or ``cancelled``, or is not final within
``JOB_TIMEOUT_S``, is recorded as a failed ``end_to_end`` measurement (reason
``job failed`` / ``job cancelled`` / ``job timed out``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import gevent
from locust import between, tag, task

from users.api import FINAL_JOB_STATUSES
from users.common import FALLBACK_STRATEGIES, UNIVERSE, ApiUser, random_date_range
from users.measurements import JOB_KIND, QUEUE_KIND, record

#: The traffic mix at a glance: relative weight of each task.
WEIGHTS = {
    "submit_and_track": 1,
}

#: Jobs submitted together, then tracked together.
BATCH_SIZE = 3
#: Share of Monte-Carlo jobs in a batch (the rest are batch backtests).
MONTE_CARLO_SHARE = 0.5
#: Size of each job.
MONTE_CARLO_RUNS = 500
SYMBOLS_PER_BATCH_JOB = 5
#: Tracking: poll interval, and how long a job may take before it counts as timed out.
POLL_INTERVAL_S = 0.25
JOB_TIMEOUT_S = 120.0
#: Minimum time between two queue-depth samples of one user.
QUEUE_SAMPLE_INTERVAL_S = 1.0
#: Kinds of this user's measurements (``users.measurements``).
JOB_REQUEST_TYPE = JOB_KIND
QUEUE_REQUEST_TYPE = QUEUE_KIND


class JobOutcomeError(Exception):
    """A job that did not succeed (failed, cancelled or timed out); the message is the reason."""


@dataclass
class TrackedJob:
    """One submitted job: its id, when the submit was sent, and its last known document."""

    job_id: str
    submitted_at: float  # time.perf_counter() just before the submit request
    doc: dict


class JobUser(ApiUser):
    """Submits ``BATCH_SIZE`` jobs, polls them to the end, reports job and queue timings.

    Tags ``job`` and ``write``. Polling is bounded by ``JOB_TIMEOUT_S`` per batch.
    """

    weight = 1  # one batch pipeline per eight analysts in the default mix
    wait_time = between(1, 3)

    def on_start(self) -> None:
        super().on_start()
        self._last_queue_sample = float("-inf")

    @tag("job", "write")
    @task(WEIGHTS["submit_and_track"])
    def submit_and_track(self) -> None:
        """Sample the queue, submit a batch of jobs, then poll until all are final or time out."""
        self.sample_queue(force=True)
        pending = [job for job in (self._submit_one() for _ in range(BATCH_SIZE)) if job]
        deadline = time.perf_counter() + JOB_TIMEOUT_S
        while pending:
            for job in list(pending):
                if job.doc["status"] in FINAL_JOB_STATUSES:
                    self._report(job, time.perf_counter())
                    pending.remove(job)
            if not pending:
                break
            if time.perf_counter() >= deadline:
                for job in pending:
                    self._fire(
                        "end_to_end",
                        (time.perf_counter() - job.submitted_at) * 1000,
                        JobOutcomeError("job timed out"),
                    )
                break
            gevent.sleep(POLL_INTERVAL_S)
            self.sample_queue()
            for job in pending:
                job.doc = self.api.get_job(job.job_id) or job.doc

    def sample_queue(self, force: bool = False) -> None:
        """Record queue depth and running jobs as ``QUEUE`` measurements (at most once a second)."""
        now = time.monotonic()
        if not force and now - self._last_queue_sample < QUEUE_SAMPLE_INTERVAL_S:
            return
        self._last_queue_sample = now
        queue = self.api.queue()
        if queue:
            self._fire("depth", queue["depth"], None, QUEUE_REQUEST_TYPE)
            self._fire("running", queue["running"], None, QUEUE_REQUEST_TYPE)

    def _submit_one(self) -> TrackedJob | None:
        strategy = self.rng.choice(FALLBACK_STRATEGIES)
        start, end = random_date_range(self.rng)
        sent = time.perf_counter()
        if self.rng.random() < MONTE_CARLO_SHARE:
            doc = self.api.submit_monte_carlo(
                self.rng.choice(UNIVERSE), strategy, start, end, num_runs=MONTE_CARLO_RUNS
            )
        else:
            doc = self.api.submit_batch(
                self.rng.sample(UNIVERSE, SYMBOLS_PER_BATCH_JOB), strategy, start, end
            )
        return TrackedJob(doc["id"], sent, doc) if doc else None

    def _report(self, job: TrackedJob, seen_final_at: float) -> None:
        status = job.doc["status"]
        error = None if status == "succeeded" else JobOutcomeError(f"job {status}")
        self._fire("end_to_end", (seen_final_at - job.submitted_at) * 1000, error)
        started, finished = job.doc.get("started_at"), job.doc.get("finished_at")
        if isinstance(started, int | float) and isinstance(finished, int | float):
            self._fire("processing", max(0.0, finished - started) * 1000, error)

    def _fire(
        self, name: str, value: float, error: Exception | None, request_type: str = JOB_REQUEST_TYPE
    ) -> None:
        record(request_type, name, value, error)
