"""The run writer: one test run as the master (or the local runner) sees it, slots in, run
directory out.

:class:`RunWriter` owns a run's :class:`~metrics.aggregate.Aggregator` and
:class:`~rundir.files.RunFiles`: it turns due slots into timeseries rows,
tracks workers and generator overload as events, and at the end writes the
histograms, ``summary.json`` and the final ``meta.json``. It knows nothing of
Locust (times and worker ids come in as plain values), so a whole run -
10,000 intervals of fake slots included - can be driven from a test.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from metrics.aggregate import FINAL, Aggregator, MergedSlot
from metrics.generator import OverloadTracker
from metrics.latency import GeneratorSample, Slot
from rundir.files import RunFiles, iso
from rundir.records import build_row, build_summary, requests_cell

WORKER_REPORT_INTERVAL_S = 3.0
"""Locust's ``WORKER_REPORT_INTERVAL``: how often workers send their slots."""
GRACE_REPORT_PERIODS = 2
"""A slot is written, reported or not, once this many report periods old."""
TIME_DECIMALS = 3
CHECKPOINT_EVERY_S = 10.0
"""How often the cumulative histograms are saved while the run goes, so a crashed run
still has percentiles (at most this much behind its rows) for its report."""


def grace_slots(interval_s: float) -> int:
    return math.ceil(GRACE_REPORT_PERIODS * WORKER_REPORT_INTERVAL_S / interval_s)


class RunWriter:
    """A run being written. Create it at test start; call :meth:`add` / :meth:`note` as data
    comes, :meth:`advance` every interval, :meth:`finish` once at the end."""

    def __init__(
        self,
        files: RunFiles,
        *,
        start_epoch: float,
        interval_s: float,
        apdex_t_ms: float,
        meta: Mapping[str, Any],
        grace: int | None = None,
    ) -> None:
        self.files = files
        self.run_id = files.run_id
        self.start = start_epoch
        self.interval = interval_s
        self.apdex_t_ms = apdex_t_ms
        self.aggregator = Aggregator(grace if grace is not None else grace_slots(interval_s))
        self.overload = OverloadTracker()
        self.meta: dict[str, Any] = dict(meta)
        self.workers: dict[str, dict[str, Any]] = {}
        self.final_from: set[str] = set()
        self.users_max = 0
        self.rows_written = 0
        self._checkpoint_rows = max(1, round(CHECKPOINT_EVERY_S / interval_s))
        self.stop_epoch: float | None = None
        self.summary: dict[str, Any] | None = None
        self.write_meta()
        self.event("test_start", t=start_epoch, interval_s=interval_s)

    # -- time ------------------------------------------------------------------------------

    def slot_of(self, epoch: float) -> int:
        return max(0, int((epoch - self.start) // self.interval))

    @property
    def path(self) -> Path:
        """The run directory."""
        return self.files.path

    @property
    def finished(self) -> bool:
        return self.summary is not None

    # -- input -----------------------------------------------------------------------------

    def add(
        self, source: str, slots: Iterable[Slot], through: int | None, final: bool = False
    ) -> None:
        """Slots from ``source`` (``"local"`` or a worker id); ``final``: it sends no more."""
        if self.finished:
            return
        self.aggregator.add(source, slots, FINAL if final else through)
        if final:
            self.final_from.add(source)

    def note(
        self,
        k: int,
        *,
        users: int | None = None,
        generator: tuple[str, GeneratorSample] | None = None,
        target: dict[str, Any] | None = None,
        load: dict[str, Any] | None = None,
    ) -> None:
        if users is not None:
            self.users_max = max(self.users_max, users)
        self.aggregator.note(k, users=users, generator=generator, target=target, load=load)

    def worker_seen(self, worker_id: str, now: float, index: int | None = None) -> bool:
        """Note a worker; True (and a ``worker_joined`` event) the first time it is seen."""
        worker = self.workers.get(worker_id)
        if worker is not None:
            worker["last_seen"] = now
            if worker["lost"]:  # back from missing (Locust lets a worker self-heal)
                worker["lost"] = False
                self.event("worker_joined", t=now, worker=worker_id, index=index, rejoined=True)
            return False
        self.workers[worker_id] = {
            "id": worker_id,
            "index": index,
            "first_seen": now,
            "last_seen": now,
            "lost": False,
            # Locust's worker id is "<hostname>_<uuid hex>"
            "host": worker_id.rsplit("_", 1)[0],
        }
        self.event("worker_joined", t=now, worker=worker_id, index=index)
        self.write_meta()
        return True

    def worker_lost(self, worker_id: str, now: float, state: str) -> None:
        """A worker went missing or quit mid-run: stop waiting for it; ``worker_lost`` event."""
        self.aggregator.forget(worker_id)
        worker = self.workers.get(worker_id)
        if worker is not None and not worker["lost"]:
            worker["lost"] = True
            self.event("worker_lost", t=now, worker=worker_id, state=state)
            self.write_meta()

    # -- output ----------------------------------------------------------------------------

    def advance(self, now: float, live: Collection[str]) -> int:
        """Write every row now due (see :meth:`Aggregator.due`); returns how many."""
        if self.finished:
            return 0
        due = self.aggregator.due(self.slot_of(now), live)
        for merged in due:
            self._write_row(merged, self.interval)
            if self.rows_written % self._checkpoint_rows == 0:
                self._write_histograms()
        return len(due)

    def _write_histograms(self) -> None:
        totals = self.aggregator.totals
        # _total.hdr: the target's requests, as summary.json's total (no measurement)
        self.files.write_histograms(totals, requests_cell(totals) if totals else None)

    def _write_row(self, merged: MergedSlot, span_s: float) -> None:
        t = self.start + merged.k * self.interval
        row = build_row(
            t, merged.k * self.interval, span_s, merged.users, merged.cells, merged.generators
        )
        row["span_s"] = round(span_s, TIME_DECIMALS)
        row["target"] = merged.target  # the target sampler's reading for this slot, or None
        row["load"] = merged.load  # the shape's stage and offered load, or None (no shape)
        self.files.append_row(row)
        self.rows_written += 1
        if merged.users is not None:
            self.users_max = max(self.users_max, merged.users)
        for generator, sample in merged.generators.items():
            kind = self.overload.update(generator, sample.get("cpu_percent", 0.0))
            if kind:
                self.event(kind, t=t, generator=generator, cpu_percent=sample["cpu_percent"])

    def event(self, kind: str, t: float | None = None, **fields: Any) -> None:
        """One ``events.jsonl`` line: ``{"t", "elapsed_s", "kind", **fields}``."""
        t = time.time() if t is None else t
        self.files.append_event(
            {
                "t": round(t, TIME_DECIMALS),
                "elapsed_s": round(t - self.start, TIME_DECIMALS),
                "kind": kind,
                **fields,
            }
        )

    def write_meta(self) -> None:
        workers = [
            {**w, "first_seen": iso(w["first_seen"]), "last_seen": iso(w["last_seen"])}
            for w in self.workers.values()
        ]
        self.files.write_meta(
            {
                **self.meta,
                "run_id": self.run_id,
                "interval_s": self.interval,
                "apdex_t_ms": self.apdex_t_ms,
                "start_epoch": round(self.start, TIME_DECIMALS),
                "started_at": iso(self.start),
                "stop_epoch": None
                if self.stop_epoch is None
                else round(self.stop_epoch, TIME_DECIMALS),
                "stopped_at": iso(self.stop_epoch),
                "workers": workers,
            }
        )

    def finish(
        self,
        stop_epoch: float,
        *,
        complete: bool,
        reasons: Iterable[str] = (),
        stop_reason: str = "stopped",
    ) -> dict[str, Any]:
        """Write the remaining rows, the histograms, the measured ``summary.json`` and the
        final meta; close the files. Returns the summary (also kept as ``self.summary``).

        The verdicts (breaking point, leak, thresholds) are added afterwards, from the
        finished directory, by :func:`reports.finalize.finalize`."""
        if self.summary is not None:
            return self.summary
        self.stop_epoch = stop_epoch
        for merged in self.aggregator.flush(self.slot_of(stop_epoch)):
            slot_start = self.start + merged.k * self.interval
            span = min(self.interval, stop_epoch - slot_start)
            self._write_row(merged, span if span > 0 else self.interval)
        totals = self.aggregator.totals
        reasons = list(reasons)
        summary = build_summary(
            run_id=self.run_id,
            duration_s=stop_epoch - self.start,
            users_max=self.users_max,
            totals=totals,
            errors=self.aggregator.errors,
            apdex_t_ms=self.apdex_t_ms,
            complete=complete and not reasons,
            incomplete_reasons=reasons,
        )
        self._write_histograms()
        self.files.write_summary(summary)
        self.summary = summary
        self.write_meta()
        self.event(
            "test_stop",
            t=stop_epoch,
            reason=stop_reason,
            complete=summary["complete"],
            rows=self.rows_written,
            late_slots=self.aggregator.late_slots,
        )
        self.files.close()
        return summary
