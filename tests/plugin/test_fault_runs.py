"""Faults of the target a load test must survive, each driven for real (issue 13).

A target that resets every connection, one that answers 5xx to everything (across
workers), one that stalls: in each the run goes on, counts its failures by type, records
what happened, and ends by itself on time. Workers and masters killed:
``test_worker_faults.py``.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from tests.locust_runs import processes_args, run_locust
from tests.run_checks import read_jsonl

RUN_S = 4


@pytest.fixture
def resetting_server() -> Iterator[str]:
    """A loopback server that accepts every connection and resets it at once (RST)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    done.set()
    thread.join(5)
    server.close()


def ran_on_time(run_dir) -> list[dict]:
    """The run ended by itself (run_time) within a second of -t; returns its events."""
    events = read_jsonl(run_dir / "events.jsonl")
    stop = events[-1]
    assert stop["kind"] == "test_stop" and stop["reason"] == "run_time", stop
    assert abs(stop["elapsed_s"] - RUN_S) < 1.0, stop
    return events


def outages(events: list[dict]) -> list[dict]:
    return [e for e in events if e["kind"] == "target_outage"]


def test_connections_reset(resetting_server, tmp_path):
    run = run_locust(
        *("-u", "2", "-r", "2", "-t", f"{RUN_S}s", "--host", resetting_server),
        *("--exit-code-on-error", "0", "StressUser"),
        tmp_path=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.count() > 0 and run.count() == int(run.total["Failure Count"])
    assert {f["Error"] for f in run.failures} <= {
        "CatchResponseError('connection error: ConnectionResetError')",
        "CatchResponseError('truncated body')",
    } or any("Reset" in f["Error"] for f in run.failures), run.failures
    (outage,) = outages(ran_on_time(run.run_dir))
    assert outage["ongoing"] is True and set(outage["failures"]) == {"reset"}, outage


def test_5xx_from_every_request_across_workers(start_target, tmp_path):
    failing = start_target("--error-rate", "1")
    run = run_locust(
        *("-u", "2", "-r", "2", "-t", f"{RUN_S}s", "--host", failing.url or ""),
        *("--exit-code-on-error", "0", *processes_args(2), "StressUser"),
        tmp_path=tmp_path,
        final=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.count() > 0 and run.count() == int(run.total["Failure Count"])
    assert all("status 500" in f["Error"] for f in run.failures), run.failures
    found = outages(ran_on_time(run.run_dir))
    assert len(found) == 2 and len({o["worker"] for o in found}) == 2, found  # one per worker
    assert all(set(o["failures"]) == {"5xx"} and o["ongoing"] for o in found), found
    summary = json.loads((run.run_dir / "summary.json").read_text())
    # Locust's stats as it quit (its CSV, rewritten once a second, can miss the last one)
    assert summary["total"]["failures"] == run.final_count("num_failures") == run.final_count()


def test_a_stalled_target_does_not_hold_the_run(start_target, tmp_path):
    stalled = start_target("--stall-after-requests", "40", "--stall-s", str(RUN_S + 1))
    started = time.monotonic()
    run = run_locust(
        *("-u", "2", "-r", "2", "-t", f"{RUN_S}s", "--host", stalled.url or "", "StressUser"),
        tmp_path=tmp_path,
        timeout=60,
    )
    assert time.monotonic() - started < RUN_S + 15, "locust waited for the stalled target"
    assert run.returncode == 0, run.stderr[-2000:]
    events = ran_on_time(run.run_dir)
    rows = read_jsonl(run.run_dir / "timeseries.jsonl")
    assert sum(r["total"]["count"] for r in rows) >= 40 - 2  # the requests before the stall
    assert rows[-1]["users"] == 2 and not outages(events)  # hung, not refused: no outage
