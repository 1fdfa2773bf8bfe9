"""``BacktestUser``: an analyst's session, the suite's "realistic" traffic mix.

An analyst keeps a small watchlist, looks at charts, runs backtests (half the
time with the strategy's defaults, otherwise with settings of their own),
reopens results they produced, browses their history, and now and then
launches a Monte-Carlo job and watches it finish.
"""

from __future__ import annotations

import time

import gevent
from locust import between, tag, task

from users.api import FINAL_JOB_STATUSES
from users.common import (
    FALLBACK_STRATEGIES,
    UNIVERSE,
    ApiUser,
    StoredBacktests,
    browse_history,
    random_date_range,
    varied_parameters,
)

#: The traffic mix at a glance: relative weight of each task.
WEIGHTS = {
    "view_market_data": 6,
    "run_backtest": 4,
    "reopen_backtest": 3,
    "browse_strategies": 2,
    "query_history": 2,
    "run_monte_carlo": 1,
}

#: Symbols on one analyst's watchlist.
WATCHLIST_SIZE = 5
#: Share of backtests run with the strategy's default parameters (the rest are varied).
DEFAULT_PARAMETERS_SHARE = 0.5
#: Backtest ids an analyst remembers (and may reopen).
MAX_REMEMBERED_BACKTESTS = 50
#: History page sizes an analyst picks from, and how often they open the next page.
HISTORY_PAGE_SIZES = (10, 20, 50)
NEXT_PAGE_SHARE = 0.3
#: Share of history queries filtered by strategy / by a watchlist symbol.
FILTER_SHARE = 0.5
#: Monte-Carlo job size, and how the analyst watches it: poll interval and give-up bound.
MONTE_CARLO_RUNS = 200
JOB_POLL_INTERVAL_S = 1.0
JOB_MAX_POLLS = 60


class BacktestUser(ApiUser):
    """A research analyst: reads often, writes sometimes, runs a job rarely (see ``WEIGHTS``).

    Tags: ``read`` (catalogue, market data, reopen, history), ``write``
    (backtests, Monte-Carlo submissions), ``job`` (Monte-Carlo submit + polls).
    All choices come from ``self.rng``, so ``--seed`` repeats a run.
    """

    weight = 8  # analysts are most of a realistic population
    wait_time = between(1, 3)

    def on_start(self) -> None:
        super().on_start()
        self.watchlist = self.rng.sample(UNIVERSE, WATCHLIST_SIZE)
        self.strategy_names: list[str] = list(FALLBACK_STRATEGIES)
        self.stored = StoredBacktests(MAX_REMEMBERED_BACKTESTS)
        self.browse_strategies()

    @tag("read")
    @task(WEIGHTS["browse_strategies"])
    def browse_strategies(self) -> None:
        """Open the strategy catalogue; what it lists is what later backtests choose from."""
        catalogue = self.api.strategies()
        names = [s["name"] for s in catalogue["strategies"]] if catalogue else []
        if names:
            self.strategy_names = names

    @tag("read")
    @task(WEIGHTS["view_market_data"])
    def view_market_data(self) -> None:
        """Chart a watchlist symbol over 1-3 years."""
        start, end = random_date_range(self.rng)
        self.api.market_data(self.rng.choice(self.watchlist), start=start, end=end)

    @tag("write")
    @task(WEIGHTS["run_backtest"])
    def run_backtest(self) -> None:
        """Backtest a watchlist symbol with a catalogue strategy over 1-3 years."""
        strategy = self.rng.choice(self.strategy_names)
        parameters = (
            None
            if self.rng.random() < DEFAULT_PARAMETERS_SHARE
            else varied_parameters(strategy, self.rng)
        )
        start, end = random_date_range(self.rng)
        self.stored.remember(
            self.api.run_backtest(
                self.rng.choice(self.watchlist),
                strategy,
                parameters=parameters,
                start=start,
                end=end,
            )
        )

    @tag("read")
    @task(WEIGHTS["reopen_backtest"])
    def reopen_backtest(self) -> None:
        """Reopen one of this analyst's own backtests (browse history if none yet)."""
        self.stored.reread(self.api, self.rng.choice, otherwise=self.query_history)

    @tag("read")
    @task(WEIGHTS["query_history"])
    def query_history(self) -> None:
        """List past backtests, sometimes filtered, sometimes paging on once."""
        strategy = (
            self.rng.choice(self.strategy_names) if self.rng.random() < FILTER_SHARE else None
        )
        symbol = self.rng.choice(self.watchlist) if self.rng.random() < FILTER_SHARE else None
        browse_history(
            self.api,
            self.rng,
            self.rng.choice(HISTORY_PAGE_SIZES),
            NEXT_PAGE_SHARE,
            strategy=strategy,
            symbol=symbol,
        )

    @tag("job", "write")
    @task(WEIGHTS["run_monte_carlo"])
    def run_monte_carlo(self) -> None:
        """Submit a Monte-Carlo job and watch it until final (``JOB_MAX_POLLS`` polls at most)."""
        strategy = self.rng.choice(self.strategy_names)
        start, end = random_date_range(self.rng)
        job = self.api.submit_monte_carlo(
            self.rng.choice(self.watchlist), strategy, start, end, num_runs=MONTE_CARLO_RUNS
        )
        if not job:
            return
        deadline = time.monotonic() + JOB_POLL_INTERVAL_S * JOB_MAX_POLLS
        for _ in range(JOB_MAX_POLLS):
            if job["status"] in FINAL_JOB_STATUSES or time.monotonic() > deadline:
                break
            gevent.sleep(JOB_POLL_INTERVAL_S)
            job = self.api.get_job(job["id"]) or job
        if job["status"] == "succeeded":
            self.api.job_result(job["id"])
