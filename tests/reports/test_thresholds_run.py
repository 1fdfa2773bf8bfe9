"""Thresholds decide a real run's exit code, and land in summary.json and junit.xml."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.locust_runs import run_locust, run_locust_many

RUN = ("-u", "2", "-r", "2", "-t", "3s", "StressUser")
"""StressUser sends as fast as it can: 3 s is hundreds of requests, enough for every verdict."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The independent runs of this module, side by side (3 s each)."""
    return run_locust_many(
        {
            "passing": (
                *RUN,
                "--threshold",
                "fail_ratio<0.01",
                "--threshold",
                "POST /v1/backtests: p95_ms<5000",
            ),
            "failing": (
                *RUN,
                "--threshold",
                "POST /v1/backtests: p50_ms<0.001",
                "--threshold",
                "fail_ratio<0.5",
            ),
            "errors": (
                *RUN,
                "--target-flags",
                "--error-rate 0.05 --seed 3",
                "--threshold",
                "fail_ratio<0.5",
            ),
        },
        tmp_path_factory.mktemp("thresholds"),
        at_once=3,
    )


def test_passing_thresholds_exit_0(runs):
    run = runs["passing"]
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["passed"] is True
    assert [t["name"] for t in summary["thresholds"]] == [
        "fail_ratio<0.01",
        "POST /v1/backtests: p95_ms<5000",
    ]
    observed = summary["thresholds"][1]["observed"]
    backtests = next(
        e for e in summary["endpoints"] if e["name"] == "/v1/backtests" and e["method"] == "POST"
    )
    assert observed == backtests["p95_ms"]
    assert "PASS" in run.stdout + run.stderr
    suite = ET.parse(run.run_dir / "junit.xml").getroot()
    assert len(list(suite.iter("testcase"))) == 2
    assert not list(suite.iter("failure"))


def test_failing_threshold_exits_3_with_junit_failure(runs):
    run = runs["failing"]
    assert run.returncode == 3, run.stderr[-2000:]
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["passed"] is False
    verdicts = {t["name"]: t["passed"] for t in summary["thresholds"]}
    assert verdicts == {"POST /v1/backtests: p50_ms<0.001": False, "fail_ratio<0.5": True}
    failures = list(ET.parse(run.run_dir / "junit.xml").getroot().iter("failure"))
    assert len(failures) == 1 and "p50_ms" in failures[0].get("message", "")


def test_failures_within_the_threshold_still_exit_0(runs):
    run = runs["errors"]
    assert int(run.total["Failure Count"]) > 0, "the run must have failures"
    assert run.returncode == 0, "thresholds, not Locust's any-failure rule, decide"


def test_malformed_threshold_exits_2_before_any_load(tmp_path):
    run = run_locust(*RUN, "--threshold", "p95<300", tmp_path=tmp_path)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "p95_ms" in lines[0], run.stderr
    assert not run.stats and "started the reference target" not in run.stderr


def test_abort_threshold_stops_the_run_early(tmp_path):
    conf = tmp_path / "abort.toml"
    delay_s = 2
    conf.write_text(f'[abort]\non_fail = ["fail_ratio<0.2"]\ndelay_s = {delay_s}\n')
    run = run_locust(
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "60s",
        "StressUser",
        "--thresholds",
        str(conf),
        "--target-flags",
        "--error-rate 0.5",
        tmp_path=tmp_path,
        timeout=90,
    )
    assert run.returncode == 3, run.stderr[-2000:]
    summary = json.loads((run.run_dir / "summary.json").read_text())
    # judged from delay_s on (a clock's worth of slack), and well before -t 60s
    assert 0.95 * delay_s <= summary["duration_s"] < 20, summary["duration_s"]
    assert summary["passed"] is False
    assert [(t["name"], t["passed"]) for t in summary["thresholds"]] == [("fail_ratio<0.2", False)]
    events = [json.loads(line) for line in (run.run_dir / "events.jsonl").read_text().splitlines()]
    abort = [e for e in events if e["kind"] == "threshold_abort"]
    assert abort and 0.95 * delay_s <= abort[0]["elapsed_s"] < 20
    failures = list(ET.parse(run.run_dir / "junit.xml").getroot().iter("failure"))
    assert len(failures) == 1 and "aborted the run" in failures[0].get("message", ""), failures
