"""Target outages from the request stream, as ``target_outage`` events in ``events.jsonl``.

Where requests run (the local runner, or each worker), every request's outcome goes
through a :class:`metrics.outage.OutageDetector`; each outage it closes (the target
answered again, or the load stopped) becomes one ``target_outage`` event: ``start``,
``end`` (epoch seconds), ``duration_s``, ``failures`` (by kind: ``refused``, ``reset``,
``timeout``, ``5xx``, ``connection``), ``count``, and ``ongoing: true`` when the load
stopped during it. A worker sends its outages to the master (:data:`OUTAGE_MESSAGE`,
with its ``worker`` id), which writes them. This works whatever ``--target-metrics``
says: a failing metrics source is the target watch's own event, not an outage.
"""

from __future__ import annotations

import time
from typing import Any

from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from metrics.outage import Outage, OutageDetector, classify
from plugin.target_watch import EventSink
from rundir.layout import PSEUDO_REQUEST_TYPES

OUTAGE_EVENT = "target_outage"
OUTAGE_MESSAGE = "quantload_outage"
"""Custom Locust message: a worker's closed outage, ``Outage.to_event`` fields."""


class OutageWatch:
    """One per process; :meth:`install` at ``init``, :meth:`start` when a run opens."""

    def __init__(self) -> None:
        self.detector = OutageDetector()
        self._event: EventSink | None = None
        self._worker: WorkerRunner | None = None

    def install(self, environment: Environment) -> None:
        """Listen where requests run; on a master, take the workers' outages."""
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            runner.register_message(OUTAGE_MESSAGE, self._from_worker)
            return
        self._worker = runner if isinstance(runner, WorkerRunner) else None
        environment.events.request.add_listener(self.on_request)
        environment.events.test_stopping.add_listener(self.on_test_stopping)

    def start(self, event: EventSink) -> None:
        """A run opened (master or local runner): its outages go to ``event``."""
        self._event = event
        self.detector = OutageDetector()

    def on_request(self, request_type: str, exception: Any = None, **_kwargs: Any) -> None:
        if exception is None and self.detector.quiet:
            return  # the common case, kept cheap: an answer while nothing is open or pending
        if request_type in PSEUDO_REQUEST_TYPES:
            return
        kind = None if exception is None else classify(str(exception))
        closed = self.detector.observe(time.time(), kind)
        if closed is not None:
            self._emit(closed)

    def on_test_stopping(self, **_kwargs: Any) -> None:
        closed = self.detector.close(time.time())
        if closed is not None:
            self._emit(closed, ongoing=True)

    def _emit(self, outage: Outage, **extra: Any) -> None:
        if self._worker is not None:
            fields = outage.to_event(worker=self._worker.client_id, **extra)
            self._worker.send_message(OUTAGE_MESSAGE, fields)
        elif self._event is not None:
            fields = outage.to_event(**extra)
            self._event(OUTAGE_EVENT, t=fields["end"], **fields)

    def _from_worker(self, environment: Environment, msg: Any, **_kwargs: Any) -> None:
        data = msg.data if isinstance(msg.data, dict) else None
        if self._event is not None and data is not None and "end" in data:
            self._event(OUTAGE_EVENT, t=data["end"], **data)
