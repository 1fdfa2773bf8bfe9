"""``StressUser``: no think time, only the expensive routes; finds where the target saturates.

Each user fires back to back, mostly backtests with fresh parameters and
ranges (cache misses: the target has to compute), plus market-data slices and
rereads of what it created. Use it for capacity and breaking-point runs, not
for realistic mixes (that is ``BacktestUser``).
"""

from __future__ import annotations

from collections.abc import Sequence

from locust import constant, tag, task

from users.api import BacktestApi
from users.common import (
    FALLBACK_STRATEGIES,
    UNIVERSE,
    ApiUser,
    StoredBacktests,
    random_date_range,
    varied_parameters,
)
from users.exchange import Prepared

#: The traffic mix at a glance: relative weight of each task.
WEIGHTS = {
    "run_backtest": 3,
    "fetch_market_data": 2,
    "reread_backtest": 1,
}

#: Share of backtests with default parameters (these can hit the target's cache).
DEFAULT_PARAMETERS_SHARE = 0.1
#: Backtest window, in years, for the hammering (longer = more work per request).
MIN_YEARS, MAX_YEARS = 2, 5
#: Requests each user prepares at start and cycles through: drawn from its seeded RNG, so
#: 50 users make 3,200 distinct backtests (mostly cache misses) at no per-request cost.
POOL_SIZE = 64
#: Backtests kept for rereads.
MAX_REMEMBERED_BACKTESTS = 20


class StressUser(ApiUser):
    """Back-to-back expensive requests (see ``WEIGHTS``); tags ``write`` and ``read``.

    Nothing is computed per request: each user prepares ``POOL_SIZE`` backtests
    and market-data requests at start and cycles through them, and checks
    responses lightly (``validation = "light"``), so the generator's own cost
    stays within a few percent of a bare ``FastHttpUser``
    (``python -m bench.generator_overhead``).
    """

    wait_time = constant(0)
    validation = "light"

    def on_start(self) -> None:
        super().on_start()
        self.backtests = [self._draw_backtest() for _ in range(POOL_SIZE)]
        self.market = [self._draw_market_data() for _ in range(POOL_SIZE)]
        self.stored = StoredBacktests(MAX_REMEMBERED_BACKTESTS)
        self._tick = 0

    def _draw_backtest(self) -> Prepared:
        strategy = self.rng.choice(FALLBACK_STRATEGIES)
        parameters = (
            None
            if self.rng.random() < DEFAULT_PARAMETERS_SHARE
            else varied_parameters(strategy, self.rng)
        )
        start, end = random_date_range(self.rng, MIN_YEARS, MAX_YEARS)
        return BacktestApi.prepare_backtest(
            self.rng.choice(UNIVERSE), strategy, parameters=parameters, start=start, end=end
        )

    def _draw_market_data(self) -> Prepared:
        start, end = random_date_range(self.rng, MIN_YEARS, MAX_YEARS)
        return BacktestApi.prepare_market_data(self.rng.choice(UNIVERSE), start=start, end=end)

    def _next(self) -> int:
        """The next index into the prepared pools (cycling)."""
        self._tick = (self._tick + 1) % POOL_SIZE
        return self._tick

    def _in_turn(self, ids: Sequence[str]) -> str:
        """A stored id picked by the pool index, not the RNG (nothing drawn per request)."""
        return ids[self._tick % len(ids)]

    @tag("write")
    @task(WEIGHTS["run_backtest"])
    def run_backtest(self) -> None:
        """A backtest over 2-5 years with mostly varied parameters (mostly cache misses)."""
        self.stored.remember(self.api.send(self.backtests[self._next()]))

    @tag("read")
    @task(WEIGHTS["fetch_market_data"])
    def fetch_market_data(self) -> None:
        """A 2-5 year slice of daily bars for a symbol of the universe."""
        self.api.send(self.market[self._next()])

    @tag("read")
    @task(WEIGHTS["reread_backtest"])
    def reread_backtest(self) -> None:
        """Reread a stored backtest (a full document with its equity curve), or run one first."""
        self.stored.reread(self.api, self._in_turn, otherwise=self.run_backtest)
