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
from locust.env import Environment

from rundir.redact import public_host, redact_flags


def profile_stem(options: Any) -> str:
    """The profile (``--config`` file) name, else the locustfile's: the end of the run id."""
    config = getattr(options, "config", None)
    source = config or getattr(options, "locustfile", None) or "locustfile"
    return Path(str(source).split(",")[0]).stem


def describe_run(environment: Environment, mode: str, embedded_target: bool) -> dict[str, Any]:
    """The static part of ``meta.json`` (the run writer adds ids, times and workers)."""
    options = environment.parsed_options
    config = getattr(options, "config", None)
    shape = environment.shape_class
    class_host = next((cls.host for cls in environment.user_classes
                       if getattr(cls, "host", None)), None)
    return {
        "profile": profile_stem(options) if config else None,
        "config_file": config,
        "locustfile": getattr(options, "locustfile", None),
        "user_classes": sorted(cls.__name__ for cls in environment.user_classes),
        "users": getattr(options, "num_users", None),
        "spawn_rate": getattr(options, "spawn_rate", None),
        "run_time_s": getattr(options, "run_time", None),
        "shape_class": type(shape).__name__ if shape is not None else None,
        "host": public_host(environment.host or class_host),
        "embedded_target": embedded_target,
        "target_flags": redact_flags(getattr(options, "target_flags", "") or ""),
        "seed": getattr(options, "seed", None),
        "mode": mode,
        "expect_workers": getattr(options, "expect_workers", None) if mode == "master" else None,
        "locust_version": locust.__version__,
        "python_version": sys.version.split()[0],
    }
