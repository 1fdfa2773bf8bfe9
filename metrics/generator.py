"""Load-generator health: each Locust process's own CPU and memory, and overload episodes.

A load generator that runs out of CPU sends less than asked and measures its
own scheduling delay as server latency, so results taken from it are limited
by the generator, not the target. Every process that generates load (the
local runner, each worker) samples itself once per interval; the master
records the samples per process in each row, and an overloaded generator is
written to ``events.jsonl`` once per episode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psutil

from metrics.latency import GeneratorSample

OVERLOADED_CPU_PERCENT = 90.0
"""Above this a generator is overloaded (Locust warns at the same level)."""
RECOVERED_CPU_PERCENT = 80.0
"""An episode ends only below this, so a generator hovering at 90 % is one episode."""


class ProcessSampler:
    """CPU % (since the previous sample) and RSS of the current process.

    Created after Locust forks its ``--processes`` workers (in ``init`` or
    later), so each process measures itself, not its parent.
    """

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first reading only starts the clock

    def sample(self) -> GeneratorSample:
        with self._process.oneshot():
            return {
                "cpu_percent": round(self._process.cpu_percent(None), 1),
                "rss_bytes": self._process.memory_info().rss,
            }


@dataclass
class OverloadTracker:
    """Turns per-interval CPU samples into overload episodes, per generator."""

    overloaded_percent: float = OVERLOADED_CPU_PERCENT
    recovered_percent: float = RECOVERED_CPU_PERCENT
    _overloaded: set[str] = field(default_factory=set)

    def update(self, generator: str, cpu_percent: float) -> str | None:
        """``"generator_overloaded"`` when an episode starts, ``"generator_recovered"`` when it
        ends, else None."""
        if generator not in self._overloaded and cpu_percent > self.overloaded_percent:
            self._overloaded.add(generator)
            return "generator_overloaded"
        if generator in self._overloaded and cpu_percent < self.recovered_percent:
            self._overloaded.discard(generator)
            return "generator_recovered"
        return None

    @property
    def overloaded(self) -> frozenset[str]:
        return frozenset(self._overloaded)
