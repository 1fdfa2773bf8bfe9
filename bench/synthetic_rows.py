"""The synthetic run's requests, sampled chunk by chunk into ``timeseries.jsonl`` rows.

:class:`_Writer` draws every request of a chunk from :class:`bench.synthetic_model._Model`,
computes each row's percentiles, max and mean as :func:`rundir.records.build_row` does
from HDR histograms (:class:`_Hdr`: the suite's HDR layout, vectorised), and keeps the
run's cumulative histograms and failures for ``histograms/`` and ``summary.json``.
"""

from __future__ import annotations

import json

import numpy as np

from bench.synthetic_model import GENERATOR, INTERVAL_S, START_EPOCH, _Model
from metrics.latency import HIGHEST_US, Cell, new_histogram
from metrics.summary import ROW_PERCENTILES

ERROR_500 = "HTTPError('500 Server Error: Internal Server Error for url: {name}')"
ERROR_TIMEOUT = "ReadTimeout('HTTPConnectionPool(host=127.0.0.1): Read timed out.')"

_STATS = (
    '{"count":%d,"failures":%d,"rps":%r,"p50_ms":%r,"p90_ms":%r,"p95_ms":%r,'
    '"p99_ms":%r,"max_ms":%r,"avg_ms":%r}'
)
_EMPTY_STATS = (
    '{"count":0,"failures":0,"rps":0.0,"p50_ms":null,"p90_ms":null,'
    '"p95_ms":null,"p99_ms":null,"max_ms":null,"avg_ms":null}'
)
_TARGET = (
    '{"cpu_percent":%r,"rss_bytes":%d,"threads":%d,"open_files":%d,"children":%d,'
    '"host_cpu_percent":%r,"host_cpu_count":2,"host_mem_used_bytes":%d,'
    '"host_mem_total_bytes":25769803776,"load1":%r,"disk_read_bytes":%d,'
    '"disk_write_bytes":%d,"net_sent_bytes":%d,"net_recv_bytes":%d,"queue_depth":%r}'
)
_PERCENTILES = tuple(ROW_PERCENTILES.values())  # 50, 90, 95, 99: the row's order


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


def _group_percentiles(
    sorted_us: np.ndarray,
    counts: np.ndarray,
    hdr: _Hdr,
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


def _stats_columns(
    counts: np.ndarray, failures: np.ndarray, sum_ms: np.ndarray, sorted_us: np.ndarray, hdr: _Hdr
) -> list[list]:
    """The columns of the row's stats (count ... avg_ms), as Python lists."""
    pct, top = _group_percentiles(sorted_us, counts, hdr)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.round(sum_ms / counts, 3)
    return [
        counts.tolist(),
        failures.tolist(),
        counts.astype(np.float64).tolist(),
        *[np.round(v / 1000.0, 3).tolist() for v in pct],
        np.round(top / 1000.0, 3).tolist(),
        avg.tolist(),
    ]


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
                m.sigma[e] * self.rng.standard_normal(len(owner))
            )
            us = np.clip(np.rint(ms * 1000.0), 1, HIGHEST_US).astype(np.int64)
            failed = self.rng.random(len(owner)) < np.repeat(m.fail_share[lo:hi, e], counts)
            fails = np.bincount(owner[failed], minlength=rows)
            total_fails += fails
            self.hist_counts[e] += np.bincount(hdr.index(us), minlength=hdr.counts_len)
            self.failed_counts[e] += np.bincount(hdr.index(us[failed]), minlength=hdr.counts_len)
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

    def _lines(self, lo: int, hi: int, endpoint_strings: list[list[str]], total: list[str]) -> str:
        m = self.m
        t = np.round(START_EPOCH + np.arange(lo, hi) * INTERVAL_S, 3).tolist()
        elapsed = (np.arange(lo, hi) * INTERVAL_S).tolist()
        users = m.users[lo:hi].tolist()
        gens = [
            f'{{"{GENERATOR}":{{"cpu_percent":{cpu!r},"rss_bytes":{rss}}}}}'
            for cpu, rss in zip(
                m.generator_cpu[lo:hi].tolist(), m.generator_rss[lo:hi].tolist(), strict=True
            )
        ]
        targets = [
            _TARGET % row
            for row in zip(
                m.target_cpu[lo:hi].tolist(),
                m.target_rss[lo:hi].tolist(),
                m.threads[lo:hi].tolist(),
                m.open_files[lo:hi].tolist(),
                [2] * (hi - lo),
                m.host_cpu[lo:hi].tolist(),
                m.host_mem[lo:hi].tolist(),
                m.load1[lo:hi].tolist(),
                m.disk_read[lo:hi].tolist(),
                m.disk_write[lo:hi].tolist(),
                m.net_sent[lo:hi].tolist(),
                m.net_recv[lo:hi].tolist(),
                m.queue_depth[lo:hi].tolist(),
                strict=True,
            )
        ]
        loads = [
            f'{{"stage":"{stage}","unit":"users","offered":{offered!r}}}'
            for stage, offered in zip(
                m.stage[lo:hi].tolist(), m.offered[lo:hi].tolist(), strict=True
            )
        ]
        lines = []
        for i, parts in enumerate(zip(*endpoint_strings, strict=True)):
            endpoints = ",".join(p for p in parts if p)
            lines.append(
                f'{{"t":{t[i]!r},"elapsed_s":{elapsed[i]!r},"users":{users[i]},'
                f'"endpoints":{{{endpoints}}},"total":{total[i]},"requests":{total[i]},'
                f'"generators":{gens[i]},"span_s":{INTERVAL_S!r},"target":{targets[i]},'
                f'"load":{loads[i]}}}\n'
            )
        return "".join(lines)

    def cells(self) -> dict[str, Cell]:
        """The run's cumulative cell per endpoint (what the aggregator holds at stop)."""
        out = {}
        for e, key in enumerate(self.m.keys):
            failed = _to_histogram(self.failed_counts[e]) if self.failures[e] else None
            out[key] = Cell(
                _to_histogram(self.hist_counts[e]),
                failed,
                int(self.m.counts[:, e].sum()),
                int(self.failures[e]),
                float(self.sum_ms[e]),
            )
        return out

    def errors(self) -> dict[tuple[str, str], int]:
        """Failures by (endpoint, message): timeouts during spikes, 500s otherwise."""
        out: dict[tuple[str, str], int] = {}
        for e, key in enumerate(self.m.keys):
            timeouts, other = (
                int(self.spike_failures[e]),
                int(self.failures[e] - self.spike_failures[e]),
            )
            if timeouts:
                out[(key, ERROR_TIMEOUT)] = timeouts
            if other:
                out[(key, ERROR_500.format(name=key.partition(" ")[2]))] = other
        return out
