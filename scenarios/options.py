"""The scenarios' options, added to Locust's parser, and how shapes read them.

Every shape parameter is a documented class attribute of its shape; the
option of the same meaning, when given (command line, ``--config`` profile,
or ``QUANTLOAD_*`` environment variable), overrides it for the run. Options
default to None so "not given" is visible, and the class attribute stays the
default. They are kept out of the web UI (pick a profile instead), so their
values always arrive typed.

``--scenario-users`` lets a ``config/*.conf`` profile choose its user classes
(a config file cannot name positional classes): :func:`apply_scenario_users`
copies them to ``options.user_classes`` when none were named on the command line.

This module imports neither Locust nor the shapes, so it is testable as is.
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Any

from plugin.options import positive_float

__all__ = ["SHAPE_OPTIONS", "add_scenario_options", "apply_scenario_users", "option_value",
           "scenario_user_names"]

ENV_PREFIX = "QUANTLOAD_"
UNIT_CHOICES = {"users": "users", "rps": "req/s"}
"""``--shape-unit`` spellings -> the plans' unit names."""


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number >= 0")
    return value


def _ratio(text: str) -> float:
    value = _non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def _growth(text: str) -> float:
    value = positive_float(text)
    if value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 1")
    return value


def _levels(text: str) -> tuple[float, ...]:
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts:
        raise argparse.ArgumentTypeError("give at least one level, e.g. '5,10,20,40'")
    return tuple(_non_negative(p) for p in parts)


def _unit(text: str) -> str:
    if text not in UNIT_CHOICES:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(UNIT_CHOICES)}")
    return UNIT_CHOICES[text]


SHAPE_OPTIONS: tuple[tuple[str, Any, str], ...] = (
    # flag, type, help
    ("--shape-unit", _unit,
     "shapes: count load in 'users' (closed model, default) or 'rps' (ArrivalRateUser's "
     "total arrival rate: open model)"),
    ("--ramp-peak", _non_negative, "RampShape: peak load (users, or req/s with --shape-unit rps)"),
    ("--ramp-up-s", _non_negative, "RampShape: seconds from 0 to the peak"),
    ("--ramp-hold-s", positive_float, "RampShape: seconds at the peak"),
    ("--ramp-down-s", _non_negative, "RampShape: seconds from the peak back to 0"),
    ("--steps", _levels, "StepShape: the load of each step, e.g. '5,10,20,40'"),
    ("--step-s", positive_float, "StepShape: seconds each step is held"),
    ("--spike-base", _non_negative, "SpikeShape: load before and after the spike"),
    ("--spike-peak", _non_negative, "SpikeShape: load during the spike"),
    ("--spike-base-s", positive_float, "SpikeShape: seconds of baseline before the spike"),
    ("--spike-s", positive_float, "SpikeShape: seconds the spike lasts"),
    ("--spike-recovery-s", positive_float, "SpikeShape: seconds of baseline after the spike"),
    ("--soak-load", _non_negative, "SoakShape: the constant load held until -t"),
    ("--soak-warmup-s", _non_negative, "SoakShape: seconds of ramp from 0 to the soak load"),
    ("--breakpoint-start-rate", positive_float, "BreakpointShape: first arrival rate, req/s"),
    ("--breakpoint-growth", _growth, "BreakpointShape: rate factor between steps until a break"),
    ("--breakpoint-resolution", positive_float,
     "BreakpointShape: stop refining when (broken - good) / good is at most this"),
    ("--breakpoint-settle-s", _non_negative,
     "BreakpointShape: seconds skipped at each step's start before measuring"),
    ("--breakpoint-min-window-s", positive_float, "BreakpointShape: shortest measuring window, s"),
    ("--breakpoint-window-requests", positive_float,
     "BreakpointShape: requests a window should hold (window = requests / rate, within limits)"),
    ("--breakpoint-max-error-ratio", _ratio, "BreakpointShape: error ratio that breaks a step"),
    ("--breakpoint-max-p95-ms", positive_float,
     "BreakpointShape: p95 (ms) that breaks a step (default: 10x the first step's p95, "
     "at least 250 ms)"),
    ("--breakpoint-min-throughput-ratio", _ratio,
     "BreakpointShape: achieved/offered below this breaks a step"),
    ("--breakpoint-max-dropped-ratio", _ratio,
     "BreakpointShape: share of dropped arrivals that breaks a step"),
)
"""Every shape option: ``(flag, type, help)``; the env var is ``QUANTLOAD_`` + the dest."""


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def add_scenario_options(parser) -> None:
    """Register the scenarios' options on Locust's parser (call once, from ``add_options``)."""
    parser.add_argument(
        "--scenario-users", default=None, env_var=ENV_PREFIX + "SCENARIO_USERS",
        include_in_web_ui=False,
        help="user classes to run when none are named on the command line "
             "(space- or comma-separated); lets a --config profile choose them")
    for flag, kind, text in SHAPE_OPTIONS:
        parser.add_argument(flag, type=kind, default=None,
                            env_var=ENV_PREFIX + _dest(flag).upper(),
                            include_in_web_ui=False, help=text)


def scenario_user_names(options: Any) -> list[str]:
    """The class names in ``--scenario-users`` (empty when not given)."""
    text = getattr(options, "scenario_users", None) or ""
    return [name for name in re.split(r"[,\s]+", text.strip()) if name]


def apply_scenario_users(options: Any) -> None:
    """When no class is named on the command line (and no class picker is used), run the
    ``--scenario-users`` classes. Workers are left alone: the master decides what they run.
    Call right after parsing, before the default population is applied."""
    if getattr(options, "user_classes", None) or getattr(options, "class_picker", False):
        return
    if getattr(options, "worker", False):
        return
    names = scenario_user_names(options)
    if names:
        options.user_classes = names


def option_value(options: Any, name: str, default: Any) -> Any:
    """``options.<name>`` when given (not None, not ''), else ``default``."""
    value = getattr(options, name, None)
    return default if value is None or value == "" else value
