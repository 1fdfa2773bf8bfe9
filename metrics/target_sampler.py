"""Sample the target host's resources in the background, from one of four sources.

Why in the background: a reading costs milliseconds (psutil) to most of a second
(an HTTP scrape that times out), so it must never run in a Locust hook users wait
on. ``TargetSampler`` reads on a ``threading.Thread``: a real thread in a plain
process, a greenlet under Locust's gevent monkey-patching. Callers read ``latest()``.

Sources (``--target-metrics``, parsed by :mod:`metrics.source_spec`; the sources are
:mod:`metrics.target_sources`): ``local:PID`` (psutil here: the process and all
its descendants summed, since the reference target's job workers are children,
plus this host), ``agent:URL`` (``python -m metrics.agent`` on the target host),
``prometheus:URL`` (node_exporter, or the target's own ``/metrics``, whose
``process_*`` series cover one process, not its children), ``none``, and ``auto``
(default): ``local:<pid>`` when the suite started the target itself, else none.

A failing source is a gap, not a crash: ``latest()`` turns None, ``gaps`` counts
outages, ``on_gap``/``on_recover`` fire once per outage with one log line each,
and sampling goes on until the source answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from metrics.sample import Sample, SourceError
from metrics.target_sources import Source

__all__ = ["TargetSampler"]

DEFAULT_INTERVAL_S = 1.0
STALE_AFTER_INTERVALS = 3.0  # latest() is None once the newest sample is this many intervals old
STOP_JOIN_TIMEOUT_S = 5.0

logger = logging.getLogger("quantload.target_sampler")


class TargetSampler:
    """Reads ``source`` every ``interval_s`` in the background; ``latest()`` never blocks.

    ``on_gap(reason)`` fires when a source starts failing, ``on_recover(gap_s)`` when
    it answers again; both run on the sampler's thread, once per outage.
    """

    def __init__(
        self,
        source: Source,
        interval_s: float = DEFAULT_INTERVAL_S,
        *,
        on_gap: Callable[[str], None] | None = None,
        on_recover: Callable[[float], None] | None = None,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, not {interval_s!r}")
        self.source = source
        self.interval_s = interval_s
        self.on_gap = on_gap
        self.on_recover = on_recover
        self.samples = 0  # successful reads
        self.failures = 0  # failed reads, every one
        self.gaps = 0  # outages: runs of failed reads
        self.last_error: str | None = None
        self._latest: tuple[Sample, float] | None = None  # (sample, monotonic when taken)
        self._gap_since: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def in_gap(self) -> bool:
        return self._gap_since is not None

    def latest(self) -> Sample | None:
        """The newest sample; None before the first, during a gap, or once it is stale."""
        latest = self._latest
        if latest is None or time.monotonic() - latest[1] > STALE_AFTER_INTERVALS * self.interval_s:
            return None
        return latest[0]

    def start(self) -> None:
        """Start sampling (no-op for an inactive source or when already running)."""
        if self._thread is not None or not self.source.active:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="quantload-target-sampler", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = STOP_JOIN_TIMEOUT_S) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._poll()
            now = time.monotonic()
            while next_at <= now:  # a slow read skips ticks instead of bursting to catch up
                next_at += self.interval_s
            self._stop.wait(next_at - now)

    def _poll(self) -> None:
        try:
            sample = self.source.sample()
        except Exception as exc:  # any failure is a gap: the loop must outlive a broken source
            self._latest = None
            self.failures += 1
            expected = isinstance(exc, SourceError)
            self.last_error = str(exc) if expected else f"{type(exc).__name__}: {exc}"
            if self._gap_since is None:
                self._gap_since = time.monotonic()
                self.gaps += 1
                logger.warning(
                    "target metrics unavailable from %s: %s (retrying quietly)",
                    self.source.description,
                    self.last_error,
                    exc_info=not expected,
                )
                self._notify(self.on_gap, self.last_error)
            return
        self._latest = (sample, time.monotonic())
        self.samples += 1
        if self._gap_since is not None:
            lasted, self._gap_since = time.monotonic() - self._gap_since, None
            logger.info("target metrics back from %s after %.1f s", self.source.description, lasted)
            self._notify(self.on_recover, lasted)

    @staticmethod
    def _notify(callback: Callable[..., None] | None, arg: object) -> None:
        if callback is None:
            return
        try:
            callback(arg)
        except Exception:
            logger.exception("target sampler callback %r failed", callback)
