"""A worker's collector: it records the requests and sends its slots to the master.

Request events go into a :class:`~metrics.latency.SlotRecorder`; the ticker
seals each finished slot with this process's CPU/RSS. On ``report_to_master``
(every 3 s) everything recorded since the last report rides along in
``data["quantload"]``; at test stop the rest, partial last slot included, goes at
once, marked final, in a :data:`~plugin.collector.FINAL_MESSAGE`. The run's id
and start come from the master with each spawn, so slot ``k`` is the same second
in every process. A worker writes no run directory.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from locust.env import Environment

from metrics.latency import SlotRecorder
from plugin.collector import FINAL_MESSAGE, PAYLOAD_KEY, Collector
from users.settings import settings_of

logger = logging.getLogger("quantload.metrics")


class WorkerCollector(Collector):
    """One per worker process; ``plugin.hooks`` wires its ``on_*`` methods."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._run: str | None = None
        self._outbox: list[dict[str, Any]] = []

    def on_test_start(self, environment: Environment, **_kwargs: Any) -> None:
        now = time.time()
        settings = settings_of(environment.parsed_options)
        interval = settings.interval
        self._flush(final=True)  # a previous run that never got its last report
        self._run = settings.run_id or "unknown"
        start = float(settings.run_start or now)
        self.recorder = SlotRecorder(start, interval)
        self._start_ticker(start, interval)

    def on_test_stop(self, environment: Environment, **_kwargs: Any) -> None:
        self._stop_ticker()
        self._flush(final=True)
        try:
            if environment.runner is not None:
                environment.runner.send_message(FINAL_MESSAGE, {"batches": self._outbox})
            self._outbox = []
        except Exception:  # noqa: BLE001 - the next stats report carries them instead
            logger.warning("quantload: final slots not sent now; next report takes them")

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
        self._flush(final=False)
        if self._outbox:
            data[PAYLOAD_KEY] = {"batches": self._outbox}
            self._outbox = []

    def _tick(self, now: float, now_k: int) -> None:
        if self.recorder is not None:
            self.recorder.seal(now_k, self._sample)

    def _flush(self, final: bool) -> None:
        """Move everything recorded so far into the outbox, as one batch: finished slots,
        and the current one's requests so far (its rest follows with the next report), so
        each report carries exactly the requests Locust's own stats report does."""
        recorder = self.recorder
        if recorder is None:
            return
        now_k = recorder.slot_of(time.time())
        before = now_k + 1 if final else now_k
        recorder.seal(before, self._sample)
        slots = recorder.take(None) if final else recorder.take(before) + recorder.take_open()
        self._outbox.append(
            {
                "run": self._run,
                "through": before - 1,
                "final": final,
                "slots": [slot.to_wire() for slot in slots],
            }
        )
        if final:
            self.recorder = None
