"""``RampShape``: up, hold, down (a classic load test at a target level).

    locust -f locustfile.py,scenarios/ramp.py --ramp-peak 50 --ramp-hold-s 300

Answers "does the service hold this load, and does it come back down
cleanly?": the ramp-up shows where latency starts to move, the hold gives
steady-state numbers, the ramp-down shows the service recovering.
"""

from __future__ import annotations

from scenarios.base import PlannedShape
from scenarios.plans import LoadPlan, ramp_plan


class RampShape(PlannedShape):
    """0 -> ``peak`` over ``ramp_up_s``, hold ``hold_s``, -> 0 over ``ramp_down_s``.

    Stages ``ramp-up``, ``hold``, ``ramp-down``. Options: ``--ramp-peak``,
    ``--ramp-up-s``, ``--ramp-hold-s``, ``--ramp-down-s``, ``--shape-unit``;
    ``-t`` cuts it short.
    """

    option_for = {
        "peak": "ramp_peak",
        "ramp_up_s": "ramp_up_s",
        "hold_s": "ramp_hold_s",
        "ramp_down_s": "ramp_down_s",
    }

    peak: float = 20
    """Users at the hold (or req/s with ``--shape-unit rps``)."""
    ramp_up_s: float = 30.0
    """Seconds from 0 to ``peak``."""
    hold_s: float = 120.0
    """Seconds at ``peak``."""
    ramp_down_s: float = 15.0
    """Seconds from ``peak`` back to 0."""

    def build_plan(self) -> LoadPlan:
        return ramp_plan(**self.parameters(), **self.plan_kwargs())
