"""Right answers under load, one real run: StressUser's checks against a target that
corrupts answers above 2 backtests in flight (``--corrupt-above 2 --corrupt-rate 0.2``).

Every golden answer is learned while one user is alone (one request in flight: never
corrupted), then five users hammer the same four backtests; every later answer is
checked, so the suite's count of wrong answers must equal the target's own count
(``quantload_corrupted_answers_total`` in its ``/metrics``), in Locust's stats, in the
run directory's rows and in ``summary.json``'s ``correctness``; and bad input to
``--check-answers`` is one line and exit 2.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.locust_runs import REPO, run_locust
from tests.reports.test_report_agrees_with_summary import TableReader
from tests.run_checks import read_jsonl

LOCUSTFILE = str(Path(__file__).with_name("golden_locustfile.py"))
ROUTE = "POST /v1/backtests"


def corrupted(url: str) -> int:
    text = requests.get(f"{url}/metrics", timeout=10).text
    found = re.search(
        r'^quantload_corrupted_answers_total\{route="/v1/backtests"\} (\S+)$', text, re.M
    )
    return int(float(found.group(1))) if found else 0


@pytest.mark.slow
def test_wrong_answers_counted_exactly_as_the_target_corrupted_them(start_target, tmp_path):
    target = start_target("--corrupt-above", "2", "--corrupt-rate", "0.2", "--service-ms", "30")
    run = run_locust(
        "--host",
        target.url,
        "--stop-timeout",
        "5",  # users finish the request they are in: every answer the target built is judged
        "--run-dir",
        str(tmp_path / "rundir"),
        "--history-db",
        "none",
        "--target-metrics",
        "none",
        tmp_path=tmp_path,
        locustfile=LOCUSTFILE,
        timeout=60,
    )
    truth = corrupted(target.url)
    assert truth >= 20, f"the target corrupted only {truth} answers: no test"
    row = run.row("POST", "/v1/backtests")
    wrong_in_locust = sum(
        int(f["Occurrences"]) for f in run.failures if "wrong result: " in f["Error"]
    )
    assert wrong_in_locust == int(row["Failure Count"]) == truth
    summary = json.loads((tmp_path / "rundir" / "summary.json").read_text())
    section = summary["correctness"]
    assert section["wrong"] == truth
    assert section["answers"] - section["checked"] == 4  # only the first four taught
    rows = read_jsonl(tmp_path / "rundir" / "timeseries.jsonl")
    per_row = [r["endpoints"].get(f"ANSWER {ROUTE}", {}) for r in rows]
    assert sum(c.get("failures", 0) for c in per_row) == truth
    levels = {lv["level"]: lv for lv in section["levels"]}
    # the last rows (users stopping, 0) belong to no level; a row that ends while Locust is
    # still spawning the loaded users (a loaded machine) is its own level between 1 and 5
    assert {1.0, 5.0} <= set(levels) and all(1 <= level <= 5 for level in levels), levels
    assert levels[1.0]["wrong"] == 0 and 0 < levels[5.0]["wrong"] <= truth
    assert 1 < section["onset_level"] <= 5 and levels[section["onset_level"]]["wrong"] > 0
    assert 1 <= section["last_right_level"] < section["onset_level"]
    below = [lv for level, lv in levels.items() if level < section["onset_level"]]
    assert below and all(lv["wrong"] == 0 for lv in below), levels
    assert section["examples"][0]["field"] == "sharpe_ratio"
    page = (tmp_path / "rundir" / "report.html").read_text()
    assert "Correctness under load" in page
    # the Errors table counts each wrong answer once, as its request's failure
    errors = TableReader({"error-table"})
    errors.feed(page)
    wrong_rows = [r for r in errors.tables["error-table"] if "wrong result" in r[1]]
    assert wrong_rows and {r[0] for r in wrong_rows} == {ROUTE}, wrong_rows
    assert sum(int(r[2].replace(",", "")) for r in wrong_rows) == truth
    assert "  answers     Answers went wrong above 1 user (~1 in flight)" in run.stdout


def test_bad_check_answers_is_one_line_and_exit_2():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            "locustfile.py",
            "--headless",
            "--check-answers",
            "1.5",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "argument --check-answers: '1.5' must be between 0 and 1" in done.stderr
    assert "Traceback" not in done.stderr
