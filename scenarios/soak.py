"""``SoakShape``: a warm-up, then a constant load for as long as ``-t`` says.

    locust -f locustfile.py,scenarios/soak.py --soak-load 25 -t 2h

Answers "does the service stay healthy over hours?": memory growth, latency
creep, slow leaks of connections or disk, periodic stalls. Without ``-t`` it
runs until stopped.
"""

from __future__ import annotations

from scenarios.base import PlannedShape, logger
from scenarios.plans import LoadPlan, soak_plan


class SoakShape(PlannedShape):
    """Ramp 0 -> ``load`` over ``warmup_s`` (stage ``warm-up``), then hold (stage ``soak``)
    until ``-t``. Options: ``--soak-load``, ``--soak-warmup-s``, ``--shape-unit``."""

    load: float = 25
    """Users held (or req/s with ``--shape-unit rps``)."""

    warmup_s: float = 60.0

    def build_plan(self) -> LoadPlan:
        kwargs = self.plan_kwargs()
        if kwargs["run_time_s"] is None:
            logger.info("%s: no -t given, the soak runs until stopped", type(self).__name__)
        return soak_plan(self.param("load", "soak_load"), self.param("warmup_s", "soak_warmup_s"),
                         **kwargs)
