"""users.measurements, the suite's own channel: run in a subprocess (it imports Locust)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.locust_runs import REPO

CHECK = textwrap.dedent(
    """
    import json
    from users.measurements import DROPPED_KIND, JOB_KIND, DropCounts, dropped, measurement, record

    seen = []
    measurement.add_listener(lambda **kw: seen.append({**kw, "exception": str(kw["exception"])}))
    record(JOB_KIND, "end_to_end", 1234.5)
    record(DROPPED_KIND, "/v1/backtests", 0, RuntimeError("cap"))
    counts = DropCounts()
    for second in range(1000):
        counts.add(second, 2)
    print(json.dumps({
        "seen": seen,
        "dropped": dropped.total(),
        "total": counts.total(),
        "recent": counts.total(995),
        "held": len(counts._by_second),
    }))
    """
)


def test_record_fires_the_hook_and_counts_drops_by_the_second_in_bounded_memory():
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["seen"] == [
        {"kind": "JOB", "name": "end_to_end", "value": 1234.5, "length": 0, "exception": "None"},
        {"kind": "DROPPED", "name": "/v1/backtests", "value": 0, "length": 0, "exception": "cap"},
    ]
    assert out["dropped"] == 1  # the drop, by the second it happened; the job is no drop
    assert (out["total"], out["recent"]) == (2000, 1990)  # old seconds folded, still counted
    assert out["held"] <= 2 * 120 + 1
