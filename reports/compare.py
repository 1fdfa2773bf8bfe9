"""Build over build: did the current run get worse than the baseline, past a limit?

``python -m reports compare BASELINE_DIR CURRENT_DIR [--max-regression 10%]`` exits
0 (no regression), 1 (regression) or 2 (bad input, one line on stderr), prints a
short table and writes ``compare.html`` (default: into CURRENT_DIR).

Rules, stated once (L is ``--max-regression``, a fraction: 0.10 for 10 %):

- compared: p95, p99 (ms), throughput (rps) and error ratio (failures / count), for
  the aggregate of the target's requests (``requests``; older runs without it fall
  back to Locust's ``total``) and per endpoint, matched by method + name;
- direction: latency and error ratio up are worse, throughput down is worse;
- latency regresses when it grows by more than L relatively AND by at least
  :data:`LATENCY_FLOOR_MS` (0.5 ms): below that it is timer and scheduler noise,
  which alone would turn a 0.4 ms -> 0.7 ms endpoint into "+75 %";
- throughput regresses when it falls by more than L relatively;
- error ratio regresses when it grows by more than L relatively (any growth from 0)
  AND by at least :data:`ERROR_RATIO_FLOOR` (0.1 percentage point): one failure
  more in 10,000 is not a regression;
- gated: the aggregate always; an endpoint only with at least
  :data:`MIN_GATED_REQUESTS` (20) requests in both runs (a p95 of 5 requests is one
  request), and only the target's requests (pseudo-requests such as JOB, QUEUE or
  WS_MSG are shown, not gated). Ungated rows past the limit are marked, never fail;
- endpoints in only one run are listed as added / removed, never regressions.

:func:`compare_summaries` is pure; :func:`run_compare` and :func:`main` do the I/O.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from jinja2 import Environment, FileSystemLoader

from rundir.layout import is_request
from rundir.reader import RunData, RunDirError, load_run

__all__ = ["Comparison", "EndpointComparison", "MetricChange", "compare_summaries", "main",
           "parse_percentage", "run_compare"]

DEFAULT_MAX_REGRESSION = 0.10
MIN_GATED_REQUESTS = 20
"""An endpoint is gated only with at least this many requests in both runs."""
LATENCY_FLOOR_MS = 0.5
"""Latency changes smaller than this (absolute) never regress: noise on loopback."""
ERROR_RATIO_FLOOR = 0.001
"""Error-ratio changes smaller than this (0.1 percentage point) never regress."""
EPS = 1e-9
"""A change exactly at the limit is not past it (100 -> 110 ms is 0.1000000001 in floats)."""
HTML_FILE = "compare.html"
TEMPLATES = Path(__file__).resolve().parent / "templates"
AGGREGATE_NAME = "all requests"
METRICS = ("p95_ms", "p99_ms", "rps", "error_ratio")
LABELS = {"p95_ms": "p95", "p99_ms": "p99", "rps": "throughput", "error_ratio": "error ratio"}
VERDICT_ITEMS = 8
"""The verdict line names at most this many regressions (the tables show them all)."""


@dataclass(frozen=True)
class MetricChange:
    """One metric of one endpoint in both runs. ``delta`` is current - baseline (ms, rps,
    or a ratio: x100 for percentage points); ``change`` is delta / baseline, None when the
    baseline is 0 or a value is missing. ``past_limit``: worse past the limit and the noise
    floor; ``regressed``: past the limit on a gated row (what fails the build)."""

    metric: str
    baseline: float | None
    current: float | None
    delta: float | None
    change: float | None
    past_limit: bool
    regressed: bool

    @property
    def label(self) -> str:
        return LABELS.get(self.metric, self.metric)


@dataclass(frozen=True)
class EndpointComparison:
    """One endpoint (or the aggregate, ``method == ""``) in both runs."""

    method: str
    name: str
    baseline_count: int
    current_count: int
    gated: bool
    not_gated_because: str | None
    metrics: tuple[MetricChange, ...]

    @property
    def key(self) -> str:
        return f"{self.method} {self.name}".strip()

    @property
    def regressed(self) -> bool:
        return any(m.regressed for m in self.metrics)

    def metric(self, name: str) -> MetricChange:
        return next(m for m in self.metrics if m.metric == name)


@dataclass(frozen=True)
class Comparison:
    """The whole answer: aggregate, matched endpoints, added / removed keys, notes."""

    max_regression: float
    aggregate: EndpointComparison
    endpoints: tuple[EndpointComparison, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def regressions(self) -> tuple[tuple[str, MetricChange], ...]:
        """``(endpoint key, metric)`` of every regression, aggregate first."""
        return tuple((row.key, m) for row in (self.aggregate, *self.endpoints)
                     for m in row.metrics if m.regressed)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    def verdict(self) -> str:
        """``"2 regressions past 10 %: p95 of POST /x +34 %, ..."`` or ``"No regression ..."``."""
        limit = format_limit(self.max_regression)
        found = self.regressions
        if not found:
            return f"No regression past {limit}"
        items = [f"{m.label} of {key} {format_change(m)}" for key, m in found[:VERDICT_ITEMS]]
        if len(found) > VERDICT_ITEMS:
            items.append(f"and {len(found) - VERDICT_ITEMS} more")
        noun = "regression" if len(found) == 1 else "regressions"
        return f"{len(found)} {noun} past {limit}: " + ", ".join(items)


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _count(row: Mapping[str, Any]) -> int:
    return int(_number(row.get("count")) or 0)


def _value(row: Mapping[str, Any], metric: str) -> float | None:
    """The metric of a summary row; the error ratio is failures / count (None without any)."""
    if metric != "error_ratio":
        return _number(row.get(metric))
    return (_number(row.get("failures")) or 0.0) / _count(row) if _count(row) else None


def compare_metric(metric: str, base: float | None, cur: float | None, limit: float,
                   gated: bool) -> MetricChange:
    """One metric by the module docstring's rules; a missing value on either side compares
    as nothing (never a regression)."""
    if base is None or cur is None:
        return MetricChange(metric, base, cur, None, None, False, False)
    delta, change = cur - base, (cur - base) / base if base > 0 else None
    if metric == "rps":
        worse = change is not None and change < -limit - EPS
    else:
        floor = ERROR_RATIO_FLOOR if metric == "error_ratio" else LATENCY_FLOOR_MS
        worse = delta >= floor - EPS and (change is None or change > limit + EPS)
    return MetricChange(metric, base, cur, delta, change, worse, worse and gated)


def compare_rows(method: str, name: str, base: Mapping[str, Any], cur: Mapping[str, Any],
                 limit: float, *, aggregate: bool = False) -> EndpointComparison:
    """One endpoint (or the aggregate, always gated) in both runs."""
    counts = _count(base), _count(cur)
    why = None
    if not aggregate and not is_request(f"{method} {name}"):
        why = "not a request to the target"
    elif not aggregate and min(counts) < MIN_GATED_REQUESTS:
        why = f"fewer than {MIN_GATED_REQUESTS} requests in a run"
    metrics = tuple(compare_metric(m, _value(base, m), _value(cur, m), limit, why is None)
                    for m in METRICS)
    return EndpointComparison(method, name, *counts, why is None, why, metrics)


def _endpoints(summary: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    rows = summary.get("endpoints")
    return {(str(r.get("method", "")), str(r.get("name", ""))): r
            for r in (rows if isinstance(rows, list) else []) if isinstance(r, Mapping)}


def _aggregate(summary: Mapping[str, Any], which: str, notes: list[str]) -> Mapping[str, Any]:
    if isinstance(summary.get("requests"), Mapping):
        return summary["requests"]
    notes.append(f"the {which} run has no 'requests' aggregate (an older run): its Locust "
                 "total is used, pseudo-requests included")
    total = summary.get("total")
    return total if isinstance(total, Mapping) else {}


def compare_summaries(baseline: Mapping[str, Any], current: Mapping[str, Any],
                      max_regression: float = DEFAULT_MAX_REGRESSION) -> Comparison:
    """Compare two ``summary.json`` dicts by the module's rules (pure: no I/O).
    Missing or malformed values are shown as missing, never raise."""
    notes: list[str] = []
    aggregate = compare_rows("", AGGREGATE_NAME, _aggregate(baseline, "baseline", notes),
                             _aggregate(current, "current", notes), max_regression,
                             aggregate=True)
    base_rows, cur_rows = _endpoints(baseline), _endpoints(current)
    order = sorted(base_rows.keys() & cur_rows.keys(), key=lambda k: (k[1], k[0]))
    endpoints = tuple(compare_rows(*k, base_rows[k], cur_rows[k], max_regression)
                      for k in order)
    keys = sorted(base_rows.keys() ^ cur_rows.keys(), key=lambda k: (k[1], k[0]))
    added = tuple(f"{m} {n}" for m, n in keys if (m, n) in cur_rows)
    removed = tuple(f"{m} {n}" for m, n in keys if (m, n) in base_rows)
    users = _number(baseline.get("users_max")), _number(current.get("users_max"))
    if None not in users and users[0] != users[1]:
        notes.append(f"the runs had different peak users ({users[0]:g} vs {users[1]:g}): "
                     "throughput is only comparable at the same load")
    return Comparison(max_regression, aggregate, endpoints, added, removed, tuple(notes))


def parse_percentage(text: str) -> float:
    """``--max-regression`` as a fraction: "10%" and "10" are 10 % (0.10); a bare number
    below 1 is already a fraction ("0.1" is 10 %); write "0.5%" for half a percent."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1].strip()) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"--max-regression: expected a percentage such as 10%, 10 or 0.1, "
                         f"got {text!r}")
    return value if raw.endswith("%") or value < 1 else value / 100


def format_limit(fraction: float) -> str:
    return f"{fraction * 100:g} %"


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.2f} %" if metric == "error_ratio" else \
        f"{value:.1f} {'rps' if metric == 'rps' else 'ms'}"


def _pct(fraction: float) -> str:
    pct = fraction * 100
    return f"{pct:+.1f} %" if abs(pct) < 10 else f"{pct:+.0f} %"


def format_change(m: MetricChange) -> str:
    """Relative change; error ratio in percentage points (and relative when defined)."""
    if m.delta is None:
        return "-"
    if m.metric == "error_ratio":
        points = f"{m.delta * 100:+.2f} pp"
        return points if m.change is None else f"{points} ({_pct(m.change)})"
    if m.change is not None:
        return _pct(m.change)
    return f"{m.delta:+.1f} {'rps' if m.metric == 'rps' else 'ms'}"


def _printable(text: str, width: int) -> str:
    """Endpoint names come from the target: no control characters into a terminal."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= width else clean[: width - 1] + "~"


def format_table(comparison: Comparison) -> str:
    """The plain-text table: one line per row, changes of each metric, ``!`` marks a
    regression and ``?`` past the limit on an ungated row."""
    widths = {m: 17 if m == "error_ratio" else 10 for m in METRICS}
    head = f"{'endpoint':<36} {'requests':>13}" + "".join(
        f" {LABELS[m]:>{widths[m] + 1}}" for m in METRICS)
    lines = [head]
    for row in (comparison.aggregate, *comparison.endpoints):
        cells = "".join(f" {format_change(m):>{widths[m.metric]}}"
                        + ("!" if m.regressed else "?" if m.past_limit else " ")
                        for m in row.metrics)
        counts = f"{row.baseline_count}/{row.current_count}"
        lines.append(f"{_printable(row.key, 36):<36} {counts:>13}{cells}"
                     + ("" if row.gated else " (not gated)"))
    for word, keys in (("added", comparison.added), ("removed", comparison.removed)):
        lines += [f"{word}: {_printable(k, 80)}" for k in keys]
    return "\n".join([*lines, _printable(comparison.verdict(), 400)])


def _run_facts(run: RunData) -> dict[str, Any]:
    summary, meta = run.summary or {}, run.meta
    return {"run id": run.run_id, "started": meta.get("started_at") or "-",
            "duration": f"{summary['duration_s']:g} s"
            if _number(summary.get("duration_s")) is not None else "-",
            "users max": summary.get("users_max", "-"), "host": meta.get("host") or "-",
            "user classes": ", ".join(map(str, meta.get("user_classes") or [])) or "-",
            "target flags": meta.get("target_flags") or "-",
            "complete": "yes" if run.complete else "no"}


def render_html(comparison: Comparison, baseline: RunData, current: RunData) -> str:
    """The page, autoescaped: every string from the runs is untrusted and never marked safe."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    env.filters.update(value=lambda m, which: format_value(m.metric, getattr(m, which)),
                       change=format_change)
    problems = [f"baseline: {p}" for p in baseline.problems] + \
        [f"current: {p}" for p in current.problems]
    return env.get_template("compare.html.j2").render(
        c=comparison, limit=format_limit(comparison.max_regression), problems=problems,
        facts=(_run_facts(baseline), _run_facts(current)), min_requests=MIN_GATED_REQUESTS,
        latency_floor=LATENCY_FLOOR_MS, error_floor_pp=ERROR_RATIO_FLOOR * 100)


class InputError(Exception):
    """Bad input: the CLI says it in one line on stderr and exits 2."""


def _load(path: Path, which: str) -> RunData:
    """The run, or :class:`InputError`: also when a damaged file trips the reader."""
    try:
        run = load_run(path)
    except (RunDirError, OSError) as exc:
        raise InputError(f"{which}: {exc}") from exc
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputError(f"{which}: {path} is damaged ({exc.__class__.__name__}: {exc})") \
            from exc
    if run.summary is None:
        raise InputError(f"{which}: {path} has no readable summary.json "
                         "(the run did not finish); nothing to compare")
    return run


def _fail(message: str) -> int:
    print("compare: error: " + " ".join(message.split()), file=sys.stderr)
    return 2


def run_compare(baseline: Path, current: Path, *, max_regression: float = DEFAULT_MAX_REGRESSION,
                out: Path | None = None) -> int:
    """Compare two run directories, print the table, write the HTML; the exit code:
    0 no regression, 1 regression, 2 bad input (one line on stderr)."""
    if not math.isfinite(max_regression) or max_regression < 0:
        return _fail(f"--max-regression must be 0 or more, got {max_regression!r}")
    try:
        base_run, cur_run = _load(Path(baseline), "baseline"), _load(Path(current), "current")
    except InputError as exc:
        return _fail(str(exc))
    assert base_run.summary is not None and cur_run.summary is not None
    comparison = compare_summaries(base_run.summary, cur_run.summary, max_regression)
    print(f"baseline {_printable(base_run.run_id, 80)} -> current "
          f"{_printable(cur_run.run_id, 80)}, max regression {format_limit(max_regression)}")
    print(format_table(comparison))
    target = Path(out) if out is not None else Path(current) / HTML_FILE
    try:
        target.write_text(render_html(comparison, base_run, cur_run), encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {target}: {exc.strerror or exc}")
    print(f"wrote {target}")
    return 1 if comparison.regressed else 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage + error
        raise InputError(message)


def build_parser(prog: str = "python -m reports compare") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="Compare a run with a baseline run: exit 0 no "
                     "regression, 1 regression, 2 bad input.")
    parser.add_argument("baseline", type=Path, help="baseline run directory")
    parser.add_argument("current", type=Path, help="current run directory")
    parser.add_argument("--max-regression", default="10%",
                        help="how much worse is tolerated (default 10%%): 10%% and 10 mean "
                             "10 %%, a bare number below 1 is a fraction (0.1 = 10 %%); "
                             "write 0.5%% for half a percent")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"where to write the HTML (default CURRENT/{HTML_FILE})")
    return parser


def main(argv: list[str]) -> int:
    """The CLI: ``BASELINE CURRENT [--max-regression X] [--out PATH]`` -> exit code."""
    try:
        args = build_parser().parse_args(argv)
        limit = parse_percentage(args.max_regression)
    except (InputError, ValueError) as exc:
        return _fail(str(exc))
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    return run_compare(args.baseline, args.current, max_regression=limit, out=args.out)
