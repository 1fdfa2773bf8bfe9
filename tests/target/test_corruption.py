"""``--corrupt-above/--corrupt-rate`` and ``--cpu-ms`` measured against real targets.

Corruption: only above N backtests in flight, at about the rate E among the answers
built there, and the target's ``/metrics`` count equals what a client sees differing
from the right answer (the first answer for the same request, at one in flight).
"""

from __future__ import annotations

import json
import math
import re
from concurrent.futures import ThreadPoolExecutor

import psutil
import requests

from target.corruption import AnswerCorrupter

SYMBOLS = ("AAPL", "MSFT", "NVDA", "SPY")
BT = {"strategy": "sma_cross", "start": "2021-01-04", "end": "2023-12-29"}
REL_TOL = 1e-9
ROUTE = "/v1/backtests"


def counter(url: str, name: str) -> float:
    """The value of ``name`` (its /v1/backtests series) in the target's /metrics."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    found = re.search(rf'^{name}\{{route="{ROUTE}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def post(session: requests.Session, url: str, symbol: str) -> dict:
    r = session.post(f"{url}/v1/backtests", json={**BT, "symbol": symbol}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def differing(answer: dict, right: dict) -> list[str]:
    """The metrics of ``answer`` that differ from ``right`` beyond a float tolerance."""
    out = []
    for name, value in right["metrics"].items():
        got = answer["metrics"][name]
        if value is None or got is None:
            if got != value:
                out.append(name)
        elif not math.isclose(got, value, rel_tol=REL_TOL, abs_tol=1e-12):
            out.append(name)
    return out


def burst(url: str, clients: int, per_client: int) -> list[dict]:
    """``clients`` threads each posting ``per_client`` backtests back to back (symbols in turn)."""

    def client(i: int) -> list[dict]:
        with requests.Session() as s:
            return [post(s, url, SYMBOLS[(i + k) % len(SYMBOLS)]) for k in range(per_client)]

    with ThreadPoolExecutor(clients) as pool:
        return [a for answers in pool.map(client, range(clients)) for a in answers]


def test_corruption_only_above_n_in_flight_at_rate_e_and_counted_exactly(start_target, http):
    above, rate = 3, 0.5
    t = start_target(
        "--corrupt-above", str(above), "--corrupt-rate", str(rate), "--service-ms", "30"
    )
    right = {s: post(http, t.url, s) for s in SYMBOLS}  # one in flight: the right answers
    at_n = burst(t.url, clients=above, per_client=8)  # never more than N in flight
    assert counter(t.url, "quantload_corruption_eligible_answers_total") == 0
    assert not [a for a in at_n if differing(a, right[a["symbol"]])]

    crowded = burst(t.url, clients=10, per_client=15)
    wrong = [a for a in crowded if differing(a, right[a["symbol"]])]
    corrupted = counter(t.url, "quantload_corrupted_answers_total")
    eligible = counter(t.url, "quantload_corruption_eligible_answers_total")
    assert corrupted == len(wrong), (corrupted, len(wrong))
    assert eligible >= 60, eligible  # most of the 150 answers were built above N
    assert abs(corrupted / eligible - rate) <= 0.15, (corrupted, eligible)
    for answer in wrong:  # only the metrics: the trades and the equity curve stay right
        good = right[answer["symbol"]]
        assert (answer["trades"], answer["equity_curve"]) == (good["trades"], good["equity_curve"])
    reread = http.get(f"{t.url}/v1/backtests/{wrong[0]['id']}", timeout=10).json()
    assert not differing(reread, right[wrong[0]["symbol"]]), "the stored answer must be right"


def test_a_corrupted_answer_without_another_sharpe_is_nudged_plausibly():
    """All answers alike (no other Sharpe to borrow): one metric moves by 1-5 %."""
    metrics = {"sharpe_ratio": 1.25, "max_drawdown": 0.2, "win_rate": 0.0, "total_trades": 7}
    fragment = '{"metrics": ' + json.dumps(metrics) + ', "trades": []}'
    seen = []
    corrupter = AnswerCorrupter(1, 1.0, seed=3, on_corrupt=lambda: seen.append(1))
    with corrupter.flight(), corrupter.flight():
        for _ in range(20):
            served = corrupter.served(metrics, fragment)
            assert served is not None and served.endswith(', "trades": []}')
            wrong = json.loads(served)["metrics"]
            moved = {k for k in metrics if wrong[k] != metrics[k]}
            assert len(moved) == 1 and "total_trades" not in moved, wrong
            (name,) = moved
            change = abs(wrong[name] - metrics[name]) / (abs(metrics[name]) or 1.0)
            assert 0.01 <= change <= 0.05, (name, wrong[name])
    assert len(seen) == 20
    with corrupter.flight():  # one in flight is not above 1
        assert corrupter.served(metrics, fragment) is None


def _cpu_s_per_backtest(url: str, pid: int, n: int = 20) -> float:
    process = psutil.Process(pid)
    with requests.Session() as s:
        post(s, url, "AAPL")  # computed and cached: the n measured are alike
        before = sum(process.cpu_times()[:2])
        for _ in range(n):
            post(s, url, "AAPL")
        return (sum(process.cpu_times()[:2]) - before) / n


def test_cpu_ms_adds_that_much_server_cpu_per_backtest(target, start_target):
    cpu_ms = 25.0
    burning = start_target("--cpu-ms", str(cpu_ms))
    added_ms = 1000 * (
        _cpu_s_per_backtest(burning.url, burning.pid) - _cpu_s_per_backtest(target.url, target.pid)
    )
    assert 0.9 * cpu_ms <= added_ms <= 1.15 * cpu_ms, f"{added_ms:.1f} ms added, knob {cpu_ms}"
