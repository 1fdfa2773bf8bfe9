"""What plain Locust's report has, ours has too: average response size, task ratio.

Both read the shared ``default_run`` (conftest): its run directory against Locust's own
``--csv`` of the same run, and meta.json's task ratio against ``--show-task-ratio-json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from rundir.layout import is_request
from tests.locust_runs import LOCUSTFILE, REPO
from tests.reports.test_report_agrees_with_summary import TableReader


def rounded(ratios: dict[str, Any], decimals: int = 4) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, entry in ratios.items():
        out[name] = {"ratio": round(entry["ratio"], decimals)}
        if entry.get("tasks"):
            out[name]["tasks"] = rounded(entry["tasks"], decimals)
    return out


@pytest.mark.slow
def test_average_response_size_per_endpoint_is_locust_s(default_run):
    """Against Locust's ``--csv``, which Locust rewrites once a second and not at exit: an
    endpoint whose last request came after the last rewrite shows fewer requests there.
    Where the two hold the same requests, the averages agree; elsewhere Locust's count is
    behind, never ahead."""
    summary = json.loads((default_run.run_dir / "summary.json").read_text())
    same = 0
    for endpoint in summary["endpoints"]:
        key = (endpoint["method"], endpoint["name"])
        if not is_request(" ".join(key)):
            continue
        row = default_run.row(*key)
        if int(row["Request Count"]) != endpoint["count"]:
            assert int(row["Request Count"]) < endpoint["count"], key
            continue
        locust = float(row["Average Content Size"])
        assert endpoint["avg_size_bytes"] == pytest.approx(locust, abs=0.0051), key
        same += 1
    assert same >= 5
    if int(default_run.total["Request Count"]) == summary["total"]["count"]:
        locust_total = float(default_run.total["Average Content Size"])
        assert summary["total"]["avg_size_bytes"] == pytest.approx(locust_total, abs=0.0051)
    assert summary["total"]["avg_size_bytes"] > 100  # backtests and market data are large


@pytest.mark.slow
def test_meta_json_records_locust_s_task_ratio_per_user_class(default_run):
    meta = json.loads((default_run.run_dir / "meta.json").read_text())
    shown = subprocess.run(
        [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--show-task-ratio-json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert meta["task_ratio"] == rounded(json.loads(shown.stdout)["per_class"])
    assert set(meta["task_ratio"]) == set(meta["user_classes"])


@pytest.mark.slow
def test_the_report_shows_the_task_ratio_table(default_run):
    meta = json.loads((default_run.run_dir / "meta.json").read_text())
    reader = TableReader({"task-ratio-table"})
    reader.feed((default_run.run_dir / "report.html").read_text())
    shown = {name: pct for name, pct in reader.tables["task-ratio-table"]}
    for cls, entry in meta["task_ratio"].items():
        assert shown[cls] == f"{100 * entry['ratio']:.1f}", cls
        for task, task_entry in entry["tasks"].items():
            assert shown[task] == f"{100 * task_entry['ratio']:.1f}", task
