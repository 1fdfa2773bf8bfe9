"""The Locust side of latency recording and the run directory: who records, who writes, when.

``plugin.hooks`` wires one :class:`Collector`'s methods to Locust events; this
module holds what they do, per kind of process:

- **local runner**: records request events into a
  :class:`~metrics.latency.SlotRecorder`; a ticker greenlet hands each finished
  slot to the :class:`~rundir.writer.RunWriter`, which writes its row.
- **worker**: records the same way; a ticker samples the process's CPU/RSS for
  each finished slot; on ``report_to_master`` (every 3 s) every finished slot
  since the last report rides along in ``data["quantload"]``. At test stop it
  sends the rest, partial last slot included, marked final, at once
  (:data:`FINAL_MESSAGE`).
- **master**: merges the workers' slots (``worker_report``); a ticker writes a
  row once every live worker has reported past a slot (or it is older than the
  grace period); the run ends when every worker's final report is in
  (``quitting`` in headless runs, or a wait after a web-UI stop).

Workers learn the run's id and start time from the master's ``parsed_options``
(Locust sends them with every spawn), so slot ``k`` is the same second in
every process. A run that ends by ``quitting`` before ``test_stop`` (Ctrl-C,
SIGTERM) is written with ``complete: false``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.greenlet import Greenlet
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from metrics.generator import ProcessSampler
from metrics.latency import GeneratorSample, Slot, SlotRecorder
from plugin.run_meta import describe_run, profile_stem
from rundir.files import RunFiles
from rundir.layout import claim_run_dir, make_run_id
from rundir.writer import WORKER_REPORT_INTERVAL_S, RunWriter
from users.settings import settings_of, share_with_workers

logger = logging.getLogger("quantload.metrics")

PAYLOAD_KEY = "quantload"
"""Key of the suite's part of a worker report: ``{"batches": [batch, ...]}``, each batch
``{"run", "through", "final", "slots": [Slot.to_wire(), ...]}``."""
FINAL_MESSAGE = "quantload_final"
"""Custom Locust message a worker sends at test stop with its last slots, so they do not wait
up to 3 s for the next stats report (in the web UI, a new test may start before it)."""
LOCAL_SOURCE = "local"
MASTER_GENERATOR = "master"
TICK_DELAY_S = 0.05
"""How long after a slot boundary the ticker runs: events stamped just before it are in."""
FINAL_REPORT_WAIT_S = 2 * WORKER_REPORT_INTERVAL_S + 1
"""After a stop without quit (web UI), how long the master waits for workers' last slots."""
FINAL_POLL_S = 0.1
RUN_TIME_SLACK_S = 1.0
"""A stop this close to ``--run-time`` counts as "run_time reached"."""


@dataclass(frozen=True)
class RunStop:
    """How a run's load ended, as the collector saw it."""

    epoch: float
    """When the load stopped (``time.time()``)."""
    reasons: list[str]
    """Why the run is incomplete (interrupted, a worker's last slots missing); empty: whole."""
    reason: str
    """``run_time``, ``stopped`` or ``interrupted`` (the ``test_stop`` event's ``reason``)."""


EndRun = Callable[[RunWriter, RunStop], None]
"""Called once per run, with its writer (still open) and how the load ended."""


def _write_only(writer: RunWriter, stop: RunStop) -> None:
    writer.finish(stop.epoch, complete=not stop.reasons, reasons=stop.reasons,
                  stop_reason=stop.reason)


class Collector:
    """One per process; its ``on_*`` methods are Locust listeners (wired in ``hooks``)."""

    def __init__(self, end_run: EndRun | None = None,
                 target_started: Callable[[], bool] = lambda: False) -> None:
        """``end_run`` ends a run once its load is over and its data is in (default: the
        writer writes the run directory, nothing more); ``target_started`` says whether
        this process started the embedded reference target (for meta.json)."""
        self.end_run: EndRun = end_run or _write_only
        self.target_started = target_started
        self.environment: Environment | None = None
        self.role = "local"
        self.recorder: SlotRecorder | None = None
        self.writer: RunWriter | None = None
        self.sampler: ProcessSampler | None = None
        self._runs = 0
        self._ticker: Greenlet | None = None
        self._waiter: Greenlet | None = None
        self._stopped_at: float | None = None
        self._interrupted = False
        self._next_note_k = 0
        self._worker_run: str | None = None
        self._outbox: list[dict[str, Any]] = []

    # -- hook point for the target sampler -------------------------------------------------
    def target_sample(self) -> dict[str, Any] | None:
        """The target's reading for the slot that just ended, for its row's ``target``; None
        until ``plugin.hooks`` wires the target watch here (master / local, each interval)."""
        return None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def _env(self) -> Environment:
        """The Locust environment (``on_init`` sets it; Locust's ``init`` comes first)."""
        assert self.environment is not None, "Collector.on_init has not run"
        return self.environment

    def on_init(self, environment: Environment, **_kwargs: Any) -> None:
        self.environment = environment
        runner = environment.runner
        self.role = ("master" if isinstance(runner, MasterRunner) else
                     "worker" if isinstance(runner, WorkerRunner) else "local")
        self.sampler = ProcessSampler()  # after --processes forked: each measures itself

    def on_test_start(self, environment: Environment, **_kwargs: Any) -> None:
        if self.environment is None:
            self.on_init(environment)
        now = time.time()
        options = environment.parsed_options
        settings = settings_of(options)
        interval = settings.interval
        if self.role == "worker":
            self._flush_worker(final=True)  # a previous run that never got its last report
            self._worker_run = settings.run_id or "unknown"
            start = float(settings.run_start or now)
            self.recorder = SlotRecorder(start, interval)
            self._start_ticker(self._worker_tick, start, interval)
            return
        if self.writer is not None and not self.writer.finished:
            self._finish()
        self._runs += 1
        self._stopped_at = None
        self._interrupted = False
        self._next_note_k = 0
        run_id = make_run_id(now, profile_stem(options))
        path = claim_run_dir(run_id, settings.run_dir, self._runs)
        self.writer = RunWriter(
            RunFiles(path, run_id), start_epoch=now, interval_s=interval,
            apdex_t_ms=settings.apdex_t_ms,
            meta=describe_run(environment, self.role, self.target_started()))
        logger.info("quantload run %s: writing %s", run_id, path)
        if self.role == "master" and options is not None:
            # Custom attributes of the master's parsed_options reach workers with each spawn.
            share_with_workers(options, run_id=run_id, run_start=now)
            for worker_id in self._live_workers():
                self.writer.worker_seen(worker_id, now, self._worker_index(worker_id))
        else:
            self.recorder = SlotRecorder(now, interval)
        self._start_ticker(self._tick, now, interval)

    def on_test_stopping(self, environment: Environment, **_kwargs: Any) -> None:
        """Stopping begins: the load ends here. No row is written from now on until the run
        is finished (a master waits for users to stop before ``test_stop``, and workers
        leave ``runner.clients`` before their final report is in)."""
        if self.role != "worker" and self.writer is not None and self._stopped_at is None:
            self._stopped_at = time.time()

    def on_test_stop(self, environment: Environment, **_kwargs: Any) -> None:
        if self.role == "worker":
            self._stop_ticker()
            self._flush_worker(final=True)
            try:
                if environment.runner is not None:
                    environment.runner.send_message(FINAL_MESSAGE, {"batches": self._outbox})
                self._outbox = []
            except Exception:  # noqa: BLE001 - the next stats report carries them instead
                logger.warning("quantload: final slots not sent now; next report takes them")
            return
        if self.writer is None or self.writer.finished:
            return
        if self._stopped_at is None:
            self._stopped_at = time.time()
        if self.role == "local":
            self._finish()
        elif self._waiter is None:
            self._waiter = gevent.spawn(self._await_final_reports, self.writer)

    def on_quitting_begins(self, environment: Environment, **_kwargs: Any) -> None:
        """First of the ``quitting`` listeners (before the runner's own, which stops the test):
        a run still going when the process quits was cut short (Ctrl-C, SIGTERM)."""
        writer = self.writer
        if writer is not None and not writer.finished and self._stopped_at is None:
            self._interrupted = True

    def on_quitting(self, environment: Environment, **_kwargs: Any) -> None:
        """Last chance to write the run; on a master, workers' final reports are in by now.

        An interrupted local run is stopped here (Locust would stop it just after the
        quitting listeners): users still firing meanwhile would be in Locust's totals and
        not in ours. Its ``test_stop`` then writes the run.
        """
        if self.role == "worker" or self.writer is None or self.writer.finished:
            return
        if self._stopped_at is None:
            self._interrupted = True
            if self.role == "local" and environment.runner is not None:
                environment.runner.stop()  # its test_stop writes the run
        self._finish()

    # -- recording -------------------------------------------------------------------------

    def on_request(self, request_type: str, name: str, response_time: float | None,
                   response_length: int, exception: Any = None, **_kwargs: Any) -> None:
        recorder = self.recorder
        if recorder is not None:
            recorder.record(f"{request_type} {name}", response_time, exception, time.time())

    # -- worker -> master --------------------------------------------------------------------------

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
        self._flush_worker(final=False)
        if self._outbox:
            data[PAYLOAD_KEY] = {"batches": self._outbox}
            self._outbox = []

    def _flush_worker(self, final: bool) -> None:
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
        self._outbox.append({"run": self._worker_run, "through": before - 1, "final": final,
                             "slots": [slot.to_wire() for slot in slots]})
        if final:
            self.recorder = None

    def on_final_message(self, environment: Environment, msg: Any, **_kwargs: Any) -> None:
        """Master: a worker's :data:`FINAL_MESSAGE` (registered with ``register_message``)."""
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

    def on_worker_connect(self, client_id: str, **_kwargs: Any) -> None:
        writer = self.writer
        if writer is not None and not writer.finished and self._stopped_at is None:
            writer.worker_seen(client_id, time.time(), self._worker_index(client_id))

    # -- tickers ---------------------------------------------------------------------------

    def _start_ticker(self, tick: Callable[[float, int], None], start: float,
                      interval: float) -> None:
        self._stop_ticker()
        self._ticker = gevent.spawn(_tick_forever, tick, start, interval)

    def _stop_ticker(self) -> None:
        if self._ticker is not None and self._ticker is not gevent.getcurrent():
            self._ticker.kill(block=False)
        self._ticker = None

    def _worker_tick(self, now: float, now_k: int) -> None:
        if self.recorder is not None:
            self.recorder.seal(now_k, self._sample)

    def _tick(self, now: float, now_k: int) -> None:
        """Master / local: note this process's view of the slot just ended, write due rows."""
        writer, runner = self.writer, self._env.runner
        if writer is None or writer.finished or runner is None:
            return
        if self._stopped_at is not None:
            # Stopping: workers leave runner.clients before their final report is in, so
            # nothing is due until _finish flushes (with the users as they were at stop).
            return
        self._note_own(writer, now_k - 1, runner.user_count)
        if self.role == "local":
            if self.recorder is not None:
                writer.add(LOCAL_SOURCE, self.recorder.take(now_k), now_k - 1)
            writer.advance(now, [LOCAL_SOURCE])
            return
        live = self._live_workers()
        for worker_id in set(writer.workers) - live:
            clients = runner.clients if isinstance(runner, MasterRunner) else {}
            state = ("missing" if worker_id in clients else "quit")
            writer.worker_lost(worker_id, now, state)
        writer.advance(now, live)

    def _note_own(self, writer: RunWriter, last_k: int, users: int) -> None:
        """Note this process's own view (users, its CPU/RSS, the target) for the slots up to
        ``last_k`` not noted yet: normally just the one that ended, more after a stall."""
        if last_k < self._next_note_k:
            return
        own = LOCAL_SOURCE if self.role == "local" else MASTER_GENERATOR
        sample, target, load = self._sample(), self.target_sample(), self._load()
        for k in range(self._next_note_k, last_k + 1):
            writer.note(k, users=users, generator=(own, sample), target=target, load=load)
        self._next_note_k = last_k + 1

    def _load(self) -> dict[str, Any] | None:
        """The shape's stage and offered load now (users or req/s), for the report's steps;
        None without a shape (the row's ``users`` says the load)."""
        shape = self.environment.shape_class if self.environment is not None else None
        if shape is None or not hasattr(shape, "progress"):
            return None
        try:
            progress = shape.progress()
        except Exception:  # a shape not started yet has no plan; never cost a row
            return None
        offered = progress.get("offered")
        return {"stage": progress.get("stage"), "unit": progress.get("unit") or "users",
                "offered": None if offered is None else round(float(offered), 3)}

    def _sample(self) -> GeneratorSample:
        return self.sampler.sample() if self.sampler else {}

    # -- master helpers --------------------------------------------------------------------

    def _live_workers(self) -> set[str]:
        runner = self._env.runner
        if not isinstance(runner, MasterRunner):
            return set()
        return {node.id for node in runner.clients.all if node.state != STATE_MISSING}

    def _worker_index(self, worker_id: str) -> int | None:
        indexes = getattr(self._env.runner, "worker_indexes", {})
        return indexes.get(worker_id)

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
        """Write the run: complete unless it was interrupted or a worker's last slots are
        missing (the reasons go in ``incomplete_reasons``)."""
        writer = self.writer
        if writer is None or writer.finished:
            return
        self._stop_ticker()
        if self._waiter is not None and self._waiter is not gevent.getcurrent():
            self._waiter.kill(block=False)
        self._waiter = None
        stop = self._stopped_at or time.time()
        runner = self.environment.runner if self.environment is not None else None
        if runner is not None:  # the slots since the last tick; users as they were at stop
            users = sum(getattr(runner, "final_user_classes_count", {}).values())
            self._note_own(writer, writer.slot_of(stop), users or runner.user_count)
        if self.recorder is not None:
            writer.add(LOCAL_SOURCE, self.recorder.take(), None, final=True)
            self.recorder = None
        reasons = ["interrupted"] if self._interrupted else []
        missing = [w for w, info in writer.workers.items()
                   if not info["lost"] and w not in writer.final_from]
        if self.role == "master" and not self._interrupted:
            reasons += [f"no final report from worker {w}" for w in sorted(missing)]
        stop_reason = "interrupted" if self._interrupted else self._stop_reason(writer, stop)
        self.end_run(writer, RunStop(stop, reasons, stop_reason))

    def _stop_reason(self, writer: RunWriter, stop: float) -> str:
        run_time = settings_of(self._env).run_time
        if run_time and stop - writer.start >= run_time - RUN_TIME_SLACK_S:
            return "run_time"
        return "stopped"


def _tick_forever(tick: Callable[[float, int], None], start: float, interval: float) -> None:
    """Call ``tick(now, now_k)`` just after each slot boundary; a failing tick is logged,
    never fatal (losing the timeseries must not stop a load test)."""
    k = max(1, int((time.time() - start) // interval) + 1)
    while True:
        gevent.sleep(max(0.0, start + k * interval + TICK_DELAY_S - time.time()))
        now = time.time()
        now_k = max(0, int((now - start) // interval))
        try:
            tick(now, now_k)
        except Exception:
            logger.exception("quantload: timeseries tick failed")
        k = now_k + 1
