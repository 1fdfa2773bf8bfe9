"""The suite's command-line options, added to Locust's own parser.

Options go through Locust's parser (so they work from the command line, a
``--config`` file, ``LOCUST_*``/``QUANTLOAD_*`` environment variables and, where
it makes sense, the web UI). Checks that need the whole command line (a valid
``--host``, known class names) run right after parsing, so bad input is one
line and exit 2 before anything starts.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from rundir.layout import DEFAULT_APDEX_T_MS, DEFAULT_INTERVAL_S, DEFAULT_RESULTS_DIR

DEFAULT_SEED = 0


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number > 0")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def add_options(parser) -> None:
    """Register quantload's options on Locust's parser."""
    group = parser  # Locust's own add_argument (an argparse group would drop is_secret)
    group.add_argument("--api-key", env_var="QUANTLOAD_API_KEY", default=None, is_secret=True,
                       help="sent as X-API-Key on every API request (env QUANTLOAD_API_KEY)")
    group.add_argument("--seed", type=int, default=DEFAULT_SEED, env_var="QUANTLOAD_SEED",
                       help="seed for the users' random choices, so runs repeat (default 0)")
    group.add_argument("--arrival-rate", type=positive_float, default=None,
                       env_var="QUANTLOAD_ARRIVAL_RATE",
                       help="ArrivalRateUser: total requests/s across all users and workers")
    group.add_argument("--max-in-flight", type=positive_int, default=None,
                       help="ArrivalRateUser: in-flight cap per process; arrivals over it are "
                            "dropped and counted")
    group.add_argument("--target-flags", default="", env_var="QUANTLOAD_TARGET_FLAGS",
                       include_in_web_ui=False,
                       help="flags for the embedded reference target started when no --host "
                            "is given, e.g. '--slots 4 --service-ms 50'")
    from scenarios.catalogue import SHAPES

    group.add_argument("--shape", choices=SHAPES, default=None, env_var="QUANTLOAD_SHAPE",
                       include_in_web_ui=False,
                       help="load shape from scenarios/ (a profile's 'shape = NAME')")
    from metrics.target_sampler import add_target_metrics_option
    from reports.threshold_options import add_threshold_options
    from scenarios.options import add_scenario_options

    add_run_options(group)
    add_scenario_options(group)
    add_target_metrics_option(group)
    add_threshold_options(group)


def add_run_options(parser) -> None:
    """The run directory's options: where it goes, its row width, Apdex T."""
    parser.add_argument("--run-dir", default=None, env_var="QUANTLOAD_RUN_DIR",
                        include_in_web_ui=False,
                        help="write this run's results here instead of "
                             f"{DEFAULT_RESULTS_DIR}/<run-id>/ (later runs of the same "
                             "process get -2, -3 ...)")
    parser.add_argument("--interval", type=positive_float, default=DEFAULT_INTERVAL_S,
                        env_var="QUANTLOAD_INTERVAL", include_in_web_ui=False,
                        help="seconds per timeseries row and latency slot (default 1)")
    parser.add_argument("--apdex-t-ms", type=positive_float, default=DEFAULT_APDEX_T_MS,
                        env_var="QUANTLOAD_APDEX_T_MS",
                        help="Apdex threshold T in ms: <= T satisfied, <= 4T tolerating "
                             "(default 500)")


def host_error(host: str | None) -> str | None:
    """Why ``host`` is not a usable base URL, or None when it is (or is not given)."""
    if not host:
        return None
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"argument -H/--host: {host!r} is not an http:// or https:// URL"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"argument -H/--host: {host!r} has a bad port"
    return None


def unknown_classes(asked: Iterable[str], available: Iterable[str]) -> list[str]:
    return sorted(set(asked) - set(available))


def check_after_parse(
    parser, available_classes: Callable[[], Iterable[str]],
    after: Callable[[argparse.Namespace], None] | None = None,
) -> None:
    """Make ``parser.parse_args`` reject a bad --host or unknown class names with exit 2.

    ``after`` then sees the checked options (to fill in defaults).
    """
    original = parser.parse_args

    def parse_args(*args, **kwargs):
        options = original(*args, **kwargs)
        from scenarios.options import apply_scenario_users  # a profile's classes (scenario-users)

        apply_scenario_users(options)
        if message := host_error(getattr(options, "host", None)):
            parser.error(message)
        names = getattr(options, "user_classes", None) or []
        if missing := unknown_classes(names, available_classes()):
            known = ", ".join(sorted(available_classes()))
            parser.error(f"unknown user class {', '.join(missing)} (available: {known})")
        if after is not None:
            after(options)
        return options

    parser.parse_args = parse_args
