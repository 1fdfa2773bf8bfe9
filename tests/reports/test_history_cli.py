"""``python -m reports history [check]`` in a subprocess: the gate's exit codes, its JUnit
cases and one-line errors; ``history.html`` self-contained and escaped."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from reports.history_cli import load
from reports.history_record import AGGREGATE
from reports.history_series import gate
from reports.history_store import append_run, history_url, open_history
from tests.locust_runs import REPO
from tests.reports.test_history_store import record

XSS = "<script>alert(1)</script>"


def write_history(
    path: Path, p95s: list[float], *, profile: str = "ci", endpoint: str = "GET /x"
) -> Path:
    engine = open_history(history_url(str(path)))
    for i, p95 in enumerate(p95s):
        append_run(engine, record(f"run-{i}", f"build-{i}", p95, profile, endpoint))
    engine.dispose()
    return path


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reports", "history", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


def levels(n_before: int, n_after: int, step: float, seed: int = 0) -> list[float]:
    noise = 1 + np.random.default_rng(seed).normal(0, 0.03, n_before + n_after)
    return [50.0 * f * (step if i >= n_before else 1.0) for i, f in enumerate(noise)]


def test_check_flags_a_regression_writes_junit_and_passes_a_clean_history(tmp_path):
    db = write_history(tmp_path / "h.sqlite", levels(10, 5, 1.3))
    junit = tmp_path / "junit.xml"
    done = cli("check", "--history-db", db, "--junit", junit)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REGRESSION" in done.stdout and "regression since run 11 of 15" in done.stdout
    suite = ET.parse(junit).getroot()
    assert int(suite.get("failures")) == 3  # p50, p95, p99
    assert {c.get("name") for c in suite} >= {"p95_ms", "error_ratio", "rps"}
    assert (
        cli("check", "--history-db", db, "--max-regression", "50%", "--junit", junit).returncode
        == 0
    )
    clean = write_history(tmp_path / "clean.sqlite", levels(15, 0, 1.0))
    assert cli("check", "--history-db", clean, "--junit", junit).returncode == 0


@pytest.mark.parametrize("case", ["missing", "garbage", "profile", "endpoint", "limit", "none"])
def test_check_bad_input_is_one_line_exit_2(tmp_path, case):
    db = write_history(tmp_path / "h.sqlite", levels(6, 0, 1.0))
    args: list[str | Path] = ["check", "--history-db", db, "--junit", tmp_path / "j.xml"]
    if case == "missing":
        args[2] = tmp_path / "nope.sqlite"
    elif case == "garbage":
        (tmp_path / "g.sqlite").write_bytes(b"not sqlite" * 500)
        args[2] = tmp_path / "g.sqlite"
    elif case == "none":
        args[2] = "none"
    else:
        args += {"profile": ["--profile", "nope"], "endpoint": ["--endpoint", "nope"]}.get(
            case, ["--max-regression", "lots"]
        )
    done = cli(*args)
    assert done.returncode == 2 and not done.stdout
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("history: error:")
    assert "Traceback" not in done.stderr


def test_history_page_is_self_contained_and_escaped(tmp_path):
    db = write_history(tmp_path / "h.sqlite", levels(10, 5, 1.3), profile=XSS, endpoint=XSS)
    out = tmp_path / "history.html"
    done = cli("--history-db", db, "--endpoint", XSS, "--out", out)
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Plotly.newPlot" in html and "<script src" not in html and "<link" not in html
    assert "p95 (ms)" in html and "+30" in html  # the change point's size in its table
    assert html.count("<li><code>") == 2  # the endpoints to name with --endpoint


def test_interrupted_runs_are_left_out_of_the_series(tmp_path):
    engine = open_history(history_url(str(tmp_path / "h.sqlite")))
    for i, p95 in enumerate(levels(8, 0, 1.0)):
        append_run(engine, record(f"run-{i}", f"b{i}", p95))
    cut = dataclasses.replace(record("cut", "b-cut", 500.0), complete=False)
    append_run(engine, cut)  # ten times slower, but interrupted: not a build's measurement
    series = load(str(tmp_path / "h.sqlite"), None, AGGREGATE)
    assert series.runs == 8 and "cut" not in series.run_ids
    assert not any(v.regressed for v in gate(series, 0.10))
    append_run(engine, dataclasses.replace(record("x", "b", 1.0, profile="cut"), complete=False))
    done = cli("check", "--history-db", tmp_path / "h.sqlite", "--profile", "cut")
    assert done.returncode == 2 and "no complete run" in done.stderr
