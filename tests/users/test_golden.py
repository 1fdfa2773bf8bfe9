"""Golden answers (users/golden.py) and the process's checker (users/answer_check.py), on
synthetic answers laid out as the reference target writes them: no server, no Locust."""

from __future__ import annotations

import json

import pytest

from users.answer_check import LIGHT_IN_FLIGHT, MAX_EXAMPLES, AnswerChecks
from users.golden import (
    LEARNED,
    OVER_CAP,
    PENDING,
    RIGHT,
    UNREADABLE,
    WRONG,
    GoldenStore,
    answer_of,
)

METRICS = {
    "total_return": 0.1234,
    "sharpe_ratio": 1.301,
    "max_drawdown": 0.2,
    "profit_factor": None,
    "total_trades": 2,
}


def body(
    *, id_: str = "a1", metrics: dict | None = None, trades: int = 2, equity: list | None = None
) -> bytes:
    """A backtest document as the target writes it: its head, then the shared fragment."""
    fragment = json.dumps(
        {
            "metrics": metrics or METRICS,
            "trades": [{"entry_date": "2021-01-04", "return": 0.01}] * trades,
            "equity_curve": {
                "dates": ["2021-01-04", "2021-01-05", "2021-01-06"],
                "equity": equity or [100000.0, 100512.25, 101234.5],
            },
        }
    )
    head = json.dumps({"id": id_, "created_at": 1.5, "cached": False})
    return (head[:-1] + ", " + fragment[1:]).encode()


def test_answer_of_reads_metrics_trades_and_the_equity_digest():
    answer = answer_of(body())
    assert answer is not None
    assert dict(zip(answer.names, answer.values, strict=True)) == METRICS
    assert (answer.trades, answer.points, answer.first, answer.last) == (2, 3, 100000.0, 101234.5)
    assert answer_of(b'{"id": "x", "metrics": {"a": {"nested": 1}}}') is None
    assert answer_of(b'{"error": {"code": "x"}}') is None


def test_learned_at_light_load_then_right_and_wrong_answers_by_field():
    store = GoldenStore()
    assert store.judge(b"k", body(), light=True).outcome == LEARNED
    assert store.judge(b"k", body(id_="other"), light=False).outcome == RIGHT  # fast path
    tiny = {**METRICS, "sharpe_ratio": 1.301 * (1 + 1e-12)}  # floating point's last bits
    assert store.judge(b"k", body(metrics=tiny), light=False).outcome == RIGHT
    wrong = store.judge(b"k", body(metrics={**METRICS, "sharpe_ratio": 1.234}), light=False)
    assert (wrong.outcome, wrong.field) == (WRONG, "sharpe_ratio")
    assert wrong.detail == "sharpe_ratio 1.234 != golden 1.301"
    assert store.judge(b"k", body(trades=3), light=False).detail == "trades 3 != golden 2"
    curve = store.judge(b"k", body(equity=[100000.0, 100512.0, 101234.5]), light=False)
    assert (curve.outcome, curve.field) == (WRONG, "equity_curve")
    last = store.judge(b"k", body(equity=[100000.0, 100512.25, 101239.5]), light=False)
    assert last.detail == "equity_curve last 101239.5 != golden 101234.5"


def test_under_load_two_agreeing_answers_make_the_golden_one():
    store = GoldenStore()
    bad = body(metrics={**METRICS, "win_rate": 0.5})
    assert store.judge(b"k", bad, light=False).outcome == PENDING
    assert store.judge(b"k", body(), light=False).outcome == PENDING  # disagrees: unknown
    assert store.judge(b"k", body(id_="b2"), light=False).outcome == RIGHT  # agrees with #2
    assert store.judge(b"k", bad, light=False).outcome == WRONG
    assert store.judge(b"other", b'{"id": "x"}', light=True).outcome == UNREADABLE


def test_past_the_cap_new_keys_are_not_learned():
    store = GoldenStore(max_keys=2)
    assert store.judge(b"a", body(), light=True).outcome == LEARNED
    assert store.judge(b"b", body(), light=False).outcome == PENDING
    assert store.judge(b"c", body(), light=True).outcome == OVER_CAP
    assert store.judge(b"b", body(), light=False).outcome == RIGHT  # a pending key goes on
    assert len(store) == 2


def test_checks_sample_count_and_name_the_field():
    records: list[tuple] = []
    checks = AnswerChecks(record=lambda *a: records.append(a))
    token = checks.sent()
    assert checks.light(token)
    checks.answered()
    assert checks.verdict(b"k", body(), token, "POST /v1/backtests") is None  # learned
    assert not records
    checks.share = 0.5
    messages = []
    for _ in range(2 * (MAX_EXAMPLES + 3)):
        crowd = [checks.sent() for _ in range(LIGHT_IN_FLIGHT + 1)]
        assert not checks.light(crowd[0])
        wrong = body(metrics={**METRICS, "sharpe_ratio": 0.9})
        messages.append(checks.verdict(b"k", wrong, crowd[0], "POST /v1/backtests"))
        for _ in crowd:
            checks.answered()
    checked = [m for m in messages if m is not None]
    assert len(checked) == MAX_EXAMPLES + 3  # half of them: every other one
    assert checked[0] == "wrong result: sharpe_ratio 0.9 != golden 1.301"
    assert checked[-1] == "wrong result: sharpe_ratio"
    assert [r[:3] for r in records] == [("ANSWER", "POST /v1/backtests", 0)] * len(checked)
    assert all(str(r[3]) == m for r, m in zip(records, checked, strict=True))


@pytest.mark.parametrize("share", [0.0, 0.25, 1.0])
def test_the_sampled_share_is_exact(share):
    checks = AnswerChecks(share=share)
    assert sum(checks.sampled() for _ in range(400)) == round(400 * share)


def test_an_answer_overlapping_a_crowd_is_not_light():
    checks = AnswerChecks()
    first = checks.sent()
    second = checks.sent()  # two in flight: neither answer may teach a golden one
    checks.answered()
    checks.answered()
    assert not checks.light(first) and not checks.light(second)
    assert checks.light(checks.sent())
