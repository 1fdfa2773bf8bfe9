"""The master's collector: it merges the workers' slots and writes the run.

A master records no request itself. Each worker's slots arrive with its stats
report (``worker_report``) or its :data:`~plugin.collector.FINAL_MESSAGE`; the
:class:`~rundir.writer.RunWriter` merges them, and just after each slot boundary
the ticker notes the master's own view (users, its CPU/RSS, the target) and
writes a row once every live worker has reported past the slot (or it is older
than the grace period). Workers that vanish are noted lost. The run ends when
every worker's final report is in: at ``quitting`` in headless runs, or after
waiting up to :data:`~plugin.collector.FINAL_REPORT_WAIT_S` after a web-UI stop.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from gevent.greenlet import Greenlet
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, Runner

from metrics.latency import Slot
from plugin.collector import (
    FINAL_POLL_S,
    FINAL_REPORT_WAIT_S,
    PAYLOAD_KEY,
    RunCollector,
)
from rundir.layout import MASTER_GENERATOR
from rundir.writer import RunWriter
from users.measurements import DROPPED_KIND, dropped
from users.settings import share_with_workers

logger = logging.getLogger("quantload.metrics")
DROPPED_PREFIX = f"{DROPPED_KIND} "


class MasterCollector(RunCollector):
    """One per master process; ``plugin.hooks`` wires its ``on_*`` methods."""

    ROLE = "master"
    OWN_SOURCE = MASTER_GENERATOR
    _waiter: Greenlet | None = None
    """Waits for the workers' last slots after a stop without quit (web UI)."""

    def _run_opened(self, writer: RunWriter, now: float, interval: float) -> None:
        options = self.environment.parsed_options
        if options is not None:
            # Custom attributes of the master's parsed_options reach workers with each spawn.
            share_with_workers(options, run_id=writer.run_id, run_start=now)
        for worker_id in self._live_workers():
            writer.worker_seen(worker_id, now, self._worker_index(worker_id))

    # -- the workers' slots ----------------------------------------------------------------

    def on_final_message(self, environment: Environment, msg: Any, **_kwargs: Any) -> None:
        """A worker's :data:`FINAL_MESSAGE` (registered with ``register_message``)."""
        self.on_worker_report(msg.node_id, {PAYLOAD_KEY: msg.data})

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
        payload = data.get(PAYLOAD_KEY)
        writer = self.writer
        if not payload or writer is None or writer.finished:
            return
        writer.worker_seen(client_id, time.time(), self._worker_index(client_id))
        for batch in payload.get("batches", []):
            if batch.get("run") != writer.run_id:
                logger.debug("dropped a report of run %s from %s", batch.get("run"), client_id)
                continue
            try:
                slots = [Slot.from_wire(wire) for wire in batch.get("slots", [])]
            except (KeyError, TypeError, ValueError):  # never fatal to the master
                logger.exception("quantload: unreadable slots from worker %s", client_id)
                continue
            writer.add(client_id, slots, batch.get("through"), final=bool(batch.get("final")))
            for slot in slots:  # the breakpoint search counts drops by the second
                second = int(writer.start + slot.k * writer.interval)
                for key, cell in slot.cells.items():
                    if key.startswith(DROPPED_PREFIX):
                        dropped.add(second, cell.count)

    def on_worker_connect(self, client_id: str, **_kwargs: Any) -> None:
        writer = self.writer
        if writer is not None and not writer.finished and self._stopped_at is None:
            writer.worker_seen(client_id, time.time(), self._worker_index(client_id))

    def _write_due(self, writer: RunWriter, runner: Runner, now: float, now_k: int) -> None:
        live = self._live_workers()
        for worker_id in set(writer.workers) - live:
            clients = runner.clients if isinstance(runner, MasterRunner) else {}
            state = "missing" if worker_id in clients else "quit"
            writer.worker_lost(worker_id, now, state)
        writer.advance(now, live)

    def _live_workers(self) -> set[str]:
        runner = self.environment.runner
        if not isinstance(runner, MasterRunner):
            return set()
        return {node.id for node in runner.clients.all if node.state != STATE_MISSING}

    def _worker_index(self, worker_id: str) -> int | None:
        indexes = getattr(self.environment.runner, "worker_indexes", {})
        return indexes.get(worker_id)

    # -- the end ---------------------------------------------------------------------------

    def _load_over(self, writer: RunWriter) -> None:
        if self._waiter is None:
            self._waiter = gevent.spawn(self._await_final_reports, writer)

    def _await_final_reports(self, writer: RunWriter) -> None:
        """Finish once every worker of the run has sent its last slots (or after a while).

        Waits on the run's own worker list: a worker leaves ``runner.clients`` when it
        reports "stopped", before its final report arrives with the next stats report.
        """
        deadline = time.monotonic() + FINAL_REPORT_WAIT_S
        while time.monotonic() < deadline and not writer.finished:
            if all(w in writer.final_from or info["lost"] for w, info in writer.workers.items()):
                break
            gevent.sleep(FINAL_POLL_S)
        if self.writer is writer and not writer.finished:
            self._finish()

    def _finish(self) -> None:
        if self._waiter is not None and self._waiter is not gevent.getcurrent():
            self._waiter.kill(block=False)
        self._waiter = None
        super()._finish()

    def _missing(self, writer: RunWriter) -> list[str]:
        missing = [
            w
            for w, info in writer.workers.items()
            if not info["lost"] and w not in writer.final_from
        ]
        return [f"no final report from worker {w}" for w in sorted(missing)]
