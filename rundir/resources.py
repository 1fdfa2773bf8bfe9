"""The target host's resources and the dropped arrivals, row by row, from ``timeseries.jsonl``.

What :func:`rundir.series.read_series` leaves out and "what broke first"
(:mod:`reports.analysis.saturation`) needs: the target host's CPU, core count and memory
(its sampler's ``host_*`` fields) and the arrivals dropped in each row (``DROPPED``
measurements). A second pass over the file, read only for stepped and breakpoint runs
(minutes of rows, not a day's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rundir.layout import DROPPED_TYPE, TIMESERIES_FILE
from rundir.series import json_lines

DROPPED_PREFIX = DROPPED_TYPE + " "


@dataclass(frozen=True)
class HostRows:
    """One value per timeseries row, in row order (NaN where the row had none).

    ``host_cpu``: the target host's CPU, 0-100; ``cores``: its core count; ``host_mem``:
    its memory used / total; ``dropped``: arrivals dropped in the row (0 without any).
    """

    host_cpu: np.ndarray
    cores: np.ndarray
    host_mem: np.ndarray
    dropped: np.ndarray

    def __len__(self) -> int:
        return len(self.dropped)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else np.nan


def read_host_rows(run_dir: Path) -> HostRows:
    """The rows of ``run_dir``'s timeseries: the same rows :func:`rundir.series.read_series`
    reads (a torn line is skipped; that reader notes it, not this one)."""
    cpu, cores, mem, dropped = [], [], [], []
    for row in json_lines(run_dir / TIMESERIES_FILE, []):
        target = row.get("target") or {}
        cpu.append(_number(target.get("host_cpu_percent")))
        cores.append(_number(target.get("host_cpu_count")))
        used, total = target.get("host_mem_used_bytes"), target.get("host_mem_total_bytes")
        mem.append(_number(used) / total if isinstance(total, int | float) and total else np.nan)
        endpoints = row.get("endpoints") or {}
        dropped.append(
            sum(
                _number(stats.get("count", 0))
                for key, stats in endpoints.items()
                if key.startswith(DROPPED_PREFIX)
            )
        )
    return HostRows(
        host_cpu=np.array(cpu, dtype=float),
        cores=np.array(cores, dtype=float),
        host_mem=np.array(mem, dtype=float),
        dropped=np.array(dropped, dtype=float),
    )
