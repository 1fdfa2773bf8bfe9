"""``users/responses.py``: shapes, verdicts and the failure messages Locust groups by, and
the Retry-After header's forms. Pure: no network, no Locust."""

from __future__ import annotations

import json

import pytest

from tests.api_bodies import BACKTEST, JOB, JSON
from users.responses import (
    BACKTEST_SHAPE,
    JOB_SHAPE,
    QUEUE_SHAPE,
    RawResponse,
    check_job_status,
    judge,
    parse_retry_after,
    validate_shape,
)


def raw(status: int, body: object = None, headers: dict | None = None, **kw) -> RawResponse:
    content = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    hdrs = dict(JSON if headers is None else headers)
    if content is not None:
        hdrs.setdefault("content-length", str(len(content)))
    return RawResponse(status=status, content=content, headers=hdrs, **kw)


# -- validate_shape ------------------------------------------------------------------------------


def test_shape_accepts_a_real_backtest_and_job():
    assert validate_shape(BACKTEST, BACKTEST_SHAPE) is None
    assert validate_shape(JOB, JOB_SHAPE) is None


@pytest.mark.parametrize(
    "obj, shape, message",
    [
        (
            {k: v for k, v in BACKTEST.items() if k != "metrics"},
            BACKTEST_SHAPE,
            "missing key 'metrics'",
        ),
        (
            {**BACKTEST, "metrics": {**BACKTEST["metrics"], "total_trades": "4"}},
            BACKTEST_SHAPE,
            "key 'metrics.total_trades' is string, expected integer",
        ),
        (
            {**BACKTEST, "trades": [{"entry_date": "x"}]},
            BACKTEST_SHAPE,
            "missing key 'trades[].entry_price'",
        ),
        ({**BACKTEST, "trades": {}}, BACKTEST_SHAPE, "key 'trades' is object, expected array"),
        ({**JOB, "progress": "half"}, JOB_SHAPE, "key 'progress' is string, expected number"),
        ({**JOB, "progress": True}, JOB_SHAPE, "key 'progress' is boolean, expected number"),
        (
            {**JOB, "started_at": "soon"},
            JOB_SHAPE,
            "key 'started_at' is string, expected number or null",
        ),
        ([1, 2], QUEUE_SHAPE, "body is array, expected object"),
    ],
)
def test_shape_names_the_first_problem(obj, shape, message):
    assert validate_shape(obj, shape) == message


# -- judge: the failure messages Locust will group by ----------------------------------------------


@pytest.mark.parametrize(
    "response, expected, shape, message",
    [
        (
            raw(500, {"error": {"code": "injected_error", "message": "id 42 at 12:00"}}),
            200,
            JOB_SHAPE,
            "status 500: injected_error",
        ),
        (
            raw(502, b"<html>bad gateway</html>", {"content-type": "text/html"}),
            200,
            JOB_SHAPE,
            "status 502",
        ),
        (
            raw(404, {"error": {"code": "not found for id 1234567, a long free-text code"}}),
            200,
            JOB_SHAPE,
            "status 404",
        ),
        (raw(200, BACKTEST), 201, BACKTEST_SHAPE, "status 200, expected 201"),
        (
            raw(
                200,
                b"<html><body>" + b"x" * 200 + b"</body></html>",
                {"content-type": "text/html; charset=utf-8"},
            ),
            200,
            BACKTEST_SHAPE,
            "body is not JSON (text/html): '<html><body>" + "x" * 68 + "...'",
        ),
        (
            raw(201, {k: v for k, v in BACKTEST.items() if k != "metrics"}),
            201,
            BACKTEST_SHAPE,
            "missing key 'metrics'",
        ),
        (
            raw(200, b'{"depth": 0, "running":', {**JSON, "content-length": "500"}),
            200,
            QUEUE_SHAPE,
            "truncated body",
        ),
        (
            raw(200, None, read_error=ConnectionResetError()),
            200,
            QUEUE_SHAPE,
            "body read failed: ConnectionResetError",
        ),
        (
            raw(0, None, {}, error=type("IncompleteRead", (Exception,), {})()),
            200,
            QUEUE_SHAPE,
            "truncated body",
        ),
        (raw(200, b""), 200, QUEUE_SHAPE, "empty body"),
        (
            raw(0, None, {}, error=ConnectionRefusedError(111, "refused")),
            200,
            QUEUE_SHAPE,
            "connection error: ConnectionRefusedError",
        ),
        (raw(200, [1]), 200, QUEUE_SHAPE, "body is array, expected object"),
    ],
)
def test_judge_failure_messages(response, expected, shape, message):
    verdict = judge(response, expected, shape)
    assert verdict.failure == message and verdict.body is None and not verdict.ok


def test_judge_runs_the_extra_check_after_the_shape():
    assert (
        judge(raw(200, {**JOB, "status": "exploded"}), 200, JOB_SHAPE, check_job_status).failure
        == "unknown job status"
    )
    assert judge(raw(200, JOB), 200, JOB_SHAPE, check_job_status).body == JOB


def test_judge_passes_good_bodies_and_ignores_compressed_lengths():
    assert judge(raw(201, BACKTEST), 201, BACKTEST_SHAPE).body == BACKTEST
    gz = raw(
        200,
        {"depth": 1, "running": 0, "workers": 2},
        {**JSON, "content-length": "5", "content-encoding": "gzip"},
    )
    assert judge(gz, 200, QUEUE_SHAPE).ok


def test_judge_429_is_its_own_kind_and_carries_retry_after():
    limited = judge(
        raw(429, {"error": {"code": "rate_limited"}}, {**JSON, "retry-after": "3"}),
        200,
        QUEUE_SHAPE,
    )
    assert limited.failure == "rate limited (429)" and limited.retry_after_s == 3.0
    assert judge(raw(429, b""), 200, QUEUE_SHAPE).retry_after_s == 1.0  # no header: default


def test_parse_retry_after_forms():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" -4 ") == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
