"""The report's words and tables on run directories of known answer (written here, no
processes): the breakpoint table judged by the headline's rules, the cards at capacity,
the leak card's silence without a verdict, the generator's peak CPU."""

from __future__ import annotations

import dataclasses
import json

import pytest

from reports.analysis import LeakAnalysis, judge_search_steps, rows_apdex
from reports.analysis.breaking import BreakLimits
from reports.capacity_view import capacity_section
from reports.render import build_context
from reports.report_sections import verdict_cards
from reports.run_analysis import analyse_run
from reports.view_text import level_text
from rundir.reader import load_run
from tests.reports.test_run_analysis import CAPACITY, write_stepped_run


@pytest.fixture
def stepped(tmp_path):
    run = load_run(write_stepped_run(tmp_path / "run"))
    return run, analyse_run(run)


def cards_of(run, analysis) -> dict[str, dict[str, str]]:
    return {c["key"]: c for c in verdict_cards(run, analysis)}


def test_each_step_row_says_what_the_headline_rules_say(stepped):
    _, analysis = stepped
    section = capacity_section(analysis)
    verdicts = {row["cells"][0]: row["verdict"] for row in section["rows"]}
    # 20 req/s a user up to 80 req/s: 1, 2 and 4 users scale; 8 and 16 do not
    assert list(verdicts) == ["1", "2", "4", "8", "16"]
    assert [verdicts[k] for k in ("1", "2", "4")] == ["good"] * 3
    for level in ("8", "16"):
        assert verdicts[level].startswith("broken (throughput stopped growing)")
        assert "growth efficiency" in verdicts[level]
    assert "Capacity: 80.0 req/s" in section["summary"] and "broke at 8 users" in section["summary"]
    assert "Little's law" in section["columns"]  # a closed model checks it on every row
    assert any("p95 limit 650 ms: 10 x the first step's p95" in n for n in section["notes"])


def search_step(number, offered, achieved, p95, phase="grow"):
    return {
        "number": number,
        "phase": phase,
        "offered_rps": offered,
        "achieved_rps": achieved,
        "error_ratio": 0.0,
        "p95_ms": p95,
        "dropped": 0,
        "answered": int(achieved * 5),
        "duration_s": 5.0,
    }


SEARCH = {
    "found": True,
    "capacity_rps": 38.8,
    "offered_at_break": 43.6,
    "reason": "throughput 38.4/s is 0.88 of the offered 43.6/s (< 0.90)",
    "last_good": search_step(5, 41.771, 38.8, 333.0, "refine"),
    "limits": {"max_error_ratio": 0.01, "max_p95_ms": 640.0, "min_throughput_ratio": 0.9},
    "p95_limit": {"ms": 640.0, "source": "derived", "first_p95_ms": 64.0},
    "steps": [
        search_step(1, 20.0, 19.9, 64.0),
        search_step(2, 40.0, 37.7, 370.0),
        search_step(3, 80.0, 38.2, 2000.0),
        search_step(4, 43.62, 38.4, 922.0, "refine"),
        search_step(5, 41.771, 38.8, 333.0, "refine"),
    ],
    "retried": [search_step(3, 80.0, 37.3, 2200.0)],
}


def test_search_rows_are_its_own_steps_judged_by_its_limits(stepped):
    run, _ = stepped
    analysis = analyse_run(run, search=SEARCH)
    rows = capacity_section(analysis)["rows"]
    offered = [r["cells"][2] for r in rows]
    assert offered == ["20", "40", "80", "80", "43.6", "41.8"]  # rounded for display
    verdicts = [r["verdict"] for r in rows]
    assert verdicts[0] == verdicts[1] == verdicts[5] == "good"
    # the 43.6 row breaks by throughput AND by its 922 ms p95 against the 640 ms limit
    assert "throughput below the offered rate, p95 over the limit" in verdicts[4]
    assert "p95 922 ms > 640 ms" in verdicts[4]
    # the first measure at 80 req/s was measured again: shown, marked, not counted
    assert "only the repeat counts" in verdicts[2] and rows[2]["state"] == "muted"
    assert rows[3]["state"] == "bad"


def test_judged_search_rows_agree_with_the_search_headline():
    rows = judge_search_steps(SEARCH["steps"], SEARCH["retried"], BreakLimits(max_p95_ms=640.0))
    # in the order measured; the first measure at 80 req/s is shown but not counted
    assert [(r.number, r.counted) for r in rows] == [
        (1, True), (2, True), (3, False), (3, True), (4, True), (5, True)
    ]  # fmt: skip
    counted = [r for r in rows if r.counted]
    lowest_broken = min(r.level for r in counted if r.verdict.broken)
    assert lowest_broken == pytest.approx(SEARCH["offered_at_break"], abs=0.05)
    good_below = [r.measure.achieved_rps for r in counted if r.level < lowest_broken]
    assert max(good_below) == pytest.approx(SEARCH["capacity_rps"])


def test_latency_card_is_at_capacity_and_says_so(stepped):
    run, analysis = stepped
    card = cards_of(run, analysis)["latency"]
    # at 4 users (the last good step) every row's p95 is 1.3 x 50 ms; the whole run's is not
    assert card["label"].startswith("At capacity")
    assert card["value"] == "\u2248 65.0 / 75.0 ms"
    row = next(r for r in capacity_section(analysis)["rows"] if r["cells"][0] == "4")
    assert f"\u2248 {row['cells'][3]} /" in card["value"]  # the card's p95 is the row's
    assert "at 4 users, the last good step" in card["detail"] and "Whole run" in card["detail"]
    assert "Apdex \u2248 1.00" in card["detail"]


def test_rows_apdex_reads_satisfied_tolerating_and_failed():
    def row(ms, count=100, failures=0):
        return {"count": count, "failures": failures, "p50_ms": ms, "p90_ms": ms,
                "p95_ms": ms, "p99_ms": ms, "max_ms": ms}  # fmt: skip

    assert rows_apdex([row(100)], 500) == pytest.approx(1.0)
    assert rows_apdex([row(1000)], 500) == pytest.approx(0.5)  # tolerating: half
    assert rows_apdex([row(5000)], 500) == pytest.approx(0.0)
    assert rows_apdex([row(100), row(5000)], 500) == pytest.approx(0.5)
    assert rows_apdex([row(100, failures=50)], 500) == pytest.approx(0.5)  # failed: frustrated
    assert rows_apdex([], 500) is None


def test_no_slope_is_shown_without_a_leak_verdict(stepped):
    run, analysis = stepped
    unknown = LeakAnalysis(
        verdict="unknown",
        reason="not enough data: a 20 s window (< 60 s)",
        slope_kb_per_request=26.76,
        slope_kb_per_request_ci_low=1.0,
        slope_kb_per_request_ci_high=50.0,
        slope_mb_per_hour=2246.5,
        slope_mb_per_hour_ci_low=1.0,
        slope_mb_per_hour_ci_high=3000.0,
        r2=0.5,
        growth_mb=1.0,
        start_rss_mb=100.0,
        intercept_bytes=1.0,
        points=20,
        window_start_s=10.0,
        window_end_s=30.0,
        requests_in_window=500,
    )
    card = cards_of(run, dataclasses.replace(analysis, leak=unknown))["leak"]
    assert card["value"] == "no verdict" and card["detail"] == unknown.reason
    assert "KB/request" not in card["detail"] and "MB/h" not in card["detail"]


def test_generator_peak_cpu_ignores_the_shutdown_row(tmp_path):
    path = write_stepped_run(tmp_path / "run", users_steps=(1, 2))
    lines = (path / "timeseries.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    for i, row in enumerate(rows):
        row["generators"] = {"local": {"cpu_percent": 99.0 if i == len(rows) - 1 else 40.0}}
    (path / "timeseries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = load_run(path)
    analysis = analyse_run(run)
    assert analysis.generator_max_cpu == 40.0
    assert cards_of(run, analysis)["generator"]["detail"].startswith("peak CPU 40 %")


def with_generator_cost(path, us_per_request: float) -> None:
    """Each row's generator CPU: 2 % plus ``us_per_request`` for each request of the row."""
    rows = [json.loads(line) for line in (path / "timeseries.jsonl").read_text().splitlines()]
    for row in rows:
        rps = row["requests"]["count"] / row.get("span_s", 1)
        row["generators"] = {"local": {"cpu_percent": 2.0 + rps * us_per_request / 1e4}}
    (path / "timeseries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize(("us", "near"), [(1000.0, False), (10_000.0, True)])
def test_the_generator_card_warns_before_the_ceiling(tmp_path, us, near):
    """The stepped run sends up to 80 req/s: at 1 ms of CPU a request that is 9 % of the
    ~880 req/s one process sends; at 10 ms a request, 91 % of ~88."""
    path = write_stepped_run(tmp_path / "run")
    with_generator_cost(path, us)
    run = load_run(path)
    analysis = analyse_run(run)
    ceiling = analysis.generator_ceiling
    assert ceiling is not None and ceiling.us_per_request == pytest.approx(us, rel=0.01)
    assert ceiling.ceiling_rps == pytest.approx((90 - 2) / (us / 1e4), rel=0.01)
    card = cards_of(run, analysis)["generator"]
    context = build_context(run, analysis)["generator"]
    assert f"of the ~{ceiling.ceiling_rps:,.0f} one process sends at 90 % CPU" in card["detail"]
    assert f"({us:,.0f} CPU \u00b5s a request)" in card["detail"]
    if near:
        assert card["value"] == "near its ceiling" and card["state"] == "warn"
        assert context["near"] and "--processes" in context["detail"]
    else:
        assert card["value"] == "healthy" and not context["near"]


@pytest.mark.parametrize(
    "value,text", [(38.055, "38.1"), (40.0, "40"), (2.5, "2.5"), (0.625, "0.625"), (None, "-")]
)
def test_levels_are_rounded_for_display(value, text):
    assert level_text(value) == text


def test_capacity_is_what_the_synthetic_service_holds(stepped):
    _, analysis = stepped
    assert analysis.step_break is not None
    assert analysis.step_break.point.capacity_rps == pytest.approx(CAPACITY)


def test_the_leak_chart_draws_no_fitted_slope_without_a_verdict(tmp_path):
    path = write_stepped_run(tmp_path / "run", users_steps=(1, 2))  # 60 s: too short to judge
    rows = [json.loads(line) for line in (path / "timeseries.jsonl").read_text().splitlines()]
    for i, row in enumerate(rows):
        row["target"] = {"cpu_percent": 10.0, "rss_bytes": (300 + 0.5 * i) * 1024 * 1024}
    (path / "timeseries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = load_run(path)
    analysis = analyse_run(run)
    assert analysis.leak.verdict == "unknown" and analysis.leak.slope_kb_per_request is not None
    chart = build_context(run, analysis)["leak"]["chart"]
    assert [t["name"] for t in chart["figure"]["data"]] == ["target RSS (MB)"]


def test_the_capacity_is_marked_on_both_throughput_charts(stepped):
    run, analysis = stepped
    context = build_context(run, analysis)
    over_time = next(c for c in context["time_charts"] if c["id"] == "chart-throughput")
    by_load = next(c for c in context["capacity"]["charts"] if c["id"] == "chart-capacity")
    for chart in (over_time, by_load):
        line = next(t for t in chart["figure"]["data"] if t["name"].startswith("capacity"))
        assert line["name"] == "capacity 80.0 req/s" and set(line["y"]) == {CAPACITY}


def test_a_search_card_at_capacity_shows_its_rows_p95(stepped):
    run, _ = stepped
    good = search_step(3, 4.0, 80.0, 70.0)  # a level the rows have (4), judged p95 70 ms
    search = {**SEARCH, "last_good": good, "steps": [search_step(1, 2.0, 40.0, 60.0), good]}
    analysis = analyse_run(run, search=search)
    assert analysis.at_capacity is not None and analysis.at_capacity["p95_ms"] == 70.0
    assert analysis.at_capacity["p99_ms"] == pytest.approx(75.0)  # 1.5 x 50 ms, from the rows
    assert cards_of(run, analysis)["latency"]["value"] == "\u2248 70.0 / 75.0 ms"


def test_a_distributed_run_s_ceiling_is_its_workers_not_its_master(tmp_path):
    """Two workers share each row's requests at 5 ms of CPU a request; the master, sampled
    beside them, sends nothing and must not count as a generator process."""
    path = write_stepped_run(tmp_path / "run")
    rows = [json.loads(line) for line in (path / "timeseries.jsonl").read_text().splitlines()]
    for row in rows:
        per_worker = row["requests"]["count"] / row.get("span_s", 1) / 2
        worker = {"cpu_percent": 2.0 + per_worker * 5000 / 1e4}
        row["generators"] = {"master": {"cpu_percent": 1.0}, "w1": worker, "w2": dict(worker)}
    (path / "timeseries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ceiling = analyse_run(load_run(path)).generator_ceiling
    assert ceiling is not None and ceiling.processes == 2
    assert ceiling.us_per_request == pytest.approx(5000, rel=0.01)
    assert ceiling.peak_rps_per_process == pytest.approx(40.0)
