"""``MemoryLeakUser``: the same cycle of requests, over and over, for leak hunting.

Every cycle sends exactly the same four requests (same symbol, strategy,
parameters and date range), so the work per request never changes and any
growth of the target's resident memory can be regressed on the request count.
"""

from __future__ import annotations

from locust import constant, tag, task

from users.common import ApiUser

#: The one cycle every user repeats, identical each time.
CYCLE_SYMBOL = "AAPL"
CYCLE_STRATEGY = "sma_cross"
CYCLE_PARAMETERS: dict[str, int] = {"fast_period": 10, "slow_period": 30}
CYCLE_START = "2022-01-01"
CYCLE_END = "2023-12-31"
CYCLE_HISTORY_LIMIT = 10
#: Requests sent by one cycle (market data, backtest, reread, history).
REQUESTS_PER_CYCLE = 4
#: Pause between cycles: small and constant, so the request rate is steady.
CYCLE_PAUSE_S = 0.1


class MemoryLeakUser(ApiUser):
    """A long-lived session repeating one identical cycle (tags ``read``, ``write``, ``leak``).

    Run it on its own (``-u 2 -t 30m``) or next to other classes with a pinned
    count: ``fixed_count`` (a Locust class attribute) spawns exactly that many
    leak users whatever ``-u`` and the weights say, e.g. in a locustfile::

        class LeakProbe(MemoryLeakUser):
            fixed_count = 1

    ``self.cycles`` counts completed cycles; requests sent are about
    ``cycles * REQUESTS_PER_CYCLE`` (the reread is skipped when the backtest failed).
    """

    wait_time = constant(CYCLE_PAUSE_S)

    def on_start(self) -> None:
        super().on_start()
        self.cycles = 0

    @tag("read", "write", "leak")
    @task
    def cycle(self) -> None:
        """One identical cycle: chart, backtest, reopen it, list the history."""
        self.api.market_data(CYCLE_SYMBOL, start=CYCLE_START, end=CYCLE_END)
        doc = self.api.run_backtest(
            CYCLE_SYMBOL,
            CYCLE_STRATEGY,
            parameters=CYCLE_PARAMETERS,
            start=CYCLE_START,
            end=CYCLE_END,
        )
        if doc:
            self.api.get_backtest(doc["id"])
        self.api.query_backtests(
            strategy=CYCLE_STRATEGY, symbol=CYCLE_SYMBOL, limit=CYCLE_HISTORY_LIMIT
        )
        self.cycles += 1
