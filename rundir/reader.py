"""A run directory read back: what the report and ``compare`` need, as arrays and dicts.

This is the one reader of the run directory (DESIGN.md, "The run directory");
``reports`` read runs through it. It never fails on a run that ended badly: a crashed run has no
``summary.json`` and maybe a torn last line; :func:`load_run` notes what is
missing in ``RunData.problems`` and the report says so.

The JSON-lines files (the timeseries as columns, events) are read by
:mod:`rundir.series`; this module adds ``meta.json``, ``summary.json`` and the
histograms, and puts a run together (:func:`load_run`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from metrics.latency import decode
from rundir.layout import (
    EVENTS_FILE,
    HISTOGRAM_INDEX,
    HISTOGRAMS_DIR,
    META_FILE,
    SUMMARY_FILE,
    TIMESERIES_FILE,
)
from rundir.series import RunSeries, json_lines, read_series


class RunDirError(Exception):
    """The directory is not a run directory (nothing to report on)."""


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
        return str((self.summary or {}).get("run_id") or self.meta.get("run_id") or self.path.name)


def _read_json(path: Path, problems: list[str]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name} is unreadable ({exc.__class__.__name__})")
        return None
    return data if isinstance(data, dict) else None


def read_events(path: Path, problems: list[str]) -> list[dict[str, Any]]:
    """Every whole line of the run's ``events.jsonl``."""
    return list(json_lines(path / EVENTS_FILE, problems))


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
            out[key] = HistogramData(
                key, int(entry.get("count") or 0), int(entry.get("failures") or 0), *hist
            )
    return out


def _decode_file(file: Path, problems: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        hist = decode(file.read_text(encoding="ascii").strip())
    except (OSError, ValueError, TypeError) as exc:
        problems.append(f"histogram {file.name} is unreadable ({exc.__class__.__name__})")
        return None
    return recorded_values(hist)


def recorded_values(hist: HdrHistogram) -> tuple[np.ndarray, np.ndarray]:
    """``(values_ms, counts)`` of every non-zero bucket, in value order: what hdrh's
    ``get_recorded_iterator`` yields (``value_iterated_to``, the bucket's highest
    equivalent value, and its count), read from the counts array by numpy in one go
    instead of ~23k Python iterator steps per histogram."""
    used = min(hist.counts_len, len(hist.counts), hist.encoder.payload.counts_len)
    counts = np.ctypeslib.as_array(hist.counts)[:used]
    index = np.flatnonzero(counts)
    # a bucket's highest equivalent value is the next bucket's lowest value, minus 1
    highest = _value_from_index(hist, index + 1) - 1
    return highest / 1000.0, counts[index].astype(np.int64)


def _value_from_index(hist: HdrHistogram, index: np.ndarray) -> np.ndarray:
    """hdrh's ``get_value_from_index``, vectorised."""
    index = index.astype(np.int64)
    bucket = (index >> hist.sub_bucket_half_count_magnitude) - 1
    sub_bucket = (index & (hist.sub_bucket_half_count - 1)) + hist.sub_bucket_half_count
    below = bucket < 0
    sub_bucket = np.where(below, sub_bucket - hist.sub_bucket_half_count, sub_bucket)
    bucket = np.where(below, 0, bucket)
    values: np.ndarray = sub_bucket << (bucket + hist.unit_magnitude)
    return values


def load_run(
    path: Path | str, *, summary: dict[str, Any] | None = None, histograms: bool = True
) -> RunData:
    """Everything the report needs from a run directory (see the module docstring).

    ``summary``: the summary being written (at test stop, before it is on disk);
    ``histograms=False`` skips them (at that moment they are not final yet).
    """
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path} is not a directory")
    if not (path / TIMESERIES_FILE).exists() and not (path / SUMMARY_FILE).exists():
        raise RunDirError(
            f"{path} is not a quantload run directory (no {TIMESERIES_FILE} or {SUMMARY_FILE})"
        )
    problems: list[str] = []
    meta = _read_json(path / META_FILE, problems) or {}
    if summary is None:
        summary = _read_json(path / SUMMARY_FILE, problems)
    if summary is None:
        problems.append(
            "no summary.json: the run did not finish (crashed or killed); "
            "figures are rebuilt from the rows written before it ended"
        )
    events = read_events(path, problems)
    series = read_series(path / TIMESERIES_FILE, problems)
    hists = read_histograms(path, problems) if histograms else {}
    return RunData(
        path=path,
        meta=meta,
        summary=summary,
        events=events,
        series=series,
        histograms=hists,
        problems=problems,
    )
