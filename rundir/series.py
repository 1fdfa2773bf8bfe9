"""The run's JSON-lines files read back: whole lines, and the timeseries as columns.

:func:`json_lines` reads any ``.jsonl`` file of the run leniently (a torn last line,
from a crash mid-write, is skipped and noted). :func:`read_series` reads
``timeseries.jsonl`` once, line by line, into one numpy column per chart (a 24-hour
run is 86,400 rows); per-endpoint detail is kept only as counts.
:func:`read_row_stats` keeps the rows' own stats of some endpoints, for a run whose
histograms were never saved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rundir.layout import ANSWER_TYPE, QUEUE_TYPE, TIMESERIES_FILE, WS_MESSAGE_TYPE, is_request

NAN = float("nan")
QUEUE_DEPTH_KEY = f"{QUEUE_TYPE} depth"
_decode = json.JSONDecoder().decode


@dataclass
class RunSeries:
    """One value per timeseries row (NaN where the row had none), all the same length."""

    elapsed_s: np.ndarray
    span_s: np.ndarray
    users: np.ndarray
    offered: np.ndarray
    """The shape's offered load (``offered_unit``), NaN without a shape."""
    offered_unit: str | None
    stage: list[str | None]
    requests: np.ndarray
    """The target's requests answered in the row (pseudo-requests left out)."""
    failures: np.ndarray
    p50_ms: np.ndarray
    p95_ms: np.ndarray
    p99_ms: np.ndarray
    avg_ms: np.ndarray
    ws_p50_ms: np.ndarray
    ws_p95_ms: np.ndarray
    target_cpu: np.ndarray
    target_rss: np.ndarray
    queue_depth: np.ndarray
    generator_cpu: dict[str, np.ndarray]
    endpoint_counts: dict[str, np.ndarray]
    """Per endpoint key: the requests (and ``ANSWER`` checked answers) of each row."""
    endpoint_failures: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.elapsed_s)

    @property
    def rps(self) -> np.ndarray:
        rates: np.ndarray = self.requests / np.maximum(self.span_s, 1e-3)
        return rates

    @property
    def failures_per_s(self) -> np.ndarray:
        rates: np.ndarray = self.failures / np.maximum(self.span_s, 1e-3)
        return rates

    @property
    def load(self) -> np.ndarray:
        """The load level of each row: offered load when a shape said it, else users."""
        return np.where(np.isnan(self.offered), self.users, self.offered)

    @property
    def load_unit(self) -> str:
        return (
            self.offered_unit if np.isfinite(self.offered).any() and self.offered_unit else "users"
        )


def json_lines(path: Path, problems: list[str]) -> Iterator[dict[str, Any]]:
    """Whole JSON lines of a ``.jsonl`` file; a torn line (a crash mid-write) is skipped."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                # json.loads(bytes) reads a line starting with '{"' as UTF-8 (no BOM, no NUL):
                # the same, minus its per-call checks (a day of rows is 86,400 lines)
                obj = (
                    _decode(line.decode("utf-8", "surrogatepass"))
                    if line.startswith(b'{"')
                    else json.loads(line)
                )
            except ValueError:
                problems.append(f"{path.name}: line {number} is damaged and was skipped")
                continue
            if isinstance(obj, dict):
                yield obj


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else NAN


NUMERIC_TYPES = frozenset({int, float, bool, type(None)})
"""Types a column can take as they are (None is NaN); anything else goes through ``_num``."""


def _column(values: list[Any]) -> np.ndarray:
    """``[_num(v) for v in values]`` as a float array, converted in C when every value is a
    number or None (the usual case: a day of rows is 86,400 values per column)."""
    if set(map(type, values)) <= NUMERIC_TYPES:
        return np.array(values, dtype=float)
    return np.fromiter(map(_num, values), dtype=float, count=len(values))


def read_series(path: Path, problems: list[str]) -> RunSeries:
    """The timeseries, column by column (see :class:`RunSeries`).

    Hot path (a day of rows is ~200 MB of JSON): one pass, raw values appended to lists
    (converted to float arrays in C at the end, see :func:`_column`), per-key lookups
    cached, and the gaps of series missing from a row filled only when a row lacks one.
    """
    elapsed, span, users, offered, requests, failures = [], [], [], [], [], []
    p50, p95, p99, avg, ws_p50, ws_p95, cpu, rss, depth_col = [], [], [], [], [], [], [], [], []
    stage: list[str | None] = []
    unit: str | None = None
    generators: dict[str, list[float]] = {}
    counts: dict[str, list[float]] = {}
    fails: dict[str, list[float]] = {}
    kinds: dict[str, tuple[bool, bool]] = {}  # key -> (a request?, a WebSocket message?)
    pairs: dict[str, tuple[list[float], list[float]]] = {}  # request key -> (counts, fails)
    ws_prefix = WS_MESSAGE_TYPE + " "
    answer_prefix = ANSWER_TYPE + " "  # checked answers: counted per row, like requests
    n = 0
    for row in json_lines(path, problems):
        endpoints = row.get("endpoints") or {}
        total = row.get("requests") or _requests_of(endpoints)
        load = row.get("load") or {}
        target = row.get("target") or {}
        ws = None
        seen = 0
        for key, stats in endpoints.items():
            kind = kinds.get(key)
            if kind is None:
                kind = kinds[key] = (
                    is_request(key) or key.startswith(answer_prefix),
                    key.startswith(ws_prefix),
                )
            if ws is None and kind[1]:
                ws = stats
            if not kind[0]:
                continue
            pair = pairs.get(key)
            if pair is None:
                pair = pairs[key] = ([0.0] * n, [0.0] * n)
                counts[key], fails[key] = pair
            pair[0].append(stats.get("count", 0))
            pair[1].append(stats.get("failures", 0))
            seen += 1
        if ws is None:
            ws = {}
        depth = target.get("queue_depth")
        if depth is None:
            depth = (endpoints.get(QUEUE_DEPTH_KEY) or {}).get("avg_ms")
        elapsed.append(row.get("elapsed_s"))
        span.append(row.get("span_s", 1.0))
        users.append(row.get("users"))
        offered.append(load.get("offered"))
        requests.append(total.get("count", 0))
        failures.append(total.get("failures", 0))
        p50.append(total.get("p50_ms"))
        p95.append(total.get("p95_ms"))
        p99.append(total.get("p99_ms"))
        avg.append(total.get("avg_ms"))
        ws_p50.append(ws.get("p50_ms"))
        ws_p95.append(ws.get("p95_ms"))
        cpu.append(target.get("cpu_percent"))
        rss.append(target.get("rss_bytes"))
        depth_col.append(depth)
        stage.append(load.get("stage"))
        unit = load.get("unit") or unit
        gens = row.get("generators") or {}
        for gid, sample in gens.items():
            values = generators.get(gid)
            if values is None:
                values = generators[gid] = [NAN] * n
            values.append(_num(sample.get("cpu_percent")))
        n += 1
        if seen != len(counts):
            for series in (counts, fails):
                for values in series.values():
                    if len(values) < n:
                        values.append(0.0)
        if len(gens) != len(generators):
            for values in generators.values():
                if len(values) < n:
                    values.append(NAN)
    arrays = {
        name: _column(values)
        for name, values in (
            ("elapsed_s", elapsed),
            ("span_s", span),
            ("users", users),
            ("offered", offered),
            ("requests", requests),
            ("failures", failures),
            ("p50_ms", p50),
            ("p95_ms", p95),
            ("p99_ms", p99),
            ("avg_ms", avg),
            ("ws_p50_ms", ws_p50),
            ("ws_p95_ms", ws_p95),
            ("target_cpu", cpu),
            ("target_rss", rss),
            ("queue_depth", depth_col),
        )
    }
    if n and not np.isfinite(arrays["elapsed_s"]).all():
        arrays["elapsed_s"] = np.arange(n, dtype=float)
    return RunSeries(
        **arrays,
        offered_unit=unit,
        stage=stage,
        generator_cpu={k: np.asarray(v) for k, v in sorted(generators.items())},
        endpoint_counts={k: np.asarray(v) for k, v in sorted(counts.items())},
        endpoint_failures={k: np.asarray(v) for k, v in sorted(fails.items())},
    )


def _requests_of(endpoints: dict[str, Any]) -> dict[str, Any]:
    """Rows written before ``requests`` existed: counts of the target's requests only
    (percentiles cannot be merged from rows, so they are left out)."""
    rows = [v for k, v in endpoints.items() if is_request(k)]
    return {
        "count": sum(r.get("count", 0) for r in rows),
        "failures": sum(r.get("failures", 0) for r in rows),
    }


REQUESTS_ROW_KEY = "requests"
"""Key of the target's requests together in :func:`read_row_stats` (a row's ``requests``)."""


def read_row_stats(
    path: Path, keys: set[str], problems: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every row's stats of the endpoints ``keys`` (and of :data:`REQUESTS_ROW_KEY`), in row
    order: what is left of a run's latencies when its histograms were never saved."""
    stats: dict[str, list[dict[str, Any]]] = {key: [] for key in keys}
    stats[REQUESTS_ROW_KEY] = []
    for row in json_lines(path / TIMESERIES_FILE, problems):
        endpoints = row.get("endpoints") or {}
        for key in keys:
            if key in endpoints:
                stats[key].append(endpoints[key])
        if row.get(REQUESTS_ROW_KEY):
            stats[REQUESTS_ROW_KEY].append(row[REQUESTS_ROW_KEY])
    return stats
