"""metrics.latency: per-slot HDR recording, the wire form, and exact merging (no Locust)."""

from __future__ import annotations

import random

import msgpack
import pytest
from hdrh.histogram import HdrHistogram

from metrics.aggregate import Aggregator
from metrics.latency import (
    HIGHEST_US,
    MAX_ERROR_KINDS_PER_SLOT,
    OTHER_ERRORS,
    Cell,
    Slot,
    SlotRecorder,
    decode,
    encode,
    error_message,
    new_histogram,
    to_us,
)

START = 1_700_000_000.0


def lognormal_ms(rng: random.Random, n: int) -> list[float]:
    """Latencies with a long tail: median ~5 ms, a few over a second."""
    return [rng.lognormvariate(1.6, 1.2) for _ in range(n)]


def counts(hist: HdrHistogram) -> list[int]:
    return list(hist.counts)


def test_to_us_rounds_and_clamps():
    assert (to_us(1.2344), to_us(1.2346), to_us(2.5)) == (1234, 1235, 2500)
    assert to_us(0.0004) == 0 and to_us(0.0005) == 1
    assert to_us(-3) == 0
    assert to_us(10 * 3600 * 1000) == HIGHEST_US


def test_error_message_is_lockstep_with_locust():
    class Boom(Exception):
        pass

    class Thing:
        pass

    assert error_message("plain text") == "plain text"
    assert error_message(Boom("bad")) == "Boom('bad')"
    masked = error_message(Boom(Thing()))
    assert "object at 0x...." in masked and "0x7" not in masked.replace("0x....", "")


def test_record_counts_like_locust():
    rec = SlotRecorder(START, 1.0)
    rec.record("GET /a", 12.5, None, START + 0.1)
    rec.record("GET /a", None, None, START + 0.2)  # no latency: counted, not timed
    rec.record("GET /a", 40.0, RuntimeError("x"), START + 0.3)
    rec.record("GET /a", None, "refused", START + 0.4)  # failed with no latency
    (slot,) = rec.take()
    cell = slot.cells["GET /a"]
    assert (cell.count, cell.failures) == (4, 2)
    assert cell.hist.get_total_count() == 2  # failures' latencies included
    assert cell.failed_hist.get_total_count() == 1
    assert cell.sum_ms == pytest.approx(52.5)
    assert slot.errors == {("GET /a", "RuntimeError('x')"): 1, ("GET /a", "refused"): 1}


def test_slots_follow_wall_time_from_the_run_start():
    rec = SlotRecorder(START, 0.5)
    for t in (-0.2, 0.0, 0.49, 0.5, 1.7, 1.7):
        rec.record("GET /a", 1.0, None, START + t)
    slots = rec.take(3)
    assert [(s.k, s.cells["GET /a"].count) for s in slots] == [(0, 3), (1, 1)]
    assert [s.k for s in rec.take()] == [3]
    assert len(rec) == 0


def test_seal_gives_every_finished_slot_a_generator_sample():
    rec = SlotRecorder(START, 1.0)
    rec.record("GET /a", 1.0, None, START + 0.5)
    samples = iter([{"cpu_percent": 10.0, "rss_bytes": 1}, {"cpu_percent": 20.0, "rss_bytes": 2}])
    rec.seal(3, lambda: next(samples))  # slot 0 had requests; slot 2 is made for the sample
    slots = rec.take(3)
    assert [s.k for s in slots] == [0, 2]
    assert all(s.generator == {"cpu_percent": 10.0, "rss_bytes": 1} for s in slots)
    assert not slots[1].cells
    rec.seal(3, lambda: next(samples))  # already handed out: not made again (not "late")
    assert rec.take() == []


def test_the_open_slot_is_handed_out_as_deltas():
    rec = SlotRecorder(START, 1.0)
    rec.record("GET /a", 1.0, None, START + 0.2)
    rec.record("GET /a", 2.0, None, START + 1.2)
    done, partial = rec.take(1), rec.take_open()  # a report at START + 1.5
    assert [s.k for s in done] == [0] and [s.k for s in partial] == [1]
    rec.record("GET /a", 3.0, None, START + 1.7)  # the rest of slot 1
    samples = iter([{"cpu_percent": 1.0, "rss_bytes": 1}])
    rec.seal(2, lambda: next(samples))
    (rest,) = rec.take(2)
    assert rest.k == 1 and rest.cells["GET /a"].count == 1 and rest.generator


def test_error_kinds_per_slot_are_capped():
    rec = SlotRecorder(START, 1.0)
    for i in range(MAX_ERROR_KINDS_PER_SLOT + 25):
        rec.record("GET /a", 1.0, f"job {i} not found", START)
    (slot,) = rec.take()
    assert len(slot.errors) == MAX_ERROR_KINDS_PER_SLOT + 1
    assert slot.errors[("GET /a", OTHER_ERRORS)] == 25
    assert sum(slot.errors.values()) == slot.cells["GET /a"].failures


def test_fast_record_value_is_hdrhs_own():
    rng = random.Random(3)
    values = [
        0,
        1,
        2047,
        2048,
        2049,
        HIGHEST_US,
        *(rng.randrange(HIGHEST_US) for _ in range(5000)),
        *(to_us(ms) for ms in lognormal_ms(rng, 5000)),
    ]
    ours, theirs = new_histogram(), HdrHistogram(1, HIGHEST_US, 3)
    for v in values:
        assert ours.record_value(v) == theirs.record_value(v)
    assert counts(ours) == counts(theirs)
    assert (ours.total_count, ours.min_value, ours.max_value) == (
        theirs.total_count,
        theirs.min_value,
        theirs.max_value,
    )


def test_encode_decode_is_lossless():
    rng = random.Random(1)
    hist = new_histogram()
    for ms in lognormal_ms(rng, 5000):
        hist.record_value(to_us(ms))
    back = decode(encode(hist))
    assert counts(back) == counts(hist)
    assert back.get_total_count() == hist.get_total_count()
    assert back.get_max_value() == hist.get_max_value()


def test_merging_encoded_deltas_equals_recording_all_samples_in_one_histogram():
    """Three workers, 20 s, two endpoints: the master's merge is the single-histogram truth."""
    rng = random.Random(7)
    reference = {"GET /a": Cell(), "POST /b": Cell()}
    aggregator = Aggregator(grace_slots=6)
    recorders = {f"w{i}": SlotRecorder(START, 1.0) for i in range(3)}
    for second in range(20):
        for worker, rec in recorders.items():
            for ms in lognormal_ms(rng, 300):
                key = rng.choice(list(reference))
                failed = rng.random() < 0.05
                now = START + second + rng.random()
                rec.record(key, ms, "boom" if failed else None, now)
                ref = reference[key]
                ref.count += 1
                ref.failures += failed
                ref.hist.record_value(to_us(ms))
            if second % 3 == 2:  # a report every 3 s, over msgpack as Locust sends it
                wire = msgpack.unpackb(msgpack.packb([s.to_wire() for s in rec.take(second + 1)]))
                aggregator.add(worker, [Slot.from_wire(w) for w in wire], second)
    for worker, rec in recorders.items():
        aggregator.add(worker, [Slot.from_wire(s.to_wire()) for s in rec.take()], 19)
    merged_slots = aggregator.due(now_k=20, live=list(recorders))
    assert [m.k for m in merged_slots] == list(range(20))
    assert sum(m.cells["GET /a"].count for m in merged_slots) == reference["GET /a"].count
    for key, ref in reference.items():
        total = aggregator.totals[key]
        assert (total.count, total.failures) == (ref.count, ref.failures)
        assert counts(total.hist) == counts(ref.hist)
        assert total.hist.get_total_count() == ref.hist.get_total_count()
        assert total.hist.get_max_value() == ref.hist.get_max_value()
        for p in (50, 90, 99, 99.9):
            assert total.hist.get_value_at_percentile(p) == ref.hist.get_value_at_percentile(p)
    assert aggregator.errors[("GET /a", "boom")] == reference["GET /a"].failures


def test_cell_add_takes_encoded_or_live_histograms():
    a, b = Cell(), Cell()
    a.hist.record_value(100)
    a.count = 1
    b.hist.record_value(5000)
    b.failed_hist = new_histogram()
    b.failed_hist.record_value(5000)
    b.count, b.failures = 1, 1
    wire = Slot.from_wire(
        {"k": 0, "e": {"x": [b.count, b.failures, encode(b.hist), encode(b.failed_hist), 5.0]}}
    )
    a.add(wire.cells["x"])
    assert (a.count, a.failures, a.hist.get_total_count()) == (2, 1, 2)
    assert a.failed_hist.get_total_count() == 1
