"""reports.run_analysis on run directories whose answer is known (written here, no processes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reports.run_analysis import analyse_run, breaking_point_section, leak_section
from rundir.reader import load_run

STEP_S = 30
CAPACITY = 80.0  # req/s: 20 per user up to 4 users, then flat


def write_stepped_run(path: Path, users_steps=(1, 2, 4, 8, 16)) -> Path:
    """A closed-model stepped run: each user does 20 req/s (50 ms each) until the
    service saturates at CAPACITY; latency then grows as users queue (Little's law)."""
    path.mkdir()
    rows = []
    t = 0
    for users in users_steps:
        rate = min(20.0 * users, CAPACITY)
        mean_ms = 1000.0 * users / rate
        for _ in range(STEP_S):
            count = int(rate)
            stats = {
                "count": count,
                "failures": 0,
                "rps": rate,
                "p50_ms": mean_ms,
                "p90_ms": mean_ms * 1.2,
                "p95_ms": mean_ms * 1.3,
                "p99_ms": mean_ms * 1.5,
                "max_ms": mean_ms * 2,
                "avg_ms": mean_ms,
            }
            rows.append(
                {
                    "t": 1e9 + t,
                    "elapsed_s": float(t),
                    "users": users,
                    "endpoints": {"POST /v1/backtests": stats},
                    "total": stats,
                    "requests": stats,
                    "generators": {},
                    "span_s": 1.0,
                    "target": None,
                    "load": {"stage": f"{users} users", "unit": "users", "offered": float(users)},
                }
            )
            t += 1
    (path / "timeseries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "meta.json").write_text(json.dumps({"run_id": "stepped", "apdex_t_ms": 500}))
    return path


def test_a_stepped_run_breaks_where_throughput_stops_growing(tmp_path):
    run = load_run(write_stepped_run(tmp_path / "run"))
    analysis = analyse_run(run)
    assert [s.level for s in analysis.steps] == [1, 2, 4, 8, 16]
    assert analysis.steps[2].throughput_rps == pytest.approx(CAPACITY)
    section = breaking_point_section(analysis)
    assert section["source"] == "steps" and section["found"] is True
    assert section["capacity_rps"] == pytest.approx(CAPACITY)
    assert section["users_at_break"] == 8 and section["last_good"]["level"] == 4
    assert "growth efficiency" in section["reason"]
    assert [round(c.ratio, 2) for c in analysis.little] == [1.0] * 5  # N = X * R throughout
    assert section["usl"]["sigma"] is not None and len(section["steps"]) == 5
    json.dumps(section, allow_nan=False)


def test_a_run_without_target_samples_gets_no_leak_verdict_and_says_why(tmp_path):
    run = load_run(write_stepped_run(tmp_path / "run"))
    leak = leak_section(analyse_run(run))
    assert leak["verdict"] == "unknown" and "not sampled" in leak["reason"]
    assert np.isnan(run.series.target_rss).all()
