"""The threshold language's grammar: text in, :class:`~reports.thresholds.Threshold` out.

A threshold is ``METRIC OP NUMBER`` (``p95_ms<300``, ``fail_ratio < 0.01``,
``p99_ms <= 1e3ms``), optionally scoped to one endpoint
(``POST /v1/backtests: p95_ms<800``). Every error is a one-line
:class:`~reports.thresholds.ThresholdError` saying what and where.

Grammar (whitespace allowed between the parts)::

    threshold  := [SCOPE ":"] METRIC OP NUMBER ["ms"]
    METRIC     := one of METRICS
    OP         := "<" | "<=" | ">" | ">=" | "=="
    NUMBER     := decimal or scientific literal (300, 0.01, 1e3), finite, >= 0
    SCOPE      := "METHOD name" of an endpoint, or "total" (the default)

The scope is everything before the *last* colon: an expression never contains
one, so endpoint names with colons stay unambiguous. The ``ms`` suffix is
allowed only on ``*_ms`` metrics. ``==`` compares exactly (meant for counts,
e.g. ``failures==0``).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence

from reports.thresholds import (
    AGGREGATE_SCOPE,
    OPERATORS,
    SCOPE_SEPARATOR,
    TIME_UNIT,
    Threshold,
    ThresholdError,
    normalize_scope,
)

__all__ = ["METRICS", "parse_threshold", "suggest"]

METRICS = (
    "p50_ms",
    "p75_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "avg_ms",
    "fail_ratio",
    "rps",
    "count",
    "failures",
    "apdex",
    "wrong_ratio",
)
"""Every metric a threshold may name; the keys of a summary row (``fail_ratio`` is derived;
``wrong_ratio``, wrong answers of those checked, is ``summary.json``'s ``correctness``'s)."""

OPERATOR_TYPOS = {"=": "==", "===": "==", "=<": "<=", "=>": ">=", "<<": "<", ">>": ">"}

_METRIC_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*")
_OPERATOR_RE = re.compile(r"[<>=!~]+")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EXAMPLE = "expected METRIC OP NUMBER, e.g. 'p95_ms<300'"


def parse_threshold(text: str, scope: str | None = None) -> Threshold:
    """Parse ``text`` (optionally ``"SCOPE: EXPR"``) into a Threshold.

    ``scope`` (e.g. a file's table key) scopes an unscoped expression; ``"total"``
    and None both mean the run's aggregate. Raises ThresholdError, one line.
    """
    if not isinstance(text, str):
        raise ThresholdError(f"threshold {text!r}: not text ({_EXAMPLE})")
    where = f"threshold {text!r}"
    expr = text
    if SCOPE_SEPARATOR in text:
        if scope is not None:
            raise ThresholdError(f"{where}: already scoped to {scope!r}; drop the 'SCOPE:' part")
        scope, _, expr = text.rpartition(SCOPE_SEPARATOR)
        if not scope.strip():
            raise ThresholdError(f"{where}: nothing before ':' (expected 'METHOD name: EXPR')")
    if scope is not None:
        scope = normalize_scope(scope)
        if not scope:
            raise ThresholdError(f"{where}: empty scope")
        if scope == AGGREGATE_SCOPE:
            scope = None
    metric, op, value = _parse_expression(expr, where)
    return Threshold(scope, metric, op, value)


def _parse_expression(expr: str, where: str) -> tuple[str, str, float]:
    if not expr.strip():
        raise ThresholdError(f"{where}: empty threshold ({_EXAMPLE})")
    match = _METRIC_RE.match(expr)
    if match is None:
        raise ThresholdError(f"{where}: expected a metric name first, one of {', '.join(METRICS)}")
    metric, rest = match.group(1), expr[match.end() :]
    if metric not in METRICS:
        raise ThresholdError(f"{where}: unknown metric {metric!r}{suggest(metric, METRICS)}")
    op_match = _OPERATOR_RE.match(rest)
    known_ops = ", ".join(OPERATORS)
    if op_match is None:
        raise ThresholdError(f"{where}: missing operator after {metric!r} (one of {known_ops})")
    op, rest = op_match.group(0), rest[op_match.end() :]
    if op not in OPERATORS:
        hint = f"; did you mean {OPERATOR_TYPOS[op]!r}?" if op in OPERATOR_TYPOS else ""
        raise ThresholdError(f"{where}: bad operator {op!r} (one of {known_ops}{hint})")
    return metric, op, _parse_number(rest.strip(), metric, op, where)


def _parse_number(text: str, metric: str, op: str, where: str) -> float:
    if not text:
        raise ThresholdError(f"{where}: missing number after {op!r}")
    match = _NUMBER_RE.match(text)
    if match is None:
        raise ThresholdError(f"{where}: {text!r} is not a number")
    unit = text[match.end() :].strip()
    if unit == TIME_UNIT and not metric.endswith("_ms"):
        raise ThresholdError(f"{where}: unit 'ms' only applies to *_ms metrics, not {metric!r}")
    if unit and unit != TIME_UNIT:
        if unit.isalpha():
            raise ThresholdError(f"{where}: unknown unit {unit!r} (only 'ms', on *_ms metrics)")
        raise ThresholdError(f"{where}: {text!r} is not a number")
    value = float(match.group(0))
    if not math.isfinite(value):
        raise ThresholdError(f"{where}: {match.group(0)!r} is not a finite number")
    if value < 0:
        raise ThresholdError(f"{where}: negative limit {match.group(0)}; every metric is >= 0")
    return value


def suggest(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for a near miss, else `` (one of a, b, c)``."""
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else f" (one of {', '.join(choices)})"
