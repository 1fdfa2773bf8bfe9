"""``PlannedShape``: the Locust side of a :class:`~scenarios.plans.LoadPlan`.

A concrete shape only says how to build its plan from its parameters
(``build_plan``); this base turns the plan into Locust ticks:

* parameters are class attributes, overridden by the option of the same
  meaning when given (``self.param``), read when the test starts, so the web
  UI's restart and ``--config`` profiles both work;
* ``-t/--run-time`` ends every shape (Locust itself does not stop a shape at
  ``-t`` in headless runs), which is why ``use_common_options`` is on; ``-u``
  and ``-r`` are not read: the shape's own options say the load;
* in the open model (``unit = "req/s"``) the stage's arrival rate is set live
  with :func:`users.arrival_rate_user.set_arrival_rate` and the user count is
  the number of connection holders (``connections``);
* ``progress()`` gives the current stage, offered load, elapsed and remaining
  time for the console progress line.

Shape modules are loaded as extra locustfiles (``-f locustfile.py,scenarios/ramp.py``);
Locust runs the first concrete shape class it finds, so a shape module never
imports another concrete shape, and this base is abstract.
"""

from __future__ import annotations

import logging
import math
from typing import Any, ClassVar

from locust import LoadTestShape
from locust.runners import MasterRunner

from scenarios.options import option_value
from scenarios.plans import DEFAULT_SPAWN_RATE, UNIT_RPS, UNIT_USERS, LoadPlan
from users.arrival_rate_user import ArrivalRateUser, set_arrival_rate

logger = logging.getLogger("quantload.scenarios")

CONNECTION_SPAWN_RATE = 100.0
"""Users/s at which an open-model shape starts its connection holders."""


def arrival_user_classes(environment: Any) -> list[type]:
    """The ``ArrivalRateUser`` classes (or subclasses) this run will spawn."""
    return [cls for cls in (environment.user_classes or [])
            if isinstance(cls, type) and issubclass(cls, ArrivalRateUser)]


def connection_users(environment: Any, per_process: int | None = None) -> int:
    """Users needed to carry an open-model load: enough connections for the in-flight
    cap in every process (``ceil(cap / concurrency)``), times the number of workers."""
    runner = environment.runner
    workers = max(1, runner.worker_count) if isinstance(runner, MasterRunner) else 1
    if per_process is None:
        classes = arrival_user_classes(environment) or [ArrivalRateUser]
        cls = classes[0]
        options = environment.parsed_options
        cap = int(option_value(options, "max_in_flight", cls.max_in_flight))
        per_process = max(1, math.ceil(cap / max(1, int(cls.concurrency))))
    return per_process * workers


class PlannedShape(LoadTestShape):
    """Base of the plan-driven shapes; subclasses implement :meth:`build_plan`."""

    abstract: ClassVar[bool] = True
    use_common_options: ClassVar[bool] = True  # -t is honoured (see the module docstring)

    unit: str = UNIT_USERS
    """``"users"`` (closed model) or ``"req/s"`` (open model, ``ArrivalRateUser``);
    ``--shape-unit users|rps`` overrides."""

    spawn_rate: float = DEFAULT_SPAWN_RATE
    """Users/s to reach a hold's level when the plan jumps to it (closed model)."""

    connections: int | None = None
    """Open model: connection-holding users per process (None: enough for the in-flight cap)."""

    def __init__(self) -> None:
        super().__init__()
        self._plan: LoadPlan | None = None
        self._last_rate: float | None = None
        self._last_stage: str | None = None

    # -- what subclasses provide -------------------------------------------------------------

    def build_plan(self) -> LoadPlan:
        """The plan for this run, from ``self.param(...)`` values and ``self.plan_kwargs()``."""
        raise NotImplementedError

    # -- helpers for build_plan --------------------------------------------------------------

    @property
    def environment(self) -> Any:
        return self.runner.environment if self.runner is not None else None

    @property
    def options(self) -> Any:
        env = self.environment
        return env.parsed_options if env is not None else None

    def param(self, attribute: str, option: str) -> Any:
        """The option ``option`` when given, else the class attribute ``attribute``."""
        return option_value(self.options, option, getattr(self, attribute))

    def run_time_s(self) -> float | None:
        """``-t`` in seconds, or None when not given."""
        value = option_value(self.options, "run_time", None)
        return float(value) if value else None

    def load_unit(self) -> str:
        return self.param("unit", "shape_unit")

    def plan_kwargs(self) -> dict[str, Any]:
        """``unit``, ``connections``, ``spawn_rate`` and ``run_time_s`` for ``LoadPlan``."""
        unit = self.load_unit()
        rps = unit == UNIT_RPS
        env = self.environment
        return {
            "unit": unit,
            "connections": connection_users(env, self.connections) if rps and env else 1,
            "spawn_rate": CONNECTION_SPAWN_RATE if rps else self.spawn_rate,
            "run_time_s": self.run_time_s(),
        }

    # -- Locust's interface ------------------------------------------------------------------

    @property
    def plan(self) -> LoadPlan:
        if self._plan is None:
            self._plan = self.build_plan()
            self._check_population()
        return self._plan

    def reset_time(self) -> None:
        """(Re)start: the plan is rebuilt from the options of this start."""
        super().reset_time()
        self._plan = None
        self._last_rate = None
        self._last_stage = None

    def tick(self) -> tuple[int, float] | None:
        stage = self.plan.stage_at(self.get_run_time())
        if stage is None:
            logger.info("%s: plan complete", type(self).__name__)
            return None
        if stage.name != self._last_stage:
            self._last_stage = stage.name
            left = "until stopped" if math.isinf(stage.remaining_s) else \
                f"for {stage.remaining_s:.0f} s"
            logger.info("%s: stage %r at %g %s %s", type(self).__name__, stage.name,
                        round(stage.offered, 3), stage.unit, left)
        if stage.arrival_rate is not None and stage.arrival_rate != self._last_rate:
            set_arrival_rate(self.environment, stage.arrival_rate)
            self._last_rate = stage.arrival_rate
        return stage.users, stage.spawn_rate

    def progress(self, elapsed_s: float | None = None) -> dict:
        """Stage name, offered load (and unit), elapsed and remaining seconds (None: unbounded)."""
        elapsed = self.get_run_time() if elapsed_s is None else elapsed_s
        return {"shape": type(self).__name__, **self.plan.progress(elapsed)}

    def _check_population(self) -> None:
        env = self.environment
        if env is None:
            return
        name = type(self).__name__
        if self.load_unit() == UNIT_RPS and not arrival_user_classes(env):
            logger.warning("%s counts load in req/s but no ArrivalRateUser runs: the rate is "
                           "not sent (name ArrivalRateUser, or set scenario-users)", name)
        if self.options is not None and (getattr(self.options, "num_users", None) or 1) > 1:
            logger.warning("%s does not read -u/--users; its own options set the load", name)
