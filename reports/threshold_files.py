"""The thresholds file: ``[thresholds]`` judged at the end, ``[abort]`` judged live.

The format is in :func:`parse_thresholds_toml`; every error is one line naming the
file, the table and the key, so a typo never silently drops a rule. The language of
one threshold is :mod:`reports.thresholds`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reports.threshold_parsing import parse_threshold, suggest
from reports.thresholds import (
    ABORT_KEYS,
    DEFAULT_ABORT_DELAY_S,
    FILE_SECTIONS,
    Threshold,
    ThresholdError,
    ThresholdSet,
    unique,
)


def load_thresholds(path: str | Path) -> ThresholdSet:
    """Read a thresholds TOML file (see ``parse_thresholds_toml``); errors are one line."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ThresholdError(f"thresholds file {str(path)!r} not found") from None
    except OSError as exc:
        raise ThresholdError(
            f"cannot read thresholds file {str(path)!r}: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError:
        raise ThresholdError(f"thresholds file {str(path)!r} is not UTF-8 text") from None
    return parse_thresholds_toml(text, source=str(path))


def parse_thresholds_toml(text: str, source: str = "<thresholds>") -> ThresholdSet:
    """Parse the file format::

        [thresholds]                       # judged on the final summary
        total = ["p95_ms<300", "fail_ratio<0.01"]
        "POST /v1/backtests" = "p95_ms<800"   # a string or a list of strings

        [abort]                            # judged while the run goes
        on_fail = ["fail_ratio<0.2", "POST /v1/backtests: p99_ms<5000"]
        delay_s = 10                       # not before this many seconds (default 10)

    Both tables are optional. Keys other than these are errors, so a typo never
    silently drops a rule.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThresholdError(f"{source}: bad TOML: {' '.join(str(exc).split())}") from None
    for key in doc:
        if key not in FILE_SECTIONS:
            raise ThresholdError(f"{source}: unknown key {key!r}{suggest(key, FILE_SECTIONS)}")
    checks: list[Threshold] = []
    for scope, value in _table(doc, "thresholds", source).items():
        where = f"{source}: [thresholds] {scope!r}"
        checks.extend(_parse_in(item, scope, where) for item in _strings(value, where))
    abort = _table(doc, "abort", source)
    for key in abort:
        if key not in ABORT_KEYS:
            raise ThresholdError(f"{source}: [abort] unknown key {key!r}{suggest(key, ABORT_KEYS)}")
    where = f"{source}: [abort] on_fail"
    on_fail = [_parse_in(item, None, where) for item in _strings(abort.get("on_fail", []), where)]
    delay = abort.get("delay_s", DEFAULT_ABORT_DELAY_S)
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or not math.isfinite(delay)
        or delay < 0
    ):
        raise ThresholdError(
            f"{source}: [abort] delay_s must be a number of seconds >= 0, not {delay!r}"
        )
    return ThresholdSet(unique(checks), unique(on_fail), float(delay))


def _table(doc: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, Mapping):
        raise ThresholdError(
            f"{source}: {key!r} must be a table ([{key}]), not {type(value).__name__}"
        )
    return value


def _strings(value: object, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ThresholdError(
            f"{where}: expected a threshold string or a list of them, not {value!r}"
        )
    return items


def _parse_in(text: str, scope: str | None, where: str) -> Threshold:
    try:
        return parse_threshold(text, scope)
    except ThresholdError as exc:
        raise ThresholdError(f"{where}: {exc}") from None
