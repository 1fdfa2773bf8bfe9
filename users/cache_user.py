"""``CacheUser``: how much the target's result cache saves.

Each cycle draws ``backtests_per_cycle`` backtests never run before, runs them
(rows ``POST /v1/backtests [cold]``), runs exactly the same ones again
(``[warm]``: a cache hit, if the service caches), then runs them with
changed parameters (``[changed]``: must miss, or the cache key is wrong).
``[warm]`` against ``[cold]`` is the saving; ``[changed]`` should cost what
``[cold]`` costs.

So that ``[cold]`` is really cold on a long-lived target too, the draws mix
the run's start time into this user's seeded stream: unlike the other users,
``--seed`` does not repeat this user's exact requests.
"""

from __future__ import annotations

import random
import time
from typing import Any, NamedTuple

from locust import constant, tag, task

from users.common import (
    FALLBACK_STRATEGIES,
    UNIVERSE,
    ApiUser,
    random_date_range,
    varied_parameters,
)
from users.routes import ROUTE_BACKTESTS

COLD, WARM, CHANGED = "cold", "warm", "changed"
#: Attempts at drawing parameters different from the original before giving up.
MAX_REDRAWS = 20


def cache_name(kind: str) -> str:
    """The stats row of one kind of request: ``/v1/backtests [cold]``."""
    return f"{ROUTE_BACKTESTS} [{kind}]"


class BacktestSpec(NamedTuple):
    """One backtest request's arguments, so the same one can be run cold, warm and changed."""

    symbol: str
    strategy: str
    parameters: dict[str, Any] | None
    start: str
    end: str


class CacheUser(ApiUser):
    """Cold, warm and changed-parameter runs of the same backtests (tag ``write``)."""

    backtests_per_cycle: int = 3
    wait_time = constant(0.5)

    def on_start(self) -> None:
        super().on_start()
        self.draws = random.Random(f"{self.rng.random()}:{time.time_ns()}")

    @tag("write")
    @task
    def cycle(self) -> None:
        """Cold, then warm, then changed: one row each."""
        specs = [self._draw() for _ in range(self.backtests_per_cycle)]
        for spec in specs:
            self._run(spec, COLD)
        for spec in specs:
            self._run(spec, WARM)
        for spec in specs:
            self._run(spec._replace(parameters=self._changed(spec)), CHANGED)

    def _run(self, spec: BacktestSpec, kind: str) -> None:
        self.api.run_backtest(
            spec.symbol,
            spec.strategy,
            parameters=spec.parameters,
            start=spec.start,
            end=spec.end,
            name=cache_name(kind),
        )

    def _draw(self) -> BacktestSpec:
        strategy = self.draws.choice(FALLBACK_STRATEGIES)
        start, end = random_date_range(self.draws)
        return BacktestSpec(
            self.draws.choice(UNIVERSE),
            strategy,
            varied_parameters(strategy, self.draws),
            start,
            end,
        )

    def _changed(self, spec: BacktestSpec) -> dict[str, Any] | None:
        for _ in range(MAX_REDRAWS):
            parameters = varied_parameters(spec.strategy, self.draws)
            if parameters != spec.parameters:
                return parameters
        return None
