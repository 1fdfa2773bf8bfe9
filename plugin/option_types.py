"""argparse types of the suite's options: text in, a checked value out, or one line saying why.

Each raises ``argparse.ArgumentTypeError``, which Locust's parser turns into
``argument --flag: ...`` and exit 2, before any load is sent. Values stay plain
(numbers, strings, tuples) because Locust ships ``parsed_options`` to workers.
"""

from __future__ import annotations

import argparse
import math
import re

from metrics.source_spec import OPTION as TARGET_METRICS_OPTION
from metrics.source_spec import parse_source
from scenarios.plans import UNIT_RPS, UNIT_USERS

UNIT_CHOICES = {"users": UNIT_USERS, "rps": UNIT_RPS}
"""``--shape-unit`` spellings -> the plans' unit names."""


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


def non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number >= 0")
    return value


def ratio(text: str) -> float:
    value = non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def growth(text: str) -> float:
    value = positive_float(text)
    if value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 1")
    return value


def levels(text: str) -> tuple[float, ...]:
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts:
        raise argparse.ArgumentTypeError("give at least one level, e.g. '5,10,20,40'")
    return tuple(non_negative(p) for p in parts)


def shape_unit(text: str) -> str:
    if text not in UNIT_CHOICES:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(UNIT_CHOICES)}")
    return UNIT_CHOICES[text]


def target_metrics_spec(text: str) -> str:
    """Check a ``--target-metrics`` spec, keep the string (options travel to workers as
    msgpack); the spec itself is :func:`metrics.source_spec.parse_source`'s."""
    try:
        parse_source(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            str(exc).removeprefix(f"{TARGET_METRICS_OPTION}: ")
        ) from None
    return text
