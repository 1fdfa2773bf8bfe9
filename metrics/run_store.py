"""The run directory (DESIGN.md, "The run directory"): where each run's results land.

``results/<run-id>/`` by default (``--run-dir PATH`` overrides), holding:

- ``meta.json`` - what ran: profile, user classes, users, shape, host, versions,
  start/stop, workers seen. Never a secret: no api key, no key-like flag value,
  no credentials or query string in the host;
- ``timeseries.jsonl`` - one row per interval, each line written by a single
  ``write`` on an ``O_APPEND`` descriptor, so a reader (or a SIGKILL) only ever
  sees whole lines;
- ``events.jsonl`` - the same, for events (test start/stop, workers, overload);
- ``histograms/`` - the final cumulative HDR histogram per endpoint (standard
  V2 base64 encoding, microseconds), with ``index.json`` naming each file;
- ``summary.json`` - written at stop.

``meta.json``, ``summary.json`` and the histograms are replaced atomically
(write a temporary file, then rename), so they are whole or absent.
This module only writes; what goes in the files is decided elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from metrics.latency import HIGHEST_US, LOWEST_US, SIGNIFICANT_FIGURES, Cell, as_histogram, encode

DEFAULT_RESULTS_DIR = "results"
"""Parent of the per-run directories, relative to the working directory."""
DEFAULT_INTERVAL_S = 1.0
"""Width of a timeseries row (and of a latency slot)."""
DEFAULT_APDEX_T_MS = 500.0
"""Apdex T: at or under it a request satisfies, up to 4T it is tolerated."""
RUN_ID_TIME_FORMAT = "%Y%m%d-%H%M%S"
MAX_SLUG_CHARS = 80
REDACTED = "***"
SECRET_FLAG_WORDS = ("key", "token", "secret", "passw", "auth", "credential", "cookie")
"""A flag whose name contains one of these has its value redacted."""
KEY_LIKE = re.compile(r"(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}")
"""A bare token that looks like a generated key (long, letters and digits) is redacted too."""

META_FILE = "meta.json"
TIMESERIES_FILE = "timeseries.jsonl"
EVENTS_FILE = "events.jsonl"
SUMMARY_FILE = "summary.json"
HISTOGRAMS_DIR = "histograms"
HISTOGRAM_INDEX = "index.json"
TOTAL_HISTOGRAM = "_total"
"""File stem of the all-endpoints histogram (no endpoint slug starts with ``_``)."""


def add_run_options(parser: Any) -> None:
    """The run store's options, on Locust's parser (called from ``metrics.options``)."""
    from metrics.options import positive_float  # here: metrics.options imports this module

    parser.add_argument("--run-dir", default=None, env_var="QUANTLOAD_RUN_DIR",
                        include_in_web_ui=False,
                        help="write this run's results here instead of "
                             f"{DEFAULT_RESULTS_DIR}/<run-id>/ (later runs of the same "
                             "process get -2, -3 ...)")
    parser.add_argument("--interval", type=positive_float, default=DEFAULT_INTERVAL_S,
                        env_var="QUANTLOAD_INTERVAL", include_in_web_ui=False,
                        help="seconds per timeseries row and latency slot (default 1)")
    parser.add_argument("--apdex-t-ms", type=positive_float, default=DEFAULT_APDEX_T_MS,
                        env_var="QUANTLOAD_APDEX_T_MS",
                        help="Apdex threshold T in ms: <= T satisfied, <= 4T tolerating "
                             "(default 500)")


def slugify(text: str) -> str:
    """Lower-case letters, digits, ``_`` and single dashes: safe as a file or directory name."""
    slug = re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-")
    return slug[:MAX_SLUG_CHARS] or "run"


def make_run_id(epoch: float, stem: str) -> str:
    """``20261121-091500-<stem>``: local start time, then the profile or locustfile name."""
    return f"{time.strftime(RUN_ID_TIME_FORMAT, time.localtime(epoch))}-{slugify(stem)}"


def claim_run_dir(run_id: str, explicit: str | None = None, nth: int = 1,
                  results_dir: str = DEFAULT_RESULTS_DIR) -> Path:
    """The directory for a run: ``explicit`` (``-<nth>`` appended from the second run of a
    process), else a new ``results/<run-id>`` (``-2``, ``-3`` ... if it exists)."""
    if explicit:
        path = Path(explicit if nth == 1 else f"{explicit}-{nth}")
        path.mkdir(parents=True, exist_ok=True)
        return path
    base = Path(results_dir)
    base.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        path = base / (run_id if n == 1 else f"{run_id}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run directory for {run_id} in {base}")


def redact_flags(flags: str) -> str:
    """``--target-flags`` for the record, with secret-looking values replaced by ``***``."""
    try:
        tokens = shlex.split(flags or "")
    except ValueError:
        return REDACTED
    out: list[str] = []
    redact_next = False
    for token in tokens:
        if redact_next and not token.startswith("-"):
            out.append(REDACTED)
            redact_next = False
            continue
        redact_next = False
        name, eq, _ = token.partition("=")
        if token.startswith("-") and any(w in name.lower() for w in SECRET_FLAG_WORDS):
            out.append(f"{name}={REDACTED}" if eq else token)
            redact_next = not eq
        elif KEY_LIKE.fullmatch(token):
            out.append(REDACTED)
        else:
            out.append(token)
    return shlex.join(out)


def public_host(host: str | None) -> str | None:
    """The host URL without user info, query or fragment (where credentials hide)."""
    if not host:
        return host
    parts = urlsplit(host)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


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


class _LineLog:
    """An append-only JSON-lines file: one ``os.write`` per line on an O_APPEND descriptor."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND,
                                       0o644)

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


class RunStore:
    """One run directory, open for writing. ``path`` and ``run_id`` say where and what."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.histograms_dir = self.path / HISTOGRAMS_DIR
        self.histograms_dir.mkdir(parents=True, exist_ok=True)
        # A reused --run-dir must not show the previous run's results as this run's.
        for stale in [self.path / SUMMARY_FILE, *self.histograms_dir.glob("*.hdr"),
                      self.histograms_dir / HISTOGRAM_INDEX]:
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
        write_atomic(self.path / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")

    def write_histograms(self, totals: Mapping[str, Cell], total: Cell | None = None) -> None:
        """``<slug>.hdr`` (all requests) and ``<slug>.failures.hdr`` (failed ones, if any) per
        endpoint, ``_total.hdr``, and ``index.json``: ``{"unit", "lowest", "highest",
        "significant_figures", "endpoints": {slug: {"endpoint", "count", "failures",
        "file", "failures_file"}}, "total": "_total.hdr"}``."""
        index: dict[str, Any] = {"unit": "us", "lowest": LOWEST_US, "highest": HIGHEST_US,
                                 "significant_figures": SIGNIFICANT_FIGURES, "endpoints": {},
                                 "total": None}
        used: set[str] = set()
        for key in sorted(totals):
            cell = totals[key]
            slug = base = slugify(key)
            n = 1
            while slug in used:
                n += 1
                slug = f"{base}-{n}"
            used.add(slug)
            entry = {"endpoint": key, "count": cell.count, "failures": cell.failures,
                     "file": f"{slug}.hdr", "failures_file": None}
            self._write_hdr(entry["file"], cell.hist)
            if cell.failed_hist is not None:
                entry["failures_file"] = f"{slug}.failures.hdr"
                self._write_hdr(entry["failures_file"], cell.failed_hist)
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
