"""The open workload model: requests arrive at a fixed total rate, whatever the target does.

A closed model (Locust's usual ``User`` loop) waits for each answer before the
next request, so a slow target silently receives *less* load and its slow
period is under-sampled ("coordinated omission"). ``ArrivalRateUser`` instead
works like wrk2 or k6's ``constant-arrival-rate`` executor:

* ``--arrival-rate R`` is the total requests/s across all users and workers.
  Each process runs ONE scheduler (class-level state) at ``R / W``, where ``W``
  is ``parsed_options.quantload_workers`` (set by the master in distributed
  runs, 1 otherwise). ``-u`` only sets how many HTTP clients carry the load;
  every worker needs at least one user, or its share is not sent.
* Arrival ``k`` is due at ``t0 + k / R_process`` on the monotonic
  ``time.perf_counter`` clock (no accumulated sleeps, so no drift) and is sent
  in its own greenlet at that time, whether or not earlier requests answered.
* The rate may change while the test runs: the scheduler re-reads
  ``parsed_options.arrival_rate`` (and ``quantload_workers``) before every
  arrival and at least every ``RATE_POLL_S``. On a change it re-bases its
  timetable (``t0`` = the next arrival's new due time, ``k = 0``), carrying the
  unfinished part of the current interval over at the new rate, so there is no
  drift, no burst and no extra arrival. :func:`set_arrival_rate` changes it
  (a load shape calls it; on a master it is broadcast to the workers as the
  ``ARRIVAL_RATE_MESSAGE`` custom message, which the suite's Locust wiring
  applies on each worker).
* Latency is measured from the *intended* start, so time lost to a late
  scheduler or a wait for a free connection counts (wrk2's correction).
* Answers are checked lightly (``validation = "light"``): the status, JSON framing and
  id of every answer; the whole shape of every doubtful one and of a few per route a
  second (``users.exchange.FullChecks``), so a request costs the generator little more
  than a bare ``FastHttpUser``'s. Golden answers are checked as for every user.
* At most ``max_in_flight`` requests are outstanding; an arrival that finds the
  cap full is dropped and recorded as a ``DROPPED`` failure (a measurement,
  ``users.measurements``, not a Locust request; k6's
  ``dropped_iterations``), so overload shows up instead of being absorbed.
"""

from __future__ import annotations

import logging
import math
import random
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import gevent
from gevent.greenlet import Greenlet
from gevent.pool import Group
from locust import constant, task
from locust.runners import MasterRunner

from users.api import BacktestApi
from users.common import ApiUser
from users.measurements import DROPPED_KIND, record
from users.routes import ROUTE_BACKTESTS, ROUTE_MARKET_DATA, ROUTE_STRATEGIES
from users.settings import live_arrival_rate, set_arrival_rate_option, settings_of

logger = logging.getLogger(__name__)

DEFAULT_ARRIVAL_RATE = 10.0
"""Total requests/s when ``--arrival-rate`` is not defined or not given."""

DEFAULT_MAX_IN_FLIGHT = 200
"""Outstanding requests per process before arrivals are dropped."""

HOLD_S = 1.0
"""How often an idle user wakes; users carry no load themselves, so any value works."""

STOP_GRACE_S = 2.0
"""How long the last user's ``on_stop`` waits for the scheduler and in-flight requests."""

RATE_POLL_S = 0.25
"""Longest the scheduler sleeps before re-reading the rate (bounds a live change's delay)."""

ARRIVAL_RATE_MESSAGE = "quantload:arrival_rate"
"""Master -> workers: a shape changed the total arrival rate (data: the new rate)."""

DROPPED_REQUEST_TYPE = DROPPED_KIND
"""The measurement kind of dropped arrivals (the run directory's method column)."""

SYMBOLS = ("AAPL", "MSFT", "GOOG", "AMZN")
"""Small fixed set, so the traffic mix (and the target's cache hit rate) is repeatable."""

STRATEGIES = ("sma_cross", "rsi", "momentum")


class ArrivalDropped(Exception):
    """An arrival found the in-flight cap full and was not sent."""


class _LateStartClient:
    """The user's HTTP client, seen by one arrival: it times requests from the intended start.

    ``BacktestApi`` makes its requests with ``catch_response=True`` and reports
    them when its ``with`` block exits; Locust's ``request_meta["response_time"]``
    runs from the actual send to the end of the body. Just before that exit we
    add the lag between the intended start and the actual send (scheduler
    lateness, greenlet start-up, a Retry-After wait), so the reported time is
    "intended start -> body read" - the wrk2 correction - while the API's own
    response checking stays out of it. Everything else is the real client.
    """

    def __init__(self, client: Any, intended: float) -> None:
        self._client = client
        self._intended = intended

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        caller_catches = kwargs.get("catch_response", False)
        kwargs["catch_response"] = True  # the event must wait until the time is corrected
        kwargs["context"] = {
            **kwargs.get("context", {}),
            "intended_start": self._intended,
            "co_corrected": True,
        }
        lag_s = time.perf_counter() - self._intended
        ctx = _CorrectedReport(self._client.request(method, url, **kwargs), lag_s)
        if caller_catches:
            return ctx
        with ctx as resp:  # a plain call reports at once, as Locust would
            return resp

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _CorrectedReport:
    """Wraps Locust's ``ResponseContextManager``: adds the start lag before it reports."""

    def __init__(self, ctx: Any, lag_s: float) -> None:
        self._ctx = ctx
        self._lag_s = lag_s

    def __enter__(self) -> Any:
        return self._ctx.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        meta = self._ctx.request_meta
        meta["response_time"] = meta.get("response_time", 0.0) + self._lag_s * 1000
        meta["start_time"] = meta.get("start_time", time.time()) - self._lag_s
        return self._ctx.__exit__(*exc)


Route = tuple[str, Callable[[BacktestApi, random.Random], Any]]
"""(stats name, call): the call makes exactly one request through the API."""

_BACKTESTS = {
    (symbol, strategy): BacktestApi.prepare_backtest(symbol, strategy)
    for symbol in SYMBOLS
    for strategy in STRATEGIES
}
_MARKET_DATA = {symbol: BacktestApi.prepare_market_data(symbol) for symbol in SYMBOLS}
"""Every request the routes below send, built once (a ``Prepared`` is immutable)."""

ROUTES: Mapping[str, Route] = {
    "backtest": (
        ROUTE_BACKTESTS,
        lambda api, rng: api.send(_BACKTESTS[rng.choice(SYMBOLS), rng.choice(STRATEGIES)]),
    ),
    "market_data": (
        ROUTE_MARKET_DATA,
        lambda api, rng: api.send(_MARKET_DATA[rng.choice(SYMBOLS)]),
    ),
    "strategies": (ROUTE_STRATEGIES, lambda api, rng: api.strategies()),
}
"""Every route an ``ArrivalRateUser.route_mix`` may name."""


class _Scheduler:
    """The per-process timetable: one greenlet that launches arrivals on time.

    Users register and unregister; the scheduler hands arrival ``k`` to user
    ``k mod n`` (round robin over the live users' HTTP clients) and ends by
    itself when no user is left. ``read_rate()`` gives this process's rate
    (req/s) and is re-read before every arrival, so a live change is followed.
    """

    def __init__(
        self, environment: Any, read_rate: Callable[[], float], max_in_flight: int, seed: str
    ) -> None:
        self.environment = environment
        self.read_rate = read_rate
        self.rate = read_rate()
        self.max_in_flight = max_in_flight
        self.rng = random.Random(seed)
        self.users: list[ArrivalRateUser] = []
        self.in_flight = Group()
        self.greenlet: Greenlet | None = None

    def start(self) -> None:
        self.greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        rate = self.rate
        t0 = time.perf_counter()
        k = 0
        while self.users:
            now = time.perf_counter()
            new_rate = self._current_rate(rate)
            if new_rate != rate:
                t0, k = rebased_start(now, t0 + k / rate, rate, new_rate), 0
                rate = self.rate = new_rate
                logger.debug("arrival scheduler: now %.3f req/s in this process", rate)
            intended = t0 + k / rate  # multiply, never accumulate: no drift
            delay = intended - now
            if delay > 0:
                gevent.sleep(min(delay, RATE_POLL_S))
                continue
            user = self.users[k % len(self.users)]
            self._arrive(user, intended)
            k += 1

    def _current_rate(self, rate: float) -> float:
        """The rate to follow now; an unusable value is ignored (the last rate is kept)."""
        try:
            new_rate = float(self.read_rate())
        except (TypeError, ValueError):
            return rate
        return new_rate if math.isfinite(new_rate) and new_rate > 0 else rate

    def _arrive(self, user: ArrivalRateUser, intended: float) -> None:
        """Send one arrival now, or drop it if the in-flight cap is full."""
        route = user.pick_route(self.rng)
        name, call = user.routes[route]
        if len(self.in_flight) >= self.max_in_flight:
            ArrivalRateUser.dropped += 1
            record(
                DROPPED_REQUEST_TYPE,
                name,
                0,
                ArrivalDropped(f"in-flight cap {self.max_in_flight} reached"),
            )
            return
        self.in_flight.spawn(user.send_arrival, call, self.rng.getrandbits(64), intended)

    def stop(self) -> None:
        """End the timetable and every in-flight request; waits at most ``STOP_GRACE_S``."""
        self.users.clear()
        if self.greenlet is not None:
            self.greenlet.kill(block=True, timeout=STOP_GRACE_S)
        self.in_flight.kill(block=True, timeout=STOP_GRACE_S)


class ArrivalRateUser(ApiUser):
    """A connection holder for the process-wide arrival scheduler (see the module docstring).

    Options read from ``environment.parsed_options`` (all optional):
    ``arrival_rate`` (total req/s), ``max_in_flight`` (per process),
    ``seed`` (route and payload choice), ``api_key``, ``quantload_workers``
    (W, set by the master). The user's own task does nothing: the scheduler
    greenlet does the work, through the clients of the registered users.
    """

    arrival_rate: float = DEFAULT_ARRIVAL_RATE
    """Total req/s across all users and workers when ``--arrival-rate`` is absent."""

    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    """Per-process cap on outstanding requests, unless ``--max-in-flight`` is given."""

    routes: ClassVar[Mapping[str, Route]] = ROUTES
    """What an arrival may be, by key (a subclass offers its own, e.g. a job submission)."""

    route_mix: dict[str, float] = {"backtest": 1.0}
    """Relative weights over ``routes`` keys; arrivals picked with the seeded RNG."""

    concurrency = 100
    """Connections per user: one client carries many arrivals in flight at once."""

    wait_time = constant(HOLD_S)

    validation = "light"
    """Every answer's status, framing and id; the full shape on a sample (``BacktestApi``)."""

    dropped: ClassVar[int] = 0
    """Arrivals dropped at the in-flight cap in this process, over its lifetime."""

    _scheduler: ClassVar[_Scheduler | None] = None

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self._routes = list(self.route_mix)
        self._cumulative = _cumulative_weights(self.route_mix, self.routes)

    def pick_route(self, rng: random.Random) -> str:
        """One key of ``route_mix``, drawn in proportion to its weight."""
        if len(self._routes) == 1:
            return self._routes[0]
        return rng.choices(self._routes, cum_weights=self._cumulative)[0]

    def on_start(self) -> None:
        super().on_start()  # self.api
        scheduler = ArrivalRateUser._scheduler
        if scheduler is None or not scheduler.users:
            if scheduler is not None:  # orphaned (its users died without on_stop): end it
                scheduler.stop()
            scheduler = ArrivalRateUser._scheduler = self._new_scheduler()
            scheduler.users.append(self)
            scheduler.start()
        else:
            scheduler.users.append(self)

    def on_stop(self) -> None:
        scheduler = ArrivalRateUser._scheduler
        if scheduler is None or self not in scheduler.users:
            return
        scheduler.users.remove(self)
        if not scheduler.users:
            ArrivalRateUser._scheduler = None
            scheduler.stop()

    def process_rate(self) -> float:
        """This process's share of the total rate: ``arrival_rate / quantload_workers``."""
        rate, workers = live_arrival_rate(self.environment)
        return float(rate if rate is not None else self.arrival_rate) / max(1, workers)

    def _new_scheduler(self) -> _Scheduler:
        env = self.environment
        rate = self.process_rate()
        if rate <= 0:
            raise ValueError(f"arrival rate must be positive, got {rate}")
        worker = getattr(env.runner, "worker_index", 0) or 0  # workers differ, reproducibly
        settings = settings_of(env)
        seed = f"quantload:{settings.seed}:ArrivalRateUser:{worker}:scheduler"
        cap = settings.max_in_flight if settings.max_in_flight is not None else self.max_in_flight
        logger.info(
            "arrival scheduler: %.3f req/s in this process (%d worker(s)), cap %d",
            rate,
            max(1, settings.workers),
            cap,
        )
        return _Scheduler(env, self.process_rate, cap, seed)

    def send_arrival(
        self, call: Callable[[BacktestApi, random.Random], Any], seed: int, intended: float
    ) -> Any:
        """Make one request (in its own greenlet), timed from ``intended`` (perf_counter s);
        returns what the call returned (None when it raised)."""
        api = BacktestApi(
            _LateStartClient(self.client, intended),
            api_key=self.api.api_key,
            gate=self.api.gate,  # shares the user's Retry-After state
            validation=self.validation,
            answers=self.api.answers,
        )
        try:
            return call(api, random.Random(seed))
        except Exception as e:  # the request event already fired; report the bug, keep going
            self.environment.events.user_error.fire(
                user_instance=self, exception=e, tb=sys.exc_info()[2]
            )
            return None

    @task
    def hold(self) -> None:
        """Nothing to do: arrivals are sent by the scheduler, not by the user's loop."""


def rebased_start(now: float, next_due: float, old_rate: float, new_rate: float) -> float:
    """When the first arrival at ``new_rate`` is due, after a change at ``now``.

    The part of the current interval still to wait (``next_due - now``, as a
    fraction of ``1 / old_rate``) is waited at the new rate, so a rate held
    piecewise constant yields exactly its integral in arrivals. A scheduler
    running late (``next_due`` past) sends the next arrival now, without a
    catch-up burst.
    """
    fraction = min(1.0, max(0.0, (next_due - now) * old_rate))
    return now + fraction / new_rate


def set_arrival_rate(environment: Any, rate: float) -> None:
    """Make every ``ArrivalRateUser`` scheduler follow ``rate`` (total req/s) from now on.

    Sets ``parsed_options.arrival_rate`` in this process; on a master it also
    sends ``ARRIVAL_RATE_MESSAGE`` to the workers, whose handler (registered by
    the suite's Locust wiring) does the same there. A load shape calls
    it from ``tick()`` on the master or local runner.
    """
    rate = float(rate)
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"arrival rate must be a positive number, got {rate}")
    if environment.parsed_options is not None:
        set_arrival_rate_option(environment.parsed_options, rate)
    if isinstance(environment.runner, MasterRunner):
        # Ignored for mypy: MasterRunner.send_message annotates ``data`` as a dict, but any
        # msgpack value travels (Runner.send_message says Any); the workers' handler reads a float
        environment.runner.send_message(ARRIVAL_RATE_MESSAGE, rate)  # type: ignore[arg-type]


def _cumulative_weights(mix: Mapping[str, float], routes: Mapping[str, Route]) -> list[float]:
    """Running sums of the weights, validated against ``routes``."""
    unknown = set(mix) - set(routes)
    if unknown:
        raise ValueError(
            f"route_mix names unknown routes {sorted(unknown)}; known: {sorted(routes)}"
        )
    if not mix or any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError(f"route_mix needs non-negative weights with a positive sum: {mix}")
    total, out = 0.0, []
    for weight in mix.values():
        total += weight
        out.append(total)
    return out
