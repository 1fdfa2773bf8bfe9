"""A realistic run directory, written fast: the input of the report-rendering benchmark.

A 24-hour soak at 1 s intervals (86,400 rows) against ten endpoints of the
reference API, generated with numpy in seconds instead of run for a day:

- every request is a sampled latency (log-normal per endpoint, slower in the
  busy half of a daily cycle, 4-10x slower during occasional spikes), so each
  row's percentiles, max and mean are exactly what :func:`rundir.records.build_row`
  computes from HDR histograms of those requests (HDR's rank rule and
  highest-equivalent values, vectorised), and the final histograms, ``summary.json``
  and the rows all count the same requests;
- a few failures (about 0.2 %, 5 % during spikes), with their latencies in each
  endpoint's failures histogram;
- the target's CPU, RSS growing by ``leak_bytes_per_request`` per request (a slow
  leak), threads, host readings and queue depth; one generator (``local``) whose
  CPU crosses 90 % once (the ``generator_overloaded`` / ``generator_recovered`` pair);
- ``meta.json``, ``events.jsonl``, ``histograms/`` (via :class:`RunFiles`) and
  ``summary.json`` (via :func:`build_summary`, ``complete: true``).

    python -m bench.synthetic_run PATH [--intervals 86400] [--endpoints 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from bench.synthetic_model import (
    DAY_S,
    GENERATOR,
    INTERVAL_S,
    LEAK_BYTES_PER_REQUEST,
    START_EPOCH,
    _Model,
    endpoint_specs,
)
from bench.synthetic_rows import _Writer
from metrics.generator import OverloadTracker
from metrics.latency import merge_cells
from rundir.files import RunFiles, iso
from rundir.layout import TIMESERIES_FILE
from rundir.records import build_summary

CHUNK_ROWS = 3600
"""Rows generated and written at a time (one join and one write per chunk)."""
APDEX_T_MS = 500.0


def _meta(run_id: str, n: int, seed: int, leak_bytes_per_request: float) -> dict:
    """``meta.json`` as :class:`rundir.writer.RunWriter` writes it for a local soak
    (locust's version from its metadata: importing locust here would monkey-patch late)."""
    stop = START_EPOCH + n * INTERVAL_S
    return {
        "profile": "soak",
        "config_file": "config/soak.conf",
        "locustfile": "locustfile.py",
        "user_classes": ["BacktestUser", "JobUser"],
        "users": None,
        "spawn_rate": None,
        "run_time_s": n * INTERVAL_S,
        "shape_class": "SoakShape",
        "host": "http://127.0.0.1:8000",
        "embedded_target": True,
        "target_flags": f"--workers 2 --leak-kb-per-request {leak_bytes_per_request / 1024:g}",
        "seed": seed,
        "mode": "local",
        "expect_workers": None,
        "locust_version": version("locust"),
        "python_version": sys.version.split()[0],
        "run_id": run_id,
        "interval_s": INTERVAL_S,
        "apdex_t_ms": APDEX_T_MS,
        "start_epoch": START_EPOCH,
        "started_at": iso(START_EPOCH),
        "stop_epoch": round(stop, 3),
        "stopped_at": iso(stop),
        "workers": [],
    }


def _events(model: _Model, n: int) -> list[dict]:
    """test_start, the generator's overload episode (as OverloadTracker sees it), test_stop."""

    def event(k: float, kind: str, **fields) -> dict:
        t = START_EPOCH + k * INTERVAL_S
        return {"t": round(t, 3), "elapsed_s": round(t - START_EPOCH, 3), "kind": kind, **fields}

    events = [event(0, "test_start", interval_s=INTERVAL_S)]
    tracker = OverloadTracker()
    cpu = model.generator_cpu
    hot = np.flatnonzero((cpu > tracker.overloaded_percent) | (cpu < tracker.recovered_percent))
    for k in hot.tolist():  # only rows that can change the state
        kind = tracker.update(GENERATOR, float(cpu[k]))
        if kind:
            events.append(event(k, kind, generator=GENERATOR, cpu_percent=float(cpu[k])))
    events.append(event(n, "test_stop", reason="run_time", complete=True, rows=n, late_slots=0))
    return events


def write_synthetic_run(
    path: Path | str,
    *,
    intervals: int = DAY_S,
    endpoints: int = 10,
    seed: int = 0,
    leak_bytes_per_request: float = LEAK_BYTES_PER_REQUEST,
) -> Path:
    """Write a run directory of ``intervals`` 1 s rows over ``endpoints`` endpoints at
    ``path`` (created; files of an earlier run there are replaced); returns the path."""
    if intervals < 1:
        raise ValueError(f"intervals must be >= 1, got {intervals}")
    path = Path(path)
    rng = np.random.default_rng(seed)
    model = _Model(intervals, endpoint_specs(endpoints), rng, leak_bytes_per_request)
    run_id = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(START_EPOCH))}-soak"
    store = RunFiles(path, run_id)  # truncates timeseries.jsonl and events.jsonl
    try:
        store.write_meta(_meta(run_id, intervals, seed, leak_bytes_per_request))
        writer = _Writer(model, rng)
        with open(path / TIMESERIES_FILE, "ab") as out:
            for lo in range(0, intervals, CHUNK_ROWS):
                out.write(writer.chunk(lo, min(intervals, lo + CHUNK_ROWS)).encode("utf-8"))
        for event in _events(model, intervals):
            store.append_event(event)
        cells = writer.cells()
        store.write_histograms(cells, merge_cells(cells.values()))
        store.write_summary(
            build_summary(
                run_id=run_id,
                duration_s=intervals * INTERVAL_S,
                users_max=int(model.users.max()),
                totals=cells,
                errors=writer.errors(),
                apdex_t_ms=APDEX_T_MS,
                complete=True,
            )
        )
    finally:
        store.close()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.synthetic_run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("path", type=Path, help="the run directory to write")
    parser.add_argument(
        "--intervals", type=int, default=DAY_S, help=f"rows of 1 s (default {DAY_S:,}: 24 hours)"
    )
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    path = write_synthetic_run(
        args.path, intervals=args.intervals, endpoints=args.endpoints, seed=args.seed
    )
    size = (path / TIMESERIES_FILE).stat().st_size
    print(
        f"{path}: {args.intervals:,} intervals x {args.endpoints} endpoints, "
        f"{TIMESERIES_FILE} {size / 2**20:,.1f} MiB, {time.perf_counter() - t0:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
