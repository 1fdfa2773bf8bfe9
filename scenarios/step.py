"""``StepShape``: the load raised in steps, each held long enough to measure.

    locust -f locustfile.py,scenarios/step.py --steps 5,10,20,40 --step-s 60 StressUser
    locust -f locustfile.py,scenarios/step.py --shape-unit rps --steps 20,40,80 ArrivalRateUser

Answers "how do throughput and latency change with load?": per step, the
throughput per user (efficiency against the smallest step) and the latency
degradation. Steps count users (closed model) or, with ``--shape-unit rps``,
``ArrivalRateUser``'s total arrival rate (open model).
"""

from __future__ import annotations

from scenarios.base import PlannedShape
from scenarios.plans import LoadPlan, step_plan


class StepShape(PlannedShape):
    """Each of ``steps`` held ``step_s`` seconds. Stages ``step 1/4 (5 users)``...

    Options: ``--steps``, ``--step-s``, ``--shape-unit``; ``-t`` cuts it short.
    """

    option_for = {"steps": "steps", "step_s": "step_s"}

    steps: tuple[float, ...] = (5, 10, 20, 40)
    """The load of each step, in order (users, or req/s with ``--shape-unit rps``)."""

    step_s: float = 60.0
    """How long each step is held."""

    spawn_rate: float = 20.0
    """Users/s between steps: fast, so a step is at its level early in its hold."""

    def build_plan(self) -> LoadPlan:
        return step_plan(**self.parameters(), **self.plan_kwargs())
