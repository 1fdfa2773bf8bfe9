"""The threshold grammar (``reports.threshold_parsing``): valid spellings and their canonical
names, and one-line errors for the invalid ones. Pure code: no target, no Locust run."""

from __future__ import annotations

import pytest

from reports.threshold_parsing import METRICS, parse_threshold
from reports.thresholds import (
    ThresholdError,
)

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
    (
        "p95_ms<800",
        "POST /v1/backtests",
        ("POST /v1/backtests", "p95_ms", "<", 800.0),
        "POST /v1/backtests: p95_ms<800",
    ),
    (
        "POST /v1/backtests: p95_ms<800",
        None,
        ("POST /v1/backtests", "p95_ms", "<", 800.0),
        "POST /v1/backtests: p95_ms<800",
    ),
    (
        "  POST   /v1/backtests :p95_ms<800",
        None,
        ("POST /v1/backtests", "p95_ms", "<", 800.0),
        "POST /v1/backtests: p95_ms<800",
    ),
    # the scope is everything before the LAST colon, so names with colons work
    (
        "GET /v1/jobs/{id}:cancel: p50_ms<10",
        None,
        ("GET /v1/jobs/{id}:cancel", "p50_ms", "<", 10.0),
        "GET /v1/jobs/{id}:cancel: p50_ms<10",
    ),
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
    (
        "GET /x: p95_ms<300",
        "POST /v1/backtests",
        "already scoped to 'POST /v1/backtests'; drop the 'SCOPE:' part",
    ),
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
