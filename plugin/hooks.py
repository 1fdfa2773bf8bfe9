"""Every Locust event listener the suite adds, wired in one place.

``register(default_users)`` is called once, from ``locustfile.py``. Reading
this module tells you every side effect the suite has on a Locust run:

- ``init_command_line_parser``: the suite's options, checked right after parsing;
- ``init``: with no ``--host``, the master (or local runner) starts the
  reference target and points the run at it; workers never start one; a
  ``--shape NAME`` (a profile's ``shape = NAME``) becomes the run's load shape;
- ``test_start`` (master): tells workers how many of them share the load, so an
  open-model arrival rate is a total, not a per-worker figure;
- ``quitting``: stops the embedded target (Ctrl-C and SIGTERM included);
- target resources (``plugin.target_watch``): sampled each interval into the run's
  rows, gaps as events, shown in the web UI's Target tab (charts over the whole run);
  the run's measurements (not requests) in its Measurements tab (``plugin.webui``);
- thresholds (``plugin.threshold_watch``): validated at parse time (exit 2), ``[abort]`` ones
  watched live;
- workers follow a shape's live arrival-rate changes (``ARRIVAL_RATE_MESSAGE``);
- a progress line every 10 s and at each new stage on the console (``plugin.progress``):
  stage, offered load, throughput, error % and p95, elapsed and remaining time;
- ``quit`` (after Locust's final tables): the run's verdict block (``plugin.run_end``);
- Locust's per-second request counts trimmed to the seconds it reads (``plugin.stats_trim``:
  they grow without bound otherwise, Locust issue #2045);
- latency histograms and the run directory (``plugin.collector``): at ``init`` the
  process's collector is made for its role (``LocalCollector``, ``WorkerCollector``,
  ``MasterCollector``); ``request`` and the suite's own ``users.measurements.measurement``
  (job, queue, WebSocket readings, dropped arrivals: never Locust requests) record into
  per-second HDR histograms;
  ``report_to_master`` / ``worker_report`` carry workers' slots to the master (plus a
  custom ``quantload_final`` message with a worker's last slots); ``test_start`` opens
  a run directory, ``test_stopping`` ends the load, ``test_stop`` / ``quitting`` end
  the run, ``worker_connect`` notes workers;
- the end of a run (``plugin.run_end``, called by the collector once per run, also on
  Ctrl-C/SIGTERM): the run directory is finished, then judged and reported
  (``summary.json``'s verdicts, ``junit.xml``, ``report.html``, the exit code).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import shlex
import signal
import sys
from collections.abc import Callable, Iterable
from typing import Any

import gevent
import locust
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from plugin.collector import FINAL_MESSAGE, RunCollector
from plugin.embedded_target import EmbeddedTarget, TargetStartError
from plugin.local_collector import LocalCollector
from plugin.master_collector import MasterCollector
from plugin.option_checks import check_after_parse, web_port_error
from plugin.options import add_options, thresholds_from_options
from plugin.outage_watch import OutageWatch
from plugin.progress import ProgressPrinter
from plugin.run_end import EXIT_INTERRUPTED, RunEnd
from plugin.stats_trim import keep_trimmed
from plugin.target_watch import TargetWatch
from plugin.threshold_watch import ThresholdWatch
from plugin.webui import install_report_link
from plugin.webui_guard import install_guard
from plugin.worker_collector import WorkerCollector
from reports.thresholds import ThresholdError
from scenarios.catalogue import shape_instance
from users.arrival_rate_user import ARRIVAL_RATE_MESSAGE
from users.measurements import measurement
from users.settings import set_arrival_rate_option, settings_of, share_with_workers

logger = logging.getLogger("quantload")
TARGET_KEY_ENV = "QUANTLOAD_TARGET_API_KEY"

_state: dict[str, EmbeddedTarget | None] = {"target": None}

_threshold_watch = ThresholdWatch()
_run_end = RunEnd(_threshold_watch)
_watch = TargetWatch()
_outages = OutageWatch()
_progress = ProgressPrinter()
_run_collector: dict[str, RunCollector | None] = {"collector": None}
"""This process's local-runner or master collector, made at ``init``; None on a worker."""


class _Relay:
    """A listener whose place among an event's listeners ``register`` fixes (at import) and
    whose callee ``init`` sets, once the process's role is known (``--processes`` forks
    after the import): until then, and for a role that does not listen, it does nothing."""

    def __init__(self) -> None:
        self.to: Callable[..., None] | None = None

    def __call__(self, **kwargs: Any) -> None:
        if self.to is not None:
            self.to(**kwargs)


_relays = {
    event: _Relay()
    for event in (
        "test_start",
        "test_stopping",
        "test_stop",
        "quitting",
        "report_to_master",
        "worker_report",
        "worker_connect",
    )
}


def available_user_classes() -> list[str]:
    """Names of every concrete User class imported so far (what Locust can run)."""
    found, todo = set(), list(locust.User.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if not getattr(cls, "abstract", False) and cls.__dict__.get("abstract") is not True:
            found.add(cls.__name__)
    return sorted(found)


def _apply_default_users(options, default_users: Iterable[str]) -> None:
    """No class named and no class picker: run the default population, not every class.

    Workers keep every class, because the master decides what they run.
    """
    settings = settings_of(options)
    if settings.user_classes or settings.class_picker or settings.worker:
        return
    options.user_classes = [name for name in default_users if name in available_user_classes()]


def _start_embedded_target(environment: Environment) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.host:
        return
    if any(getattr(cls, "host", None) for cls in environment.user_classes):
        return
    settings = settings_of(environment)
    child_env = dict(os.environ)
    child_env.pop(TARGET_KEY_ENV, None)
    if settings.api_key:
        child_env[TARGET_KEY_ENV] = settings.api_key  # by environment: never on a command line
    try:
        flags = shlex.split(settings.target_flags)
        target = EmbeddedTarget(*flags, env=child_env)
        target.start()  # stops what it started if interrupted
    except (TargetStartError, ValueError, OSError) as exc:
        sys.stderr.write(f"quantload: the embedded reference target did not start: {exc}\n")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        sys.stderr.write("quantload: interrupted while starting the reference target\n")
        raise SystemExit(EXIT_INTERRUPTED) from None
    _state["target"] = target
    atexit.register(_stop_embedded_target)
    environment.host = target.url
    logger.info(
        "no --host given: started the reference target at %s (pid %s)", target.url, target.pid
    )


def _stop_embedded_target(**_kwargs) -> None:
    target, _state["target"] = _state["target"], None
    if target is not None:
        target.stop()
        logger.info("stopped the embedded reference target")


def _share_worker_count(environment: Environment, **_kwargs) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner) and environment.parsed_options is not None:
        # Custom attributes of the master's parsed_options travel to workers with each spawn.
        share_with_workers(environment.parsed_options, workers=max(1, runner.worker_count))


def _set_master_timeout(environment: Environment) -> None:
    """``--master-timeout`` on a worker: Locust's worker quits when its master has sent no
    heartbeat for ``MASTER_HEARTBEAT_TIMEOUT`` seconds (60), read at each check."""
    timeout = settings_of(environment).master_timeout
    if timeout is not None and isinstance(environment.runner, WorkerRunner):
        locust.runners.MASTER_HEARTBEAT_TIMEOUT = timeout


def _install_shape(environment: Environment) -> None:
    """``--shape NAME`` (a profile's ``shape = NAME``): the master or local runner runs it,
    unless a shape module was loaded with ``-f`` (then that one wins, as in Locust)."""
    name = settings_of(environment).shape
    if not name or isinstance(environment.runner, WorkerRunner):
        return
    if environment.shape_class is not None:
        logger.info(
            "--shape %s ignored: %s was loaded with -f",
            name,
            type(environment.shape_class).__name__,
        )
        return
    shape = shape_instance(name)
    shape.runner = environment.runner
    environment.shape_class = shape


def _ctrl_c_as_sigterm() -> None:
    """Make Ctrl-C take Locust's graceful SIGTERM path.

    Left alone, SIGINT raises KeyboardInterrupt in whichever greenlet runs at that
    moment; now and then it is swallowed there and Locust never shuts down (and
    never stops the embedded target). SIGTERM is handled by Locust in one place.
    """
    gevent.signal_handler(signal.SIGINT, os.kill, os.getpid(), signal.SIGTERM)


def _follow_arrival_rate(environment: Environment, msg, **_kwargs) -> None:
    """Worker side of a shape's live rate change (the master sends the new total rate)."""
    try:
        rate = float(msg.data)
    except (TypeError, ValueError):
        rate = math.nan
    if environment.parsed_options is None or not math.isfinite(rate) or rate <= 0:
        logger.warning("quantload: ignored a malformed arrival rate from the master: %r", msg.data)
        return
    set_arrival_rate_option(environment.parsed_options, rate)


def _install_collector(environment: Environment) -> None:
    """Make this process's collector for its role and aim the relays at its listeners.

    ``request`` is the one listener added here rather than relayed: it runs for every
    request (a relay would add about 30 % to its cost); coming after Locust's own stats
    listener (the runner adds that when it is made) changes nothing, as both run in
    the same synchronous ``fire``.
    """
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        worker = WorkerCollector(environment)
        environment.events.request.add_listener(worker.on_request)
        measurement.add_listener(worker.on_measurement)
        _aim(
            test_start=worker.on_test_start,
            test_stop=worker.on_test_stop,
            report_to_master=worker.on_report_to_master,
        )
        return
    collector: RunCollector
    if isinstance(runner, MasterRunner):
        master = MasterCollector(environment, _run_end, _embedded_target_started, _watch.sample)
        runner.register_message(FINAL_MESSAGE, master.on_final_message)
        _aim(worker_report=master.on_worker_report, worker_connect=master.on_worker_connect)
        collector = master
    else:
        collector = LocalCollector(environment, _run_end, _embedded_target_started, _watch.sample)
        environment.events.request.add_listener(collector.on_request)
        measurement.add_listener(collector.on_measurement)
    _run_collector["collector"] = collector
    _aim(
        test_start=collector.on_test_start,
        test_stopping=collector.on_test_stopping,
        test_stop=collector.on_test_stop,
        quitting=collector.on_quitting,
    )
    # Added after the runner's own quitting listener so that it fires first (quitting
    # fires in reverse): it sees whether the test was still running, i.e. interrupted.
    environment.events.quitting.add_listener(collector.on_quitting_begins)


def _aim(**listeners: Callable[..., None]) -> None:
    for event, listener in listeners.items():
        _relays[event].to = listener


def _run_totals() -> dict:
    """The current run's cumulative cells by endpoint key (measurements among them)."""
    collector = _run_collector["collector"]
    writer = collector.writer if collector is not None else None
    return writer.aggregator.totals if writer is not None else {}


def _embedded_target_started() -> bool:
    return _state["target"] is not None


def _watch_run(environment: Environment, **_kwargs) -> None:
    """After the collector opened the run: sample the target, watch abort thresholds."""
    collector = _run_collector["collector"]
    writer = collector.writer if collector is not None else None
    if writer is None:  # a worker
        return
    target = _state["target"]
    _watch.start(
        environment.parsed_options,
        target.pid if target else None,
        target.url if target else None,
        writer.event,
    )
    _outages.start(writer.event)
    _threshold_watch.on_test_start(environment, writer.event)
    _progress.start(environment, run_start=writer.start)


def register(default_users: Iterable[str]) -> None:
    """Wire every listener; call once, from the locustfile, at import."""
    defaults = list(default_users)

    @events.init_command_line_parser.add_listener
    def _options(parser, **_kwargs) -> None:
        add_options(parser)

        def after(options) -> None:
            _apply_default_users(options, defaults)
            if not options.worker:  # malformed thresholds: one line, exit 2, before any load
                try:
                    _threshold_watch.configure(thresholds_from_options(options))
                except ThresholdError as exc:
                    parser.error(str(exc))

        check_after_parse(parser, available_user_classes, after=after)

    @events.init.add_listener
    def _init(environment: Environment, **_kwargs) -> None:
        web = environment.web_ui
        if web is not None and (error := web_port_error(web.host, web.port)):
            sys.stderr.write(f"quantload: {error}\n")  # not Locust's traceback, later
            raise SystemExit(2)
        _start_embedded_target(environment)
        _outages.install(environment)  # target outages from the request stream
        _set_master_timeout(environment)
        _install_shape(environment)
        _ctrl_c_as_sigterm()
        _install_collector(environment)
        keep_trimmed(environment)  # Locust's per-second counts: the seconds it reads
        _run_end.environment = environment
        if environment.web_ui is not None:
            _watch.panel.install(environment.web_ui)
            _watch.panel.measurements = _run_totals  # the Measurements tab
            install_report_link(environment.web_ui, lambda: _run_end.last_report)
            install_guard(environment.web_ui)  # no secret shown, no bad host taken
        if isinstance(environment.runner, WorkerRunner):
            environment.runner.register_message(ARRIVAL_RATE_MESSAGE, _follow_arrival_rate)
        # gevent's loop clock is cached since the loop last ran (before the suite's imports):
        # Locust's spawn_later(run_time) would count from then and end -t runs early.
        gevent.get_hub().loop.update_now()

    events.test_start.add_listener(_share_worker_count)
    events.quit.add_listener(_run_end.print_verdict)  # after Locust's final tables
    events.quitting.add_listener(_stop_embedded_target)

    # The collector's listeners, by relay (its role is known at init): their places here
    # matter. Its test_start opens the run before _watch_run reads it; its quitting comes
    # before the runner's own (added when the runner is made), so fires after it: on a
    # master, workers' final reports are in by then. ``request``: see _install_collector.
    events.test_start.add_listener(_relays["test_start"])
    events.test_start.add_listener(_watch_run)
    events.test_stop.add_listener(lambda **_kw: _threshold_watch.on_test_stop())
    events.test_stopping.add_listener(lambda **_kw: _progress.load_stopped())
    events.test_stop.add_listener(lambda **_kw: _progress.stop())
    events.quitting.add_listener(lambda **_kw: _watch.stop())
    events.test_stopping.add_listener(_relays["test_stopping"])
    events.test_stop.add_listener(_relays["test_stop"])
    events.quitting.add_listener(_relays["quitting"])
    events.report_to_master.add_listener(_relays["report_to_master"])
    events.worker_report.add_listener(_relays["worker_report"])
    events.worker_connect.add_listener(_relays["worker_connect"])
