"""Thresholds: the grammar, the file, evaluation on synthetic summaries of known answer,
live abort, JUnit XML and the console table. Pure code: no target, no Locust run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from plugin.options import THRESHOLDS_FILE_ENV, thresholds_from_options
from reports.junit import JUNIT_FILENAME, junit_xml, write_junit
from reports.threshold_files import load_thresholds, parse_thresholds_toml
from reports.threshold_parsing import METRICS, parse_threshold
from reports.thresholds import (
    DEFAULT_ABORT_DELAY_S,
    EXIT_BAD_THRESHOLDS,
    EXIT_OK,
    EXIT_THRESHOLD_FAILED,
    Result,
    Threshold,
    ThresholdError,
    ThresholdSet,
    evaluate,
    evaluate_live,
    exit_code,
    final_results,
    format_results,
)

ROOT = Path(__file__).resolve().parent.parent

# --- the grammar ------------------------------------------------------------------------------

VALID = [
    # text, scope argument, (scope, metric, op, value), canonical name
    ("p95_ms<300", None, (None, "p95_ms", "<", 300.0), "p95_ms<300"),
    ("  p95_ms  <  300  ", None, (None, "p95_ms", "<", 300.0), "p95_ms<300"),
    ("fail_ratio<0.01", None, (None, "fail_ratio", "<", 0.01), "fail_ratio<0.01"),
    ("p99_ms<=1e3", None, (None, "p99_ms", "<=", 1000.0), "p99_ms<=1000"),
    ("p99_ms <= 1e3ms", None, (None, "p99_ms", "<=", 1000.0), "p99_ms<=1000"),
    ("max_ms<2500 ms", None, (None, "max_ms", "<", 2500.0), "max_ms<2500"),
    ("rps>=12.5", None, (None, "rps", ">=", 12.5), "rps>=12.5"),
    ("count>0", None, (None, "count", ">", 0.0), "count>0"),
    ("failures==0", None, (None, "failures", "==", 0.0), "failures==0"),
    ("apdex>.9", None, (None, "apdex", ">", 0.9), "apdex>0.9"),
    ("p999_ms<+5", None, (None, "p999_ms", "<", 5.0), "p999_ms<5"),
    ("p95_ms<800", "POST /v1/backtests",
     ("POST /v1/backtests", "p95_ms", "<", 800.0), "POST /v1/backtests: p95_ms<800"),
    ("POST /v1/backtests: p95_ms<800", None,
     ("POST /v1/backtests", "p95_ms", "<", 800.0), "POST /v1/backtests: p95_ms<800"),
    ("  POST   /v1/backtests :p95_ms<800", None,
     ("POST /v1/backtests", "p95_ms", "<", 800.0), "POST /v1/backtests: p95_ms<800"),
    # the scope is everything before the LAST colon, so names with colons work
    ("GET /v1/jobs/{id}:cancel: p50_ms<10", None,
     ("GET /v1/jobs/{id}:cancel", "p50_ms", "<", 10.0), "GET /v1/jobs/{id}:cancel: p50_ms<10"),
    ("total: p95_ms<300", None, (None, "p95_ms", "<", 300.0), "p95_ms<300"),
    ("p95_ms<300", "total", (None, "p95_ms", "<", 300.0), "p95_ms<300"),
]


@pytest.mark.parametrize(("text", "scope", "expected", "name"), VALID)
def test_parse_valid(text, scope, expected, name):
    t = parse_threshold(text, scope)
    assert (t.scope, t.metric, t.op, t.value) == expected
    assert t.name == name
    assert parse_threshold(t.name) == t  # the canonical name reads back the same


INVALID = [
    # text, scope argument, the message (after "threshold '<text>': ")
    ("", None, "empty threshold (expected METRIC OP NUMBER, e.g. 'p95_ms<300')"),
    ("   ", None, "empty threshold (expected METRIC OP NUMBER, e.g. 'p95_ms<300')"),
    ("POST /v1/backtests:", None, "empty threshold (expected METRIC OP NUMBER, e.g. 'p95_ms<300')"),
    ("p95<300", None, "unknown metric 'p95' (did you mean 'p95_ms'?)"),
    ("P95_MS<300", None, "unknown metric 'P95_MS' (did you mean 'p95_ms'?)"),
    ("failratio<0.1", None, "unknown metric 'failratio' (did you mean 'fail_ratio'?)"),
    ("latency<300", None, "unknown metric 'latency' (one of " + ", ".join(METRICS) + ")"),
    ("<300", None, "expected a metric name first, one of " + ", ".join(METRICS)),
    ("p95_ms 300", None, "missing operator after 'p95_ms' (one of <, <=, >, >=, ==)"),
    ("p95_ms=300", None, "bad operator '=' (one of <, <=, >, >=, ==; did you mean '=='?)"),
    ("p95_ms=<300", None, "bad operator '=<' (one of <, <=, >, >=, ==; did you mean '<='?)"),
    ("p95_ms!=300", None, "bad operator '!=' (one of <, <=, >, >=, ==)"),
    ("p95_ms<", None, "missing number after '<'"),
    ("p95_ms<abc", None, "'abc' is not a number"),
    ("p95_ms<nan", None, "'nan' is not a number"),
    ("p95_ms<inf", None, "'inf' is not a number"),
    ("p95_ms<300 and more", None, "'300 and more' is not a number"),
    ("p95_ms<1,5", None, "'1,5' is not a number"),
    ("p95_ms<1e999", None, "'1e999' is not a finite number"),
    ("p95_ms<-1", None, "negative limit -1; every metric is >= 0"),
    ("p95_ms<1s", None, "unknown unit 's' (only 'ms', on *_ms metrics)"),
    ("fail_ratio<1ms", None, "unit 'ms' only applies to *_ms metrics, not 'fail_ratio'"),
    (": p95_ms<300", None, "nothing before ':' (expected 'METHOD name: EXPR')"),
    ("GET /x: p95_ms<300", "POST /v1/backtests",
     "already scoped to 'POST /v1/backtests'; drop the 'SCOPE:' part"),
    ("p95_ms<300", "  ", "empty scope"),
    ("p95_ms<300\nrps>1", None, "'300\\nrps>1' is not a number"),
]


@pytest.mark.parametrize(("text", "scope", "message"), INVALID)
def test_parse_invalid(text, scope, message):
    with pytest.raises(ThresholdError) as caught:
        parse_threshold(text, scope)
    assert str(caught.value) == f"threshold {text!r}: {message}"
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_metrics_list_is_the_one_source():
    for metric in METRICS:
        assert parse_threshold(f"{metric}>=0").metric == metric


# --- the file -----------------------------------------------------------------------------

GOOD_FILE = """\
# thresholds for the ci profile
[thresholds]
total = ["p95_ms<300", "fail_ratio<0.01"]
"POST /v1/backtests" = "p95_ms < 800ms"
"GET /v1/strategies" = []

[abort]
on_fail = ["fail_ratio<0.2", "POST /v1/backtests: p99_ms<5000"]   # evaluated while the run goes
delay_s = 15
"""


def test_load_good_file(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(GOOD_FILE)
    tset = load_thresholds(path)
    assert [t.name for t in tset.thresholds] == [
        "p95_ms<300", "fail_ratio<0.01", "POST /v1/backtests: p95_ms<800"]
    assert [t.name for t in tset.abort_on_fail] == [
        "fail_ratio<0.2", "POST /v1/backtests: p99_ms<5000"]
    assert tset.abort_delay_s == 15.0
    assert len(tset.end_of_run) == 5


def test_file_defaults_and_empty():
    tset = parse_thresholds_toml('[thresholds]\ntotal = "count>0"\n')
    assert [t.name for t in tset.thresholds] == ["count>0"]
    assert tset.abort_on_fail == () and tset.abort_delay_s == DEFAULT_ABORT_DELAY_S
    assert not parse_thresholds_toml("# nothing yet\n")


def test_the_shipped_ci_thresholds_load():
    tset = load_thresholds(ROOT / "config" / "thresholds.toml")
    names = [t.name for t in tset.thresholds]
    assert "fail_ratio<0.01" in names
    assert any(t.scope == "POST /v1/backtests" for t in tset.thresholds)
    assert tset.abort_on_fail and tset.abort_delay_s > 0


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ThresholdError, match=r"^thresholds file '.*nope\.toml' not found$"):
        load_thresholds(path)


def test_a_directory_is_not_a_file(tmp_path):
    with pytest.raises(ThresholdError, match=r"^cannot read thresholds file '.*': "):
        load_thresholds(tmp_path)


BAD_FILES = [
    ('[thresholds]\ntotal = ["p95_ms<300",\n    oops]\n',
     r"^t\.toml: bad TOML: Invalid value \(at line 3, column 5\)$"),
    ("[thresholds]\ntotal = p95_ms<300\n",
     r"^t\.toml: bad TOML: Invalid value \(at line 2, column 9\)$"),
    ('[thresholds]\n"POST /v1/backtests" = ["p95<800"]\n',
     r"^t\.toml: \[thresholds\] 'POST /v1/backtests': threshold 'p95<800': "
     r"unknown metric 'p95' \(did you mean 'p95_ms'\?\)$"),
    ('[threshold]\ntotal = ["p95_ms<300"]\n',
     r"^t\.toml: unknown key 'threshold' \(did you mean 'thresholds'\?\)$"),
    ('p95_ms = 300\n', r"^t\.toml: unknown key 'p95_ms' \(one of thresholds, abort\)$"),
    ('[thresholds]\ntotal = 300\n',
     r"^t\.toml: \[thresholds\] 'total': expected a threshold string or a list of them, "
     r"not 300$"),
    ('[thresholds]\ntotal = ["p95_ms<300", 5]\n',
     r"^t\.toml: \[thresholds\] 'total': expected a threshold string or a list of them"),
    ('thresholds = ["p95_ms<300"]\n',
     r"^t\.toml: 'thresholds' must be a table \(\[thresholds\]\), not list$"),
    ('[abort]\non_fails = ["fail_ratio<0.2"]\n',
     r"^t\.toml: \[abort\] unknown key 'on_fails' \(did you mean 'on_fail'\?\)$"),
    ('[abort]\ndelay_s = -1\n',
     r"^t\.toml: \[abort\] delay_s must be a number of seconds >= 0, not -1$"),
    ('[abort]\ndelay_s = "10"\n',
     r"^t\.toml: \[abort\] delay_s must be a number of seconds >= 0, not '10'$"),
    ('[abort]\non_fail = ["fail_ratio<<0.2"]\n',
     r"^t\.toml: \[abort\] on_fail: threshold 'fail_ratio<<0.2': bad operator '<<'"),
    ('[thresholds]\ntotal = ["GET /x: p95_ms<1"]\n',
     r"^t\.toml: \[thresholds\] 'total': threshold 'GET /x: p95_ms<1': already scoped"),
]


@pytest.mark.parametrize(("text", "pattern"), BAD_FILES)
def test_bad_files(tmp_path, text, pattern, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("t.toml").write_text(text)
    with pytest.raises(ThresholdError, match=pattern) as caught:
        load_thresholds("t.toml")
    assert "\n" not in str(caught.value)


# --- options --------------------------------------------------------------------------------


PARSER_CHECK = """
import json, sys
from locust.argument_parser import get_parser
from plugin.options import add_threshold_options
parser = get_parser()
add_threshold_options(parser)
options = parser.parse_args(sys.argv[1:])
print(json.dumps({"thresholds": options.thresholds, "threshold": options.threshold,
                  "in_web_ui": sorted({"thresholds", "threshold"}
                                      & set(parser.args_included_in_web_ui))}))
"""


def parse_with_locust(*args: str, env: dict[str, str] | None = None) -> dict:
    """Locust's real parser, in a fresh process (importing locust here would patch ssl late)."""
    environ = {k: v for k, v in os.environ.items() if k != THRESHOLDS_FILE_ENV}
    out = subprocess.run([sys.executable, "-c", PARSER_CHECK, *args], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=60, env={**environ, **(env or {})})
    return json.loads(out.stdout.splitlines()[-1])


def test_options_on_locusts_parser(tmp_path):
    conf = tmp_path / "ci.conf"
    conf.write_text("thresholds = config/thresholds.toml\n"
                    "threshold = [p99_ms<900, POST /v1/backtests: max_ms<5000]\n")
    assert parse_with_locust("--config", str(conf)) == {
        "thresholds": "config/thresholds.toml",
        "threshold": ["p99_ms<900", "POST /v1/backtests: max_ms<5000"], "in_web_ui": []}
    assert parse_with_locust("--threshold", "a", "--threshold", "b: c",
                             env={THRESHOLDS_FILE_ENV: "other.toml"}) == {
        "thresholds": "other.toml", "threshold": ["a", "b: c"], "in_web_ui": []}
    assert parse_with_locust() == {"thresholds": None, "threshold": None, "in_web_ui": []}


def test_thresholds_from_options_merges(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(GOOD_FILE)
    tset = thresholds_from_options(SimpleNamespace(
        thresholds=str(path), threshold=["apdex>0.9", "p95_ms < 300", "GET /x: p50_ms<1"]))
    assert [t.name for t in tset.thresholds] == [
        "p95_ms<300", "fail_ratio<0.01", "POST /v1/backtests: p95_ms<800", "apdex>0.9",
        "GET /x: p50_ms<1"]
    assert tset.abort_delay_s == 15.0


def test_neither_option_means_no_thresholds():
    tset = thresholds_from_options(SimpleNamespace(thresholds=None, threshold=None))
    assert not tset and tset.end_of_run == ()
    assert exit_code(evaluate(tset.end_of_run, {})) == EXIT_OK


@pytest.mark.parametrize(("options", "message"), [
    (SimpleNamespace(thresholds=None, threshold=["p95<3"]),
     "argument --threshold: threshold 'p95<3': unknown metric 'p95' (did you mean 'p95_ms'?)"),
    (SimpleNamespace(thresholds="/nonexistent/t.toml", threshold=None),
     "argument --thresholds: thresholds file '/nonexistent/t.toml' not found"),
])
def test_bad_options(options, message):
    with pytest.raises(ThresholdError) as caught:
        thresholds_from_options(options)
    assert str(caught.value) == message


# --- evaluation -----------------------------------------------------------------------------

SUMMARY = {
    "run_id": "r1", "duration_s": 60,
    "total": {"count": 1000, "failures": 10, "rps": 16.7, "p50_ms": 40, "p95_ms": 300,
              "p99_ms": 450.5},
    "endpoints": [
        {"name": "/v1/backtests", "method": "POST", "count": 200, "failures": 0, "rps": 3.3,
         "p50_ms": 90, "p95_ms": 812.5, "p99_ms": 900, "max_ms": 1200},
        {"name": "/v1/strategies", "method": "GET", "count": 0, "failures": 0, "rps": 0,
         "p95_ms": 0},
    ],
}


def judge(text: str, summary=SUMMARY) -> Result:
    [result] = evaluate([parse_threshold(text)], summary)
    return result


@pytest.mark.parametrize(("text", "observed", "passed"), [
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
])
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
        "no data: the summary has no p999_ms for 'POST /v1/backtests'")


def test_endpoint_that_never_appeared():
    result = judge("POST /v1/backtest: p95_ms<800")  # a typo
    assert (result.observed, result.passed) == (None, False)
    assert result.note == ("no requests to 'POST /v1/backtest'; "
                           "closest seen: 'POST /v1/backtests'")
    assert judge("GET /v1/queue: p95_ms<800").note == "no requests to 'GET /v1/queue'"
    assert judge("post /v1/backtests: p95_ms<800").note.endswith(
        "closest seen: 'POST /v1/backtests'")  # scopes match exactly, case included


def test_endpoint_with_zero_requests_has_no_latency():
    result = judge("GET /v1/strategies: p95_ms<800")  # p95_ms is 0 in the row, but of nothing
    assert (result.observed, result.passed, result.note) == (
        None, False, "no requests to 'GET /v1/strategies'")


def test_counters_of_an_absent_endpoint_are_zero():
    passed = judge("DROPPED /v1/backtests: count==0")
    assert (passed.observed, passed.passed) == (0.0, True)
    assert passed.note == "no requests to 'DROPPED /v1/backtests' (counted as 0)"
    failed = judge("DROPPED /v1/backtests: count>0")
    assert not failed.passed and failed.note.endswith("(counted as 0); observed 0, limit > 0")


def test_fail_ratio_with_zero_count_is_zero():
    empty = {"total": {"count": 0, "failures": 0}, "endpoints": []}
    assert (judge("fail_ratio<0.01", empty).observed, judge("fail_ratio<0.01", empty).passed) == (
        0.0, True)
    assert judge("GET /v1/strategies: fail_ratio==0").observed == 0.0
    assert not judge("p95_ms<300", empty).passed  # but there is no latency of nothing


def test_summary_without_total_or_with_junk():
    assert judge("p95_ms<300", {}).note == "no requests to 'total'"
    junk = {"total": {"count": 10, "failures": 0, "p95_ms": "fast", "p99_ms": True},
            "endpoints": [None, "x", {"method": "GET"}]}
    assert judge("p95_ms<300", junk).observed is None
    assert judge("p99_ms<300", junk).observed is None
    assert judge("GET /x: count==0", junk).passed


def test_results_in_order_and_as_dict():
    results = evaluate([parse_threshold("p95_ms<500"), parse_threshold("apdex>0.9")], SUMMARY)
    assert [r.as_dict() for r in results] == [
        {"name": "p95_ms<500", "observed": 300.0, "passed": True, "note": ""},
        {"name": "apdex>0.9", "observed": None, "passed": False,
         "note": "no data: the summary has no apdex for 'total'"},
    ]


def test_exit_codes():
    assert (EXIT_OK, EXIT_BAD_THRESHOLDS, EXIT_THRESHOLD_FAILED) == (0, 2, 3)
    assert exit_code([]) == EXIT_OK
    assert exit_code([judge("p95_ms<500")]) == EXIT_OK
    assert exit_code([judge("p95_ms<500"), judge("apdex>0.9")]) == EXIT_THRESHOLD_FAILED


# --- live abort -----------------------------------------------------------------------------

ABORT = [parse_threshold("count>0"), parse_threshold("fail_ratio<0.005"),
         parse_threshold("p95_ms<100")]


def test_live_abort_only_after_the_delay():
    assert evaluate_live(ABORT, SUMMARY, elapsed_s=9.9, delay_s=10) is None
    breach = evaluate_live(ABORT, SUMMARY, elapsed_s=10, delay_s=10)
    assert breach is not None and breach.name == "fail_ratio<0.005"  # the first breached
    assert not breach.passed and breach.observed == 0.01
    assert breach.note == "breached after 10 s: observed 0.01, limit < 0.005"


def test_live_no_data_does_not_abort():
    early = {"total": {"count": 0, "failures": 0}, "endpoints": []}
    waiting = [parse_threshold("POST /v1/backtests: p95_ms<100"), parse_threshold("apdex>0.9"),
               parse_threshold("p95_ms<100")]
    assert evaluate_live(waiting, early, elapsed_s=60, delay_s=0) is None
    assert evaluate_live(waiting, SUMMARY, elapsed_s=60, delay_s=0).name == (
        "POST /v1/backtests: p95_ms<100")


def test_live_nothing_breached():
    assert evaluate_live([parse_threshold("fail_ratio<0.2")], SUMMARY, 30, 10) is None
    assert evaluate_live([], SUMMARY, 30, 10) is None


def test_final_results_keep_an_abort_breach():
    tset = ThresholdSet(thresholds=(parse_threshold("p95_ms<500"),),
                        abort_on_fail=(parse_threshold("fail_ratio<0.005"),), abort_delay_s=5)
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
    results = evaluate([parse_threshold(t) for t in (
        "p95_ms<500", "POST /v1/backtests: p95_ms<800", "apdex>0.9")], SUMMARY)
    root = ET.fromstring(junit_xml(results, "quantload.ci", 61.25))
    suite = root.find("testsuite")
    assert suite.get("tests") == "3"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [r.name for r in results]
    assert [c.find("failure") is not None for c in cases] == [False, True, True]
    assert suite.get("failures") == "2" and suite.get("time") == "61.250"
    failure = cases[1].find("failure")
    assert failure.get("message") == (
        "POST /v1/backtests: p95_ms<800: observed 812.5 ms, limit < 800 ms")
    assert failure.text.startswith("p95_ms = 812.5 ms (limit < 800 ms)")
    assert "no data" in cases[2].find("failure").get("message")
    assert cases[0].find("system-out").text == "p95_ms = 300 ms (limit < 500 ms)"


def test_junit_escapes_hostile_names():
    threshold = Threshold(HOSTILE, "p95_ms", "<", 1.0)
    results = evaluate([threshold], {"endpoints": [
        {"method": "GET", "name": HOSTILE[4:], "count": 5, "failures": 0, "p95_ms": 9}]})
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
    results = evaluate([parse_threshold(t) for t in (
        "p95_ms<500", "POST /v1/backtests: p95_ms<800", "apdex>0.9", "count>0")], SUMMARY)
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
