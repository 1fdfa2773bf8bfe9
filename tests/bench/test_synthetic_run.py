"""The report-rendering benchmark's input (bench/synthetic_run.py) stays honest: its run
directory renders like a real one, and its rows are shaped and computed as the suite's own
(:func:`rundir.records.build_row`, :class:`rundir.writer.RunWriter`) write them."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from bench.synthetic_model import START_EPOCH, _Model, endpoint_specs
from bench.synthetic_rows import _Writer
from bench.synthetic_run import write_synthetic_run
from metrics.generator import ProcessSampler
from metrics.latency import HIGHEST_US, Cell
from metrics.sample import Sample
from rundir.layout import HISTOGRAM_INDEX, HISTOGRAMS_DIR, TIMESERIES_FILE
from rundir.records import build_row
from tests.locust_runs import REPO

INTERVALS = 600
SESSION_KEYS = ["span_s", "target", "load"]
"""What RunWriter._write_row adds to build_row's row."""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_run(
        tmp_path_factory.mktemp("synthetic") / "run", intervals=INTERVALS, seed=1
    )


@pytest.fixture(scope="module")
def rows(run_dir: Path) -> list[dict]:
    with open(run_dir / TIMESERIES_FILE, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _cell(*latencies_us: int, failures: int = 0) -> Cell:
    cell = Cell(count=len(latencies_us), failures=failures)
    for us in latencies_us:
        cell.hist.record_value(us)
        cell.sum_ms += us / 1000.0
    return cell


def test_renders_with_every_time_chart(run_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reports", "render", str(run_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    for chart in (
        "throughput",
        "latency",
        "load",
        "target",
        "generator",
        "queue",
        "distribution",
        "leak",
    ):
        assert f'<div class="chart" id="chart-{chart}"' in page, chart


def test_rows_have_build_rows_keys(rows: list[dict]) -> None:
    real = build_row(
        START_EPOCH,
        0.0,
        1.0,
        3,
        {"GET /v1/strategies": _cell(1200, 3400), "POST /v1/backtests": _cell(45_000, failures=1)},
        {"local": ProcessSampler().sample()},
    )
    stats_keys = list(real["total"])
    assert len(rows) == INTERVALS
    for row in rows:
        assert list(row) == list(real) + SESSION_KEYS
        assert list(row["total"]) == stats_keys and list(row["requests"]) == stats_keys
        assert all(list(stats) == stats_keys for stats in row["endpoints"].values())
        assert list(row["endpoints"]) == sorted(row["endpoints"])  # as build_row sorts them
        assert [list(g) for g in row["generators"].values()] == [list(real["generators"]["local"])]
        assert set(row["target"]) <= {f.name for f in fields(Sample)} - {"time"}
        assert {"cpu_percent", "rss_bytes", "queue_depth"} <= set(row["target"])
        assert list(row["load"]) == ["stage", "unit", "offered"]  # Collector._load's keys


def test_rows_histograms_and_summary_count_the_same_requests(
    run_dir: Path, rows: list[dict]
) -> None:
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    index = json.loads((run_dir / HISTOGRAMS_DIR / HISTOGRAM_INDEX).read_text(encoding="utf-8"))
    assert summary["complete"] is True
    by_rows: dict[str, list[int]] = {}
    for row in rows:
        assert row["total"]["count"] == sum(s["count"] for s in row["endpoints"].values())
        for key, stats in row["endpoints"].items():
            counted = by_rows.setdefault(key, [0, 0])
            counted[0] += stats["count"]
            counted[1] += stats["failures"]
    assert len(by_rows) == 10
    assert {
        e["endpoint"]: [e["count"], e["failures"]] for e in index["endpoints"].values()
    } == by_rows
    assert {
        f"{e['method']} {e['name']}": [e["count"], e["failures"]] for e in summary["endpoints"]
    } == by_rows
    assert summary["total"]["count"] == sum(r["total"]["count"] for r in rows)


def test_row_numbers_are_build_rows_own() -> None:
    """Replay the writer's sampling into real Cells: build_row gives the very same rows."""
    n, rng = 300, np.random.default_rng(7)
    model = _Model(n, endpoint_specs(10), rng, 16)
    writer = _Writer(model, rng)
    replay = copy.deepcopy(rng)
    written = [json.loads(line) for line in writer.chunk(0, n).splitlines()]
    cells: list[dict[str, Cell]] = [{} for _ in range(n)]
    for e, key in enumerate(model.keys):  # the same draws, in the same order, as _Writer
        counts = model.counts[:n, e]
        owner = np.repeat(np.arange(n), counts)
        ms = np.repeat(model.median_ms[:n, e], counts) * np.exp(
            model.sigma[e] * replay.standard_normal(len(owner))
        )
        us = np.clip(np.rint(ms * 1000.0), 1, HIGHEST_US).astype(np.int64)
        failed = replay.random(len(owner)) < np.repeat(model.fail_share[:n, e], counts)
        for k, value_us, value_ms, fail in zip(
            owner.tolist(), us.tolist(), ms.tolist(), failed.tolist(), strict=True
        ):
            cell = cells[k].setdefault(key, Cell())
            cell.count += 1
            cell.failures += fail
            cell.hist.record_value(value_us)
            cell.sum_ms += value_ms
    for k, row in enumerate(written):
        expected = build_row(
            START_EPOCH + k, float(k), 1.0, row["users"], cells[k], row["generators"]
        )
        assert {key: row[key] for key in expected} == expected, k
