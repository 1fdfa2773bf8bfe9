"""Shared pieces of the user classes: ``ApiUser``, per-user seeded RNGs, watchlists, dates,
and the two tasks several users share: rereading a backtest they stored
(:class:`StoredBacktests`) and paging through the history (:func:`browse_history`).

Users read their options with ``getattr`` defaults (:func:`option`) because a
class may run under a locustfile that does not define ``--api-key`` or
``--seed``; the defaults then give an unauthenticated, seed-0, repeatable run.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from locust import FastHttpUser

from users.answer_check import process_checks
from users.api import BacktestApi
from users.measurements import record
from users.settings import settings_of

#: Symbols users draw their watchlists from (the reference target accepts any ticker).
UNIVERSE: tuple[str, ...] = (
    "AAPL",
    "MSFT",
    "GOOG",
    "AMZN",
    "NVDA",
    "META",
    "TSLA",
    "JPM",
    "V",
    "XOM",
    "JNJ",
    "PG",
    "KO",
    "PEP",
    "WMT",
    "DIS",
    "NFLX",
    "INTC",
    "AMD",
    "BRK.B",
    "SPY",
    "QQQ",
    "IWM",
    "GLD",
)
#: Strategies of the reference target, used until (or if never) ``/v1/strategies`` answers.
FALLBACK_STRATEGIES: tuple[str, ...] = ("sma_cross", "rsi", "macd", "bollinger", "momentum")
#: Latest date a user's ranges end on, and how far back range ends may go.
LATEST_END = dt.date(2024, 12, 31)
MAX_END_LOOKBACK_DAYS = 10 * 365
DAYS_PER_YEAR = 365

# Per-class spawn counters: the Nth user of a class in this process gets index N.
_USER_COUNTERS: dict[str, itertools.count] = {}


def user_rng(environment: Any, class_name: str, index: int) -> random.Random:
    """A ``random.Random`` for one user: same seed, class, worker and index give the same stream.

    Seeding from a string is stable across processes (unlike ``hash()``), so a
    run with ``--seed 7`` repeats its traffic; distributed workers get distinct
    streams through their worker index.
    """
    seed = settings_of(environment).seed
    worker = getattr(getattr(environment, "runner", None), "worker_index", 0)
    return random.Random(f"quantload:{seed}:{class_name}:{worker}:{index}")


def next_user_index(class_name: str) -> int:
    """0, 1, 2 ... for successive users of ``class_name`` in this process."""
    return next(_USER_COUNTERS.setdefault(class_name, itertools.count()))


def random_date_range(
    rng: random.Random, min_years: int = 1, max_years: int = 3
) -> tuple[str, str]:
    """A ``(start, end)`` pair of ISO dates ``min_years``..``max_years`` (x 365 days) apart."""
    end = LATEST_END - dt.timedelta(days=rng.randint(0, MAX_END_LOOKBACK_DAYS))
    start = end - dt.timedelta(days=DAYS_PER_YEAR * rng.randint(min_years, max_years))
    return start.isoformat(), end.isoformat()


def varied_parameters(strategy: str, rng: random.Random) -> dict[str, Any] | None:
    """Plausible non-default parameters an analyst would try; ``None`` (= defaults) if unknown.

    Hand-written per strategy because the API does not publish the ordering
    constraints (fast < slow, oversold < overbought) a random draw would break.
    """
    if strategy == "sma_cross":
        fast = rng.randint(3, 50)
        return {"fast_period": fast, "slow_period": fast + rng.randint(5, 150)}
    if strategy == "rsi":
        return {
            "period": rng.randint(5, 30),
            "oversold": float(rng.randint(15, 40)),
            "overbought": float(rng.randint(60, 85)),
        }
    if strategy == "macd":
        fast = rng.randint(5, 20)
        return {
            "fast": fast,
            "slow": fast + rng.randint(5, 30),
            "signal_period": rng.randint(5, 15),
        }
    if strategy == "bollinger":
        return {"period": rng.randint(10, 50), "std_dev": round(rng.uniform(1.0, 3.0), 1)}
    if strategy == "momentum":
        return {"lookback": rng.randint(5, 120), "threshold": round(rng.uniform(0.0, 0.15), 2)}
    return None


class StoredBacktests:
    """The ids of the backtests one user stored, oldest first; past ``limit``, the oldest
    is forgotten. What a user's "reread a stored backtest" task reads from (:meth:`reread`).
    """

    def __init__(self, limit: int) -> None:
        self.ids: deque[str] = deque(maxlen=limit)

    def remember(self, doc: Mapping[str, Any] | None) -> None:
        """Keep the id of ``doc``, a backtest the API answered with (None: nothing stored)."""
        if doc:
            self.ids.append(doc["id"])

    def reread(
        self,
        api: BacktestApi,
        pick: Callable[[Sequence[str]], str],
        otherwise: Callable[[], object],
    ) -> None:
        """``GET`` the stored backtest ``pick(ids)`` names; with none stored yet, call
        ``otherwise()`` instead (the user's own fallback, e.g. store one first)."""
        if not self.ids:
            otherwise()
            return
        api.get_backtest(pick(self.ids))


def browse_history(
    api: BacktestApi,
    rng: random.Random,
    limit: int,
    next_page_share: float,
    strategy: str | None = None,
    symbol: str | None = None,
) -> None:
    """One page of stored backtests (``GET /v1/backtests``, filtered when ``strategy`` or
    ``symbol`` is given); when there is a next page, it is fetched too with probability
    ``next_page_share`` (``rng`` is drawn from only then)."""
    page = api.query_backtests(strategy=strategy, symbol=symbol, limit=limit)
    if page and page.get("next_cursor") and rng.random() < next_page_share:
        api.query_backtests(
            strategy=strategy, symbol=symbol, limit=limit, cursor=page["next_cursor"]
        )


class ApiUser(FastHttpUser):
    """Base of the quantload users: ``self.api`` (a :class:`BacktestApi`) and ``self.rng``.

    ``on_start`` builds both: the API key comes from ``--api-key`` if the
    locustfile defines it, answers are checked as ``--check-answers`` says
    (``users.answer_check``, the process's checker), the RNG from ``--seed`` (default 0)
    and this user's index, so every user has its own repeatable random stream. Subclasses that
    override ``on_start`` must call ``super().on_start()`` first.
    """

    abstract = True
    #: "full" parses and shape-checks every response; "light" (see BacktestApi) for stress.
    validation = "full"

    api: BacktestApi
    rng: random.Random
    user_index: int

    def on_start(self) -> None:
        settings = settings_of(self.environment)
        self.api = BacktestApi(
            self.client,
            api_key=settings.api_key,
            validation=self.validation,
            answers=process_checks(settings.check_answers, record),
        )
        name = type(self).__name__
        self.user_index = next_user_index(name)
        self.rng = user_rng(self.environment, name, self.user_index)
