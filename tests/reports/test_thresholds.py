"""Thresholds: evaluation on synthetic summaries of known answer, live abort, JUnit XML
and the console table. Pure code: no target, no Locust run. The grammar is
``test_threshold_parsing.py``'s, the file and options ``test_threshold_files.py``'s."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from reports.junit import JUNIT_FILENAME, junit_xml, write_junit
from reports.threshold_parsing import parse_threshold
from reports.thresholds import (
    EXIT_BAD_THRESHOLDS,
    EXIT_OK,
    EXIT_THRESHOLD_FAILED,
    Result,
    Threshold,
    ThresholdSet,
    evaluate,
    evaluate_live,
    exit_code,
    final_results,
    format_results,
)

# --- evaluation -----------------------------------------------------------------------------

SUMMARY = {
    "run_id": "r1",
    "duration_s": 60,
    "total": {
        "count": 1000,
        "failures": 10,
        "rps": 16.7,
        "p50_ms": 40,
        "p95_ms": 300,
        "p99_ms": 450.5,
    },
    "endpoints": [
        {
            "name": "/v1/backtests",
            "method": "POST",
            "count": 200,
            "failures": 0,
            "rps": 3.3,
            "p50_ms": 90,
            "p95_ms": 812.5,
            "p99_ms": 900,
            "max_ms": 1200,
        },
        {
            "name": "/v1/strategies",
            "method": "GET",
            "count": 0,
            "failures": 0,
            "rps": 0,
            "p95_ms": 0,
        },
    ],
}


def judge(text: str, summary=SUMMARY) -> Result:
    [result] = evaluate([parse_threshold(text)], summary)
    return result


@pytest.mark.parametrize(
    ("text", "observed", "passed"),
    [
        ("p95_ms<500", 300, True),
        ("p95_ms<300", 300, False),  # boundary: strict
        ("p95_ms<=300", 300, True),  # boundary: inclusive
        ("p95_ms>=300", 300, True),
        ("p95_ms>300", 300, False),
        ("p95_ms==300", 300, True),
        ("fail_ratio<0.01", 0.01, False),
        ("fail_ratio<=0.01", 0.01, True),
        ("count>999", 1000, True),
        ("failures==0", 10, False),
        ("rps>=20", 16.7, False),
        ("POST /v1/backtests: p95_ms<800", 812.5, False),
        ("POST /v1/backtests: p95_ms<1e3ms", 812.5, True),
        ("POST /v1/backtests: fail_ratio==0", 0, True),
        ("POST /v1/backtests: max_ms<=1200", 1200, True),
    ],
)
def test_evaluate_known_answers(text, observed, passed):
    result = judge(text)
    assert (result.observed, result.passed) == (observed, passed)
    assert result.name == parse_threshold(text).name
    assert bool(result.note) == (not passed)


def test_failed_note_says_observed_and_limit():
    assert judge("POST /v1/backtests: p95_ms<800").note == "observed 812.5 ms, limit < 800 ms"
    assert judge("fail_ratio<0.005").note == "observed 0.01, limit < 0.005"


def test_missing_metric_is_no_data_and_fails():
    result = judge("apdex>0.9")
    assert (result.observed, result.passed) == (None, False)
    assert result.note == "no data: the summary has no apdex for 'total'"
    assert judge("POST /v1/backtests: p999_ms<2000").note == (
        "no data: the summary has no p999_ms for 'POST /v1/backtests'"
    )


def test_endpoint_that_never_appeared():
    result = judge("POST /v1/backtest: p95_ms<800")  # a typo
    assert (result.observed, result.passed) == (None, False)
    assert result.note == ("no requests to 'POST /v1/backtest'; closest seen: 'POST /v1/backtests'")
    assert judge("GET /v1/queue: p95_ms<800").note == "no requests to 'GET /v1/queue'"
    assert judge("post /v1/backtests: p95_ms<800").note.endswith(
        "closest seen: 'POST /v1/backtests'"
    )  # scopes match exactly, case included


def test_endpoint_with_zero_requests_has_no_latency():
    result = judge("GET /v1/strategies: p95_ms<800")  # p95_ms is 0 in the row, but of nothing
    assert (result.observed, result.passed, result.note) == (
        None,
        False,
        "no requests to 'GET /v1/strategies'",
    )


def test_counters_of_an_absent_endpoint_are_zero():
    passed = judge("DROPPED /v1/backtests: count==0")
    assert (passed.observed, passed.passed) == (0.0, True)
    assert passed.note == "no requests to 'DROPPED /v1/backtests' (counted as 0)"
    failed = judge("DROPPED /v1/backtests: count>0")
    assert not failed.passed and failed.note.endswith("(counted as 0); observed 0, limit > 0")


def test_fail_ratio_with_zero_count_is_zero():
    empty = {"total": {"count": 0, "failures": 0}, "endpoints": []}
    assert (judge("fail_ratio<0.01", empty).observed, judge("fail_ratio<0.01", empty).passed) == (
        0.0,
        True,
    )
    assert judge("GET /v1/strategies: fail_ratio==0").observed == 0.0
    assert not judge("p95_ms<300", empty).passed  # but there is no latency of nothing


def test_summary_without_total_or_with_junk():
    assert judge("p95_ms<300", {}).note == "no requests to 'total'"
    junk = {
        "total": {"count": 10, "failures": 0, "p95_ms": "fast", "p99_ms": True},
        "endpoints": [None, "x", {"method": "GET"}],
    }
    assert judge("p95_ms<300", junk).observed is None
    assert judge("p99_ms<300", junk).observed is None
    assert judge("GET /x: count==0", junk).passed


def test_results_in_order_and_as_dict():
    results = evaluate([parse_threshold("p95_ms<500"), parse_threshold("apdex>0.9")], SUMMARY)
    assert [r.as_dict() for r in results] == [
        {"name": "p95_ms<500", "observed": 300.0, "passed": True, "note": ""},
        {
            "name": "apdex>0.9",
            "observed": None,
            "passed": False,
            "note": "no data: the summary has no apdex for 'total'",
        },
    ]


def test_exit_codes():
    assert (EXIT_OK, EXIT_BAD_THRESHOLDS, EXIT_THRESHOLD_FAILED) == (0, 2, 3)
    assert exit_code([]) == EXIT_OK
    assert exit_code([judge("p95_ms<500")]) == EXIT_OK
    assert exit_code([judge("p95_ms<500"), judge("apdex>0.9")]) == EXIT_THRESHOLD_FAILED


# --- live abort -----------------------------------------------------------------------------

ABORT = [
    parse_threshold("count>0"),
    parse_threshold("fail_ratio<0.005"),
    parse_threshold("p95_ms<100"),
]


def test_live_abort_only_after_the_delay():
    assert evaluate_live(ABORT, SUMMARY, elapsed_s=9.9, delay_s=10) is None
    breach = evaluate_live(ABORT, SUMMARY, elapsed_s=10, delay_s=10)
    assert breach is not None and breach.name == "fail_ratio<0.005"  # the first breached
    assert not breach.passed and breach.observed == 0.01
    assert breach.note == "breached after 10 s: observed 0.01, limit < 0.005"


def test_live_no_data_does_not_abort():
    early = {"total": {"count": 0, "failures": 0}, "endpoints": []}
    waiting = [
        parse_threshold("POST /v1/backtests: p95_ms<100"),
        parse_threshold("apdex>0.9"),
        parse_threshold("p95_ms<100"),
    ]
    assert evaluate_live(waiting, early, elapsed_s=60, delay_s=0) is None
    assert evaluate_live(waiting, SUMMARY, elapsed_s=60, delay_s=0).name == (
        "POST /v1/backtests: p95_ms<100"
    )


def test_live_nothing_breached():
    assert evaluate_live([parse_threshold("fail_ratio<0.2")], SUMMARY, 30, 10) is None
    assert evaluate_live([], SUMMARY, 30, 10) is None


def test_final_results_keep_an_abort_breach():
    tset = ThresholdSet(
        thresholds=(parse_threshold("p95_ms<500"),),
        abort_on_fail=(parse_threshold("fail_ratio<0.005"),),
        abort_delay_s=5,
    )
    healthy = {"total": {"count": 1000, "failures": 0, "p95_ms": 100}, "endpoints": []}
    breach = evaluate_live(tset.abort_on_fail, SUMMARY, elapsed_s=12, delay_s=5)
    assert [r.passed for r in final_results(tset, healthy)] == [True, True]
    results = final_results(tset, healthy, breach)  # recovered by the end, but it was aborted
    assert [r.passed for r in results] == [True, False]
    assert results[1].note == "aborted the run: breached after 12 s: observed 0.01, limit < 0.005"
    assert exit_code(results) == EXIT_THRESHOLD_FAILED
    outsider = Result(parse_threshold("rps>1000"), 16.7, False, "observed 16.7")
    assert [r.name for r in final_results(tset, healthy, outsider)][-1] == "rps>1000"


# --- JUnit XML ------------------------------------------------------------------------------

HOSTILE = "GET /<script>alert(\"x\")</script>?a=1&b='2'\x1b[31m\x00"


def test_junit_one_testcase_per_threshold_failures_marked():
    results = evaluate(
        [parse_threshold(t) for t in ("p95_ms<500", "POST /v1/backtests: p95_ms<800", "apdex>0.9")],
        SUMMARY,
    )
    root = ET.fromstring(junit_xml(results, "quantload.ci", 61.25))
    suite = root.find("testsuite")
    assert suite.get("tests") == "3"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [r.name for r in results]
    assert [c.find("failure") is not None for c in cases] == [False, True, True]
    assert suite.get("failures") == "2" and suite.get("time") == "61.250"
    failure = cases[1].find("failure")
    assert failure.get("message") == (
        "POST /v1/backtests: p95_ms<800: observed 812.5 ms, limit < 800 ms"
    )
    assert failure.text.startswith("p95_ms = 812.5 ms (limit < 800 ms)")
    assert "no data" in cases[2].find("failure").get("message")
    assert cases[0].find("system-out").text == "p95_ms = 300 ms (limit < 500 ms)"


def test_junit_escapes_hostile_names():
    threshold = Threshold(HOSTILE, "p95_ms", "<", 1.0)
    results = evaluate(
        [threshold],
        {
            "endpoints": [
                {"method": "GET", "name": HOSTILE[4:], "count": 5, "failures": 0, "p95_ms": 9}
            ]
        },
    )
    text = junit_xml(results, 'suite "<&>"\nname', 1)
    assert "<script>" not in text
    root = ET.fromstring(text)  # parses: everything escaped, controls replaced
    case = root.find("testsuite/testcase")
    assert case.get("name") == threshold.name.replace("\x1b", "\ufffd").replace("\x00", "\ufffd")
    assert "<script>alert(\"x\")</script>?a=1&b='2'" in case.find("failure").get("message")
    assert root.get("name") == 'suite "<&>"\nname'  # newline kept in the attribute


def test_junit_empty_and_written(tmp_path):
    root = ET.fromstring(junit_xml([], "s", 0))
    assert root.find("testsuite").get("tests") == "0"
    path = write_junit(tmp_path / JUNIT_FILENAME, [judge("p95_ms<500")], "s", 2)
    assert path.name == "junit.xml"
    assert len(ET.parse(path).getroot().findall("testsuite/testcase")) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["junit.xml"]  # no temp file left


# --- console --------------------------------------------------------------------------------


def test_format_results_aligned():
    results = evaluate(
        [
            parse_threshold(t)
            for t in ("p95_ms<500", "POST /v1/backtests: p95_ms<800", "apdex>0.9", "count>0")
        ],
        SUMMARY,
    )
    assert format_results(results).splitlines() == [
        "thresholds: 2 of 4 passed",
        "  PASS  p95_ms<500                        300 ms",
        "  FAIL  POST /v1/backtests: p95_ms<800  812.5 ms  observed 812.5 ms, limit < 800 ms",
        "  FAIL  apdex>0.9                        no data  no data: the summary has no apdex "
        "for 'total'",
        "  PASS  count>0                             1000",
    ]


def test_format_no_results():
    assert format_results([]) == "thresholds: none"


def test_wrong_ratio_reads_the_correctness_section_for_the_run_or_a_route():
    summary = {
        "total": {"count": 100, "failures": 5},
        "correctness": {
            "checked": 50,
            "wrong": 5,
            "wrong_ratio": 0.1,
            "routes": [
                {"route": "POST /v1/backtests", "checked": 50, "wrong": 5, "wrong_ratio": 0.1}
            ],
        },
    }
    run, route, other = evaluate(
        [
            parse_threshold("wrong_ratio<0.01"),
            parse_threshold("POST  /v1/backtests: wrong_ratio<=0.1"),
            parse_threshold("GET /v1/strategies: wrong_ratio<0.01"),
        ],
        summary,
    )
    assert (run.observed, run.passed) == (0.1, False)
    assert (route.observed, route.passed) == (0.1, True)
    assert (other.observed, other.passed) == (None, False) and "no answer" in other.note
    nothing = evaluate([parse_threshold("wrong_ratio<0.01")], {"total": {"count": 1}})[0]
    assert nothing.observed is None and not nothing.passed
