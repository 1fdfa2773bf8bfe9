"""Every command-line option of the suite, added to Locust's own parser, from this one module.

Options go through Locust's parser (so they work from the command line, a
``--config`` file, ``LOCUST_*``/``QUANTLOAD_*`` environment variables and, where
it makes sense, the web UI). Checks that need the whole command line (a valid
``--host``, known class names, a usable run directory) run right after parsing
(:mod:`plugin.option_checks`), so bad input is one line and exit 2 before anything starts.

The groups, each registered by :func:`add_options`: the users' (api key, seed,
arrival rate), the embedded target's, ``--shape``, the run directory's
(:func:`add_run_options`), the scenarios' (:func:`add_scenario_options`, every
shape parameter in :data:`SHAPE_OPTIONS`), the target sampler's
(:func:`add_target_metrics_option`) and the thresholds'
(:func:`add_threshold_options`). Their argparse types are in
:mod:`plugin.option_types`. Shapes read the values with
:func:`scenarios.options.option_value`. Nothing here imports Locust.
"""

from __future__ import annotations

from typing import Any

from metrics.source_spec import SPEC_FORMS
from plugin.option_types import (
    growth,
    levels,
    non_negative,
    positive_float,
    positive_int,
    ratio,
    shape_unit,
    target_metrics_spec,
)
from reports.threshold_files import load_thresholds
from reports.threshold_parsing import parse_threshold
from reports.thresholds import ThresholdError, ThresholdSet
from rundir.layout import DEFAULT_APDEX_T_MS, DEFAULT_INTERVAL_S, DEFAULT_RESULTS_DIR
from scenarios.catalogue import SHAPES
from scenarios.options import scenario_user_names
from users.settings import DEFAULT_SEED, settings_of

ENV_PREFIX = "QUANTLOAD_"
THRESHOLDS_FILE_ENV = "QUANTLOAD_THRESHOLDS"
SECRET_OPTIONS = ("api_key", "agent_token")
"""The options registered ``is_secret``: never shown, logged or written (plugin.webui_guard)."""

SHAPE_OPTIONS: tuple[tuple[str, Any, str], ...] = (
    # flag, type, help
    (
        "--shape-unit",
        shape_unit,
        "shapes: count load in 'users' (closed model, default) or 'rps' (ArrivalRateUser's "
        "total arrival rate: open model)",
    ),
    ("--ramp-peak", non_negative, "RampShape: peak load (users, or req/s with --shape-unit rps)"),
    ("--ramp-up-s", non_negative, "RampShape: seconds from 0 to the peak"),
    ("--ramp-hold-s", positive_float, "RampShape: seconds at the peak"),
    ("--ramp-down-s", non_negative, "RampShape: seconds from the peak back to 0"),
    ("--steps", levels, "StepShape, JobCapacityShape: the load of each step, e.g. '5,10,20,40'"),
    ("--step-s", positive_float, "StepShape, JobCapacityShape: seconds each step is held"),
    ("--drain-s", positive_float, "JobCapacityShape: seconds the queue is watched after the steps"),
    ("--spike-base", non_negative, "SpikeShape: load before and after the spike"),
    ("--spike-peak", non_negative, "SpikeShape: load during the spike"),
    ("--spike-base-s", positive_float, "SpikeShape: seconds of baseline before the spike"),
    ("--spike-s", positive_float, "SpikeShape: seconds the spike lasts"),
    ("--spike-recovery-s", positive_float, "SpikeShape: seconds of baseline after the spike"),
    ("--soak-load", non_negative, "SoakShape: the constant load held until -t"),
    ("--soak-warmup-s", non_negative, "SoakShape: seconds of ramp from 0 to the soak load"),
    ("--breakpoint-start-rate", positive_float, "BreakpointShape: first arrival rate, req/s"),
    ("--breakpoint-growth", growth, "BreakpointShape: rate factor between steps until a break"),
    (
        "--breakpoint-resolution",
        positive_float,
        "BreakpointShape: stop refining when (broken - good) / good is at most this",
    ),
    (
        "--breakpoint-settle-s",
        non_negative,
        "BreakpointShape: seconds skipped at each step's start before measuring",
    ),
    ("--breakpoint-min-window-s", positive_float, "BreakpointShape: shortest measuring window, s"),
    (
        "--breakpoint-window-requests",
        positive_float,
        "BreakpointShape: requests a window should hold (window = requests / rate, within limits)",
    ),
    ("--breakpoint-max-error-ratio", ratio, "BreakpointShape: error ratio that breaks a step"),
    (
        "--breakpoint-max-p95-ms",
        positive_float,
        "BreakpointShape: p95 (ms) that breaks a step (default: 10x the first step's p95, "
        "at least 250 ms)",
    ),
    (
        "--breakpoint-min-throughput-ratio",
        ratio,
        "BreakpointShape: achieved/offered below this breaks a step",
    ),
    (
        "--breakpoint-max-dropped-ratio",
        ratio,
        "BreakpointShape: share of dropped arrivals that breaks a step",
    ),
)
"""Every shape option: ``(flag, type, help)``; the env var is ``QUANTLOAD_`` + the dest.

Every shape parameter is a documented class attribute of its shape; the option of
the same meaning, when given, overrides it for the run. Options default to None so
"not given" is visible, and the class attribute stays the default. They are kept
out of the web UI (pick a profile instead), so their values always arrive typed."""


def add_options(parser) -> None:
    """Register quantload's options on Locust's parser."""
    group = parser  # Locust's own add_argument (an argparse group would drop is_secret)
    group.add_argument(
        "--api-key",
        env_var="QUANTLOAD_API_KEY",
        default=None,
        is_secret=True,
        help="sent as X-API-Key on every API request (env QUANTLOAD_API_KEY)",
    )
    group.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        env_var="QUANTLOAD_SEED",
        help="seed for the users' random choices, so runs repeat (default 0)",
    )
    group.add_argument(
        "--arrival-rate",
        type=positive_float,
        default=None,
        env_var="QUANTLOAD_ARRIVAL_RATE",
        help="ArrivalRateUser: total requests/s across all users and workers",
    )
    group.add_argument(
        "--max-in-flight",
        type=positive_int,
        default=None,
        help="ArrivalRateUser: in-flight cap per process; arrivals over it are dropped and counted",
    )
    group.add_argument(
        "--check-answers",
        type=ratio,
        default=None,
        metavar="FRACTION",
        env_var="QUANTLOAD_CHECK_ANSWERS",
        help="share of backtest answers checked against their golden answers, 0..1 "
        "(default 1: every one; 0: none); a mismatch fails as 'wrong result'",
    )
    group.add_argument(
        "--target-flags",
        default="",
        env_var="QUANTLOAD_TARGET_FLAGS",
        include_in_web_ui=False,
        help="flags for the embedded reference target started when no --host "
        "is given, e.g. '--slots 4 --service-ms 50'",
    )
    group.add_argument(
        "--shape",
        choices=SHAPES,
        default=None,
        env_var="QUANTLOAD_SHAPE",
        include_in_web_ui=False,
        help="load shape from scenarios/ (a profile's 'shape = NAME')",
    )
    group.add_argument(
        "--master-timeout",
        type=positive_int,
        default=None,
        env_var="QUANTLOAD_MASTER_TIMEOUT",
        include_in_web_ui=False,
        help="workers: quit this many seconds after the master's last heartbeat (a master "
        "killed leaves no worker running; default Locust's 60)",
    )
    add_run_options(group)
    add_scenario_options(group)
    add_target_metrics_option(group)
    add_threshold_options(group)
    add_history_options(group)


def add_history_options(parser) -> None:
    """The run history (reports.history_store): where every run is appended, and its build."""
    parser.add_argument(
        "--history-db",
        default=None,
        env_var="QUANTLOAD_HISTORY_DB",
        include_in_web_ui=False,
        help="the run history every run is appended to: a SQLite path or a SQLAlchemy URL "
        "(postgresql://...); default history.sqlite beside the run directories "
        "(results/history.sqlite); 'none' keeps no history",
    )
    parser.add_argument(
        "--build-id",
        default=None,
        env_var="QUANTLOAD_BUILD_ID",
        include_in_web_ui=False,
        help="the build under test, for the run history (default: the git commit of the "
        "working directory, when there is one)",
    )


def add_run_options(parser) -> None:
    """The run directory's options: where it goes, its row width, Apdex T."""
    parser.add_argument(
        "--run-dir",
        default=None,
        env_var="QUANTLOAD_RUN_DIR",
        include_in_web_ui=False,
        help="write this run's results here instead of "
        f"{DEFAULT_RESULTS_DIR}/<run-id>/ (later runs of the same "
        "process get -2, -3 ...)",
    )
    parser.add_argument(
        "--interval",
        type=positive_float,
        default=DEFAULT_INTERVAL_S,
        env_var="QUANTLOAD_INTERVAL",
        include_in_web_ui=False,
        help="seconds per timeseries row and latency slot (default 1)",
    )
    parser.add_argument(
        "--apdex-t-ms",
        type=positive_float,
        default=DEFAULT_APDEX_T_MS,
        env_var="QUANTLOAD_APDEX_T_MS",
        help="Apdex threshold T in ms: <= T satisfied, <= 4T tolerating (default 500)",
    )


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def add_scenario_options(parser) -> None:
    """The scenarios' options: ``--scenario-users`` and every shape parameter.

    ``--scenario-users`` lets a ``config/*.conf`` profile choose its user classes
    (a config file cannot name positional classes): :func:`apply_scenario_users`
    copies them to ``options.user_classes`` when none were named on the command line.
    """
    parser.add_argument(
        "--scenario-users",
        default=None,
        env_var=ENV_PREFIX + "SCENARIO_USERS",
        include_in_web_ui=False,
        help="user classes to run when none are named on the command line "
        "(space- or comma-separated); lets a --config profile choose them",
    )
    for flag, kind, text in SHAPE_OPTIONS:
        parser.add_argument(
            flag,
            type=kind,
            default=None,
            env_var=ENV_PREFIX + _dest(flag).upper(),
            include_in_web_ui=False,
            help=text,
        )


def add_target_metrics_option(parser) -> None:
    """``--target-metrics`` and ``--agent-token``: where the target host is sampled."""
    parser.add_argument(
        "--target-metrics",
        metavar="SPEC",
        type=target_metrics_spec,
        default=None,
        env_var="QUANTLOAD_TARGET_METRICS",
        include_in_web_ui=False,
        help=f"where to sample the target host: {SPEC_FORMS} (default auto: the embedded "
        "target's process when the suite started it, else none)",
    )
    parser.add_argument(
        "--agent-token",
        default=None,
        env_var="QUANTLOAD_AGENT_TOKEN",
        is_secret=True,
        include_in_web_ui=False,
        help="bearer token for agent:URL (prefer the env var QUANTLOAD_AGENT_TOKEN)",
    )


def add_threshold_options(parser) -> None:
    """``--thresholds FILE`` and ``--threshold EXPR`` (the language is ``reports.thresholds``).

    They stay plain strings in the parsed namespace, because Locust ships
    ``parsed_options`` to workers with every spawn message;
    :func:`thresholds_from_options` turns them into a ThresholdSet on the master (or
    local runner). Neither shows in the web UI: thresholds are checked before any load
    is sent, and a form edit afterwards would skip that check.
    """
    parser.add_argument(
        "--thresholds",
        metavar="FILE",
        default=None,
        env_var=THRESHOLDS_FILE_ENV,
        include_in_web_ui=False,
        help="TOML file of thresholds the run must meet, e.g. config/thresholds.toml "
        f"(env {THRESHOLDS_FILE_ENV}); a failed one makes the exit code 3",
    )
    parser.add_argument(
        "--threshold",
        metavar="EXPR",
        action="append",
        default=None,
        include_in_web_ui=False,
        help="one more threshold, repeatable: 'p95_ms<300' for the whole run, "
        "'POST /v1/backtests: p95_ms<800' for one endpoint (scope before the last ':')",
    )


def thresholds_from_options(options) -> ThresholdSet:
    """The file's thresholds plus every ``--threshold``, checked; a run given neither has none.

    Raises ThresholdError with one line naming the option, for ``parser.error``.
    """
    settings = settings_of(options)
    path = settings.thresholds
    try:
        base = load_thresholds(path) if path else ThresholdSet()
    except ThresholdError as exc:
        raise ThresholdError(f"argument --thresholds: {exc}") from None
    extra = []
    for text in settings.threshold:
        try:
            extra.append(parse_threshold(text))
        except ThresholdError as exc:
            raise ThresholdError(f"argument --threshold: {exc}") from None
    return base.merged(extra)


def apply_scenario_users(options: Any) -> None:
    """When no class is named on the command line (and no class picker is used), run the
    ``--scenario-users`` classes. Workers are left alone: the master decides what they run.
    Call right after parsing, before the default population is applied."""
    settings = settings_of(options)
    if settings.user_classes or settings.class_picker or settings.worker:
        return
    names = scenario_user_names(options)
    if names:
        options.user_classes = names
