"""The Locust side of the shapes: parameters read from options, plans turned into ticks.

:class:`ParameterizedShape` is what every shape shares:

* parameters are documented class attributes, each overridden for the run by
  its option when given (``option_for`` maps one to the other; :meth:`param`),
  read when the test starts, so the web UI's restart and ``--config`` profiles
  both work;
* ``-t/--run-time`` ends every shape (Locust itself does not stop a shape at
  ``-t`` in headless runs), which is why ``use_common_options`` is on; ``-u``
  and ``-r`` are not read: the shape's own options say the load;
* in the open model the arrival rate is set live with
  :func:`users.arrival_rate_user.set_arrival_rate` (:meth:`offer_rate`), and the
  user count is the number of connection holders (:func:`connection_users`).

:class:`PlannedShape` adds the plan-driven shapes' part, the
:class:`~scenarios.plans.LoadPlan` played back tick by tick: a concrete shape
only says which options set its parameters and how its plan is built from them
(``build_plan``); ``progress()`` gives the current stage, offered load, elapsed
and remaining time for the console progress line.

Shape modules are loaded as extra locustfiles (``-f locustfile.py,scenarios/ramp.py``);
Locust runs the first concrete shape class it finds, so a shape module never
imports another concrete shape, and these bases are abstract.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from locust import LoadTestShape
from locust.runners import MasterRunner

from scenarios.options import option_value
from scenarios.plans import DEFAULT_SPAWN_RATE, UNIT_RPS, UNIT_USERS, LoadPlan
from users.arrival_rate_user import ArrivalRateUser, set_arrival_rate
from users.settings import settings_of

logger = logging.getLogger("quantload.scenarios")

CONNECTION_SPAWN_RATE = 100.0
"""Users/s at which an open-model shape starts its connection holders."""

UNIT_OPTION = "shape_unit"
"""The option (``--shape-unit``) that overrides a planned shape's ``unit``."""


def arrival_user_classes(environment: Any) -> list[type[ArrivalRateUser]]:
    """The ``ArrivalRateUser`` classes (or subclasses) this run will spawn."""
    return [
        cls
        for cls in (environment.user_classes or [])
        if isinstance(cls, type) and issubclass(cls, ArrivalRateUser)
    ]


def connection_users(environment: Any, per_process: int | None = None) -> int:
    """Users needed to carry an open-model load: enough connections for the in-flight
    cap in every process (``ceil(cap / concurrency)``), times the number of workers."""
    runner = environment.runner
    workers = max(1, runner.worker_count) if isinstance(runner, MasterRunner) else 1
    if per_process is None:
        classes = arrival_user_classes(environment) or [ArrivalRateUser]
        cls = classes[0]
        cap = settings_of(environment).max_in_flight or cls.max_in_flight
        per_process = max(1, math.ceil(cap / max(1, int(cls.concurrency))))
    return per_process * workers


class ParameterizedShape(LoadTestShape):
    """A shape whose parameters are class attributes, overridden by their options when given."""

    abstract: ClassVar[bool] = True
    use_common_options: ClassVar[bool] = True  # -t is honoured (see the module docstring)

    option_for: ClassVar[Mapping[str, str]] = {}
    """Parameter (class attribute) -> dest of the option that overrides it; a parameter not
    listed is set by its class attribute alone."""

    def __init__(self) -> None:
        super().__init__()
        self._last_rate: float | None = None

    @property
    def environment(self) -> Any:
        """The run's Locust environment (None until Locust gives the shape a runner)."""
        return self.runner.environment if self.runner is not None else None

    @property
    def options(self) -> Any:
        """The run's parsed options (None without an environment)."""
        env = self.environment
        return env.parsed_options if env is not None else None

    def findings(self) -> dict[str, Any] | None:
        """What the shape found about the service, for ``summary.json`` (the breakpoint
        search's result); None: nothing (every shape but the search)."""
        return None

    def param(self, name: str) -> Any:
        """The parameter ``name``: its option (``option_for[name]``) when given, else the
        class attribute ``name``."""
        option = self.option_for.get(name)
        default = getattr(self, name)
        return default if option is None else option_value(self.options, option, default)

    def parameters(self) -> dict[str, Any]:
        """Every parameter that has an option, by name (see :meth:`param`)."""
        return {name: self.param(name) for name in self.option_for}

    def run_time_s(self) -> float | None:
        """``-t`` in seconds, or None when not given."""
        return settings_of(self.options).run_time or None

    def offer_rate(self, rate: float) -> None:
        """Open model: make the arrival schedulers follow ``rate`` (total req/s), unless it
        is the rate this shape offered last."""
        if rate != self._last_rate:
            set_arrival_rate(self.environment, rate)
            self._last_rate = rate

    def reset_time(self) -> None:
        """(Re)start: nothing offered yet in this start."""
        super().reset_time()
        self._last_rate = None


class PlannedShape(ParameterizedShape):
    """Base of the plan-driven shapes; subclasses set ``option_for`` and :meth:`build_plan`."""

    abstract: ClassVar[bool] = True

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
        self._last_stage: str | None = None

    def build_plan(self) -> LoadPlan:
        """The plan for this run, from :meth:`parameters` and :meth:`plan_kwargs`."""
        raise NotImplementedError

    def load_unit(self) -> str:
        """The unit of this run's load: ``--shape-unit`` when given, else ``unit``."""
        return str(option_value(self.options, UNIT_OPTION, self.unit))

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
        """This start's plan, built on first use."""
        if self._plan is None:
            self._plan = self.build_plan()
            self._check_population()
            if math.isinf(self._plan.end_s):
                logger.info("%s: no -t given, it runs until stopped", type(self).__name__)
        return self._plan

    def reset_time(self) -> None:
        """(Re)start: the plan is rebuilt from the options of this start."""
        super().reset_time()
        self._plan = None
        self._last_stage = None

    def tick(self) -> tuple[int, float] | None:
        """Locust's tick: the stage's users and spawn rate (its arrival rate offered in the
        open model); None once the plan is over."""
        stage = self.plan.stage_at(self.get_run_time())
        if stage is None:
            logger.info("%s: plan complete", type(self).__name__)
            return None
        if stage.name != self._last_stage:
            self._last_stage = stage.name
            left = (
                "until stopped"
                if math.isinf(stage.remaining_s)
                else f"for {stage.remaining_s:.0f} s"
            )
            logger.info(
                "%s: stage %r at %g %s %s",
                type(self).__name__,
                stage.name,
                round(stage.offered, 3),
                stage.unit,
                left,
            )
        if stage.arrival_rate is not None:
            self.offer_rate(stage.arrival_rate)
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
            logger.warning(
                "%s counts load in req/s but no ArrivalRateUser runs: the rate is "
                "not sent (name ArrivalRateUser, or set scenario-users)",
                name,
            )
        if (settings_of(self.options).num_users or 1) > 1:
            logger.warning("%s does not read -u/--users; its own options set the load", name)
