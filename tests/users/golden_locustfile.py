"""A locustfile for ``test_answer_checks``: StressUser on four backtests, light then loaded.

Every user asks each of the same four backtests once at start, then cycles them (so the
first user learns every golden answer while it is alone: one request in flight, never
corrupted with ``--corrupt-above`` >= 1), then ``LOADED_USERS`` users hammer them for
``LOADED_S``, then none (each stops after its request); every answer but those four is
checked. Lives beside its test, not in ``tests/`` (see docs/architecture.md).
"""

from __future__ import annotations

from locust import LoadTestShape

import plugin
from users.api import BacktestApi
from users.exchange import Prepared
from users.stress_user import StressUser

LIGHT_S = 1.5
LOADED_S = 3.5
LOADED_USERS = 5
DRAIN_S = 0.5
CATALOGUE = [
    BacktestApi.prepare_backtest(symbol, "sma_cross", start="2021-01-04", end="2023-12-29")
    for symbol in ("AAPL", "MSFT", "NVDA", "SPY")
]


class FourBacktestsUser(StressUser):
    """StressUser's mix and checks, on the four backtests of ``CATALOGUE`` in turn."""

    _drawn = 0

    def on_start(self) -> None:
        super().on_start()
        for backtest in CATALOGUE:  # a reference pass: the first user, alone, learns all four
            self.api.send(backtest)

    def _draw_backtest(self) -> Prepared:
        self._drawn += 1
        return CATALOGUE[self._drawn % len(CATALOGUE)]


class LightThenLoaded(LoadTestShape):
    """1 user for ``LIGHT_S``, then ``LOADED_USERS`` for ``LOADED_S``, then none for
    ``DRAIN_S`` (every request in flight answered and judged), then the end."""

    def tick(self):
        t = self.get_run_time()
        if t < LIGHT_S:
            return 1, 1
        if t < LIGHT_S + LOADED_S:
            return LOADED_USERS, 500  # at once: few rows end mid-spawn
        if t < LIGHT_S + LOADED_S + DRAIN_S:
            return 0, 50  # users stop after their request: Locust's quit would kill them mid-way
        return None


plugin.register(["FourBacktestsUser"])
