"""``JobCapacityShape``: the job arrival rate raised in steps, then the queue watched draining.

    locust -f locustfile.py --config config/job-capacity.conf
    locust -f locustfile.py,scenarios/job_capacity.py --steps 1,2,3,4 --step-s 30 JobArrivalUser

Answers "how many jobs/s does the pipeline sustain, how fast does the backlog grow
beyond, and how long does it take to drain?". It drives ``JobArrivalUser`` (open
model: jobs arrive at the step's rate whatever the queue does), holds each rate of
``steps`` (jobs/s) for ``step_s`` seconds, then stops submitting and keeps the users
(their job followers and queue reader) for ``drain_s`` seconds: stage ``drain``,
offered load 0. The report's ``job_capacity`` section judges the steps and the drain
(:mod:`reports.analysis.job_capacity`).

Submissions pause at :data:`PAUSED_RATE`: the arrival timetable keeps running but its
next arrival is due in about 30 years, so none is sent while the users stay.
"""

from __future__ import annotations

from typing import Any

from reports.analysis.job_capacity import DRAIN_STAGE
from scenarios.base import PlannedShape
from scenarios.plans import UNIT_RPS, LoadPlan, Segment, step_plan

__all__ = ["DRAIN_STAGE", "PAUSED_RATE", "JobCapacityShape"]

PAUSED_RATE = 1e-9
"""Jobs/s offered during the drain: positive (the timetable needs a rate), never due."""


class JobCapacityShape(PlannedShape):
    """Each of ``steps`` (jobs/s) held ``step_s`` seconds, then ``drain_s`` seconds of
    ``drain``. Options: ``--steps``, ``--step-s``, ``--drain-s``; ``-t`` cuts it short
    (the drain too)."""

    option_for = {"steps": "steps", "step_s": "step_s", "drain_s": "drain_s"}

    unit = UNIT_RPS

    steps: tuple[float, ...] = (1.0, 1.5, 2.5, 3.0)
    """The job arrival rate of each step, jobs/s, in order (around the default target's
    2 jobs/s: ``--workers 2``, 10 steps of 100 ms a job)."""

    step_s: float = 30.0
    """How long each rate is held: long enough for a backlog to rise clear of the jitter."""

    drain_s: float = 60.0
    """How long the queue is watched after the last step (bounds the run)."""

    def build_plan(self) -> LoadPlan:
        params = self.parameters()
        kwargs = {**self.plan_kwargs(), "unit": UNIT_RPS}
        steps = step_plan(params["steps"], params["step_s"], **kwargs)
        drain = Segment(DRAIN_STAGE, float(params["drain_s"]), 0.0, 0.0)
        return LoadPlan([*steps.segments, drain], **kwargs)

    def offer_rate(self, rate: float) -> None:
        """The plan's rate; :data:`PAUSED_RATE` in the drain."""
        stage = self.plan.stage_at(self.get_run_time())
        draining = stage is not None and stage.name == DRAIN_STAGE
        super().offer_rate(PAUSED_RATE if draining else rate)

    def progress(self, elapsed_s: float | None = None) -> dict[str, Any]:
        """As every planned shape's, with the drain's offered load 0 (nothing submitted)."""
        progress = super().progress(elapsed_s)
        if progress.get("stage") == DRAIN_STAGE:
            progress["offered"] = 0.0
        return progress
