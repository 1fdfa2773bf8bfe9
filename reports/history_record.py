"""What one run leaves in the history: its identity, headline figures and key histograms.

:func:`run_record` turns a finished run directory (its ``meta.json``, final
``summary.json`` and ``histograms/``) into a :class:`RunRecord`, the row the history
store appends (:mod:`reports.history_store`). Identity: the build id (``--build-id`` /
``QUANTLOAD_BUILD_ID``, else the git commit of the working directory when there is
one), profile (the ``--config`` file's stem, else the locustfile's), user classes, host
(its public form: no credentials, query or fragment), target flags (secret-looking
values redacted) and the run's start. Never a secret: nothing else of the command line
or the environment is recorded, and the summary itself holds none.
"""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rundir.layout import HISTOGRAM_INDEX, HISTOGRAMS_DIR, is_request
from rundir.reader import RunData
from rundir.redact import public_host, redact_flags

__all__ = ["AGGREGATE", "EndpointRecord", "RunRecord", "git_commit", "run_record"]

AGGREGATE = "all requests"
"""The endpoint name of the aggregate of the target's requests in the history."""
GIT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class EndpointRecord:
    """One endpoint's figures in one run (``AGGREGATE`` for all the target's requests)."""

    endpoint: str
    count: int
    failures: int
    rps: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    histogram: str | None = None
    """The endpoint's final HDR histogram, encoded as in ``histograms/`` (None: none)."""

    @property
    def error_ratio(self) -> float | None:
        return self.failures / self.count if self.count else None


@dataclass(frozen=True)
class RunRecord:
    """One run as the history keeps it."""

    run_id: str
    build_id: str | None
    profile: str
    classes: str
    host: str | None
    target_flags: str
    started_at: str | None
    start_epoch: float | None
    complete: bool
    capacity_rps: float | None
    leak_kb_per_request: float | None
    summary_json: str
    endpoints: tuple[EndpointRecord, ...] = field(default_factory=tuple)


def _num(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def git_commit(directory: Path | str = ".") -> str | None:
    """The commit checked out in ``directory``, or None (not a git work tree, no git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def _endpoint(name: str, row: dict[str, Any], histogram: str | None) -> EndpointRecord:
    return EndpointRecord(
        endpoint=name,
        count=int(_num(row.get("count")) or 0),
        failures=int(_num(row.get("failures")) or 0),
        rps=_num(row.get("rps")),
        p50_ms=_num(row.get("p50_ms")),
        p95_ms=_num(row.get("p95_ms")),
        p99_ms=_num(row.get("p99_ms")),
        histogram=histogram,
    )


def _encoded_histograms(path: Path) -> dict[str, str]:
    """Each request endpoint's encoded histogram, by ``"METHOD name"`` (none if unreadable)."""
    try:
        index = json.loads((path / HISTOGRAMS_DIR / HISTOGRAM_INDEX).read_text(encoding="utf-8"))
        out = {}
        for entry in (index.get("endpoints") or {}).values():
            key = str(entry.get("endpoint"))
            if is_request(key):
                file = path / HISTOGRAMS_DIR / str(entry.get("file"))
                out[key] = file.read_text(encoding="ascii").strip()
        return out
    except (OSError, ValueError, AttributeError):
        return {}


def run_record(run: RunData, summary: dict[str, Any], build_id: str | None) -> RunRecord:
    """The history's record of a finished run (``summary``: the final ``summary.json``).
    ``build_id`` None: the git commit of the working directory, when there is one."""
    meta = run.meta
    stem = meta.get("config_file") or meta.get("locustfile") or "locustfile"
    profile = str(meta.get("profile") or Path(str(stem).split(",")[0]).stem)
    histograms = _encoded_histograms(run.path)
    rows: list[EndpointRecord] = []
    requests = summary.get("requests") or summary.get("total")
    if isinstance(requests, dict):
        rows.append(_endpoint(AGGREGATE, requests, None))
    for row in summary.get("endpoints") or []:
        if isinstance(row, dict):
            key = f"{row.get('method', '')} {row.get('name', '')}".strip()
            rows.append(_endpoint(key, row, histograms.get(key)))
    breaking = summary.get("breaking_point") or {}
    leak = summary.get("leak") or {}
    return RunRecord(
        run_id=run.run_id,
        build_id=build_id or git_commit(),
        profile=profile,
        classes=",".join(sorted(map(str, meta.get("user_classes") or []))),
        host="embedded" if meta.get("embedded_target") else public_host(meta.get("host")),
        target_flags=redact_flags(str(meta.get("target_flags") or "")),
        started_at=meta.get("started_at"),
        start_epoch=_num(meta.get("start_epoch")),
        complete=bool(summary.get("complete")),
        capacity_rps=_num(breaking.get("capacity_rps")) if isinstance(breaking, dict) else None,
        leak_kb_per_request=_num(leak.get("slope_kb_per_request"))
        if isinstance(leak, dict)
        else None,
        summary_json=json.dumps(summary, sort_keys=True, default=str),
        endpoints=tuple(rows),
    )
