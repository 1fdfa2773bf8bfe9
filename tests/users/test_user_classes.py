"""Each HTTP user class in a real ~15 s headless run against the embedded target.

Every run: requests > 0, failures 0, the embedded target gone afterwards
(``run_locust`` checks), plus the class's own outcome. The four runs are independent,
so one module fixture starts them side by side.
"""

from __future__ import annotations

import html
import json

import pytest

from tests.locust_runs import run_locust_many

RUN = ("-u", "4", "-r", "4", "-t", "15s", "--seed", "11")
STRESS_RUN = ("-u", "4", "-r", "4", "-t", "8s", "--seed", "11")
"""StressUser sends as fast as it can, so generator and target take both cores: 8 s of it
says what 15 s did, at half the machine's time (make test is CPU-bound)."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return run_locust_many(
        {
            "BacktestUser": (*RUN, "BacktestUser"),
            "StressUser": (*STRESS_RUN, "StressUser"),
            "MemoryLeakUser": (*RUN, "MemoryLeakUser"),
            "JobUser": (*RUN, "JobUser", "--target-flags", "--job-step-ms 20"),
        },
        tmp_path_factory.mktemp("user-classes"),
        at_once=4,  # three of the four think between requests: all side by side
    )


def assert_clean(run) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.count() > 0
    assert int(run.total["Failure Count"]) == 0, run.failures
    assert "Traceback" not in run.stderr


def test_backtest_user_covers_an_analyst_session(runs):
    run = runs["BacktestUser"]
    assert_clean(run)
    routes = {(method, name) for method, name in run.stats if name != "Aggregated"}
    assert ("GET", "/v1/market-data/{symbol}") in routes
    assert len(routes) >= 3, routes  # several kinds of task, think time between them
    assert run.count() < 4 * 15, "think time keeps an analyst well under 1 request/s"


def test_stress_user_hammers_expensive_routes(runs):
    run = runs["StressUser"]
    assert_clean(run)
    backtests = int(run.row("POST", "/v1/backtests")["Request Count"])
    market = int(run.row("GET", "/v1/market-data/{symbol}")["Request Count"])
    assert backtests > 50 and market > 25, (backtests, market)
    assert float(run.total["Requests/s"]) > 20


def test_memory_leak_user_repeats_identical_cycles(runs):
    run = runs["MemoryLeakUser"]
    assert_clean(run)
    counts = [int(r["Request Count"]) for (m, n), r in run.stats.items() if n != "Aggregated"]
    assert len(counts) >= 3 and min(counts) > 20
    assert max(counts) - min(counts) <= 4, f"one of each request per cycle and user: {counts}"


def test_job_user_tracks_jobs_to_completion(runs):
    run = runs["JobUser"]
    assert_clean(run)
    # job durations are measurements: in the run directory, never in Locust's stats
    assert not [key for key in run.stats if key[0] in ("JOB", "QUEUE")], sorted(run.stats)
    summary = json.loads((run.run_dir / "summary.json").read_text())
    rows = {(e["method"], e["name"]): e for e in summary["endpoints"]}
    end_to_end, processing = rows[("JOB", "end_to_end")], rows[("JOB", "processing")]
    assert end_to_end["count"] >= 3 and processing["count"] == end_to_end["count"]
    assert end_to_end["p50_ms"] >= processing["p50_ms"]
    assert int(run.row("POST", "/v1/jobs")["Request Count"]) >= 3


@pytest.mark.parametrize(
    ("user_class", "mode"),
    [("StressUser", "light"), ("BacktestUser", "full"), ("JobUser", "full")],
)
def test_meta_json_and_the_report_say_how_answers_were_checked(runs, user_class, mode):
    run = runs[user_class]
    meta = json.loads((run.run_dir / "meta.json").read_text())
    checks = meta["response_checks"]
    assert checks[mode] == [user_class] and checks["light" if mode == "full" else "full"] == []
    text = html.unescape((run.run_dir / "report.html").read_text())
    if mode == "full":
        assert f"{user_class}: every answer's status and whole shape" in text
    else:
        rate = checks["light_full_per_route_s"]
        assert rate > 0
        assert (
            f"{user_class}: every answer's status, JSON framing and id; the whole shape of "
            f"every doubtful answer and of {rate:g} a second per route and process" in text
        )


def test_the_generator_ceiling_in_summary_json_is_the_report_s(runs):
    """StressUser keeps its process busy enough for an estimate; summary.json and the
    report's generator card show the same ceiling."""
    run = runs["StressUser"]
    ceiling = json.loads((run.run_dir / "summary.json").read_text())["generator_ceiling"]
    assert ceiling["processes"] == 1 and ceiling["us_per_request"] > 0
    assert ceiling["ceiling_rps"] > ceiling["peak_rps_per_process"] > 0
    text = html.unescape((run.run_dir / "report.html").read_text())
    assert f"of the ~{ceiling['ceiling_rps']:,} one process sends at 90 % CPU" in text
