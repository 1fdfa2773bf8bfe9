"""Merging slots from many sources into one ordered stream of per-slot results.

The master (or the local runner) receives :class:`~metrics.latency.Slot`\\ s
from its sources - the local recorder, or each worker every report period
(Locust's ``WORKER_REPORT_INTERVAL``, 3 s) - and must write exactly one row
per slot, in order, each row holding what every source did in that slot.

A slot is *due* when every live source has reported past it (each report
says ``through``: the last slot it has fully sent), or when it is older than
``grace_slots`` (a lost or stuck worker must not stall the store). Data that
arrives for a slot already written is *late*: it still goes into the run's
cumulative totals (so the summary stays exact) but not into any row.

Memory is bounded however long the run: the open slots (at most the grace
window plus one report's worth), the cumulative cell per endpoint, the error
counts (capped), and one number per source. Nothing per finished slot is kept.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from metrics.latency import OTHER_ERRORS, Cell, GeneratorSample, Slot, merge_cells

MAX_ERROR_KINDS = 200
"""Distinct (endpoint, message) pairs kept for the whole run; more fold into ``OTHER_ERRORS``."""
NOT_REPORTED = -1
"""``through`` of a source that has sent nothing yet: waits for it (up to the grace)."""
FINAL = float("inf")
"""``through`` of a source that has sent its last report: never waited for again."""


@dataclass
class MergedSlot:
    """What all sources did in slot ``k``; ``cells`` hold live (decoded) histograms."""

    k: int
    cells: dict[str, Cell] = field(default_factory=dict)
    generators: dict[str, GeneratorSample] = field(default_factory=dict)
    users: int | None = None
    target: dict[str, Any] | None = None
    load: dict[str, Any] | None = None
    """The shape's stage and offered load in this slot (``{"stage", "offered", "unit"}``)."""


class Aggregator:
    """Merges sources' slots; hands out due slots in order; keeps the run's cumulative totals.

    Drive it with :meth:`add` (slots from a source), :meth:`note` (things the
    aggregating process itself observed for a slot: user count, its own
    generator sample), then :meth:`due` on every tick and :meth:`flush` at the end.
    """

    def __init__(self, grace_slots: int, max_error_kinds: int = MAX_ERROR_KINDS) -> None:
        self.grace_slots = grace_slots
        self.max_error_kinds = max_error_kinds
        self.next_k = 0
        """The next slot to hand out; everything below it has been."""
        self.totals: dict[str, Cell] = {}
        """Cumulative cell per endpoint key, over the whole run (late data included)."""
        self.errors: dict[tuple[str, str], int] = {}
        """Cumulative failures per (endpoint key, message)."""
        self.late_slots = 0
        """Source slots that arrived after their slot was handed out."""
        self._open: dict[int, list[tuple[str, Slot]]] = {}
        self._notes: dict[int, MergedSlot] = {}
        self._through: dict[str, float] = {}

    # -- input -----------------------------------------------------------------------------

    def add(self, source: str, slots: Iterable[Slot], through: float | None = None) -> None:
        """Slots from ``source``; ``through`` is the last slot it has now fully sent
        (:data:`FINAL` once it will send no more)."""
        for slot in slots:
            self._count_errors(slot)
            if slot.k < self.next_k:
                self.late_slots += 1
                self._add_to_totals(slot.cells)
            else:
                self._open.setdefault(slot.k, []).append((source, slot))
        if through is not None:
            self._through[source] = max(self._through.get(source, NOT_REPORTED), through)

    def note(
        self,
        k: int,
        users: int | None = None,
        generator: tuple[str, GeneratorSample] | None = None,
        target: dict[str, Any] | None = None,
        load: dict[str, Any] | None = None,
    ) -> None:
        """Record what the aggregating process saw for slot ``k``: the user count, one
        process's generator sample, the target's sample, the shape's offered load.
        Too late for a handed-out slot."""
        if k < self.next_k:
            return
        merged = self._notes.setdefault(k, MergedSlot(k))
        if users is not None:
            merged.users = users
        if target is not None:
            merged.target = target
        if load is not None:
            merged.load = load
        if generator is not None:
            merged.generators[generator[0]] = generator[1]

    def forget(self, source: str) -> None:
        """Stop waiting for ``source`` (it was lost); what it sent is kept."""
        self._through.pop(source, None)

    # -- output ----------------------------------------------------------------------------

    def due(self, now_k: int, live: Collection[str]) -> list[MergedSlot]:
        """Slots ready to write, oldest first, never the current one (``now_k``).

        Ready: every source in ``live`` has reported through it, or it is more
        than ``grace_slots`` old. Slots nobody sent anything for come out empty,
        so the stream has no gaps.
        """
        limit = now_k - 1
        waited = min((self._through.get(s, NOT_REPORTED) for s in live), default=limit)
        last = min(limit, max(waited, limit - self.grace_slots))
        return self._hand_out(int(last))

    def flush(self, until_k: int) -> list[MergedSlot]:
        """Every remaining slot up to ``until_k`` or the newest open one, oldest first."""
        newest = max([until_k, *self._open, *self._notes])
        out = self._hand_out(newest)
        self._notes.clear()
        return out

    def _hand_out(self, last: int) -> list[MergedSlot]:
        out = []
        while self.next_k <= last:
            out.append(self._merge(self.next_k))
            self.next_k += 1
        return out

    def _merge(self, k: int) -> MergedSlot:
        merged = self._notes.pop(k, None) or MergedSlot(k)
        parts = self._open.pop(k, [])
        by_key: dict[str, list[Cell]] = {}
        for source, slot in parts:
            for key, cell in slot.cells.items():
                by_key.setdefault(key, []).append(cell)
            if slot.generator is not None:
                merged.generators[source] = slot.generator
        merged.cells = {key: merge_cells(cells) for key, cells in by_key.items()}
        self._add_to_totals(merged.cells)
        return merged

    # -- cumulative ------------------------------------------------------------------------

    def _add_to_totals(self, cells: dict[str, Cell]) -> None:
        for key, cell in cells.items():
            total = self.totals.get(key)
            if total is None:
                total = self.totals[key] = Cell()
            total.add(cell)

    def _count_errors(self, slot: Slot) -> None:
        errors = self.errors
        for (key, message), n in slot.errors.items():
            pair = (key, message)
            if pair not in errors and len(errors) >= self.max_error_kinds:
                pair = (key, OTHER_ERRORS)
            errors[pair] = errors.get(pair, 0) + n

    def open_slots(self) -> int:
        """Slots held (with data or notes) but not yet handed out: bounded by the grace."""
        return len(set(self._open) | set(self._notes))
