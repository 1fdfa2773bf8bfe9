"""The run directory's low-level writer: whole lines appended, whole files replaced.

- ``timeseries.jsonl`` and ``events.jsonl``: each line written by a single
  ``write`` on an ``O_APPEND`` descriptor, so a reader (or a SIGKILL) only ever
  sees whole lines;
- ``meta.json``, ``summary.json`` and the histograms are replaced atomically
  (write a temporary file, then rename), so they are whole or absent.

This module only writes; what goes in the files is decided elsewhere
(:mod:`rundir.writer`), and every name comes from :mod:`rundir.layout`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from metrics.latency import HIGHEST_US, LOWEST_US, SIGNIFICANT_FIGURES, Cell, as_histogram, encode
from rundir.layout import (
    EVENTS_FILE,
    HISTOGRAM_INDEX,
    HISTOGRAMS_DIR,
    META_FILE,
    SUMMARY_FILE,
    TIMESERIES_FILE,
    TOTAL_HISTOGRAM,
    slugify,
)


def iso(epoch: float | None) -> str | None:
    """Local time with its UTC offset, to the millisecond."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="milliseconds")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_summary(run_dir: Path, summary: Mapping[str, Any]) -> Path:
    """Replace the run's ``summary.json`` atomically; returns its path."""
    path = Path(run_dir) / SUMMARY_FILE
    write_atomic(path, json.dumps(summary, indent=2) + "\n")
    return path


class _LineLog:
    """An append-only JSON-lines file: one ``os.write`` per line on an O_APPEND descriptor."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644
        )

    def append(self, obj: Mapping[str, Any]) -> None:
        if self._fd is None:
            return
        data = (_dumps(obj) + "\n").encode("utf-8")
        written = os.write(self._fd, data)
        while written < len(data):  # only on a full disk or an odd filesystem
            written += os.write(self._fd, data[written:])

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class RunFiles:
    """One run directory, open for writing. ``path`` and ``run_id`` say where and what."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.histograms_dir = self.path / HISTOGRAMS_DIR
        self.histograms_dir.mkdir(parents=True, exist_ok=True)
        # A reused --run-dir must not show the previous run's results as this run's.
        for stale in [
            self.path / SUMMARY_FILE,
            *self.histograms_dir.glob("*.hdr"),
            self.histograms_dir / HISTOGRAM_INDEX,
        ]:
            stale.unlink(missing_ok=True)
        self._rows = _LineLog(self.path / TIMESERIES_FILE)
        self._events = _LineLog(self.path / EVENTS_FILE)

    def write_meta(self, meta: Mapping[str, Any]) -> None:
        write_atomic(self.path / META_FILE, json.dumps(meta, indent=2) + "\n")

    def append_row(self, row: Mapping[str, Any]) -> None:
        self._rows.append(row)

    def append_event(self, event: Mapping[str, Any]) -> None:
        self._events.append(event)

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        write_summary(self.path, summary)

    def write_histograms(self, totals: Mapping[str, Cell], total: Cell | None = None) -> None:
        """``<slug>.hdr`` (all requests) and ``<slug>.failures.hdr`` (failed ones, if any) per
        endpoint, ``_total.hdr``, and ``index.json``: ``{"unit", "lowest", "highest",
        "significant_figures", "endpoints": {slug: {"endpoint", "count", "failures",
        "file", "failures_file"}}, "total": "_total.hdr"}``."""
        index: dict[str, Any] = {
            "unit": "us",
            "lowest": LOWEST_US,
            "highest": HIGHEST_US,
            "significant_figures": SIGNIFICANT_FIGURES,
            "endpoints": {},
            "total": None,
        }
        used: set[str] = set()
        for key in sorted(totals):
            cell = totals[key]
            slug = base = slugify(key)
            n = 1
            while slug in used:
                n += 1
                slug = f"{base}-{n}"
            used.add(slug)
            file, failures_file = f"{slug}.hdr", None
            self._write_hdr(file, cell.hist)
            if cell.failed_hist is not None:
                failures_file = f"{slug}.failures.hdr"
                self._write_hdr(failures_file, cell.failed_hist)
            entry = {
                "endpoint": key,
                "count": cell.count,
                "failures": cell.failures,
                "file": file,
                "failures_file": failures_file,
            }
            index["endpoints"][slug] = entry
        if total is not None:
            index["total"] = f"{TOTAL_HISTOGRAM}.hdr"
            self._write_hdr(index["total"], total.hist)
        write_atomic(self.histograms_dir / HISTOGRAM_INDEX, json.dumps(index, indent=2) + "\n")

    def _write_hdr(self, name: str, hist: Any) -> None:
        write_atomic(self.histograms_dir / name, encode(as_histogram(hist)) + "\n")

    def close(self) -> None:
        self._rows.close()
        self._events.close()
