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

    option_for = {
        "base": "spike_base",
        "peak": "spike_peak",
        "base_s": "spike_base_s",
        "spike_s": "spike_s",
        "recovery_s": "spike_recovery_s",
    }

    base: float = 10
    """The load before and after the spike (users, or req/s with ``--shape-unit rps``)."""
    peak: float = 100
    """The load during the spike."""
    base_s: float = 60.0
    """Seconds at ``base`` before the spike."""
    spike_s: float = 30.0
    """Seconds at ``peak``."""
    recovery_s: float = 90.0
    """Seconds at ``base`` after the spike."""

    surge_s: float = 2.0
    """Seconds from baseline to peak (closed model: the spawn rate follows); no option."""

    def build_plan(self) -> LoadPlan:
        return spike_plan(**self.parameters(), surge_s=self.surge_s, **self.plan_kwargs())
