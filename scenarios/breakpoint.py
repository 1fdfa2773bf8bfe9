"""``BreakpointShape``: finds the service's capacity by itself, with no guess of its size.

    locust -f locustfile.py,scenarios/breakpoint.py ArrivalRateUser
    locust --config config/breakpoint.conf

Answers "how much can the service take, and what breaks first?". It drives
``ArrivalRateUser`` (the open model: the offered rate does not bend to the
service), raises the rate geometrically until a step breaks (errors, p95,
throughput no longer following the offered rate, dropped arrivals), bisects
between the last good and the first broken rate, and stops by itself. The
algorithm is :class:`scenarios.breakpoint_search.BreakpointSearch` (pure); the
rules of "broken" are :func:`reports.analysis.step_verdict`.

The result is logged, and :meth:`BreakpointShape.findings` gives it to the end of
the run for ``summary.json``'s ``breaking_point`` (``BreakpointSearch.summary()``:
found, capacity_rps, offered_at_break, reason, last_good, limits, steps, ...),
also when ``-t`` or a stop ends the search early (then ``complete`` is false).

The shape sets the user count itself: enough ``ArrivalRateUser`` connection
holders for the in-flight cap in every process. Run only ``ArrivalRateUser``
(or a subclass): other classes' load would blur the measurement.

On a master (``--master``, ``--processes``) the rate is broadcast to the
workers, whose stats arrive in reports every few seconds; the search then
runs ``MASTER_STATS_LAG_S`` behind the wall clock on whole seconds, counting
requests by the second they completed (Locust's per-second counters), so a
late report still lands in the right window.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar

from locust.runners import WORKER_REPORT_INTERVAL, MasterRunner

from reports.analysis.breaking import BreakLimits, StatsSnapshot
from scenarios.base import (
    CONNECTION_SPAWN_RATE,
    ParameterizedShape,
    arrival_user_classes,
    connection_users,
)
from scenarios.breakpoint_search import BreakpointSearch, SearchSettings
from users.measurements import dropped

logger = logging.getLogger("quantload.scenarios")

MASTER_STATS_LAG_S = math.ceil(WORKER_REPORT_INTERVAL) + 1
"""On a master, the search looks at the second this long ago: every worker has reported it."""

MAX_SPAWN_WAIT_S = 10.0
"""The search starts when every connection holder runs, or after this long anyway."""

EXIT_BAD_SETUP = 2
"""Exit code when the run cannot search (no ArrivalRateUser to drive)."""

SEARCH_PARAMETERS = (
    "start_rate",
    "growth",
    "resolution",
    "settle_s",
    "min_window_s",
    "max_window_s",
    "window_requests",
)
"""The ``SearchSettings`` fields a shape attribute (or option) sets."""


def stats_snapshot(stats: Any, at_s: float, before_second: int | None = None) -> StatsSnapshot:
    """Locust's cumulative totals, and the dropped arrivals (``users.measurements.dropped``).

    With ``before_second`` (a ``time.time()`` second), the counts are of the
    requests completed before that second, from the per-second counters (for
    a master, whose workers report late); response times are as of now.
    """

    def count(entry: Any, failures: bool = False) -> int:
        if before_second is None:
            return entry.num_failures if failures else entry.num_requests
        per_second = entry.num_fail_per_sec if failures else entry.num_reqs_per_sec
        return sum(n for second, n in list(per_second.items()) if second < before_second)

    total = stats.total
    answered, failures = count(total), count(total, failures=True)
    times = dict(total.response_times)
    # drops are measurements (users.measurements), not in Locust's stats: counted apart
    return StatsSnapshot(at_s, answered, failures, dropped.total(before_second), times)


class BreakpointShape(ParameterizedShape):
    """The adaptive breakpoint search as a Locust shape. The parameters below are options
    too (``--breakpoint-start-rate`` ...: ``option_for``), except ``max_window_s`` and
    ``connections``; see ``SearchSettings``/``BreakLimits``. ``-t`` ends the search early.
    """

    option_for: ClassVar[Mapping[str, str]] = {
        "start_rate": "breakpoint_start_rate",
        "growth": "breakpoint_growth",
        "resolution": "breakpoint_resolution",
        "settle_s": "breakpoint_settle_s",
        "min_window_s": "breakpoint_min_window_s",
        "window_requests": "breakpoint_window_requests",
        "max_error_ratio": "breakpoint_max_error_ratio",
        "max_p95_ms": "breakpoint_max_p95_ms",
        "min_throughput_ratio": "breakpoint_min_throughput_ratio",
        "max_dropped_ratio": "breakpoint_max_dropped_ratio",
    }

    start_rate: float = SearchSettings.start_rate
    """First offered rate (2 req/s): small, so no service is overrun by the first step."""
    growth: float = SearchSettings.growth
    """Rate factor between steps until the first break (x2)."""
    resolution: float = SearchSettings.resolution
    """Refining stops when (broken - good) / good is at most this (0.05)."""
    settle_s: float = SearchSettings.settle_s
    """Skipped at each step's start before the window (1 s; longer for slow services)."""
    min_window_s: float = SearchSettings.min_window_s
    max_window_s: float = SearchSettings.max_window_s
    window_requests: float = SearchSettings.window_requests
    """A window lasts window_requests / rate seconds (200 / rate), within 3..10 s."""

    max_error_ratio: float = BreakLimits.max_error_ratio
    """Failed / answered above this breaks a step (0.01)."""
    max_p95_ms: float | None = BreakLimits.max_p95_ms
    """None (default): 10x the first step's p95, at least 250 ms."""
    min_throughput_ratio: float = BreakLimits.min_throughput_ratio
    """Achieved / offered below this breaks a step (0.9)."""
    max_dropped_ratio: float = BreakLimits.max_dropped_ratio
    """Dropped / all arrivals above this breaks a step (0.001)."""

    connections: int | None = None
    """Connection-holding users per process (None: enough for the in-flight cap)."""

    def __init__(self) -> None:
        super().__init__()
        self.search: BreakpointSearch | None = None
        self._users = 0
        self._searching = False
        self._distributed = False
        self._logged = self._logged_retried = 0

    def reset_time(self) -> None:
        """(Re)start: a fresh search with the options of this start."""
        super().reset_time()
        self.search, self._searching = None, False
        self._logged = self._logged_retried = 0

    def tick(self) -> tuple[int, float] | None:
        """Locust's tick: the connection holders, the search's rate offered; None once the
        search has finished (or ``-t`` is reached, or it cannot run)."""
        runner = self.runner
        assert runner is not None, "Locust sets a shape's runner before its first tick"
        env = runner.environment
        if self.search is None and not self._prepare(env):
            return None
        assert self.search is not None
        run_time = self.run_time_s()
        if run_time and self.get_run_time() >= run_time:
            self.search.stop("time limit (-t) reached")
            self._report()
            return None
        if not self._searching:  # wait until every connection holder runs (or gave up waiting)
            self._searching = (
                runner.user_count >= self._users or self.get_run_time() >= MAX_SPAWN_WAIT_S
            )
        if self._searching:
            now = self._search_clock()
            second = int(now) if self._distributed else None
            rate = self.search.update(now, stats_snapshot(runner.stats, now, second))
            self._log_new_steps()
            if rate is None:
                self._report()
                return None
            self.offer_rate(rate)
        return self._users, CONNECTION_SPAWN_RATE

    def progress(self, elapsed_s: float | None = None) -> dict:
        """Stage (step, phase, settle/measure/drain), offered req/s, elapsed (``elapsed_s``,
        default the run time), stage remaining; ``remaining_s`` is what ``-t`` leaves, or None
        without ``-t`` (the search adapts: its length is not known in advance)."""
        base = {"shape": type(self).__name__}
        elapsed = self.get_run_time() if elapsed_s is None else elapsed_s
        if self.search is None or not self._searching:
            return {
                **base,
                "stage": "starting",
                "offered": self.param("start_rate"),
                "unit": "req/s",
                "elapsed_s": elapsed,
                "stage_remaining_s": None,
                "remaining_s": None,
            }
        progress = {**base, **self.search.progress(self._search_clock()), "elapsed_s": elapsed}
        run_time = self.run_time_s()
        if run_time and progress["remaining_s"] is None:  # at most what -t leaves
            progress["remaining_s"] = max(0.0, run_time - elapsed)
        return progress

    def settings(self, distributed: bool) -> SearchSettings:
        """The search's pacing: class attributes, overridden by the options given."""
        values = {n: self.param(n) for n in SEARCH_PARAMETERS}
        values["max_window_s"] = max(values["max_window_s"], values["min_window_s"])
        if distributed:  # a new rate shows MASTER_STATS_LAG_S later in the search's clock
            values["settle_s"] = values["settle_s"] + MASTER_STATS_LAG_S
            values["drain_check_s"] = 2.0
        return SearchSettings(**values)

    def limits(self) -> BreakLimits:
        """What breaks a step: class attributes, overridden by the options given."""
        return BreakLimits(**{f.name: self.param(f.name) for f in fields(BreakLimits)})

    # -- internals ---------------------------------------------------------------------------

    def _prepare(self, env: Any) -> bool:
        name = type(self).__name__
        classes = arrival_user_classes(env)
        if not classes:
            logger.error(
                "%s needs ArrivalRateUser: name it on the command line "
                "(or scenario-users = ArrivalRateUser in the profile)",
                name,
            )
            env.process_exit_code = EXIT_BAD_SETUP
            return False
        others = [c.__name__ for c in env.user_classes if c not in classes]
        if others:
            logger.warning(
                "%s: %s also run; their load blurs the measurement", name, ", ".join(others)
            )
        self._distributed = isinstance(self.runner, MasterRunner)
        self.search = BreakpointSearch(self.settings(self._distributed), self.limits())
        self._users = connection_users(env, self.connections)
        self.offer_rate(self.search.rate)
        logger.info(
            "%s: searching from %g req/s (x%g per step) with %d connection holder(s)",
            name,
            self.search.rate,
            self.search.settings.growth,
            self._users,
        )
        return True

    def _search_clock(self) -> float:
        """The search's time: perf_counter, or on a master the whole ``time.time()`` second
        ``MASTER_STATS_LAG_S`` ago (every worker has reported it by then)."""
        if self._distributed:
            return float(int(time.time()) - MASTER_STATS_LAG_S)
        return time.perf_counter()

    def _log_new_steps(self) -> None:
        assert self.search is not None
        done = self.search.steps[self._logged :]
        again = self.search.retried[self._logged_retried :]
        for step, note in [*((s, "measuring again") for s in again), *((s, "") for s in done)]:
            m = step.measure
            p95 = "-" if m.p95_ms is None else f"{m.p95_ms:.0f} ms"
            logger.info(
                "breakpoint step %d (%s): offered %.1f req/s -> %.1f/s ok, "
                "%.1f%% errors, p95 %s, %d dropped: %s%s",
                step.number,
                step.phase,
                m.offered_rps,
                m.achieved_rps,
                100 * m.error_ratio,
                p95,
                m.dropped,
                step.verdict.reason or "good",
                f" ({note})" if note else "",
            )
        self._logged = len(self.search.steps)
        self._logged_retried = len(self.search.retried)

    def findings(self) -> dict[str, Any] | None:
        """The search's result so far (``BreakpointSearch.summary()``); None before it
        started."""
        return self.search.summary() if self.search is not None else None

    def _report(self) -> None:
        assert self.search is not None
        summary = self.search.summary()
        elapsed = summary["elapsed_s"]
        if summary["found"] and summary["capacity_rps"] is not None:
            logger.info(
                "breakpoint: capacity %.1f req/s; broke at %.1f req/s offered (%s); "
                "%d steps in %.0f s",
                summary["capacity_rps"],
                summary["offered_at_break"],
                summary["reason"],
                len(summary["steps"]),
                elapsed,
            )
        elif summary["found"]:
            logger.info(
                "breakpoint: broken already at the lowest rate tried, %.2f req/s (%s)",
                summary["offered_at_break"],
                summary["reason"],
            )
        else:
            best = summary["capacity_rps"]
            logger.info(
                "breakpoint: no break found (%s); best throughput %s req/s",
                self.search.stop_reason,
                "-" if best is None else f"{best:.1f}",
            )
