"""What ran, as ``meta.json`` records it: read from Locust's environment, never a secret.

The api key is never read here; ``--target-flags`` values that look like keys
and any credentials or query string in a host URL are scrubbed
(:func:`rundir.redact.redact_flags`, :func:`~rundir.redact.public_host`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import locust
from locust import User
from locust.env import Environment
from locust.user.inspectuser import get_ratio

from rundir.redact import public_host, redact_flags
from users.exchange import FULL_CHECKS_PER_ROUTE_S
from users.settings import settings_of


def profile_stem(options: Any) -> str:
    """The profile (``--config`` file) name, else the locustfile's: the end of the run id."""
    settings = settings_of(options)
    source = settings.config or settings.locustfile or "locustfile"
    return Path(str(source).split(",")[0]).stem


RATIO_DECIMALS = 4


def task_ratio(user_classes: list[type[User]]) -> dict[str, Any]:
    """Locust's task ratio (``locust.user.inspectuser.get_ratio``, as its own HTML report and
    ``--show-task-ratio`` give it): per class, its share of the users (by ``weight``, or its
    ``fixed_count``) and each task's share of that class's task picks (nested for a
    TaskSet): ``{"BacktestUser": {"ratio": 0.8, "tasks": {"run_backtest": {"ratio": 0.3}}}}``.
    """
    users: dict[str, Any] = {cls.__name__: cls.fixed_count or cls.weight for cls in user_classes}
    return _rounded(get_ratio(list(user_classes), users, False))


def _rounded(ratios: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, entry in ratios.items():
        out[name] = {"ratio": round(float(entry.get("ratio", 1.0)), RATIO_DECIMALS)}
        if entry.get("tasks"):
            out[name]["tasks"] = _rounded(entry["tasks"])
    return out


def response_checks(user_classes: list[type[User]]) -> dict[str, Any]:
    """How each class checks its answers (``BacktestApi``'s ``validation``): ``full`` (every
    answer parsed and shape-checked), ``light`` (every answer's status, JSON framing and id;
    the whole shape of every doubtful one and of ``light_full_per_route_s`` a second per
    route and process); classes that check no API answers are not listed."""
    modes: dict[str, list[str]] = {"full": [], "light": []}
    for cls in sorted(user_classes, key=lambda c: c.__name__):
        mode = getattr(cls, "validation", None)
        if mode in modes:
            modes[mode].append(cls.__name__)
    return {**modes, "light_full_per_route_s": FULL_CHECKS_PER_ROUTE_S}


def describe_run(environment: Environment, mode: str, embedded_target: bool) -> dict[str, Any]:
    """The static part of ``meta.json`` (the run writer adds ids, times and workers)."""
    settings = settings_of(environment)
    shape = environment.shape_class
    class_host = next(
        (cls.host for cls in environment.user_classes if getattr(cls, "host", None)), None
    )
    return {
        "profile": profile_stem(environment.parsed_options) if settings.config else None,
        "config_file": settings.config,
        "locustfile": settings.locustfile,
        "user_classes": sorted(cls.__name__ for cls in environment.user_classes),
        "task_ratio": task_ratio(environment.user_classes),
        "response_checks": response_checks(environment.user_classes),
        "users": settings.num_users,
        "spawn_rate": settings.spawn_rate,
        "run_time_s": settings.run_time,
        "shape_class": type(shape).__name__ if shape is not None else None,
        "host": public_host(environment.host or class_host),
        "embedded_target": embedded_target,
        "target_flags": redact_flags(settings.target_flags),
        "seed": settings.seed if environment.parsed_options is not None else None,
        "mode": mode,
        "expect_workers": settings.expect_workers if mode == "master" else None,
        "locust_version": locust.__version__,
        "python_version": sys.version.split()[0],
    }
