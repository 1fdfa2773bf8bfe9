"""Target outages found in the request stream itself: outcomes in, outage windows out.

An outage is what a target that does not serve looks like from the load generator:
refused or reset connections, timeouts, or a burst of 5xx answers. It is found
whatever samples the target's resources (``--target-metrics``), from the outcome of
every request:

- :func:`classify` names the kind of a failure from its message (``refused``,
  ``reset``, ``timeout``, ``5xx``, ``connection``), or None when it says nothing about the
  target being down (a 4xx, a wrong body, a success);
- :class:`OutageDetector` opens an outage once :data:`BURST` outage-kind failures come in a
  row (no other outcome between them), dated from the first of them; the first outcome
  of another kind (the target answered) closes it. Each closed outage is an
  :class:`Outage`: start, end (epoch seconds) and the failures counted by kind.

Pure: no clock, no Locust; callers pass each outcome's time.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

BURST = 5
"""Outage-kind failures in a row that open an outage: one refused connection is a blip;
at a 10 % injected error rate, five 5xx in a row happen about once in 100,000 requests."""

_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("refused", re.compile(r"refused", re.I)),
    ("reset", re.compile(r"reset|RemoteDisconnected|BrokenPipe|aborted|truncated body", re.I)),
    ("timeout", re.compile(r"time[ds]? ?out", re.I)),
    ("5xx", re.compile(r"\b(status|HTTP) ?5\d\d\b|\b5\d\d (Server Error|Internal)", re.I)),
    ("connection", re.compile(r"connection error|ConnectionError|Name or service", re.I)),
)


def classify(message: str | None) -> str | None:
    """The outage kind a failure's message says (see the module doc), or None."""
    if not message:
        return None
    for kind, pattern in _KINDS:
        if pattern.search(message):
            return kind
    return None


@dataclass
class Outage:
    """One window in which the target did not serve."""

    start: float
    """Epoch seconds of the first failure of the burst that opened it."""
    end: float | None = None
    """Epoch seconds of the first answer after it (None: still going)."""
    failures: Counter[str] = field(default_factory=Counter)
    """Failures during the window, by kind."""

    def to_event(self, **extra: Any) -> dict[str, Any]:
        """The ``target_outage`` event's fields: ``start``, ``end``, ``duration_s``,
        ``failures`` ({kind: count}), ``count``; ``extra`` added."""
        end = self.end if self.end is not None else self.start
        return {
            "start": round(self.start, 3),
            "end": round(end, 3),
            "duration_s": round(end - self.start, 3),
            "failures": dict(sorted(self.failures.items())),
            "count": sum(self.failures.values()),
            **extra,
        }


class OutageDetector:
    """Feed it every outcome in time order; it returns each outage as it closes."""

    def __init__(self, burst: int = BURST) -> None:
        self.burst = burst
        self.current: Outage | None = None
        """The open outage, if any."""
        self._streak: list[tuple[float, str]] = []

    @property
    def quiet(self) -> bool:
        """No outage open and no failure pending: an answer would change nothing."""
        return self.current is None and not self._streak

    def observe(self, t: float, kind: str | None) -> Outage | None:
        """One outcome at epoch ``t``: ``kind`` from :func:`classify` (None: the target
        answered). Returns the outage this outcome closed, if any."""
        if kind is None:
            self._streak.clear()
            if self.current is None:
                return None
            closed, self.current = self.current, None
            closed.end = t
            return closed
        if self.current is not None:
            self.current.failures[kind] += 1
            return None
        self._streak.append((t, kind))
        if len(self._streak) >= self.burst:
            self.current = Outage(self._streak[0][0])
            self.current.failures.update(k for _, k in self._streak)
            self._streak.clear()
        return None

    def close(self, t: float) -> Outage | None:
        """The run ends at ``t``: the open outage, ended there (None if none was open)."""
        self._streak.clear()
        closed, self.current = self.current, None
        if closed is not None:
            closed.end = max(t, closed.start)
        return closed
