"""Watching the target during a run: the sampler, its gaps as events, the web UI tab.

Glue between ``metrics.target_sampler`` (which reads the target in the
background), the run's rows (``Collector.target_sample``), ``events.jsonl``
(the metrics source's gaps: ``metrics_source_gap`` / ``_back``; the target's
outages are ``plugin.outage_watch``'s) and the web UI's Target tab (the whole run's samples,
from the run's start). Runs on the master or the local runner only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from metrics.target_sampler import TargetSampler
from metrics.target_sources import build_source
from plugin.webui import TargetPanel
from users.settings import settings_of

logger = logging.getLogger("quantload")
EventSink = Callable[..., None]


class TargetWatch:
    def __init__(self) -> None:
        self.panel = TargetPanel()
        self.sampler: TargetSampler | None = None
        self._event: EventSink | None = None

    def start(
        self, options: Any, embedded_pid: int | None, embedded_url: str | None, event: EventSink
    ) -> None:
        """(Re)start sampling for a new run; ``event(kind, **fields)`` goes to events.jsonl."""
        self.stop()
        self.panel.clear()  # the web UI's charts and CSV: this run's samples only
        self._event = event
        settings = settings_of(options)
        source = build_source(
            settings.target_metrics,
            token=settings.agent_token,
            embedded_pid=embedded_pid,
            embedded_url=embedded_url,
        )
        if not getattr(source, "active", True):
            return
        self.sampler = TargetSampler(
            source, interval_s=settings.interval, on_gap=self._gap, on_recover=self._back
        )
        self.sampler.start()
        logger.info("sampling target resources from %s", source.description)

    def sample(self) -> dict[str, Any] | None:
        """The latest reading for this interval's row (None: no source, or a gap)."""
        if self.sampler is None:
            return None
        latest = self.sampler.latest()
        reading = latest.to_dict() if latest is not None else None
        self.panel.add(reading)
        return reading

    def stop(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
            self.sampler = None

    def _gap(self, reason: str) -> None:
        if self._event is not None:
            self._event("metrics_source_gap", reason=reason)  # not an outage: target_outage

    def _back(self, gap_s: float) -> None:
        if self._event is not None:
            self._event("metrics_source_back", gap_s=round(gap_s, 3))
