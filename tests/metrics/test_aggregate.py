"""metrics.aggregate and rundir.writer driven with fake slots: order, late and lost workers,
the files a run leaves, and memory that stays flat over 5,000 intervals (no Locust)."""

from __future__ import annotations

import gc
import json
import tracemalloc
from pathlib import Path

import pytest

from metrics.aggregate import Aggregator
from metrics.latency import Slot, SlotRecorder
from rundir.files import RunFiles
from rundir.writer import RunWriter

START = 1_700_000_000.0
GRACE = 6


def slot(
    k: int,
    key: str = "GET /a",
    n: int = 1,
    ms: float = 5.0,
    failed: int = 0,
    cpu: float | None = None,
) -> Slot:
    rec = SlotRecorder(START, 1.0)
    for i in range(n):
        rec.record(key, ms, "boom" if i < failed else None, START + k + 0.5)
    (s,) = rec.take()
    if cpu is not None:
        s.generator = {"cpu_percent": cpu, "rss_bytes": 1000}
    return s


def wire(s: Slot) -> Slot:
    return Slot.from_wire(s.to_wire())


def test_a_slot_waits_for_every_live_worker():
    agg = Aggregator(GRACE)
    agg.add("w1", [slot(0), slot(1)], through=1)
    assert agg.due(now_k=2, live=["w1", "w2"]) == []  # w2 has not reported
    agg.add("w2", [wire(slot(0, n=2))], through=0)
    out = agg.due(now_k=2, live=["w1", "w2"])
    assert [m.k for m in out] == [0] and out[0].cells["GET /a"].count == 3
    agg.add("w2", [], through=1)
    assert [m.k for m in agg.due(now_k=2, live=["w1", "w2"])] == [1]


def test_rows_never_include_the_current_slot_and_have_no_gaps():
    agg = Aggregator(GRACE)
    agg.add("local", [slot(0), slot(3)], through=5)
    out = agg.due(now_k=4, live=["local"])
    assert [m.k for m in out] == [0, 1, 2, 3]
    assert [bool(m.cells) for m in out] == [True, False, False, True]


def test_a_lost_worker_stalls_rows_only_for_the_grace_period():
    agg = Aggregator(GRACE)
    agg.add("w1", [slot(k) for k in range(20)], through=19)
    # w2 is live but silent: slot k waits until now_k - 1 - k > grace, then goes anyway
    assert agg.due(now_k=GRACE, live=["w1", "w2"]) == []
    assert [m.k for m in agg.due(now_k=GRACE + 3, live=["w1", "w2"])] == [0, 1, 2]
    agg.forget("w2")  # Locust marks it missing
    assert [m.k for m in agg.due(now_k=20, live=["w1"])][-1] == 19


def test_late_slots_count_in_the_totals_but_not_in_rows():
    agg = Aggregator(GRACE)
    agg.add("w1", [slot(k) for k in range(12)], through=11)
    rows = agg.due(now_k=12, live=["w1", "w2"])
    assert [m.k for m in rows] == [0, 1, 2, 3, 4, 5]
    agg.add("w2", [wire(slot(1, n=4, failed=1))], through=1)  # slot 1 was already written
    assert agg.late_slots == 1
    assert agg.totals["GET /a"].count == 6 + 4 and agg.totals["GET /a"].failures == 1
    assert agg.errors == {("GET /a", "boom"): 1}


def test_flush_hands_out_everything_in_order():
    agg = Aggregator(GRACE)
    agg.add("w1", [slot(2), slot(5)], through=1)
    agg.note(6, users=3)
    assert [m.k for m in agg.flush(until_k=4)] == [0, 1, 2, 3, 4, 5, 6]
    assert agg.open_slots() == 0


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_session_writes_the_run_directory(tmp_path):
    store = RunFiles(tmp_path / "run", "r-1")
    session = RunWriter(store, start_epoch=START, interval_s=1.0, apdex_t_ms=500, meta={"users": 4})
    for w in ("w1", "w2"):
        session.worker_seen(w, START, index=int(w[1]) - 1)
    for k in range(10):
        session.add("w1", [wire(slot(k, n=3, cpu=95.0 if 2 <= k <= 4 else 20.0))], k)
        session.add(
            "w2",
            [wire(slot(k, key="POST /b", n=2, failed=1 if k == 7 else 0, ms=900.0, cpu=10.0))],
            k,
        )
        session.note(k, users=4, generator=("master", {"cpu_percent": 1.0, "rss_bytes": 5}))
        session.advance(START + k + 1.05, ["w1", "w2"])
    session.worker_lost("w2", START + 10.5, "missing")
    summary = session.finish(START + 10.5, complete=True, stop_reason="run_time")

    rows = read_jsonl(store.path / "timeseries.jsonl")
    assert [r["elapsed_s"] for r in rows] == list(range(11))
    assert rows[0]["endpoints"]["GET /a"]["count"] == 3 and rows[0]["total"]["count"] == 5
    assert set(rows[0]["generators"]) == {"w1", "w2", "master"} and rows[0]["users"] == 4
    assert rows[0]["target"] is None and rows[-1]["span_s"] == 0.5
    kinds = [e["kind"] for e in read_jsonl(store.path / "events.jsonl")]
    assert kinds == [
        "test_start",
        "worker_joined",
        "worker_joined",
        "generator_overloaded",
        "generator_recovered",
        "worker_lost",
        "test_stop",
    ]
    assert summary["total"]["count"] == 50 and summary["total"]["failures"] == 1
    assert summary["users_max"] == 4 and summary["duration_s"] == 10.5
    assert summary["errors"] == [{"method": "POST", "name": "/b", "message": "boom", "count": 1}]
    assert json.loads((store.path / "summary.json").read_text()) == summary
    meta = json.loads((store.path / "meta.json").read_text())
    assert [w["id"] for w in meta["workers"]] == ["w1", "w2"] and meta["workers"][1]["lost"]
    assert meta["run_id"] == "r-1" and meta["users"] == 4 and meta["stopped_at"]
    index = json.loads((store.path / "histograms" / "index.json").read_text())
    assert {e["endpoint"] for e in index["endpoints"].values()} == {"GET /a", "POST /b"}
    for entry in index["endpoints"].values():
        assert (store.path / "histograms" / entry["file"]).stat().st_size > 0


def run_intervals(session: RunWriter, first: int, last: int, blob: dict) -> None:
    """Two workers per interval: one sends encoded slots (as over the wire), one live ones."""
    for k in range(first, last):
        session.add("w1", [Slot.from_wire({**blob, "k": k})], k)
        session.add("w2", [slot(k, n=2)], k)
        session.note(k, users=2, generator=("master", {"cpu_percent": 1.0, "rss_bytes": 1}))
        session.advance(START + k + 1.05, ["w1", "w2"])


@pytest.mark.timeout(120)
def test_memory_stays_flat_over_5000_intervals(tmp_path):
    session = RunWriter(
        RunFiles(tmp_path, "mem"), start_epoch=START, interval_s=1.0, apdex_t_ms=500, meta={}
    )
    for w in ("w1", "w2"):
        session.worker_seen(w, START)
    blob = slot(0, n=20, failed=2, cpu=30.0).to_wire()

    def traced(first: int, last: int) -> tuple[int, int]:
        """(bytes still held, peak bytes) allocated while running intervals first..last."""
        gc.collect()
        tracemalloc.start()
        try:
            run_intervals(session, first, last, blob)
            gc.collect()
            return tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    run_intervals(session, 0, 500, blob)  # untraced stretches keep the test fast
    held_early, peak_early = traced(500, 1_500)
    sizes_early = (session.aggregator.open_slots(), len(session.aggregator.totals))
    run_intervals(session, 1_500, 4_000, blob)
    held_late, peak_late = traced(4_000, 5_000)
    agg = session.aggregator
    assert session.rows_written == 5_000 and agg.next_k == 5_000
    assert (agg.open_slots(), len(agg.totals)) == sizes_early and agg.open_slots() <= 1
    assert len(agg.errors) == 1 and len(session.workers) == 2
    assert agg.totals["GET /a"].count == 5_000 * 22
    # A thousand intervals leave (next to) nothing behind, late in the run as early on,
    # and the working set (one slot's histograms) does not grow either.
    assert held_early < 16 * 1024 and held_late < 16 * 1024, (held_early, held_late)
    assert peak_late <= peak_early * 1.1, (peak_early, peak_late)
