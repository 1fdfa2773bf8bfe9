"""Exact latency recording: one HDR histogram per endpoint per time slot.

Locust's own stats round response times into coarse buckets and keep the last
10 s for "current" percentiles; a run report needs exact tails per second and
for the whole run, merged across workers. This module records every request
into an HdrHistogram (microseconds, 3 significant digits, 1 us .. 1 hour), one
per endpoint per slot of ``interval_s`` seconds. A slot is closed, handed out
(as objects in-process, or encoded with :meth:`Slot.to_wire` for the master)
and then dropped, so memory stays bounded however long the run.

Counting follows Locust exactly, so totals can be checked against its stats:
every request event counts once, a request is failed when the event carries an
exception, and a failed request's latency is recorded too (Locust's stats
include it). Failed latencies also go into a second, lazily created histogram,
so Apdex can count failures as frustrated. A response time of ``None`` counts
but has no latency (Locust's ``num_none_requests``).

The endpoint key is ``f"{request_type} {name}"`` ("POST /v1/backtests").
No locust import here: the recorder is driven by plain calls and tested alone.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

from hdrh.codec import HdrHistogramEncoder
from hdrh.histogram import HdrHistogram

LOWEST_US = 1
"""Smallest distinguishable latency (1 microsecond)."""
HIGHEST_US = 3_600_000_000
"""Largest trackable latency (1 hour); longer ones are clamped to it."""
SIGNIFICANT_FIGURES = 3
"""Relative precision 10^-3: every value is kept within 0.1 %."""
US_PER_MS = 1000.0

MAX_ERROR_KINDS_PER_SLOT = 50
"""Distinct (endpoint, message) pairs per slot; the rest fold into ``OTHER_ERRORS``.
Messages can embed ids, so without a cap one slot could hold thousands."""
MAX_ERROR_MESSAGE_CHARS = 300
"""Error messages are cut to this length (some carry whole HTML bodies)."""
OTHER_ERRORS = "(other errors)"

GeneratorSample = dict[str, float]
"""``{"cpu_percent": ..., "rss_bytes": ...}`` of one load-generating process."""


class Histogram(HdrHistogram):  # type: ignore[misc]  # hdrh ships no type information
    """An HdrHistogram that is freed as soon as it is dropped.

    hdrh's histogram and its encoder point at each other, so a dropped one
    waits for the cyclic garbage collector; at ~190 KB each (the 1 us .. 1 h
    counts array) and one per endpoint per slot, memory would climb between
    full collections. The encoder's back-reference is made weak instead.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.encoder.histogram = weakref.proxy(self)
        self._bucket_shift = self.unit_magnitude + self.sub_bucket_half_count_magnitude + 1

    def record_value(self, value: int, count: int = 1) -> bool:
        """hdrh's ``record_value`` for a non-negative int, ~2x faster: the counts index is
        computed inline with ``int.bit_length`` (hdrh calls three methods and ``bin()``).
        Same index, same bookkeeping (tests compare the counts arrays)."""
        bucket = (value | self.sub_bucket_mask).bit_length() - self._bucket_shift
        index = (
            ((bucket + 1) << self.sub_bucket_half_count_magnitude)
            + (value >> (bucket + self.unit_magnitude))
            - self.sub_bucket_half_count
        )
        if index < 0 or index >= self.counts_len:
            return False
        self.counts[index] += count
        self.total_count += count
        if value < self.min_value:  # type: ignore[has-type]  # set by hdrh's untyped __init__
            self.min_value = value
        if value > self.max_value:  # type: ignore[has-type]
            self.max_value = value
        return True


def new_histogram() -> HdrHistogram:
    """An empty histogram with the suite's one configuration (so any two can be added)."""
    return Histogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def to_us(response_time_ms: float) -> int:
    """Milliseconds (Locust's unit, a float) to whole microseconds, clamped to the range."""
    us = int(response_time_ms * US_PER_MS + 0.5)
    if us > HIGHEST_US:
        return HIGHEST_US
    return us if us > 0 else 0


def encode(hist: HdrHistogram) -> str:
    """The standard HDR V2 compressed, base64 form (readable by any HdrHistogram library)."""
    text: str = hist.encode().decode("ascii")
    return text


def decode(blob: str | bytes) -> HdrHistogram:
    """A histogram from its encoded form (HdrHistogram.decode, minus the reference cycle)."""
    payload = HdrHistogramEncoder.decode(blob.encode("ascii") if isinstance(blob, str) else blob)
    header = payload.payload
    return Histogram(
        header.lowest_trackable_value,
        header.highest_trackable_value,
        header.significant_figures,
        hdr_payload=payload,
    )


def as_histogram(value: HdrHistogram | str | bytes) -> HdrHistogram:
    """A histogram from either a live histogram or its encoded form."""
    return value if isinstance(value, HdrHistogram) else decode(value)


def _live(value: HdrHistogram | str) -> HdrHistogram:
    """``value`` itself, which must be a live histogram (adding into a decoded copy of an
    encoded one would be lost)."""
    if isinstance(value, str):
        raise TypeError("cannot add into an encoded histogram: decode it first")
    return value


def error_message(error: Any) -> str:
    """The message Locust shows for a failure (its ``StatsError.parse_error``), shortened.

    A string stays as is; anything else is ``repr``-ed with object addresses
    masked ("0x...."), so one kind of error is one row however many objects raised it.
    """
    text = error if isinstance(error, str) else repr(error)
    marker = text.find("object at 0x")
    if marker >= 0:
        start = marker + len("object at ")
        end = text.find(">", start)
        if end >= 0:
            text = text.replace(text[start:end], "0x....")
    return text[:MAX_ERROR_MESSAGE_CHARS]


class Cell:
    """Counts and latencies of one endpoint over one slot (or, merged, over a run).

    ``hist`` holds every timed request (failures included, as Locust's stats do);
    ``failed_hist`` only the failed ones, or is None while there are none.
    Either may be an encoded string until someone needs the numbers.
    ``sum_ms`` adds up the exact response times, for a mean equal to Locust's;
    ``sum_bytes`` the response lengths, for Locust's average size.
    """

    __slots__ = ("hist", "failed_hist", "count", "failures", "sum_ms", "sum_bytes")

    def __init__(
        self,
        hist: HdrHistogram | str | None = None,
        failed_hist: HdrHistogram | str | None = None,
        count: int = 0,
        failures: int = 0,
        sum_ms: float = 0.0,
        sum_bytes: int = 0,
    ) -> None:
        self.hist = hist if hist is not None else new_histogram()
        self.failed_hist = failed_hist
        self.count = count
        self.failures = failures
        self.sum_ms = sum_ms
        self.sum_bytes = sum_bytes

    def add(self, other: Cell) -> None:
        """Merge ``other`` into this cell (decoding it if needed); this cell's histograms
        must be live ones, because they are modified."""
        self.count += other.count
        self.failures += other.failures
        self.sum_ms += other.sum_ms
        self.sum_bytes += other.sum_bytes
        _live(self.hist).add(as_histogram(other.hist))
        if other.failed_hist is not None:
            if self.failed_hist is None:
                self.failed_hist = new_histogram()
            _live(self.failed_hist).add(as_histogram(other.failed_hist))


class Slot:
    """Everything one process recorded during slot ``k``: per-endpoint cells, error counts,
    and this process's generator sample (CPU, RSS) for the slot."""

    __slots__ = ("k", "cells", "errors", "generator")

    def __init__(self, k: int) -> None:
        self.k = k
        self.cells: dict[str, Cell] = {}
        self.errors: dict[tuple[str, str], int] = {}
        self.generator: GeneratorSample | None = None

    def count_error(self, key: str, message: str, n: int = 1) -> None:
        errors = self.errors
        pair = (key, message)
        if pair not in errors and len(errors) >= MAX_ERROR_KINDS_PER_SLOT:
            pair = (key, OTHER_ERRORS)
        errors[pair] = errors.get(pair, 0) + n

    def to_wire(self) -> dict[str, Any]:
        """A msgpack/JSON-safe dict: ``{"k", "e": {key: [count, failures, hdr, failed_hdr,
        sum_ms, sum_bytes]},
        "err": [[key, message, n], ...], "gen": sample or None}``; histograms encoded."""
        cells = {}
        for key, cell in self.cells.items():
            hist = cell.hist if isinstance(cell.hist, str) else encode(cell.hist)
            failed = cell.failed_hist
            if failed is not None and not isinstance(failed, str):
                failed = encode(failed)
            cells[key] = [cell.count, cell.failures, hist, failed, cell.sum_ms, cell.sum_bytes]
        return {
            "k": self.k,
            "e": cells,
            "err": [[key, msg, n] for (key, msg), n in self.errors.items()],
            "gen": self.generator,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Slot:
        """The inverse of :meth:`to_wire`; histograms stay encoded until merged. (A cell
        without ``sum_bytes``, from a worker of an older suite, counts 0 bytes.)"""
        slot = cls(int(data["k"]))
        for key, (count, failures, hist, failed, sum_ms, *rest) in data.get("e", {}).items():
            sum_bytes = int(rest[0]) if rest else 0
            slot.cells[str(key)] = Cell(
                hist, failed, int(count), int(failures), float(sum_ms), sum_bytes
            )
        for key, msg, n in data.get("err", []):
            slot.count_error(str(key), str(msg), int(n))
        gen = data.get("gen")
        slot.generator = dict(gen) if gen else None
        return slot


class SlotRecorder:
    """Records request events of one process into per-slot cells.

    Slot ``k`` covers ``[start + k*interval, start + (k+1)*interval)`` of wall
    time; every process of a run uses the same ``start`` (the master's), so
    slot ``k`` means the same second everywhere. Events before ``start`` (a
    clock a little behind) count in slot 0. Only slots not yet taken are held:
    one or two in a local run, up to a report period's worth on a worker.
    """

    def __init__(self, start_epoch: float, interval_s: float) -> None:
        self.start = start_epoch
        self.interval = interval_s
        self._slots: dict[int, Slot] = {}
        self._current: Slot | None = None
        self._taken_below = 0
        """Slots below this have been handed out; only late requests recreate one."""

    def slot_of(self, epoch: float) -> int:
        k = int((epoch - self.start) // self.interval)
        return k if k > 0 else 0

    def _slot(self, k: int) -> Slot:
        slot = self._slots.get(k)
        if slot is None:
            slot = self._slots[k] = Slot(k)
        self._current = slot
        return slot

    def record(
        self,
        key: str,
        response_time_ms: float | None,
        exception: Any,
        now: float,
        response_length: int | None = 0,
    ) -> None:
        """One request event; ``now`` is its wall time (``time.time()``), ``response_length``
        its body's bytes (Locust's). Hot path: a slot check, a dict lookup and
        ``record_value``."""
        k = int((now - self.start) // self.interval)
        slot = self._current
        if slot is None or slot.k != k:
            slot = self._slot(k if k > 0 else 0)
        cell = slot.cells.get(key)
        if cell is None:
            cell = slot.cells[key] = Cell()
        cell.count += 1
        if response_length:
            cell.sum_bytes += response_length
        us = -1
        if response_time_ms is not None:
            us = int(response_time_ms * US_PER_MS + 0.5)  # to_us(), inlined: this is hot
            if us > HIGHEST_US:
                us = HIGHEST_US
            elif us < 0:
                us = 0
            cell.hist.record_value(us)  # type: ignore[union-attr]  # a recorder's are live
            cell.sum_ms += response_time_ms
        if exception:
            cell.failures += 1
            if us >= 0:
                if cell.failed_hist is None:
                    cell.failed_hist = new_histogram()
                cell.failed_hist.record_value(us)  # type: ignore[union-attr]
            slot.count_error(key, error_message(exception))

    def seal(self, before_k: int, sample: Callable[[], GeneratorSample]) -> None:
        """Attach a generator sample to every held slot below ``before_k`` that has none,
        creating slot ``before_k - 1`` if it saw no request (so every slot has a sample) and
        was not handed out already."""
        if before_k - 1 >= self._taken_below and before_k - 1 not in self._slots:
            self._slots[before_k - 1] = Slot(before_k - 1)
        taken: GeneratorSample | None = None
        for k, slot in self._slots.items():
            if k < before_k and slot.generator is None:
                taken = taken or sample()
                slot.generator = taken

    def take(self, before_k: int | None = None) -> list[Slot]:
        """Remove and return the slots below ``before_k`` (all when None), oldest first."""
        keys = sorted(k for k in self._slots if before_k is None or k < before_k)
        taken = [self._slots.pop(k) for k in keys]
        limit = before_k if before_k is not None else (keys[-1] + 1 if keys else 0)
        self._taken_below = max(self._taken_below, limit)
        if self._current is not None and self._current.k not in self._slots:
            self._current = None
        return taken

    def take_open(self) -> list[Slot]:
        """Remove and return what the unfinished slots hold so far, as deltas: later
        requests of those slots start fresh cells, handed out with the slot later. (A worker
        sends these with each report, so its totals match Locust's report for report.)"""
        taken = [self._slots.pop(k) for k in sorted(self._slots) if k >= self._taken_below]
        if self._current is not None and self._current.k not in self._slots:
            self._current = None
        return taken

    def __len__(self) -> int:
        return len(self._slots)


def merge_cells(cells: Iterable[Cell]) -> Cell:
    """One live cell holding the sum of ``cells``; a lone live cell is returned as is
    (so callers must not modify the result), none gives an empty cell."""
    cells = list(cells)
    if (
        len(cells) == 1
        and isinstance(cells[0].hist, HdrHistogram)
        and (cells[0].failed_hist is None or isinstance(cells[0].failed_hist, HdrHistogram))
    ):
        return cells[0]
    merged = Cell()
    for cell in cells:
        merged.add(cell)
    return merged
