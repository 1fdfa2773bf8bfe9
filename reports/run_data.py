"""A run directory read back: what the report and ``compare`` need, as arrays and dicts.

This is the reports' only reader of the run directory (DESIGN.md, "The run
directory"). It never fails on a run that ended badly: a crashed run has no
``summary.json`` and maybe a torn last line; :func:`load_run` notes what is
missing in ``RunData.problems`` and the report says so.

The timeseries is read once, line by line, into one numpy column per chart
(a 24-hour run is 86,400 rows); per-endpoint detail is kept only as counts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from metrics.latency import decode
from metrics.run_store import (
    EVENTS_FILE,
    HISTOGRAM_INDEX,
    HISTOGRAMS_DIR,
    META_FILE,
    SUMMARY_FILE,
    TIMESERIES_FILE,
)
from metrics.summary import is_request

NAN = float("nan")
WS_MESSAGE_TYPE = "WS_MSG"
QUEUE_DEPTH_KEY = "QUEUE depth"


class RunDirError(Exception):
    """The directory is not a run directory (nothing to report on)."""


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
    endpoint_failures: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.elapsed_s)

    @property
    def rps(self) -> np.ndarray:
        return self.requests / np.maximum(self.span_s, 1e-3)

    @property
    def failures_per_s(self) -> np.ndarray:
        return self.failures / np.maximum(self.span_s, 1e-3)

    @property
    def load(self) -> np.ndarray:
        """The load level of each row: offered load when a shape said it, else users."""
        return np.where(np.isnan(self.offered), self.users, self.offered)

    @property
    def load_unit(self) -> str:
        return self.offered_unit if np.isfinite(self.offered).any() and self.offered_unit \
            else "users"


@dataclass
class HistogramData:
    """One endpoint's final (or last checkpointed) latency histogram, in ms."""

    key: str
    count: int
    failures: int
    values_ms: np.ndarray
    counts: np.ndarray


@dataclass
class RunData:
    path: Path
    meta: dict[str, Any]
    summary: dict[str, Any] | None
    events: list[dict[str, Any]]
    series: RunSeries
    histograms: dict[str, HistogramData] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """What is missing or damaged, in plain words (shown in the report)."""

    @property
    def complete(self) -> bool:
        return bool(self.summary and self.summary.get("complete"))

    @property
    def run_id(self) -> str:
        return str((self.summary or {}).get("run_id") or self.meta.get("run_id")
                   or self.path.name)


def _read_json(path: Path, problems: list[str]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name} is unreadable ({exc.__class__.__name__})")
        return None
    return data if isinstance(data, dict) else None


def _lines(path: Path, problems: list[str]) -> Iterator[dict[str, Any]]:
    """Whole JSON lines of a ``.jsonl`` file; a torn line (a crash mid-write) is skipped."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                problems.append(f"{path.name}: line {number} is damaged and was skipped")
                continue
            if isinstance(obj, dict):
                yield obj


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else NAN


def read_series(path: Path, problems: list[str]) -> RunSeries:
    """The timeseries, column by column (see :class:`RunSeries`)."""
    cols: dict[str, list[float]] = {name: [] for name in (
        "elapsed_s", "span_s", "users", "offered", "requests", "failures", "p50_ms", "p95_ms",
        "p99_ms", "avg_ms", "ws_p50_ms", "ws_p95_ms", "target_cpu", "target_rss",
        "queue_depth")}
    stage: list[str | None] = []
    unit: str | None = None
    generators: dict[str, list[float]] = {}
    counts: dict[str, list[float]] = {}
    fails: dict[str, list[float]] = {}
    n = 0
    for row in _lines(path, problems):
        endpoints = row.get("endpoints") or {}
        total = row.get("requests") or _requests_of(endpoints)
        load = row.get("load") or {}
        target = row.get("target") or {}
        ws = next((v for k, v in endpoints.items() if k.startswith(WS_MESSAGE_TYPE + " ")), {})
        depth = target.get("queue_depth")
        if depth is None:
            depth = (endpoints.get(QUEUE_DEPTH_KEY) or {}).get("avg_ms")
        for name, value in (
                ("elapsed_s", row.get("elapsed_s")), ("span_s", row.get("span_s", 1.0)),
                ("users", row.get("users")), ("offered", load.get("offered")),
                ("requests", total.get("count", 0)), ("failures", total.get("failures", 0)),
                ("p50_ms", total.get("p50_ms")), ("p95_ms", total.get("p95_ms")),
                ("p99_ms", total.get("p99_ms")), ("avg_ms", total.get("avg_ms")),
                ("ws_p50_ms", ws.get("p50_ms")), ("ws_p95_ms", ws.get("p95_ms")),
                ("target_cpu", target.get("cpu_percent")),
                ("target_rss", target.get("rss_bytes")), ("queue_depth", depth)):
            cols[name].append(_num(value))
        stage.append(load.get("stage"))
        unit = load.get("unit") or unit
        for gid, sample in (row.get("generators") or {}).items():
            generators.setdefault(gid, [NAN] * n).append(_num(sample.get("cpu_percent")))
        for key, stats in endpoints.items():
            if not is_request(key):
                continue
            counts.setdefault(key, [0.0] * n).append(stats.get("count", 0))
            fails.setdefault(key, [0.0] * n).append(stats.get("failures", 0))
        n += 1
        for series, filler in ((generators, NAN), (counts, 0.0), (fails, 0.0)):
            for values in series.values():
                if len(values) < n:
                    values.append(filler)
    arrays = {name: np.asarray(values, dtype=float) for name, values in cols.items()}
    if n and not np.isfinite(arrays["elapsed_s"]).all():
        arrays["elapsed_s"] = np.arange(n, dtype=float)
    return RunSeries(
        **arrays, offered_unit=unit, stage=stage,
        generator_cpu={k: np.asarray(v) for k, v in sorted(generators.items())},
        endpoint_counts={k: np.asarray(v) for k, v in sorted(counts.items())},
        endpoint_failures={k: np.asarray(v) for k, v in sorted(fails.items())})


def _requests_of(endpoints: dict[str, Any]) -> dict[str, Any]:
    """Rows written before ``requests`` existed: counts of the target's requests only
    (percentiles cannot be merged from rows, so they are left out)."""
    rows = [v for k, v in endpoints.items() if is_request(k)]
    return {"count": sum(r.get("count", 0) for r in rows),
            "failures": sum(r.get("failures", 0) for r in rows)}


def read_events(path: Path, problems: list[str]) -> list[dict[str, Any]]:
    """Every whole line of the run's ``events.jsonl``."""
    return list(_lines(path / EVENTS_FILE, problems))


def read_histograms(path: Path, problems: list[str]) -> dict[str, HistogramData]:
    """Every histogram named by ``histograms/index.json`` (key ``"METHOD name"``, and
    ``"_total"``), decoded to value/count arrays in ms."""
    index = _read_json(path / HISTOGRAMS_DIR / HISTOGRAM_INDEX, problems)
    if not index:
        return {}
    out: dict[str, HistogramData] = {}
    for entry in (index.get("endpoints") or {}).values():
        hist = _decode_file(path / HISTOGRAMS_DIR / str(entry.get("file")), problems)
        if hist is not None:
            key = str(entry.get("endpoint"))
            out[key] = HistogramData(key, int(entry.get("count") or 0),
                                     int(entry.get("failures") or 0), *hist)
    return out


def _decode_file(file: Path, problems: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        hist = decode(file.read_text(encoding="ascii").strip())
    except (OSError, ValueError, TypeError) as exc:
        problems.append(f"histogram {file.name} is unreadable ({exc.__class__.__name__})")
        return None
    values, counts = [], []
    for item in hist.get_recorded_iterator():
        values.append(item.value_iterated_to / 1000.0)
        counts.append(item.count_at_value_iterated_to)
    return np.asarray(values, dtype=float), np.asarray(counts, dtype=np.int64)


def load_run(path: Path | str, *, summary: dict[str, Any] | None = None,
             histograms: bool = True) -> RunData:
    """Everything the report needs from a run directory (see the module docstring).

    ``summary``: the summary being written (at test stop, before it is on disk);
    ``histograms=False`` skips them (at that moment they are not final yet).
    """
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path} is not a directory")
    if not (path / TIMESERIES_FILE).exists() and not (path / SUMMARY_FILE).exists():
        raise RunDirError(f"{path} is not a quantload run directory "
                          f"(no {TIMESERIES_FILE} or {SUMMARY_FILE})")
    problems: list[str] = []
    meta = _read_json(path / META_FILE, problems) or {}
    if summary is None:
        summary = _read_json(path / SUMMARY_FILE, problems)
    if summary is None:
        problems.append("no summary.json: the run did not finish (crashed or killed); "
                        "figures are rebuilt from the rows written before it ended")
    events = read_events(path, problems)
    series = read_series(path / TIMESERIES_FILE, problems)
    hists = read_histograms(path, problems) if histograms else {}
    return RunData(path=path, meta=meta, summary=summary, events=events, series=series,
                   histograms=hists, problems=problems)


def finite_or_none(value: float | None) -> float | None:
    """JSON-safe: NaN and infinities become None."""
    return None if value is None or not math.isfinite(value) else float(value)
