"""``SpikeShape``: a baseline, a sudden burst, then the baseline again.

    locust -f locustfile.py,scenarios/spike.py --spike-base 10 --spike-peak 100

Answers "what happens when load jumps all at once, and how fast does the
service recover?": compare the recovery stage with the baseline (latency back
to normal? errors gone? queue drained?).
"""

from __future__ import annotations

from scenarios.base import PlannedShape
from scenarios.plans import LoadPlan, spike_plan


class SpikeShape(PlannedShape):
    """``base`` for ``base_s``, ``peak`` for ``spike_s`` (reached within ``surge_s``),
    ``base`` for ``recovery_s``. Stages ``baseline``, ``spike``, ``recovery``.

    Options: ``--spike-base``, ``--spike-peak``, ``--spike-base-s``, ``--spike-s``,
    ``--spike-recovery-s``, ``--shape-unit``; ``-t`` cuts it short.
    """

    base: float = 10
    peak: float = 100
    base_s: float = 60.0
    spike_s: float = 30.0
    recovery_s: float = 90.0

    surge_s: float = 2.0
    """Seconds from baseline to peak (closed model: the spawn rate follows)."""

    def build_plan(self) -> LoadPlan:
        return spike_plan(self.param("base", "spike_base"), self.param("peak", "spike_peak"),
                          self.param("base_s", "spike_base_s"), self.param("spike_s", "spike_s"),
                          self.param("recovery_s", "spike_recovery_s"), surge_s=self.surge_s,
                          **self.plan_kwargs())
