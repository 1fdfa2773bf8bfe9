"""The run directory's layout (DESIGN.md, "The run directory"): names, defaults, run ids.

``results/<run-id>/`` by default (``--run-dir PATH`` overrides), holding:

- ``meta.json`` - what ran: profile, user classes, users, shape, host, versions,
  start/stop, workers seen; never a secret (:mod:`rundir.redact`);
- ``timeseries.jsonl`` - one row per interval, appended as the run goes;
- ``events.jsonl`` - the same, for events (test start/stop, workers, overload);
- ``histograms/`` - the final cumulative HDR histogram per endpoint (standard
  V2 base64 encoding, microseconds), with ``index.json`` naming each file;
- ``summary.json`` - written at stop.

Rows and the summary are keyed by endpoint, ``"METHOD name"`` (:func:`split_key`);
some "methods" are not requests to the target (:data:`PSEUDO_REQUEST_TYPES`).

Writing is :mod:`rundir.files` (and :mod:`rundir.writer` above it), reading
:mod:`rundir.reader`; both take every name from here.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from pathlib import Path

logger = logging.getLogger("quantload")

DEFAULT_RESULTS_DIR = "results"
"""Parent of the per-run directories, relative to the working directory."""
DEFAULT_INTERVAL_S = 1.0
"""Width of a timeseries row (and of a latency slot)."""
DEFAULT_APDEX_T_MS = 500.0
"""Apdex T: at or under it a request satisfies, up to 4T it is tolerated."""
RUN_ID_TIME_FORMAT = "%Y%m%d-%H%M%S"
MAX_SLUG_CHARS = 80

META_FILE = "meta.json"
TIMESERIES_FILE = "timeseries.jsonl"
EVENTS_FILE = "events.jsonl"
SUMMARY_FILE = "summary.json"
HISTOGRAMS_DIR = "histograms"
HISTOGRAM_INDEX = "index.json"
TOTAL_HISTOGRAM = "_total"
"""File stem of the all-endpoints histogram (no endpoint slug starts with ``_``)."""
MASTER_GENERATOR = "master"
"""A row's ``generators`` key of a distributed run's master: it samples itself, sends nothing."""

JOB_TYPE = "JOB"
"""Job durations (JobUser, BacktestUser): end to end, processing."""
QUEUE_TYPE = "QUEUE"
"""Queue readings (JobUser): depth, running."""
WS_MESSAGE_TYPE = "WS_MSG"
"""WebSocket progress messages (WebSocketUser): delivery latency."""
WS_RATE_TYPE = "WS_RATE"
"""WebSocket message rates (WebSocketUser)."""
DROPPED_TYPE = "DROPPED"
"""Arrivals dropped over the in-flight cap (ArrivalRateUser)."""
ANSWER_TYPE = "ANSWER"
"""Answers checked against their golden ones (``--check-answers``), named by their request
(``"ANSWER POST /v1/backtests"``): count = checked, failures = wrong results."""
PSEUDO_REQUEST_TYPES = frozenset(
    {JOB_TYPE, QUEUE_TYPE, WS_MESSAGE_TYPE, WS_RATE_TYPE, DROPPED_TYPE, ANSWER_TYPE}
)
"""Kinds (the run directory's method column) of what some user classes measure that is not a
request to the target. They go through the suite's own channel (``users.measurements``),
never Locust's stats; ``total`` and ``requests`` (rows and summary) leave them out. The
user classes name their own kinds; a test checks each is in this set."""
PSEUDO_REQUEST_UNITS = {
    JOB_TYPE: "ms",
    QUEUE_TYPE: "jobs",
    WS_MESSAGE_TYPE: "ms",
    WS_RATE_TYPE: "msg/s",
    DROPPED_TYPE: "arrivals",
    ANSWER_TYPE: "answers",
}
"""The unit of each pseudo-request type's recorded value (its "time" column): durations in
ms, queue readings a count of jobs, WebSocket rates messages per second; a ``DROPPED``
or ``ANSWER`` value is always 0 (what counts is how many: the row's count)."""


def slugify(text: str) -> str:
    """Lower-case letters, digits, ``_`` and single dashes: safe as a file or directory name."""
    slug = re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-")
    return slug[:MAX_SLUG_CHARS] or "run"


def make_run_id(epoch: float, stem: str) -> str:
    """``20261121-091500-<stem>``: local start time, then the profile or locustfile name."""
    return f"{time.strftime(RUN_ID_TIME_FORMAT, time.localtime(epoch))}-{slugify(stem)}"


def run_dir_error(path: str) -> str | None:
    """Why ``path`` cannot hold a run directory (an existing file, a path under a file, a
    place where nothing can be created), or None when it can. Creates nothing that stays:
    it probes the nearest existing folder with a temporary directory."""
    target = Path(path).absolute()
    if target.exists() and not target.is_dir():
        return f"{path!r} is a file, not a directory"
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{path!r} is under {str(existing)!r}, which is a file"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".quantload-probe-", dir=existing))
    except OSError as exc:
        return f"{path!r} cannot be created in {str(existing)!r}: {exc.strerror or exc}"
    return None


def holds_run(path: Path) -> bool:
    """Does ``path`` already hold a run (its meta, rows or summary)?"""
    return any((path / name).exists() for name in (META_FILE, TIMESERIES_FILE, SUMMARY_FILE))


def claim_run_dir(
    run_id: str, explicit: str | None = None, nth: int = 1, results_dir: str = DEFAULT_RESULTS_DIR
) -> Path:
    """The directory for a run, absolute: ``explicit`` (``-<nth>`` appended from the second
    run of a process), else a new ``results/<run-id>`` (``-2``, ``-3`` ... if it exists).

    A run is never written over another: when ``explicit`` (or its ``-<nth>``) already
    holds one, the next free ``-<n>`` is used instead, and a warning names both."""
    if explicit:
        wanted = Path(explicit if nth == 1 else f"{explicit}-{nth}").absolute()
        path, n = wanted, nth
        while holds_run(path):
            n += 1
            path = Path(f"{explicit}-{n}").absolute()
        if path != wanted:
            logger.warning(
                "--run-dir %s holds an earlier run, kept as it is: this run writes %s",
                wanted,
                path,
            )
        path.mkdir(parents=True, exist_ok=True)
        return path
    base = Path(results_dir).absolute()
    base.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        path = base / (run_id if n == 1 else f"{run_id}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run directory for {run_id} in {base}")


def split_key(key: str) -> tuple[str, str]:
    """``"POST /v1/backtests"`` -> ``("POST", "/v1/backtests")`` (method, name)."""
    method, _, name = key.partition(" ")
    return method, name


def is_request(key: str) -> bool:
    """Is the endpoint key ``"METHOD name"`` a request to the target (not a pseudo-request)?"""
    return split_key(key)[0] not in PSEUDO_REQUEST_TYPES
