"""The Locust side of latency recording and the run directory: what every collector shares.

One collector per process, of its role's class, made at Locust's ``init`` (the
role is known there; ``--processes`` forks after the locustfile import, so each
process makes its own); ``plugin.hooks`` wires its ``on_*`` methods to Locust events:

- :class:`~plugin.local_collector.LocalCollector` (local runner): records request
  events into a :class:`~metrics.latency.SlotRecorder`; a ticker greenlet hands each
  finished slot to the :class:`~rundir.writer.RunWriter`, which writes its row.
- :class:`~plugin.worker_collector.WorkerCollector`: records the same way; its ticker
  samples the process's CPU/RSS for each finished slot; the slots ride to the master
  with each ``report_to_master`` (every 3 s), the last ones at once at test stop
  (:data:`FINAL_MESSAGE`).
- :class:`~plugin.master_collector.MasterCollector`: merges the workers' slots; its
  ticker writes a row once every live worker has reported past a slot (or it is older
  than the grace period); the run ends when every worker's final report is in
  (``quitting`` in headless runs, or a wait after a web-UI stop).

This module holds what they share: :class:`Collector` (the process's CPU/RSS, the
ticker, the request recorder) and :class:`RunCollector` (local runner and master: a
run directory per test, its rows, how and when the run ends).

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
from locust.runners import Runner

from metrics.generator import ProcessSampler
from metrics.latency import GeneratorSample, SlotRecorder
from plugin.run_meta import describe_run, profile_stem
from rundir.files import RunFiles
from rundir.layout import claim_run_dir, make_run_id
from rundir.writer import WORKER_REPORT_INTERVAL_S, RunWriter
from users.measurements import dropped
from users.settings import settings_of

logger = logging.getLogger("quantload.metrics")

PAYLOAD_KEY = "quantload"
"""Key of the suite's part of a worker report: ``{"batches": [batch, ...]}``, each batch
``{"run", "through", "final", "slots": [Slot.to_wire(), ...]}``."""
FINAL_MESSAGE = "quantload_final"
"""Custom Locust message a worker sends at test stop with its last slots, so they do not wait
up to 3 s for the next stats report (in the web UI, a new test may start before it)."""
LOCAL_SOURCE = "local"
TICK_DELAY_S = 0.05
"""How long after a slot boundary the ticker runs: events stamped just before it are in."""
FINAL_REPORT_WAIT_S = 2 * WORKER_REPORT_INTERVAL_S + 1
"""After a stop without quit (web UI), how long the master waits for workers' last slots."""
FINAL_POLL_S = 0.1
INTERRUPTED = "interrupted"
"""A run's stop reason (and incomplete reason) when Ctrl-C or SIGTERM cut it short."""
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
    writer.finish(
        stop.epoch, complete=not stop.reasons, reasons=stop.reasons, stop_reason=stop.reason
    )


class Collector:
    """What every role's collector has: its environment, this process's CPU/RSS sampler, a
    ticker greenlet calling :meth:`_tick` just after each slot boundary, and the request
    recorder (set while a local runner or a worker records; a master never does)."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.sampler = ProcessSampler()  # made at init, after --processes forked: each its own
        self.recorder: SlotRecorder | None = None
        self._ticker: Greenlet | None = None

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int,
        exception: Any = None,
        **_kwargs: Any,
    ) -> None:
        recorder = self.recorder
        if recorder is not None:
            recorder.record(
                f"{request_type} {name}", response_time, exception, time.time(), response_length
            )

    def on_measurement(
        self, kind: str, name: str, value: float, length: int = 0, exception: Any = None
    ) -> None:
        """A reading of ``users.measurements.measurement`` (not a request to the target):
        recorded like a request under ``"KIND name"``, so the run directory names it as
        before; Locust's own stats never see it."""
        recorder = self.recorder
        if recorder is not None:
            recorder.record(f"{kind} {name}", value, exception, time.time(), length)

    def _tick(self, now: float, now_k: int) -> None:
        """The ticker's work just after slot ``now_k`` began (each role its own)."""
        raise NotImplementedError

    def _start_ticker(self, start: float, interval: float) -> None:
        self._stop_ticker()
        self._ticker = gevent.spawn(_tick_forever, self._tick, start, interval)

    def _stop_ticker(self) -> None:
        if self._ticker is not None and self._ticker is not gevent.getcurrent():
            self._ticker.kill(block=False)
        self._ticker = None

    def _sample(self) -> GeneratorSample:
        return self.sampler.sample()


class RunCollector(Collector):
    """Local runner and master: a run directory per test, its rows, the end of the run.

    ``test_start`` opens the run; ``test_stopping`` marks when the load ended (no row is
    written from then until the run is finished); ``test_stop`` or, when interrupted,
    ``quitting`` ends it: :attr:`end_run` gets the writer and a :class:`RunStop`.
    """

    ROLE = ""
    """``local`` or ``master``: meta.json's ``mode``."""
    OWN_SOURCE = ""
    """Whose CPU/RSS this process's own readings are in a row's ``generators``."""

    def __init__(
        self,
        environment: Environment,
        end_run: EndRun | None = None,
        target_started: Callable[[], bool] = lambda: False,
        target_sample: Callable[[], dict[str, Any] | None] = lambda: None,
    ) -> None:
        """``end_run`` ends a run once its load is over and its data is in (default: the
        writer writes the run directory, nothing more); ``target_started`` says whether
        this process started the embedded reference target (for meta.json);
        ``target_sample`` is the target's reading for the slot that just ended, for its
        row's ``target`` (``plugin.hooks`` gives the target watch's)."""
        super().__init__(environment)
        self.end_run: EndRun = end_run or _write_only
        self.target_started = target_started
        self.target_sample = target_sample
        self.writer: RunWriter | None = None
        self._runs = 0
        self._stopped_at: float | None = None
        self._interrupted = False
        self._next_note_k = 0

    # -- lifecycle -------------------------------------------------------------------------

    def on_test_start(self, environment: Environment, **_kwargs: Any) -> None:
        now = time.time()
        options = environment.parsed_options
        settings = settings_of(options)
        interval = settings.interval
        if self.writer is not None and not self.writer.finished:
            self._finish()
        self._runs += 1
        dropped.clear()  # a new run's drops only (Locust resets its stats too)
        self._stopped_at = None
        self._interrupted = False
        self._next_note_k = 0
        run_id = make_run_id(now, profile_stem(options))
        path = claim_run_dir(run_id, settings.run_dir, self._runs)
        self.writer = RunWriter(
            RunFiles(path, run_id),
            start_epoch=now,
            interval_s=interval,
            apdex_t_ms=settings.apdex_t_ms,
            meta=describe_run(environment, self.ROLE, self.target_started()),
        )
        logger.info("quantload run %s: writing %s", run_id, path)
        self._run_opened(self.writer, now, interval)
        self._start_ticker(now, interval)

    def _run_opened(self, writer: RunWriter, now: float, interval: float) -> None:
        """The run's writer was just made (each role its own)."""
        raise NotImplementedError

    def on_test_stopping(self, environment: Environment, **_kwargs: Any) -> None:
        """Stopping begins: the load ends here. No row is written from now on until the run
        is finished (a master waits for users to stop before ``test_stop``, and workers
        leave ``runner.clients`` before their final report is in)."""
        if self.writer is not None and self._stopped_at is None:
            self._stopped_at = time.time()

    def on_test_stop(self, environment: Environment, **_kwargs: Any) -> None:
        writer = self.writer
        if writer is None or writer.finished:
            return
        if self._stopped_at is None:
            self._stopped_at = time.time()
        self._load_over(writer)

    def _load_over(self, writer: RunWriter) -> None:
        """``test_stop``: end the run now, or once its data is in (each role its own)."""
        raise NotImplementedError

    def on_quitting_begins(self, environment: Environment, **_kwargs: Any) -> None:
        """First of the ``quitting`` listeners (before the runner's own, which stops the test):
        a run still going when the process quits was cut short (Ctrl-C, SIGTERM)."""
        writer = self.writer
        if writer is not None and not writer.finished and self._stopped_at is None:
            self._interrupted = True

    def on_quitting(self, environment: Environment, **_kwargs: Any) -> None:
        """Last chance to write the run; on a master, workers' final reports are in by now."""
        if self.writer is None or self.writer.finished:
            return
        if self._stopped_at is None:
            self._interrupted = True
            self._stop_interrupted(environment.runner)
        self._finish()

    def _stop_interrupted(self, runner: Runner | None) -> None:
        """``quitting`` with the load still on (the master's runner stopped it already)."""

    # -- rows ------------------------------------------------------------------------------

    def _tick(self, now: float, now_k: int) -> None:
        """Note this process's view of the slot just ended, write due rows."""
        writer, runner = self.writer, self.environment.runner
        if writer is None or writer.finished or runner is None:
            return
        if self._stopped_at is not None:
            # Stopping: workers leave runner.clients before their final report is in, so
            # nothing is due until _finish flushes (with the users as they were at stop).
            return
        self._note_own(writer, now_k - 1, runner.user_count)
        self._write_due(writer, runner, now, now_k)

    def _write_due(self, writer: RunWriter, runner: Runner, now: float, now_k: int) -> None:
        """Hand the writer what this role has for the slots before ``now_k``, write due rows."""
        raise NotImplementedError

    def _note_own(self, writer: RunWriter, last_k: int, users: int) -> None:
        """Note this process's own view (users, its CPU/RSS, the target) for the slots up to
        ``last_k`` not noted yet: normally just the one that ended, more after a stall."""
        if last_k < self._next_note_k:
            return
        sample, target, load = self._sample(), self.target_sample(), self._load()
        for k in range(self._next_note_k, last_k + 1):
            writer.note(
                k, users=users, generator=(self.OWN_SOURCE, sample), target=target, load=load
            )
        self._next_note_k = last_k + 1

    def _load(self) -> dict[str, Any] | None:
        """The shape's stage and offered load now (users or req/s), for the report's steps;
        None without a shape (the row's ``users`` says the load)."""
        shape = self.environment.shape_class
        if shape is None or not hasattr(shape, "progress"):
            return None
        try:
            progress = shape.progress()
        except Exception:  # a shape not started yet has no plan; never cost a row
            return None
        offered = progress.get("offered")
        return {
            "stage": progress.get("stage"),
            "unit": progress.get("unit") or "users",
            "offered": None if offered is None else round(float(offered), 3),
        }

    # -- the end ---------------------------------------------------------------------------

    def _finish(self) -> None:
        """Write the run: complete unless it was interrupted or a worker's last slots are
        missing (the reasons go in ``incomplete_reasons``)."""
        writer = self.writer
        if writer is None or writer.finished:
            return
        self._stop_ticker()
        stop = self._stopped_at or time.time()
        runner = self.environment.runner
        if runner is not None:  # the slots since the last tick; users as they were at stop
            users = sum(getattr(runner, "final_user_classes_count", {}).values())
            self._note_own(writer, writer.slot_of(stop), users or runner.user_count)
        if self.recorder is not None:  # what this process recorded since the last tick
            writer.add(LOCAL_SOURCE, self.recorder.take(), None, final=True)
            self.recorder = None
        reasons = [INTERRUPTED] if self._interrupted else self._missing(writer)
        stop_reason = INTERRUPTED if self._interrupted else self._stop_reason(writer, stop)
        self.end_run(writer, RunStop(stop, reasons, stop_reason))

    def _missing(self, writer: RunWriter) -> list[str]:
        """Why an uninterrupted run is incomplete: the data it never got."""
        return []

    def _stop_reason(self, writer: RunWriter, stop: float) -> str:
        run_time = settings_of(self.environment).run_time
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
