"""``DatabaseUser``: concurrent saves, read-backs and queries on the result store.

Every backtest the target runs is stored, so a backtest that hits the result
cache is almost pure database work: this user repeats a small set of short
backtests (computed once, then cached) to save rows fast, reads back rows it
saved, and queries the history with filters and paging, all with little
think time. The rows are the routes: ``POST /v1/backtests`` (save),
``GET /v1/backtests/{id}`` (read back), ``GET /v1/backtests`` (query).
"""

from __future__ import annotations

from locust import between, tag, task

from users.common import (
    FALLBACK_STRATEGIES,
    UNIVERSE,
    ApiUser,
    StoredBacktests,
    browse_history,
)

#: The traffic mix at a glance: relative weight of each task.
WEIGHTS = {
    "save": 2,
    "read_back": 3,
    "query": 2,
}

#: The few backtests each user repeats: short ranges, so computing them once is cheap.
SPECS_PER_USER = 4
SAVE_START, SAVE_END = "2024-07-01", "2024-09-30"
#: Saved ids remembered for read-backs.
MAX_REMEMBERED = 200
#: Page sizes for queries; share of queries that also fetch the next page.
PAGE_LIMITS = (20, 50, 100)
NEXT_PAGE_SHARE = 0.3


class DatabaseUser(ApiUser):
    """Save, read back, query (see ``WEIGHTS``); tags ``write`` and ``read``."""

    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        super().on_start()
        self.specs = [
            (self.rng.choice(UNIVERSE), self.rng.choice(FALLBACK_STRATEGIES))
            for _ in range(SPECS_PER_USER)
        ]
        self.saved = StoredBacktests(MAX_REMEMBERED)

    @tag("write")
    @task(WEIGHTS["save"])
    def save(self) -> None:
        """Store one more result (a cached backtest: the write is most of the work)."""
        symbol, strategy = self.rng.choice(self.specs)
        self.saved.remember(self.api.run_backtest(symbol, strategy, start=SAVE_START, end=SAVE_END))

    @tag("read")
    @task(WEIGHTS["read_back"])
    def read_back(self) -> None:
        """Read back a row this user saved (or save one first)."""
        self.saved.reread(self.api, self.rng.choice, otherwise=self.save)

    @tag("read")
    @task(WEIGHTS["query"])
    def query(self) -> None:
        """Filtered history, by symbol, strategy or both; sometimes the next page too."""
        symbol, strategy = self.rng.choice(self.specs)
        by = self.rng.randrange(3)
        browse_history(
            self.api,
            self.rng,
            self.rng.choice(PAGE_LIMITS),
            NEXT_PAGE_SHARE,
            strategy=strategy if by != 0 else None,
            symbol=symbol if by != 1 else None,
        )
