"""Every Locust event listener the suite adds, wired in one place.

``register(default_users)`` is called once, from ``locustfile.py``. Reading
this module tells you every side effect the suite has on a Locust run:

- ``init_command_line_parser``: the suite's options, checked right after parsing;
- ``init``: with no ``--host``, the master (or local runner) starts the
  reference target and points the run at it; workers never start one;
- ``test_start`` (master): tells workers how many of them share the load, so an
  open-model arrival rate is a total, not a per-worker figure;
- ``quitting``: stops the embedded target (Ctrl-C and SIGTERM included).
"""

from __future__ import annotations

import atexit
import logging
import os
import shlex
import sys
from collections.abc import Iterable

import locust
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from metrics.embedded_target import EmbeddedTarget, TargetStartError
from metrics.options import add_options, check_after_parse

logger = logging.getLogger("quantload")
TARGET_KEY_ENV = "QUANTLOAD_TARGET_API_KEY"

_state: dict[str, EmbeddedTarget | None] = {"target": None}


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
    if options.user_classes or getattr(options, "class_picker", False) or options.worker:
        return
    options.user_classes = [name for name in default_users if name in available_user_classes()]


def _start_embedded_target(environment: Environment) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.host:
        return
    if any(getattr(cls, "host", None) for cls in environment.user_classes):
        return
    options = environment.parsed_options
    child_env = dict(os.environ)
    child_env.pop(TARGET_KEY_ENV, None)
    if getattr(options, "api_key", None):
        child_env[TARGET_KEY_ENV] = options.api_key  # by environment: never on a command line
    try:
        flags = shlex.split(getattr(options, "target_flags", "") or "")
        target = EmbeddedTarget(*flags, env=child_env)
        target.start()
    except (TargetStartError, ValueError, OSError) as exc:
        sys.stderr.write(f"quantload: the embedded reference target did not start: {exc}\n")
        raise SystemExit(2) from None
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


def embedded_target() -> EmbeddedTarget | None:
    """The target this process started, if any (samplers watch its pid)."""
    return _state["target"]


def _share_worker_count(environment: Environment, **_kwargs) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner) and environment.parsed_options is not None:
        # Custom attributes of the master's parsed_options travel to workers with each spawn.
        environment.parsed_options.quantload_workers = max(1, runner.worker_count)


def register(default_users: Iterable[str]) -> None:
    """Wire every listener; call once, from the locustfile, at import."""
    defaults = list(default_users)

    @events.init_command_line_parser.add_listener
    def _options(parser, **_kwargs) -> None:
        add_options(parser)
        check_after_parse(parser, available_user_classes,
                          after=lambda options: _apply_default_users(options, defaults))

    @events.init.add_listener
    def _init(environment: Environment, **_kwargs) -> None:
        _start_embedded_target(environment)

    events.test_start.add_listener(_share_worker_count)
    events.quitting.add_listener(_stop_embedded_target)
