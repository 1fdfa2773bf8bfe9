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
  rows, gaps as events, shown in the web UI's Target tab;
- thresholds (``plugin.threshold_watch``): validated at parse time (exit 2), ``[abort]`` ones
  watched live;
- workers follow a shape's live arrival-rate changes (``ARRIVAL_RATE_MESSAGE``);
- a progress line every 10 s on the console (``plugin.progress``): stage, offered
  load, achieved throughput, elapsed and remaining time;
- latency histograms and the run directory (``plugin.collector``): ``request``
  records into per-second HDR histograms; ``report_to_master`` /
  ``worker_report`` carry workers' slots to the master (plus a custom
  ``quantload_final`` message with a worker's last slots); ``test_start`` opens a
  run directory, ``test_stopping`` ends the load, ``test_stop`` / ``quitting`` end
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
from collections.abc import Iterable

import gevent
import locust
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from plugin.collector import FINAL_MESSAGE, Collector
from plugin.embedded_target import EmbeddedTarget, TargetStartError
from plugin.options import add_options, check_after_parse, thresholds_from_options
from plugin.progress import ProgressPrinter
from plugin.run_end import RunEnd
from plugin.target_watch import TargetWatch
from plugin.threshold_watch import ThresholdWatch
from plugin.webui import install_report_link
from reports.thresholds import ThresholdError
from scenarios.catalogue import shape_instance
from users.arrival_rate_user import ARRIVAL_RATE_MESSAGE
from users.settings import set_arrival_rate_option, settings_of, share_with_workers

logger = logging.getLogger("quantload")
TARGET_KEY_ENV = "QUANTLOAD_TARGET_API_KEY"
EXIT_INTERRUPTED = 130

_state: dict[str, EmbeddedTarget | None] = {"target": None}

_threshold_watch = ThresholdWatch()
_run_end = RunEnd(_threshold_watch)
_collector = Collector(_run_end, target_started=lambda: _state["target"] is not None)
_watch = TargetWatch()
_progress = ProgressPrinter()
# the target's reading goes into every row
_collector.target_sample = _watch.sample  # type: ignore[method-assign]


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
    logger.info("no --host given: started the reference target at %s (pid %s)",
                target.url, target.pid)


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


def _install_shape(environment: Environment) -> None:
    """``--shape NAME`` (a profile's ``shape = NAME``): the master or local runner runs it,
    unless a shape module was loaded with ``-f`` (then that one wins, as in Locust)."""
    name = settings_of(environment).shape
    if not name or isinstance(environment.runner, WorkerRunner):
        return
    if environment.shape_class is not None:
        logger.info("--shape %s ignored: %s was loaded with -f", name,
                    type(environment.shape_class).__name__)
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
        logger.warning("quantload: ignored a malformed arrival rate from the master: %r",
                       msg.data)
        return
    set_arrival_rate_option(environment.parsed_options, rate)


def _watch_run(environment: Environment, **_kwargs) -> None:
    """After the collector opened the run: sample the target, watch abort thresholds."""
    writer = _collector.writer
    if isinstance(environment.runner, WorkerRunner) or writer is None:
        return
    target = _state["target"]
    _watch.start(environment.parsed_options, target.pid if target else None,
                 target.url if target else None, writer.event)
    _threshold_watch.on_test_start(environment, writer.event)
    _progress.start(environment)


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
        _start_embedded_target(environment)
        _install_shape(environment)
        _ctrl_c_as_sigterm()
        _collector.on_init(environment)
        _run_end.environment = environment
        if environment.web_ui is not None:
            _watch.panel.install(environment.web_ui)
            install_report_link(environment.web_ui, lambda: _run_end.last_report)
        if isinstance(environment.runner, WorkerRunner):
            environment.runner.register_message(ARRIVAL_RATE_MESSAGE, _follow_arrival_rate)
        if isinstance(environment.runner, MasterRunner):
            environment.runner.register_message(FINAL_MESSAGE, _collector.on_final_message)
        # Added after the runner's own quitting listener so that it fires first (quitting
        # fires in reverse): it sees whether the test was still running, i.e. interrupted.
        environment.events.quitting.add_listener(_collector.on_quitting_begins)

    events.test_start.add_listener(_share_worker_count)
    events.quitting.add_listener(_stop_embedded_target)

    events.request.add_listener(_collector.on_request)
    events.test_start.add_listener(_collector.on_test_start)
    events.test_start.add_listener(_watch_run)
    events.test_stop.add_listener(lambda **_kw: _threshold_watch.on_test_stop())
    events.test_stop.add_listener(lambda **_kw: _progress.stop())
    events.quitting.add_listener(lambda **_kw: _watch.stop())
    events.test_stopping.add_listener(_collector.on_test_stopping)
    events.test_stop.add_listener(_collector.on_test_stop)
    events.quitting.add_listener(_collector.on_quitting)
    events.report_to_master.add_listener(_collector.on_report_to_master)
    events.worker_report.add_listener(_collector.on_worker_report)
    events.worker_connect.add_listener(_collector.on_worker_connect)
