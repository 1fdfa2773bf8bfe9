"""``SoakShape``: a warm-up, then a constant load for as long as ``-t`` says.

    locust -f locustfile.py,scenarios/soak.py --soak-load 25 -t 2h

Answers "does the service stay healthy over hours?": memory growth, latency
creep, slow leaks of connections or disk, periodic stalls. Without ``-t`` it
runs until stopped.
"""

from __future__ import annotations

from scenarios.base import PlannedShape
from scenarios.plans import LoadPlan, soak_plan


class SoakShape(PlannedShape):
    """Ramp 0 -> ``load`` over ``warmup_s`` (stage ``warm-up``), then hold (stage ``soak``)
    until ``-t``. Options: ``--soak-load``, ``--soak-warmup-s``, ``--shape-unit``."""

    option_for = {"load": "soak_load", "warmup_s": "soak_warmup_s"}

    load: float = 25
    """Users held (or req/s with ``--shape-unit rps``)."""
    warmup_s: float = 60.0
    """Seconds from 0 to ``load``."""

    def build_plan(self) -> LoadPlan:
        return soak_plan(**self.parameters(), **self.plan_kwargs())
