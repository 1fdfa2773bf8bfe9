"""rundir.resources: the target host's series and the dropped arrivals, row by row."""

from __future__ import annotations

import json
import math

from rundir.resources import read_host_rows


def test_host_rows_are_read_per_row_with_gaps_as_nan(tmp_path):
    rows = [
        {
            "target": {
                "host_cpu_percent": 40.0,
                "host_cpu_count": 2,
                "host_mem_used_bytes": 1,
                "host_mem_total_bytes": 4,
            },
            "endpoints": {"DROPPED /v1/backtests": {"count": 3}, "DROPPED other": {"count": 2}},
        },
        {"target": None, "endpoints": {"GET /v1/strategies": {"count": 9}}},
    ]
    lines = [json.dumps(r) for r in rows]
    (tmp_path / "timeseries.jsonl").write_text("\n".join(lines) + "\n{torn")
    host = read_host_rows(tmp_path)
    assert len(host) == 2
    assert host.host_cpu[0] == 40.0 and host.cores[0] == 2 and host.host_mem[0] == 0.25
    assert list(host.dropped) == [5.0, 0.0]
    assert all(math.isnan(v[1]) for v in (host.host_cpu, host.cores, host.host_mem))
