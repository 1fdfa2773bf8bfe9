"""``HighVolumeUser``: many symbols and long histories, to load the data path.

Where ``BacktestUser`` keeps a 5-symbol watchlist and 1-3 year ranges, this
user draws from a universe of ``symbol_count`` tickers (100+) and ranges of
``min_years``..``max_years`` (multi-year), so the target's market-data cache
cannot hold everything and every request moves a lot of data. Change the
volume per profile without code, e.g. in a ``.conf``::

    config-users = {"user_class_name": "HighVolumeUser", "symbol_count": 300, "max_years": 20}
"""

from __future__ import annotations

from locust import between, tag, task

from users.common import FALLBACK_STRATEGIES, UNIVERSE, ApiUser, random_date_range

#: The traffic mix at a glance: relative weight of each task.
WEIGHTS = {
    "run_backtest": 3,
    "fetch_market_data": 2,
    "query_history": 1,
}

#: Prefix of the generated tickers beyond the shared ``UNIVERSE`` (valid tickers for the API).
GENERATED_TICKER_PREFIX = "HV"
#: Largest history page the API serves.
HISTORY_PAGE_LIMIT = 200


def symbol_universe(count: int) -> tuple[str, ...]:
    """``count`` distinct tickers: the shared universe first, then ``HV0001``, ``HV0002``..."""
    extra = max(0, count - len(UNIVERSE))
    generated = tuple(f"{GENERATED_TICKER_PREFIX}{i:04d}" for i in range(1, extra + 1))
    return (UNIVERSE + generated)[:count]


class HighVolumeUser(ApiUser):
    """Backtests and market data over many symbols and long ranges (see ``WEIGHTS``).

    Tags ``write`` (backtests) and ``read`` (market data, history pages of 200).
    """

    symbol_count: int = 120
    """Tickers drawn from (the first 24 are the shared universe, the rest generated)."""

    min_years: int = 5
    max_years: int = 15
    """Range of each request, in years (the reference target allows up to 20)."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        super().on_start()
        if not 0 < self.min_years <= self.max_years:
            raise ValueError(
                f"need 0 < min_years <= max_years, got {self.min_years}, {self.max_years}"
            )
        self.symbols = symbol_universe(self.symbol_count)

    @tag("write")
    @task(WEIGHTS["run_backtest"])
    def run_backtest(self) -> None:
        """A default-parameter backtest of a random symbol over a long range."""
        start, end = random_date_range(self.rng, self.min_years, self.max_years)
        self.api.run_backtest(
            self.rng.choice(self.symbols),
            self.rng.choice(FALLBACK_STRATEGIES),
            start=start,
            end=end,
        )

    @tag("read")
    @task(WEIGHTS["fetch_market_data"])
    def fetch_market_data(self) -> None:
        """Years of daily bars for a random symbol."""
        start, end = random_date_range(self.rng, self.min_years, self.max_years)
        self.api.market_data(self.rng.choice(self.symbols), start=start, end=end)

    @tag("read")
    @task(WEIGHTS["query_history"])
    def query_history(self) -> None:
        """The largest page of stored backtests for one symbol."""
        self.api.query_backtests(symbol=self.rng.choice(self.symbols), limit=HISTORY_PAGE_LIMIT)
