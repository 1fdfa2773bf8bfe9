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
import json
import sys
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import numpy as np

from metrics.generator import OverloadTracker
from metrics.latency import HIGHEST_US, Cell, merge_cells, new_histogram
from metrics.summary import ROW_PERCENTILES
from rundir.files import RunFiles, iso
from rundir.layout import TIMESERIES_FILE
from rundir.records import build_summary

START_EPOCH = 1_795_161_600.25
"""2026-11-20, a little after midnight UTC: a fixed start, so a seed gives the same files."""
DAY_S = 86_400
INTERVAL_S = 1.0
USERS = 50
WARMUP_S = 60
CHUNK_ROWS = 3600
"""Rows generated and written at a time (one join and one write per chunk)."""
LEAK_BYTES_PER_REQUEST = 16
"""~250 req/s for a day is ~21.6 M requests: 16 B each is ~330 MB of growth (2 KB would
be 40 GB, no process survives that), a leak the report must call a leak."""
GENERATOR = "local"
APDEX_T_MS = 500.0

# (method name, median ms, log-normal sigma, requests/s at full load, failure share)
ENDPOINTS: tuple[tuple[str, float, float, float, float], ...] = (
    ("GET /v1/strategies", 3.5, 0.35, 40.0, 0.001),
    ("GET /v1/market-data/{symbol}", 11.0, 0.55, 50.0, 0.002),
    ("POST /v1/backtests", 42.0, 0.45, 30.0, 0.003),
    ("GET /v1/backtests/{id}", 5.5, 0.40, 25.0, 0.001),
    ("GET /v1/backtests", 9.0, 0.50, 15.0, 0.001),
    ("POST /v1/jobs", 7.5, 0.40, 12.0, 0.002),
    ("GET /v1/jobs/{id}", 3.0, 0.35, 35.0, 0.001),
    ("GET /v1/jobs/{id}/result", 14.0, 0.60, 10.0, 0.002),
    ("DELETE /v1/jobs/{id}", 4.5, 0.40, 5.0, 0.001),
    ("GET /v1/queue", 2.0, 0.30, 20.0, 0.001),
)
SPIKE_EVERY_S = 1200
"""About one latency spike (5-30 s, 4-10x slower, 5 % failures) per 20 minutes."""
SPIKE_FAILURE_SHARE = 0.05
ERROR_500 = "HTTPError('500 Server Error: Internal Server Error for url: {name}')"
ERROR_TIMEOUT = "ReadTimeout('HTTPConnectionPool(host=127.0.0.1): Read timed out.')"

_STATS = ('{"count":%d,"failures":%d,"rps":%r,"p50_ms":%r,"p90_ms":%r,"p95_ms":%r,'
          '"p99_ms":%r,"max_ms":%r,"avg_ms":%r}')
_EMPTY_STATS = ('{"count":0,"failures":0,"rps":0.0,"p50_ms":null,"p90_ms":null,'
                '"p95_ms":null,"p99_ms":null,"max_ms":null,"avg_ms":null}')
_TARGET = ('{"cpu_percent":%r,"rss_bytes":%d,"threads":%d,"open_files":%d,"children":%d,'
           '"host_cpu_percent":%r,"host_cpu_count":2,"host_mem_used_bytes":%d,'
           '"host_mem_total_bytes":25769803776,"load1":%r,"disk_read_bytes":%d,'
           '"disk_write_bytes":%d,"net_sent_bytes":%d,"net_recv_bytes":%d,"queue_depth":%r}')
_PERCENTILES = tuple(ROW_PERCENTILES.values())  # 50, 90, 95, 99: the row's order


def endpoint_specs(n: int) -> list[tuple[str, float, float, float, float]]:
    """``n`` endpoints: the ten above, then variants of them (``.../v2`` ...) if more."""
    if n < 1:
        raise ValueError(f"endpoints must be >= 1, got {n}")
    specs = []
    for i in range(n):
        key, median, sigma, rate, fail = ENDPOINTS[i % len(ENDPOINTS)]
        if i >= len(ENDPOINTS):
            key = f"{key}/v{i // len(ENDPOINTS) + 1}"
        specs.append((key, median, sigma, rate, fail))
    return specs


class _Hdr:
    """The suite's HDR layout (1 us .. 1 h, 3 digits), vectorised: counts-array index and
    highest equivalent value of many values at once (the same integer arithmetic as
    :meth:`metrics.latency.Histogram.record_value` and hdrh)."""

    def __init__(self) -> None:
        h = new_histogram()
        self.counts_len = h.counts_len
        self.unit = h.unit_magnitude
        self.half_mag = h.sub_bucket_half_count_magnitude
        self.half = h.sub_bucket_half_count
        self.mask = h.sub_bucket_mask
        self.shift = self.unit + self.half_mag + 1

    def _bucket(self, us: np.ndarray) -> np.ndarray:
        # bit_length(v | mask) via frexp: exact for every int below 2^53
        return np.frexp((us | self.mask).astype(np.float64))[1].astype(np.int64) - self.shift

    def index(self, us: np.ndarray) -> np.ndarray:
        bucket = self._bucket(us)
        return ((bucket + 1) << self.half_mag) + (us >> (bucket + self.unit)) - self.half

    def highest_equivalent(self, us: np.ndarray) -> np.ndarray:
        shift = self._bucket(us) + self.unit
        return ((us >> shift) << shift) + (np.int64(1) << shift) - 1


def _to_histogram(counts: np.ndarray):
    """A live suite histogram holding ``counts`` (a full counts array, by index)."""
    hist = new_histogram()
    for index in np.flatnonzero(counts).tolist():
        hist.record_value(hist.get_value_from_index(index), int(counts[index]))
    return hist


class _Model:
    """The run's per-row truths: load, latency medians, failure shares, resources."""

    def __init__(self, n: int, specs: Sequence[tuple], rng: np.random.Generator,
                 leak_bytes_per_request: float) -> None:
        k = np.arange(n, dtype=np.float64)
        self.n = n
        self.offered = np.where(k < WARMUP_S, np.round(USERS * k / WARMUP_S, 3), float(USERS))
        self.stage = np.where(k < WARMUP_S, "warm-up", "soak")
        self.users = np.minimum(USERS, np.ceil(USERS * (k + 1) / WARMUP_S)).astype(np.int64)
        phase = 2 * np.pi * k / DAY_S
        busy = np.sin(phase - np.pi / 2)  # -1 at the start, +1 twelve hours in
        traffic = (1.0 + 0.25 * busy) * self.users / USERS
        slow = 1.0 + 0.35 * (busy + 1) / 2 + 0.02 * rng.standard_normal(n)
        spike = np.zeros(n)
        for _ in range(max(1, n // SPIKE_EVERY_S)):
            at = int(rng.integers(min(WARMUP_S, n - 1), n))
            spike[at: at + int(rng.integers(5, 31))] = rng.uniform(4.0, 10.0)
        self.spike = spike > 0
        slow = slow * np.where(self.spike, spike, 1.0)
        traffic = traffic * np.where(self.spike, 0.6, 1.0)  # closed model: slower, fewer
        specs = sorted(specs)  # build_row writes the endpoints sorted by key
        e = len(specs)
        self.keys = [s[0] for s in specs]
        self.sigma = np.array([s[2] for s in specs])
        rates = np.array([s[3] for s in specs])
        self.counts = rng.poisson(np.outer(traffic, rates))  # (n, e)
        self.median_ms = np.outer(slow, [s[1] for s in specs]) * \
            rng.lognormal(0.0, 0.03, (n, e))
        self.fail_share = np.where(self.spike[:, None], SPIKE_FAILURE_SHARE,
                                   np.array([s[4] for s in specs])[None, :])
        requests = self.counts.sum(axis=1)
        done = np.cumsum(requests)
        # the target: CPU follows the request rate; RSS warms up, then leaks per request
        self.target_cpu = np.round(8.0 + 0.32 * requests * slow ** 0.3
                                   + rng.normal(0, 3.0, n), 1).clip(0.5)
        warm = 140e6 * (1 - np.exp(-k / 120.0))
        gc = 6e6 * ((k % 900) / 900.0)  # allocator sawtooth, freed every 15 min
        self.target_rss = (95e6 + warm + gc + leak_bytes_per_request * done
                           + rng.normal(0, 4e5, n)).astype(np.int64)
        self.threads = 14 + rng.integers(0, 3, n)
        self.open_files = 40 + (self.users // 2) + rng.integers(0, 4, n)
        self.queue_depth = np.round(np.maximum(0.0, rng.poisson(
            (1.5 + 2.5 * (busy + 1)) * np.where(self.spike, 6.0, 1.0)).astype(float)), 0)
        self.host_cpu = np.round((self.target_cpu / 2 + 25 + rng.normal(0, 2, n)).clip(1, 100),
                                 1)
        self.host_mem = (3.2e9 + self.target_rss + rng.normal(0, 2e7, n)).astype(np.int64)
        self.load1 = np.round((self.host_cpu / 50).clip(0.05) + rng.normal(0, 0.05, n)
                              .clip(-0.04), 2)
        self.disk_read = (9.1e9 + np.cumsum(rng.integers(0, 40_000, n))).astype(np.int64)
        self.disk_write = (2.7e10 + np.cumsum(requests * 600)).astype(np.int64)
        self.net_sent = (4.1e10 + np.cumsum(requests * 9_000)).astype(np.int64)
        self.net_recv = (1.3e10 + np.cumsum(requests * 700)).astype(np.int64)
        # one generator: busy with the load, one overload episode (> 90 %) 60 % into the run
        cpu = 30.0 + 0.12 * requests + rng.normal(0, 2.5, n)
        at = int(n * 0.6)
        episode = np.zeros(n, dtype=bool)
        episode[at: at + max(3, min(120, n // 100))] = True
        cpu = np.where(episode, rng.uniform(91.0, 98.0, n), cpu.clip(1.0, 85.0))
        self.generator_cpu = np.round(cpu, 1)
        self.generator_rss = (88e6 + 30e6 * (1 - np.exp(-k / 300.0))
                              + rng.normal(0, 3e5, n)).astype(np.int64)


def _group_percentiles(sorted_us: np.ndarray, counts: np.ndarray, hdr: _Hdr,
                       ) -> tuple[list[np.ndarray], np.ndarray]:
    """Per group (consecutive runs of ``counts`` values, each sorted): the row percentiles
    and the max, in us, by HDR's rule (:func:`metrics.summary.percentiles_us`)."""
    has = counts > 0
    ends = np.cumsum(counts)
    first = ends - counts
    c = counts.astype(np.float64)
    out = []
    for p in _PERCENTILES:
        rank = np.maximum(1, np.floor(min(p, 100.0) * c / 100 + 0.5).astype(np.int64))
        at = np.where(has, first + rank - 1, 0)
        out.append(hdr.highest_equivalent(sorted_us[at]) if len(sorted_us) else at)
    last = np.where(has, ends - 1, 0)
    top = hdr.highest_equivalent(sorted_us[last]) if len(sorted_us) else last
    return out, top


def _stats_columns(counts: np.ndarray, failures: np.ndarray, sum_ms: np.ndarray,
                   sorted_us: np.ndarray, hdr: _Hdr) -> list[list]:
    """The columns of the row's stats (count ... avg_ms), as Python lists."""
    pct, top = _group_percentiles(sorted_us, counts, hdr)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.round(sum_ms / counts, 3)
    return [counts.tolist(), failures.tolist(), counts.astype(np.float64).tolist(),
            *[np.round(v / 1000.0, 3).tolist() for v in pct],
            np.round(top / 1000.0, 3).tolist(), avg.tolist()]


def _stats_strings(columns: list[list], counts: np.ndarray, prefix: str = "") -> list[str]:
    """``prefix + {stats}`` per row, '' where the row has no request (build_row leaves the
    endpoint out) - or the empty stats when ``prefix`` is '' (the total is always there)."""
    out = []
    for count, *values in zip(counts.tolist(), *columns[1:], strict=True):
        if count:
            out.append(prefix + _STATS % (count, *values))
        else:
            out.append("" if prefix else _EMPTY_STATS)
    return out


class _Writer:
    """Samples the requests chunk by chunk into rows, keeping the run's totals."""

    def __init__(self, model: _Model, rng: np.random.Generator) -> None:
        self.m = model
        self.rng = rng
        self.hdr = _Hdr()
        e = len(model.keys)
        self.hist_counts = np.zeros((e, self.hdr.counts_len), dtype=np.int64)
        self.failed_counts = np.zeros((e, self.hdr.counts_len), dtype=np.int64)
        self.sum_ms = np.zeros(e, dtype=np.float64)
        self.failures = np.zeros(e, dtype=np.int64)
        self.spike_failures = np.zeros(e, dtype=np.int64)
        self.prefixes = [json.dumps(key) + ":" for key in model.keys]

    def chunk(self, lo: int, hi: int) -> str:
        """The ``timeseries.jsonl`` text of rows ``lo`` to ``hi - 1``."""
        m, hdr, rows = self.m, self.hdr, hi - lo
        row_ids = np.arange(rows, dtype=np.int64)
        endpoint_strings, all_keys, all_sums = [], [], []
        total_fails = np.zeros(rows, dtype=np.int64)
        for e, prefix in enumerate(self.prefixes):
            counts = m.counts[lo:hi, e]
            owner = np.repeat(row_ids, counts)
            ms = np.repeat(m.median_ms[lo:hi, e], counts) * np.exp(
                m.sigma[e] * self.rng.standard_normal(len(owner)))
            us = np.clip(np.rint(ms * 1000.0), 1, HIGHEST_US).astype(np.int64)
            failed = self.rng.random(len(owner)) < np.repeat(m.fail_share[lo:hi, e], counts)
            fails = np.bincount(owner[failed], minlength=rows)
            total_fails += fails
            self.hist_counts[e] += np.bincount(hdr.index(us), minlength=hdr.counts_len)
            self.failed_counts[e] += np.bincount(hdr.index(us[failed]),
                                                 minlength=hdr.counts_len)
            self.sum_ms[e] += float(ms.sum())
            self.failures[e] += int(fails.sum())
            self.spike_failures[e] += int(fails[m.spike[lo:hi]].sum())
            keys = np.sort((owner << 32) | us)  # by row, then latency
            all_keys.append(keys)
            sums = np.bincount(owner, weights=ms, minlength=rows)  # the exact ms, as Locust
            all_sums.append(sums)
            cols = _stats_columns(counts, fails, sums, keys & 0xFFFFFFFF, hdr)
            endpoint_strings.append(_stats_strings(cols, counts, prefix))
        keys = np.sort(np.concatenate(all_keys))
        owner, us = keys >> 32, keys & 0xFFFFFFFF
        counts = np.bincount(owner, minlength=rows)
        sums = np.sum(all_sums, axis=0)
        total = _stats_strings(_stats_columns(counts, total_fails, sums, us, hdr), counts)
        return self._lines(lo, hi, endpoint_strings, total)

    def _lines(self, lo: int, hi: int, endpoint_strings: list[list[str]],
               total: list[str]) -> str:
        m = self.m
        t = np.round(START_EPOCH + np.arange(lo, hi) * INTERVAL_S, 3).tolist()
        elapsed = (np.arange(lo, hi) * INTERVAL_S).tolist()
        users = m.users[lo:hi].tolist()
        gens = [f'{{"{GENERATOR}":{{"cpu_percent":{cpu!r},"rss_bytes":{rss}}}}}'
                for cpu, rss in zip(m.generator_cpu[lo:hi].tolist(),
                                    m.generator_rss[lo:hi].tolist(), strict=True)]
        targets = [_TARGET % row for row in zip(
            m.target_cpu[lo:hi].tolist(), m.target_rss[lo:hi].tolist(),
            m.threads[lo:hi].tolist(), m.open_files[lo:hi].tolist(), [2] * (hi - lo),
            m.host_cpu[lo:hi].tolist(), m.host_mem[lo:hi].tolist(), m.load1[lo:hi].tolist(),
            m.disk_read[lo:hi].tolist(), m.disk_write[lo:hi].tolist(),
            m.net_sent[lo:hi].tolist(), m.net_recv[lo:hi].tolist(),
            m.queue_depth[lo:hi].tolist(), strict=True)]
        loads = [f'{{"stage":"{stage}","unit":"users","offered":{offered!r}}}'
                 for stage, offered in zip(m.stage[lo:hi].tolist(), m.offered[lo:hi].tolist(),
                                           strict=True)]
        lines = []
        for i, parts in enumerate(zip(*endpoint_strings, strict=True)):
            endpoints = ",".join(p for p in parts if p)
            lines.append(
                f'{{"t":{t[i]!r},"elapsed_s":{elapsed[i]!r},"users":{users[i]},'
                f'"endpoints":{{{endpoints}}},"total":{total[i]},"requests":{total[i]},'
                f'"generators":{gens[i]},"span_s":{INTERVAL_S!r},"target":{targets[i]},'
                f'"load":{loads[i]}}}\n')
        return "".join(lines)

    def cells(self) -> dict[str, Cell]:
        """The run's cumulative cell per endpoint (what the aggregator holds at stop)."""
        out = {}
        for e, key in enumerate(self.m.keys):
            failed = _to_histogram(self.failed_counts[e]) if self.failures[e] else None
            out[key] = Cell(_to_histogram(self.hist_counts[e]), failed,
                            int(self.m.counts[:, e].sum()), int(self.failures[e]),
                            float(self.sum_ms[e]))
        return out

    def errors(self) -> dict[tuple[str, str], int]:
        """Failures by (endpoint, message): timeouts during spikes, 500s otherwise."""
        out: dict[tuple[str, str], int] = {}
        for e, key in enumerate(self.m.keys):
            timeouts, other = int(self.spike_failures[e]), int(self.failures[e] -
                                                                self.spike_failures[e])
            if timeouts:
                out[(key, ERROR_TIMEOUT)] = timeouts
            if other:
                out[(key, ERROR_500.format(name=key.partition(" ")[2]))] = other
        return out


def _meta(run_id: str, n: int, seed: int, leak_bytes_per_request: float) -> dict:
    """``meta.json`` as :class:`rundir.writer.RunWriter` writes it for a local soak
    (locust's version from its metadata: importing locust here would monkey-patch late)."""
    stop = START_EPOCH + n * INTERVAL_S
    return {
        "profile": "soak", "config_file": "config/soak.conf", "locustfile": "locustfile.py",
        "user_classes": ["BacktestUser", "JobUser"], "users": None, "spawn_rate": None,
        "run_time_s": n * INTERVAL_S, "shape_class": "SoakShape",
        "host": "http://127.0.0.1:8000", "embedded_target": True,
        "target_flags": f"--workers 2 --leak-kb-per-request {leak_bytes_per_request / 1024:g}",
        "seed": seed, "mode": "local", "expect_workers": None,
        "locust_version": version("locust"), "python_version": sys.version.split()[0],
        "run_id": run_id, "interval_s": INTERVAL_S, "apdex_t_ms": APDEX_T_MS,
        "start_epoch": START_EPOCH, "started_at": iso(START_EPOCH),
        "stop_epoch": round(stop, 3), "stopped_at": iso(stop), "workers": [],
    }


def _events(model: _Model, n: int) -> list[dict]:
    """test_start, the generator's overload episode (as OverloadTracker sees it), test_stop."""
    def event(k: float, kind: str, **fields) -> dict:
        t = START_EPOCH + k * INTERVAL_S
        return {"t": round(t, 3), "elapsed_s": round(t - START_EPOCH, 3), "kind": kind,
                **fields}

    events = [event(0, "test_start", interval_s=INTERVAL_S)]
    tracker = OverloadTracker()
    cpu = model.generator_cpu
    hot = np.flatnonzero((cpu > tracker.overloaded_percent) | (cpu < tracker.recovered_percent))
    for k in hot.tolist():  # only rows that can change the state
        kind = tracker.update(GENERATOR, float(cpu[k]))
        if kind:
            events.append(event(k, kind, generator=GENERATOR, cpu_percent=float(cpu[k])))
    events.append(event(n, "test_stop", reason="run_time", complete=True, rows=n,
                        late_slots=0))
    return events


def write_synthetic_run(path: Path | str, *, intervals: int = DAY_S, endpoints: int = 10,
                        seed: int = 0,
                        leak_bytes_per_request: float = LEAK_BYTES_PER_REQUEST) -> Path:
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
        store.write_summary(build_summary(
            run_id=run_id, duration_s=intervals * INTERVAL_S, users_max=int(model.users.max()),
            totals=cells, errors=writer.errors(), apdex_t_ms=APDEX_T_MS, complete=True))
    finally:
        store.close()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synthetic_run",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="the run directory to write")
    parser.add_argument("--intervals", type=int, default=DAY_S,
                        help=f"rows of 1 s (default {DAY_S:,}: 24 hours)")
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    path = write_synthetic_run(args.path, intervals=args.intervals, endpoints=args.endpoints,
                               seed=args.seed)
    size = (path / TIMESERIES_FILE).stat().st_size
    print(f"{path}: {args.intervals:,} intervals x {args.endpoints} endpoints, "
          f"{TIMESERIES_FILE} {size / 2**20:,.1f} MiB, {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
