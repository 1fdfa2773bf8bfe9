"""``JobArrivalUser``: Monte-Carlo jobs submitted at a fixed rate (open model), each followed.

A job API answers ``202`` at once and does the work later, so whether it keeps up is
a question of arrival rate against the workers' rate, not of response time. This user
class submits jobs the way ``ArrivalRateUser`` sends requests (it is one: the same
per-process timetable, ``--arrival-rate`` as the total jobs/s, set live by a shape),
whatever the queue does:

* an arrival is ``POST /v1/jobs`` (kind ``monte_carlo``, small: its work is the
  target's progress steps, not CPU), timed from its intended start;
* every accepted job is followed over ``WS /v1/jobs/{id}/events`` in its own
  greenlet (:class:`users.job_events.JobEventStream`: ``WS_CONNECT``, ``WS_MSG``
  delivery latency, ``WS_RATE``), at most :data:`MAX_FOLLOWERS` at once per process
  (beyond it a job is submitted but not followed: the generator stays light however
  long the backlog grows);
* once a second per process the queue is read (``GET /v1/queue``) and recorded as
  ``QUEUE depth`` / ``QUEUE running`` measurements, so the depth is known against any
  target, also one that the suite cannot sample (``--target-metrics``).

The followers and the queue reader end with the process's last user (``on_stop``).
``scenarios/job_capacity.py`` drives it in steps and then pauses the submissions to
watch the queue drain.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, ClassVar

import gevent
from gevent.greenlet import Greenlet
from gevent.pool import Group

from users.api import BacktestApi
from users.arrival_rate_user import STRATEGIES, SYMBOLS, ArrivalRateUser, Route
from users.job_events import JobEventStream, StreamSettings
from users.measurements import QUEUE_KIND, record
from users.routes import ROUTE_JOBS

JOB_ROUTE = "monte_carlo_job"
"""The one route of this class: submit a Monte-Carlo job."""
MONTE_CARLO_RUNS = 50
"""Paths per job: few, so a job's time is its progress steps (``--job-step-ms``), not CPU."""
JOB_START, JOB_END = "2023-01-01", "2023-12-31"
"""One year of history: its backtest takes a few ms, well inside the first step."""
MAX_FOLLOWERS = 200
"""Jobs followed over WebSocket at once, per process."""
QUEUE_SAMPLE_S = 1.0
"""Seconds between two queue readings of a process."""
FOLLOW_SETTINGS = StreamSettings(recv_timeout_s=600.0, max_reconnects=2)
"""A queued job may wait minutes for a worker, silent: that is not a drop."""


def submit_job(api: BacktestApi, rng: random.Random) -> dict | None:
    """One arrival: a small Monte-Carlo job on a seeded symbol and strategy."""
    return api.submit_monte_carlo(
        rng.choice(SYMBOLS), rng.choice(STRATEGIES), JOB_START, JOB_END, num_runs=MONTE_CARLO_RUNS
    )


class JobArrivalUser(ArrivalRateUser):
    """A connection holder of the job arrival timetable (see the module docstring).

    Options as ``ArrivalRateUser`` (``--arrival-rate`` is jobs/s here); ``api_key`` is sent
    on the WebSocket handshakes too.
    """

    routes: ClassVar[Mapping[str, Route]] = {JOB_ROUTE: (ROUTE_JOBS, submit_job)}
    route_mix = {JOB_ROUTE: 1.0}
    arrival_rate = 1.0
    """Total jobs/s across all users and workers when ``--arrival-rate`` is absent."""
    validation = "full"
    """The queue readings need the whole body; jobs arrive a few a second, not thousands."""

    _followers: ClassVar[Group | None] = None
    _queue_reader: ClassVar[Greenlet | None] = None

    def on_start(self) -> None:
        super().on_start()
        if JobArrivalUser._followers is None:
            JobArrivalUser._followers = Group()
        if JobArrivalUser._queue_reader is None:
            JobArrivalUser._queue_reader = gevent.spawn(self._read_queue)

    def on_stop(self) -> None:
        super().on_stop()
        if ArrivalRateUser._scheduler is None:  # the process's last user: end what it started
            followers, JobArrivalUser._followers = JobArrivalUser._followers, None
            reader, JobArrivalUser._queue_reader = JobArrivalUser._queue_reader, None
            if reader is not None:
                reader.kill(block=False)
            if followers is not None:
                followers.kill(block=True, timeout=FOLLOW_SETTINGS.close_timeout_s)

    def send_arrival(self, call: Any, seed: int, intended: float) -> Any:
        """Submit (``ArrivalRateUser.send_arrival``), then follow the job in its own greenlet
        while fewer than :data:`MAX_FOLLOWERS` are followed."""
        job = super().send_arrival(call, seed, intended)
        followers = JobArrivalUser._followers
        if isinstance(job, dict) and followers is not None and len(followers) < MAX_FOLLOWERS:
            followers.spawn(self._follow, str(job["id"]), seed)
        return job

    def _follow(self, job_id: str, seed: int) -> None:
        assert self.host is not None, "FastHttpUser refuses to start without a host"
        url = self.api.job_events_url(self.host, job_id)
        stream = JobEventStream(
            self.environment, url, self.api.headers, random.Random(seed), FOLLOW_SETTINGS
        )
        try:
            stream.follow()
        finally:
            stream.close()

    def _read_queue(self) -> None:
        """Record the queue's depth and running jobs every :data:`QUEUE_SAMPLE_S`."""
        while True:
            queue = self.api.queue()
            if queue:
                record(QUEUE_KIND, "depth", queue["depth"])
                record(QUEUE_KIND, "running", queue["running"])
            gevent.sleep(QUEUE_SAMPLE_S)
