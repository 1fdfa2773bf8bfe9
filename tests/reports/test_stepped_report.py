"""A real stepped run's report never contradicts itself (issue 12).

One short stepped run (StressUser, closed model: 2 then 8 users, 6 s each) against the
embedded target with a capacity of 40 backtests/s, so the second step stops scaling. Its
report.html is read back: every row of the breakpoint table says what the headline's rules
say of that step, the headline's break is the first broken row, and the leak card never
raises a false alarm on a run with no leak.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from reports.analysis import RULE_GROWTH, BreakLimits, step_verdict
from reports.run_analysis import RunAnalysis, analyse_run
from rundir.reader import load_run
from tests.locust_runs import run_locust

STEPS = "2,8"
STEP_S = "6"


class StepTable(HTMLParser):
    """The text of each body row of ``#step-table``, and of the card ``#card-leak``."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.leak_card = ""
        self.page = ""
        self._in_table = self._in_body = self._in_leak = False
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ids = dict(attrs).get("id")
        if tag == "table" and ids == "step-table":
            self._in_table = True
        elif self._in_table and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag == "td":
            self.rows[-1].append("")
        if tag == "div" and ids == "card-leak":
            self._in_leak, self._depth = True, 0
        elif self._in_leak and tag == "div":
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = self._in_body = False
        if self._in_leak and tag == "div":
            if self._depth == 0:
                self._in_leak = False
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_body and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data.strip()
        if self._in_leak:
            self.leak_card += data


@pytest.fixture(scope="module")
def stepped(tmp_path_factory) -> tuple[dict[str, Any], RunAnalysis, StepTable]:
    run = run_locust(
        "--config",
        "config/scalability.conf",
        "--steps",
        STEPS,
        "--step-s",
        STEP_S,
        "--target-flags",
        "--slots 2 --service-ms 50",
        tmp_path=tmp_path_factory.mktemp("stepped"),
        timeout=90,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.run_dir is not None
    summary = json.loads((run.run_dir / "summary.json").read_text())
    table = StepTable()
    table.feed((run.run_dir / "report.html").read_text())
    table.page = (run.run_dir / "report.html").read_text().replace("&#39;", "'")
    return summary, analyse_run(load_run(run.run_dir)), table


def test_every_row_verdict_follows_the_headline_rules(stepped):
    summary, analysis, table = stepped
    section = summary["breaking_point"]
    assert section["source"] == "steps"
    levels = [float(s["level"]) for s in section["steps"]]
    assert sorted(levels) == [2.0, 8.0], levels
    # the rows, in level order, one per step, each with the verdict the rules give
    assert len(table.rows) == len(analysis.judged) == 2, table.rows
    assert analysis.step_break is not None and analysis.p95_limit is not None
    limits = BreakLimits(max_p95_ms=analysis.p95_limit.ms, min_throughput_ratio=0.0)
    for cells, row, scaling in zip(table.rows, analysis.judged, analysis.scaling, strict=True):
        assert cells[0] == f"{row.level:g}"
        rules = set(step_verdict(row.measure, limits).rules)
        if scaling.growth_efficiency is not None and scaling.growth_efficiency < 0.5:
            rules.add(RULE_GROWTH)  # the closed model's rule, beside step_verdict's
        verdict = cells[-1]
        assert verdict.startswith("broken") == bool(rules), (cells, rules)
    # the headline's break is the first broken row, its capacity the good rows' best
    broken = [r.level for r in analysis.judged if r.verdict.broken]
    if section["found"]:
        assert section["users_at_break"] == min(broken)
        good = [r.measure.achieved_rps for r in analysis.judged if r.level < min(broken)]
        assert section["capacity_rps"] == pytest.approx(max(good)) if good else True
    else:
        assert not broken


def test_a_run_without_a_leak_never_raises_suspected(stepped):
    summary, _, table = stepped
    assert summary["leak"]["verdict"] in ("none", "unknown"), summary["leak"]["reason"]
    if summary["leak"]["verdict"] == "unknown":  # no slope figure without a verdict
        assert not re.search(r"KB/request|MB/h", table.leak_card), table.leak_card


def test_the_section_says_where_the_p95_limit_comes_from(stepped):
    _, analysis, table = stepped
    assert analysis.p95_limit is not None and analysis.p95_limit.source == "derived"
    assert "10 x the first step's p95" in table.page


def test_what_broke_first_is_the_slot_limit_with_the_cpu_well_under_the_cores(stepped):
    """2 slots of 50 ms: throughput stops growing, latency climbs, the CPU stays low (issue 15)."""
    summary, _, table = stepped
    broke = summary["breaking_point"]["first_saturation"]
    assert broke["found"] and broke["resource"] == "concurrency limit", broke
    knee = broke["knee"]
    assert knee["target_cores_busy"] < 0.5 * knee["cores"], knee
    assert f"What broke first: {broke['evidence']}." in html.unescape(table.page)
