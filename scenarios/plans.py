"""Load plans: what a shape offers at each moment, as pure data (no Locust, no clock).

A :class:`LoadPlan` is a list of :class:`Segment` s, each a stretch of time
over which the load goes linearly from ``start`` to ``end`` (equal for a
hold). ``stage_at(elapsed_s)`` answers, for any elapsed time, the
:class:`Stage` to run, or None once the plan (or the run time) is over. The
shapes in ``scenarios/`` are thin wrappers: their ``tick()`` is
``stage_at(runtime)`` handed to Locust.

The load is counted in one of two units:

* ``users`` (closed model): the level is a user count. A stage asks Locust for
  the segment's END level at the segment's slope (so Locust itself ramps),
  and ``offered`` is the level the plan intends at that instant.
* ``req/s`` (open model): the level is ``ArrivalRateUser``'s total arrival
  rate; ``users`` is the fixed number of connection-holding users, and
  ``arrival_rate`` the rate to set now (interpolated along ramps).

The builders (:func:`ramp_plan`, :func:`step_plan`, :func:`spike_plan`,
:func:`soak_plan`) name the stages the console progress line shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_SPAWN_RATE",
    "LoadPlan",
    "MIN_ARRIVAL_RATE",
    "Segment",
    "Stage",
    "UNIT_RPS",
    "UNIT_USERS",
    "ramp_plan",
    "soak_plan",
    "spike_plan",
    "step_plan",
]

UNIT_USERS = "users"
UNIT_RPS = "req/s"
UNITS = (UNIT_USERS, UNIT_RPS)

DEFAULT_SPAWN_RATE = 10.0
"""Users/s to reach a hold's level when the plan jumps to it (closed model)."""

MIN_ARRIVAL_RATE = 0.01
"""An open-model rate never goes below this (the scheduler needs a positive rate)."""


@dataclass(frozen=True)
class Segment:
    """``duration_s`` seconds (``math.inf``: until the run time) of load going linearly
    from ``start`` to ``end``; ``spawn_rate`` (users/s) overrides how fast a hold's
    level is reached (default: the plan's)."""

    name: str
    duration_s: float
    start: float
    end: float
    spawn_rate: float | None = None

    def __post_init__(self) -> None:
        if not self.duration_s > 0:
            raise ValueError(f"segment {self.name!r}: duration must be > 0, got {self.duration_s}")
        if self.start < 0 or self.end < 0:
            raise ValueError(f"segment {self.name!r}: load levels must be >= 0")
        if math.isinf(self.duration_s) and self.start != self.end:
            raise ValueError(f"segment {self.name!r}: an open-ended segment must be a hold")

    def level_at(self, into_s: float) -> float:
        """The intended load ``into_s`` seconds into the segment."""
        if self.start == self.end:
            return self.start
        return self.start + (self.end - self.start) * min(1.0, into_s / self.duration_s)


@dataclass(frozen=True)
class Stage:
    """What to run now.

    ``users``/``spawn_rate``: what the shape hands Locust. ``arrival_rate``:
    the open-model total rate to set now (None in the closed model).
    ``offered``: the load the plan intends at this instant, in ``unit``.
    ``remaining_s``: seconds left in this stage (``math.inf`` if open-ended).
    """

    name: str
    users: int
    spawn_rate: float
    arrival_rate: float | None
    offered: float
    unit: str
    remaining_s: float


class LoadPlan:
    """Segments played back to back; see the module docstring.

    ``connections``: users holding the open model's connections (ignored for
    ``users``). ``run_time_s``: the run's time limit (``-t``); the plan ends
    there even mid-segment. The plan ends at the earlier of the two ends.
    """

    def __init__(
        self,
        segments: Sequence[Segment],
        unit: str = UNIT_USERS,
        connections: int = 1,
        spawn_rate: float = DEFAULT_SPAWN_RATE,
        run_time_s: float | None = None,
    ) -> None:
        if not segments:
            raise ValueError("a plan needs at least one segment")
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
        if any(math.isinf(s.duration_s) for s in segments[:-1]):
            raise ValueError("only the last segment may be open-ended")
        if connections < 1 or spawn_rate <= 0:
            raise ValueError("connections must be >= 1 and spawn_rate > 0")
        if run_time_s is not None and run_time_s <= 0:
            raise ValueError(f"run_time_s must be > 0, got {run_time_s}")
        self.segments = tuple(segments)
        self.unit = unit
        self.connections = connections
        self.spawn_rate = spawn_rate
        self.run_time_s = run_time_s
        self.starts: list[float] = []
        t = 0.0
        for seg in self.segments:
            self.starts.append(t)
            t += seg.duration_s
        self.end_s = t if run_time_s is None else min(t, run_time_s)
        """When the plan is over: ``math.inf`` for an open-ended plan without a run time."""

    def stage_at(self, elapsed_s: float) -> Stage | None:
        """The stage at ``elapsed_s`` seconds into the run, or None once the plan is over."""
        if elapsed_s >= self.end_s:
            return None
        index = self._segment_index(elapsed_s)
        seg, seg_start = self.segments[index], self.starts[index]
        into = max(0.0, elapsed_s - seg_start)
        level = seg.level_at(into)
        remaining = min(seg_start + seg.duration_s, self.end_s) - elapsed_s
        if self.unit == UNIT_RPS:
            rate = max(MIN_ARRIVAL_RATE, level)
            return Stage(
                seg.name, self.connections, self.spawn_rate, rate, rate, self.unit, remaining
            )
        if seg.start == seg.end:
            spawn_rate = seg.spawn_rate or self.spawn_rate
        else:  # Locust ramps to the end level at the segment's slope
            spawn_rate = abs(seg.end - seg.start) / seg.duration_s
        return Stage(seg.name, round(seg.end), spawn_rate, None, level, self.unit, remaining)

    def remaining_s(self, elapsed_s: float) -> float:
        """Seconds until the plan is over (``math.inf`` when it runs until stopped)."""
        return max(0.0, self.end_s - elapsed_s)

    def progress(self, elapsed_s: float) -> dict:
        """The console progress line's data: stage name, offered load, elapsed and remaining
        time (``None`` where unbounded); ``stage`` is None once the plan is over."""
        stage = self.stage_at(elapsed_s)
        total_left = self.remaining_s(elapsed_s)
        return {
            "stage": stage.name if stage else None,
            "offered": stage.offered if stage else 0.0,
            "unit": self.unit,
            "elapsed_s": elapsed_s,
            "stage_remaining_s": _finite(stage.remaining_s) if stage else 0.0,
            "remaining_s": _finite(total_left),
        }

    def _segment_index(self, elapsed_s: float) -> int:
        for index in range(len(self.segments) - 1, -1, -1):
            if elapsed_s >= self.starts[index]:
                return index
        return 0


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value


def ramp_plan(
    peak: float, ramp_up_s: float, hold_s: float, ramp_down_s: float, **plan_kwargs: Any
) -> LoadPlan:
    """Up from 0 to ``peak`` over ``ramp_up_s``, hold ``hold_s``, down to 0 over
    ``ramp_down_s``. Stages ``ramp-up``, ``hold``, ``ramp-down``; a zero-length
    phase is left out."""
    segments = [Segment("ramp-up", ramp_up_s, 0, peak)] if ramp_up_s > 0 else []
    segments.append(Segment("hold", hold_s, peak, peak))
    if ramp_down_s > 0:
        segments.append(Segment("ramp-down", ramp_down_s, peak, 0))
    return LoadPlan(segments, **plan_kwargs)


def step_plan(steps: Sequence[float], step_s: float, **plan_kwargs: Any) -> LoadPlan:
    """Each load of ``steps`` held ``step_s`` seconds, in order. Stages ``step 1/4 (5 users)``..."""
    if not steps:
        raise ValueError("a step plan needs at least one level")
    unit = plan_kwargs.get("unit", UNIT_USERS)
    return LoadPlan(
        [
            Segment(f"step {i}/{len(steps)} ({_fmt(level)} {unit})", step_s, level, level)
            for i, level in enumerate(steps, 1)
        ],
        **plan_kwargs,
    )


def spike_plan(
    base: float,
    peak: float,
    base_s: float,
    spike_s: float,
    recovery_s: float,
    surge_s: float = 1.0,
    **plan_kwargs: Any,
) -> LoadPlan:
    """``base`` for ``base_s``, then ``peak`` for ``spike_s`` (reached within
    ``surge_s``: a sudden burst), then ``base`` again for ``recovery_s`` (how
    the service recovers). Stages ``baseline``, ``spike``, ``recovery``."""
    surge = abs(peak - base) / surge_s if surge_s > 0 else None
    return LoadPlan(
        [
            Segment("baseline", base_s, base, base),
            Segment("spike", spike_s, peak, peak, spawn_rate=surge),
            Segment("recovery", recovery_s, base, base, spawn_rate=surge),
        ],
        **plan_kwargs,
    )


def soak_plan(
    load: float, warmup_s: float, run_time_s: float | None = None, **plan_kwargs: Any
) -> LoadPlan:
    """Ramp from 0 to ``load`` over ``warmup_s`` (stage ``warm-up``), then hold it
    (stage ``soak``) until ``run_time_s`` (``-t``), or until stopped without one."""
    segments = [Segment("warm-up", warmup_s, 0, load)] if warmup_s > 0 else []
    segments.append(Segment("soak", math.inf, load, load))
    return LoadPlan(segments, run_time_s=run_time_s, **plan_kwargs)


def _fmt(value: float) -> str:
    return f"{value:g}"
