"""``DataSizeUser``: how backtest time grows with the length of history.

Every backtest names its stats row by its history length, e.g.
``POST /v1/backtests [3y]``, so the report shows one row per size. The user
cycles through ``history_years`` in order (equal counts per size), with varied
parameters (no result-cache hits) and a light steady load, so the response
times reflect the data size, not queueing. Compare the rows' medians: a
linear engine doubles from [1y] to [2y].
"""

from __future__ import annotations

import datetime as dt
import itertools

from locust import constant, tag, task

from users.common import (
    DAYS_PER_YEAR,
    FALLBACK_STRATEGIES,
    LATEST_END,
    UNIVERSE,
    ApiUser,
    varied_parameters,
)
from users.routes import ROUTE_BACKTESTS

#: Latest a range ends before ``LATEST_END`` (ranges vary, so no two requests are the same).
MAX_END_JITTER_DAYS = 3 * DAYS_PER_YEAR


def sized_name(years: int) -> str:
    """The stats row of a backtest over ``years`` years: ``/v1/backtests [3y]``."""
    return f"{ROUTE_BACKTESTS} [{years}y]"


class DataSizeUser(ApiUser):
    """Backtests over each of ``history_years`` in turn (tag ``write``)."""

    history_years: tuple[int, ...] = (1, 2, 3, 5)
    """The history lengths compared, in years."""

    wait_time = constant(0.5)

    def on_start(self) -> None:
        super().on_start()
        self._sizes = itertools.cycle(self.history_years)

    @tag("write")
    @task
    def sized_backtest(self) -> None:
        """One backtest over the next history length of the cycle."""
        years = next(self._sizes)
        end = LATEST_END - dt.timedelta(days=self.rng.randint(0, MAX_END_JITTER_DAYS))
        start = end - dt.timedelta(days=DAYS_PER_YEAR * years)
        strategy = self.rng.choice(FALLBACK_STRATEGIES)
        self.api.run_backtest(
            self.rng.choice(UNIVERSE),
            strategy,
            parameters=varied_parameters(strategy, self.rng),
            start=start.isoformat(),
            end=end.isoformat(),
            name=sized_name(years),
        )
