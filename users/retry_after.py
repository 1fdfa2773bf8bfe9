"""``RetryAfterGate``: per-route "not before" times learnt from 429 responses.

The bookkeeping behind :class:`users.api.BacktestApi`'s Retry-After contract:
after a 429 the route stays closed for the time the target asked (capped at
``MAX_RETRY_AFTER_S``), and the next request to it waits that out.

Importing this module does not import gevent (nor Locust): gevent is imported
only when a wait actually happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["MAX_RETRY_AFTER_S", "RetryAfterGate"]

#: A Retry-After longer than this is capped, so one absurd header cannot park a user for the run.
MAX_RETRY_AFTER_S = 60.0


def _gevent_sleep(seconds: float) -> None:
    import gevent  # imported here so that importing this module stays side-effect free

    gevent.sleep(seconds)


class RetryAfterGate:
    """Per-route "not before" times learnt from 429 responses.

    ``hold(route, s)`` after a 429 says "no request to ``route`` for ``s``
    seconds"; ``wait(route)`` before a request sleeps out whatever is left.
    The clock and the sleep are injectable so the bookkeeping is testable
    without time passing.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = _gevent_sleep,
        max_wait_s: float = MAX_RETRY_AFTER_S,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self.max_wait_s = max_wait_s
        self._not_before: dict[str, float] = {}

    def hold(self, route: str, seconds: float) -> None:
        """Keep ``route`` closed for ``seconds`` from now (capped; a later deadline wins)."""
        until = self._clock() + min(max(0.0, seconds), self.max_wait_s)
        self._not_before[route] = max(until, self._not_before.get(route, 0.0))

    def remaining(self, route: str) -> float:
        """Seconds until ``route`` may be called again (0 when it is open)."""
        until = self._not_before.get(route)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._not_before[route]
            return 0.0
        return left

    def wait(self, route: str) -> float:
        """Sleep until ``route`` is open; returns the seconds slept."""
        if not self._not_before:  # the common case: no 429 pending anywhere
            return 0.0
        left = self.remaining(route)
        if left > 0:
            self._sleep(left)
            self._not_before.pop(route, None)
        return left
