"""The suite's own channel for measurements that are not requests to the target.

Job durations, queue readings, WebSocket message latency and rates, and dropped
arrivals are measurements, not requests: fired as Locust ``request`` events they
would sit in Locust's own stats (web UI, console table, ``--csv``,
``--json-file``, ``--html``, the aggregate throughput) beside the target's
requests. So the user classes fire :data:`measurement` instead, a module-level
Locust :class:`~locust.event.EventHook` that Locust itself never listens to.

The collectors (``plugin``) subscribe to it at ``init`` and record each reading
under the endpoint key ``"KIND name"`` (e.g. ``"JOB end_to_end"``), exactly as
the run directory has always named them, so ``summary.json``, thresholds and
``compare`` address them by that name (``rundir.layout.PSEUDO_REQUEST_TYPES``
lists the kinds).

``WS_CONNECT`` is not here: a WebSocket handshake is a real HTTP request to the
target (``GET`` with ``Upgrade``), so it stays a Locust request, and so do the
stream's failures (a drop, a refusal) recorded under it.
"""

from __future__ import annotations

import time

from locust.event import EventHook

from users import answer_check

measurement = EventHook()
"""Fired with ``kind`` (e.g. ``"JOB"``), ``name``, ``value`` (ms, a count or a rate: each
kind its own unit, ``rundir.layout.PSEUDO_REQUEST_UNITS``), ``length`` (bytes or a count,
as Locust's ``response_length``) and ``exception`` (None, or why the measured thing failed).
A failing listener is logged by Locust, never raised to the user."""

JOB_KIND = "JOB"
"""Job durations (JobUser, BacktestUser): end to end, processing; ms."""
QUEUE_KIND = "QUEUE"
"""Queue readings (JobUser): depth, running; a count of jobs."""
WS_MESSAGE_KIND = "WS_MSG"
"""WebSocket progress messages (WebSocketUser): delivery latency, ms."""
WS_RATE_KIND = "WS_RATE"
"""WebSocket message rates (WebSocketUser): messages per second."""
DROPPED_KIND = "DROPPED"
"""Arrivals dropped over the in-flight cap (ArrivalRateUser): a count (value 0)."""
ANSWER_KIND = answer_check.ANSWER_KIND
"""Deterministic answers checked against their golden ones (``users.answer_check``), named
``"METHOD name"`` of their request: a count (value 0); a wrong answer is a failure."""


class DropCounts:
    """Dropped arrivals by the wall-clock second (``time.time()``) they were dropped.

    The breakpoint search reads them (its "dropped arrivals" break rule): Locust's stats
    no longer carry drops. In a local run :func:`record` counts this process's; on a
    master the collector adds its workers' as their slots arrive (``add``). Seconds older
    than :data:`KEEP_S` behind the newest are folded into one count, so a long overloaded
    run holds a bounded dict (the search only asks about the last few seconds).
    """

    KEEP_S = 120

    def __init__(self) -> None:
        self._by_second: dict[int, int] = {}
        self._folded = 0
        """Drops of the seconds folded away (all before any second still held)."""

    def add(self, second: int, n: int = 1) -> None:
        self._by_second[second] = self._by_second.get(second, 0) + n
        if len(self._by_second) > 2 * self.KEEP_S:
            horizon = max(self._by_second) - self.KEEP_S
            for old in [k for k in self._by_second if k < horizon]:
                self._folded += self._by_second.pop(old)

    def total(self, before_second: int | None = None) -> int:
        """Every drop counted, or only those in seconds before ``before_second`` (folded
        seconds always count: they are older than any second the search asks about)."""
        return self._folded + sum(
            n
            for second, n in list(self._by_second.items())
            if before_second is None or second < before_second
        )

    def clear(self) -> None:
        self._by_second.clear()
        self._folded = 0


dropped = DropCounts()
"""This process's drop counts (a master's: its workers')."""


def record(
    kind: str, name: str, value: float, exception: Exception | None = None, length: int = 0
) -> None:
    """Fire one measurement: ``kind`` one of the ``*_KIND`` above, ``value`` in its unit."""
    if kind == DROPPED_KIND:
        dropped.add(int(time.time()))
    measurement.fire(kind=kind, name=name, value=value, length=length, exception=exception)
