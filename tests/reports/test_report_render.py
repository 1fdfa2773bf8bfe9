"""report.html: rendering helpers on known data, then a real run's report and re-renders of it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reports.chart_data import downsample, percentile_spectrum, time_axis
from reports.render import num, script_json
from tests.locust_runs import REPO

# -- pure helpers ------------------------------------------------------------------------------


def test_downsample_keeps_spikes_for_max_and_averages_rates():
    x = np.arange(10_000, dtype=float)
    rate = np.full(10_000, 5.0)
    latency = np.full(10_000, 10.0)
    latency[7_777] = 900.0  # one spike
    rate[:5_000] = np.nan  # no data in the first half
    xs, cols = downsample(x, {"rate": rate, "latency": latency}, {"latency": "max"}, max_points=100)
    assert len(xs) == 100 and xs[0] == 0 and xs[1] == 100
    assert cols["latency"].max() == 900.0 and np.sum(cols["latency"] == 900.0) == 1
    assert np.isnan(cols["rate"][:50]).all() and np.allclose(cols["rate"][50:], 5.0)
    short = np.arange(10.0)
    same_x, same = downsample(short, {"a": short}, {}, max_points=100)
    assert same_x is short and same["a"] is short


def test_percentile_spectrum_reads_the_tail():
    values = np.array([1.0, 2.0, 100.0])
    counts = np.array([90, 9, 1])
    x, y = percentile_spectrum(values, counts)
    assert y == [1.0, 2.0, 100.0]
    assert x[0] == pytest.approx(10.0) and x[1] == pytest.approx(100.0)  # p90, p99
    assert percentile_spectrum(np.array([]), np.array([])) == ([], [])


def test_time_axis_unit_follows_the_run_length():
    assert time_axis(np.array([0.0, 59.0]))[1] == "elapsed (s)"
    assert time_axis(np.array([0.0, 1200.0]))[0][-1] == 20.0
    assert time_axis(np.array([0.0, 86_400.0]))[1] == "elapsed (h)"


def test_script_json_cannot_close_the_script_element():
    text = script_json({"name": "</script><script>alert(1)</script> & <!--"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text)["name"] == "</script><script>alert(1)</script> & <!--"
    with pytest.raises(ValueError):
        script_json({"x": float("nan")})  # NaN is not JSON: charts must send null


def test_num_formats_cells():
    assert num(None) == "-" and num(float("nan")) == "-"
    assert num(12345) == "12,345" and num(3.14159, 2) == "3.14"


# -- a real run --------------------------------------------------------------------------------


@pytest.fixture
def real_run(default_run) -> Path:
    assert "quantload report: " in default_run.stdout
    return default_run.run_dir


def markup_of(page: str) -> str:
    """The page without its scripts' bodies (plotly.js mentions URLs it never fetches)."""
    return re.sub(r"<script>.*?</script>", "<script></script>", page, flags=re.S)


def render(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reports", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_every_run_ends_with_a_self_contained_report(real_run):
    summary = json.loads((real_run / "summary.json").read_text())
    page = (real_run / "report.html").read_text()
    assert page.count("plotly.js v") == 1, "plotly.js must be inlined exactly once"
    markup = markup_of(page)
    assert not re.search(r"<script[^>]+src=", markup), "nothing may be fetched"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup), "nor linked"
    for endpoint in summary["endpoints"]:
        assert f"{endpoint['method']} {endpoint['name']}" in page
    assert f"{summary['requests']['count']:,}" in page  # the aggregate row's count
    for chart in (
        "chart-throughput",
        "chart-latency",
        "chart-load",
        "chart-target",
        "chart-generator",
        "chart-distribution",
    ):
        assert f'id="{chart}"' in page, chart
    # the analysis filled the summary's sections: 8 s is too short to judge a leak
    assert (
        summary["leak"]["verdict"] == "unknown" and "not enough data" in summary["leak"]["reason"]
    )
    assert summary["breaking_point"]["found"] is False
    assert summary["breaking_point"]["steps"] == []


@pytest.mark.slow
def test_render_rewrites_the_same_report(real_run, tmp_path):
    out = tmp_path / "again.html"
    done = render("render", str(real_run), "--out", str(out))
    assert done.returncode == 0, done.stderr
    original = (real_run / "report.html").read_text()
    again = out.read_text()
    ids = re.compile(r'id="([a-z-]+)"')
    assert ids.findall(markup_of(again)) == ids.findall(markup_of(original))


@pytest.mark.slow
def test_a_crashed_run_still_renders_and_says_so(real_run, tmp_path):
    crashed = tmp_path / "crashed"
    shutil.copytree(real_run, crashed)
    (crashed / "summary.json").unlink()
    (crashed / "report.html").unlink()
    rows = (crashed / "timeseries.jsonl").read_text()
    (crashed / "timeseries.jsonl").write_text(rows + rows.splitlines()[-1][:40])  # torn line
    done = render("render", str(crashed))
    assert done.returncode == 0, done.stderr
    page = (crashed / "report.html").read_text()
    assert "Incomplete run." in page and "no summary.json" in page
    assert "is damaged and was skipped" in page
    counts = sum(json.loads(line)["requests"]["count"] for line in rows.splitlines())
    assert f"{counts:,}" in page  # the aggregate is rebuilt from every row written


def test_render_rejects_what_is_not_a_run_dir(tmp_path):
    done = render("render", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not a quantload run directory" in done.stderr
    done = render("render", str(tmp_path / "missing"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert render("bogus").returncode == 2
