"""Thresholds: the pass/fail rules that gate CI, as a small expression language.

A threshold is ``METRIC OP NUMBER`` (``p95_ms<300``, ``fail_ratio < 0.01``,
``p99_ms <= 1e3ms``), checked against the run's ``total`` or against one
endpoint (``POST /v1/backtests: p95_ms<800``). Everything here is pure: text
and dicts in, dataclasses and text out, so the rules are tested with synthetic
summaries of known answer. The grammar of one threshold is
:mod:`reports.threshold_parsing`; the thresholds file (TOML) is read by
:mod:`reports.threshold_files`.

Evaluation rules (see ``evaluate``): a metric the summary does not have is
"no data" and fails; a latency or apdex threshold on an endpoint that had no
requests fails ("no requests to ..."); counters (count, failures, fail_ratio,
rps) of an endpoint that never appeared are 0, because Locust only creates a
row on its first request, so ``"DROPPED": "count==0"`` can pass. ``wrong_ratio``
(answers wrong of those checked against their golden answer, ``--check-answers``) is
the summary's ``correctness`` section's, the run's or one route's
(``POST /v1/backtests: wrong_ratio<0.001``); with no answer checked it is "no data".
"""

from __future__ import annotations

import difflib
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

COUNTER_METRICS = frozenset({"count", "failures", "fail_ratio", "rps"})
WRONG_RATIO = "wrong_ratio"
"""Read from ``summary.json``'s ``correctness`` section, not from a row."""
"""Metrics that are 0, not missing, for an endpoint that had no requests."""

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}
AGGREGATE_SCOPE = "total"
SCOPE_SEPARATOR = ":"
TIME_UNIT = "ms"
FILE_SECTIONS = ("thresholds", "abort")
ABORT_KEYS = ("on_fail", "delay_s")
CLOSEST_ENDPOINT_CUTOFF = 0.8  # suggest typo fixes ("POST /v1/backtest"), not other routes
DEFAULT_ABORT_DELAY_S = 10.0
"""Abort thresholds wait this long by default: a run's first few requests cannot end it."""

EXIT_OK = 0
EXIT_BAD_THRESHOLDS = 2  # malformed threshold or file: one line on stderr, before any load
EXIT_THRESHOLD_FAILED = 3  # the run happened and at least one threshold failed


class ThresholdError(ValueError):
    """A malformed threshold, file or option; the message is one line saying what and where."""


@dataclass(frozen=True)
class Threshold:
    """One rule: ``metric op value`` over ``scope`` (an endpoint key, or None for the total)."""

    scope: str | None
    metric: str
    op: str
    value: float

    @property
    def name(self) -> str:
        """Canonical text, stable across spellings; parsing it gives this threshold back."""
        expr = f"{self.metric}{self.op}{format_number(self.value)}"
        return expr if self.scope is None else f"{self.scope}{SCOPE_SEPARATOR} {expr}"

    @property
    def unit(self) -> str:
        return TIME_UNIT if self.metric.endswith("_ms") else ""


@dataclass(frozen=True)
class ThresholdSet:
    """What a run is held to: checked at the end, and (``abort_on_fail``) while it goes."""

    thresholds: tuple[Threshold, ...] = ()
    abort_on_fail: tuple[Threshold, ...] = ()
    abort_delay_s: float = DEFAULT_ABORT_DELAY_S

    def __bool__(self) -> bool:
        return bool(self.thresholds or self.abort_on_fail)

    @property
    def end_of_run(self) -> tuple[Threshold, ...]:
        """Every threshold judged on the final summary: abort ones too, each name once."""
        return unique(self.thresholds + self.abort_on_fail)

    def merged(self, extra: Iterable[Threshold]) -> ThresholdSet:
        """This set plus ``extra`` end-of-run thresholds (duplicates by name dropped)."""
        return replace(self, thresholds=unique(self.thresholds + tuple(extra)))


@dataclass(frozen=True)
class Result:
    """How one threshold fared. ``observed`` is None when there was nothing to measure."""

    threshold: Threshold
    observed: float | None
    passed: bool
    note: str = ""

    @property
    def name(self) -> str:
        return self.threshold.name

    def as_dict(self) -> dict:
        """The entry for ``summary.json``'s ``thresholds`` list."""
        return {
            "name": self.name,
            "observed": self.observed,
            "passed": self.passed,
            "note": self.note,
        }


# --- names ---------------------------------------------------------------------------------


def format_number(value: float) -> str:
    """``300.0`` -> ``300``, ``0.01`` -> ``0.01``: the shortest text that reads back the same."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def normalize_scope(text: str) -> str:
    """Endpoint keys compare with runs of whitespace collapsed (``"POST  /x"`` is ``"POST /x"``)."""
    return " ".join(text.split())


def unique(thresholds: Iterable[Threshold]) -> tuple[Threshold, ...]:
    """The thresholds without repeats (by name), first occurrence kept, in order."""
    first: dict[str, Threshold] = {}
    for threshold in thresholds:
        first.setdefault(threshold.name, threshold)
    return tuple(first.values())


# --- evaluation ---------------------------------------------------------------------------


def evaluate(thresholds: Iterable[Threshold], summary: Mapping) -> list[Result]:
    """Judge each threshold against ``summary`` (summary.json's shape), in order.

    Rows: ``summary["total"]`` for the aggregate, and the ``summary["endpoints"]``
    entry whose f"{method} {name}" equals the scope. See the module docstring
    for no-data rules; a failed Result's note says why (observed vs limit, or
    which data is missing).
    """
    return [_evaluate_one(t, summary) for t in thresholds]


def evaluate_live(
    abort_thresholds: Iterable[Threshold],
    snapshot_summary: Mapping,
    elapsed_s: float,
    delay_s: float,
) -> Result | None:
    """The first abort threshold breached by the snapshot so far, or None.

    Nothing is judged before ``delay_s``. Only a measured value breaches: a
    threshold with no data yet (no requests to an endpoint so far) waits.
    """
    if elapsed_s < delay_s:
        return None
    for threshold in abort_thresholds:
        result = _evaluate_one(threshold, snapshot_summary)
        if not result.passed and result.observed is not None:
            return replace(result, note=f"breached after {elapsed_s:.0f} s: {result.note}")
    return None


def final_results(
    threshold_set: ThresholdSet, summary: Mapping, breach: Result | None = None
) -> list[Result]:
    """End of run: every threshold on the final summary; an abort breach stays a failure."""
    results = evaluate(threshold_set.end_of_run, summary)
    if breach is None:
        return results
    aborted = replace(breach, passed=False, note=f"aborted the run: {breach.note}")
    if all(r.name != breach.name for r in results):
        return [*results, aborted]
    return [aborted if r.name == breach.name else r for r in results]


def exit_code(results: Iterable[Result]) -> int:
    """EXIT_OK when every threshold passed (or there were none), else EXIT_THRESHOLD_FAILED."""
    return EXIT_OK if all(r.passed for r in results) else EXIT_THRESHOLD_FAILED


def _evaluate_one(threshold: Threshold, summary: Mapping) -> Result:
    scope = threshold.scope or AGGREGATE_SCOPE
    if threshold.metric == WRONG_RATIO:
        observed = wrong_ratio(summary, threshold.scope)
        if observed is None:
            return Result(threshold, None, False, f"no data: no answer of {scope!r} was checked")
        return _judge(threshold, observed)
    row = _row(summary, threshold.scope)
    if row is None:
        absent, closest = f"no requests to {scope!r}", _closest_endpoint(summary, threshold.scope)
        if threshold.metric in COUNTER_METRICS:
            return _judge(threshold, 0.0, f"{absent} (counted as 0){closest}")
        return Result(threshold, None, False, f"{absent}{closest}")
    if threshold.metric not in COUNTER_METRICS and _number(row.get("count")) == 0:
        return Result(threshold, None, False, f"no requests to {scope!r}")
    observed = (
        _fail_ratio(row) if threshold.metric == "fail_ratio" else _number(row.get(threshold.metric))
    )
    if observed is None:
        return Result(
            threshold, None, False, f"no data: the summary has no {threshold.metric} for {scope!r}"
        )
    return _judge(threshold, observed)


def _judge(threshold: Threshold, observed: float, note: str = "") -> Result:
    passed = OPERATORS[threshold.op](observed, threshold.value)
    if not passed:
        unit = f" {threshold.unit}" if threshold.unit else ""
        verdict = (
            f"observed {format_observed(observed)}{unit}, "
            f"limit {threshold.op} {format_number(threshold.value)}{unit}"
        )
        note = f"{note}; {verdict}" if note else verdict
    return Result(threshold, observed, passed, note)


def wrong_ratio(summary: Mapping, scope: str | None) -> float | None:
    """Wrong answers of those checked (``summary["correctness"]``): the run's, or the route
    ``scope`` names (``"POST /v1/backtests"``); None when none of them was checked."""
    section = summary.get("correctness")
    if not isinstance(section, Mapping):
        return None
    row: object = section
    if scope is not None:
        row = next(
            (
                r
                for r in section.get("routes") or ()
                if isinstance(r, Mapping) and normalize_scope(str(r.get("route"))) == scope
            ),
            None,
        )
    return _number(row.get("wrong_ratio")) if isinstance(row, Mapping) else None


def _row(summary: Mapping, scope: str | None) -> Mapping | None:
    if scope is None:
        total = summary.get("total")
        return total if isinstance(total, Mapping) else None
    for endpoint in summary.get("endpoints") or ():
        if isinstance(endpoint, Mapping) and _endpoint_key(endpoint) == scope:
            return endpoint
    return None


def _endpoint_key(endpoint: Mapping) -> str:
    return normalize_scope(f"{endpoint.get('method') or ''} {endpoint.get('name') or ''}")


def _closest_endpoint(summary: Mapping, scope: str | None) -> str:
    if scope is None:
        return ""
    keys = {
        _endpoint_key(e).lower(): _endpoint_key(e)
        for e in summary.get("endpoints") or ()
        if isinstance(e, Mapping)
    }
    close = difflib.get_close_matches(scope.lower(), keys, n=1, cutoff=CLOSEST_ENDPOINT_CUTOFF)
    return f"; closest seen: {keys[close[0]]!r}" if close else ""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _fail_ratio(row: Mapping) -> float | None:
    count, failures = _number(row.get("count")), _number(row.get("failures"))
    if count is None or failures is None:
        return None
    return failures / count if count else 0.0


# --- console ------------------------------------------------------------------------------


def format_observed(value: float) -> str:
    """Readable, not exhaustive: ``1149``, ``212.4``, ``3.142``, ``0.00532``."""
    if value.is_integer():
        return str(int(value))
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4g}"


def format_results(results: Sequence[Result]) -> str:
    """The end-of-run table: one aligned line per threshold, PASS/FAIL, observed value, note."""
    if not results:
        return "thresholds: none"
    passed = sum(r.passed for r in results)
    rows = [
        (
            "PASS" if r.passed else "FAIL",
            r.name,
            "no data"
            if r.observed is None
            else f"{format_observed(r.observed)} {r.threshold.unit}".rstrip(),
            r.note,
        )
        for r in results
    ]
    name_w = max(len(name) for _, name, _, _ in rows)
    value_w = max(len(value) for _, _, value, _ in rows)
    lines = [f"thresholds: {passed} of {len(results)} passed"]
    for status, name, value, note in rows:
        lines.append(f"  {status}  {name:<{name_w}}  {value:>{value_w}}  {note}".rstrip())
    return "\n".join(lines)
