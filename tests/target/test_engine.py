"""Pure tests of the target's computation layer: strategies, engine, market data."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from target.engine import (
    METRIC_KEYS,
    BacktestResult,
    compute_metrics,
    position_from_signals,
    run_backtest,
)
from target.market_data import (
    DATA_END,
    DATA_START,
    MarketDataCache,
    generate_bars,
    symbol_seed,
)
from target.strategies import (
    STRATEGIES,
    ParameterError,
    catalogue,
    resolve_parameters,
)

FEES = 0.001
SLIPPAGE = 0.0005
CAPITAL = 100_000.0
THREE_YEARS = (date(2021, 1, 1), date(2023, 12, 31))

# V-shape, fall, then a second rise that is still open at the end. With SMA(2)
# vs SMA(3) the fast-minus-slow spread is negative up to index 4, turns positive
# on index 5 (entry, close 9), negative on index 9 (exit, close 10), and
# positive again on index 13 (entry, close 10); the last close is 12.
V_CLOSES = [10, 9, 8, 7, 8, 9, 10, 12, 11, 10, 8, 7, 8, 10, 12]
V_DATES = pd.bdate_range("2024-01-01", periods=len(V_CLOSES))  # Monday start


def _bars(closes: list[float], index: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    if index is None:
        index = pd.bdate_range("2024-01-01", periods=len(closes))
    return pd.DataFrame({"close": np.asarray(closes, dtype=float)}, index=index)


def _frame_digest(df: pd.DataFrame) -> str:
    import hashlib

    hashed = pd.util.hash_pandas_object(df, index=True).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


# --------------------------------------------------------------------------- engine


def test_sma_cross_trades_on_known_days_with_exact_returns() -> None:
    params = resolve_parameters("sma_cross", {"fast_period": 2, "slow_period": 3})
    result = run_backtest(
        _bars(V_CLOSES, V_DATES), "sma_cross", params, fees=FEES, slippage=SLIPPAGE
    )
    closed, still_open = result.trades

    assert closed["entry_date"] == "2024-01-08"
    assert closed["exit_date"] == "2024-01-12"
    assert closed["status"] == "closed"
    assert closed["entry_price"] == pytest.approx(9 * (1 + SLIPPAGE), rel=1e-12)
    assert closed["exit_price"] == pytest.approx(10 * (1 - SLIPPAGE), rel=1e-12)
    by_hand = (1 - FEES) ** 2 * (1 - SLIPPAGE) / (1 + SLIPPAGE) * 10 / 9 - 1
    assert closed["return"] == pytest.approx(by_hand, rel=1e-12)
    assert closed["pnl"] == pytest.approx(CAPITAL * by_hand, rel=1e-12)

    assert still_open["entry_date"] == "2024-01-18"
    assert still_open["exit_date"] == "2024-01-19"
    assert still_open["status"] == "open"
    assert still_open["exit_price"] == 12.0  # marked at the last close, no costs
    open_by_hand = (1 - FEES) / (1 + SLIPPAGE) * 12 / 10 - 1
    assert still_open["return"] == pytest.approx(open_by_hand, rel=1e-12)

    final = CAPITAL * (1 + by_hand) * (1 + open_by_hand)
    assert result.equity[-1] == pytest.approx(final, rel=1e-12)
    assert result.equity[:5] == [CAPITAL] * 5  # flat before the first entry
    assert result.metrics["total_trades"] == 2
    assert result.dates == [d.strftime("%Y-%m-%d") for d in V_DATES]


def test_position_ignores_repeat_entries_and_exit_wins_same_day() -> None:
    entries = [0, 1, 1, 0, 1, 1, 0, 1, 0]
    exits = [1, 0, 0, 1, 0, 1, 0, 1, 1]
    assert position_from_signals(entries, exits).tolist() == [0, 1, 1, 0, 1, 0, 0, 0, 0]
    assert position_from_signals([0, 0], [0, 0]).tolist() == [0, 0]


def test_repeated_entry_signals_open_a_single_trade() -> None:
    # Momentum(lookback 2, threshold 5%) signals an entry on every day from
    # index 3 on; only the first one may open a trade.
    closes = [100, 101, 102, 110, 120, 130, 140, 150]
    params = resolve_parameters("momentum", {"lookback": 2, "threshold": 0.05})
    entries, _ = STRATEGIES["momentum"].signals(_bars(closes)["close"], params)
    assert entries.sum() == 5
    result = run_backtest(_bars(closes), "momentum", params, fees=FEES, slippage=SLIPPAGE)
    assert len(result.trades) == 1
    trade = result.trades[0]
    assert trade["entry_date"] == "2024-01-04"
    assert trade["status"] == "open"
    assert trade["exit_price"] == 150.0
    by_hand = (1 - FEES) / (1 + SLIPPAGE) * 150 / 110 - 1
    assert trade["return"] == pytest.approx(by_hand, rel=1e-12)
    assert result.metrics["win_rate"] == 1.0


def test_no_signal_means_flat_equity_and_undefined_ratios() -> None:
    params = resolve_parameters("momentum", {"lookback": 2, "threshold": 0.5})
    result = run_backtest(_bars([100, 101, 102, 103, 104]), "momentum", params)
    assert result.trades == []
    assert result.equity == [CAPITAL] * 5
    m = result.metrics
    assert (m["total_return"], m["max_drawdown"], m["total_trades"]) == (0.0, 0.0, 0)
    for key in ("sharpe_ratio", "sortino_ratio", "calmar_ratio", "win_rate", "profit_factor"):
        assert m[key] is None, key


def test_max_drawdown_of_known_curve() -> None:
    m = compute_metrics(np.array([100.0, 120.0, 90.0, 130.0, 65.0]), np.array([]))
    assert m["max_drawdown"] == pytest.approx(0.5, rel=1e-15)
    assert m["total_return"] == pytest.approx(-0.35, rel=1e-15)
    assert m["calmar_ratio"] == pytest.approx(m["annual_return"] / 0.5, rel=1e-15)


def test_sharpe_and_sortino_by_hand() -> None:
    returns = [0.01, -0.02, 0.03, 0.005]
    equity = 100.0 * np.cumprod([1.0, *(1 + r for r in returns)])
    m = compute_metrics(equity, np.array([]))
    sharpe = statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(252)
    assert m["sharpe_ratio"] == pytest.approx(sharpe, rel=1e-9)
    # Downside deviation: sqrt(mean([0, 0.02**2, 0, 0])) = 0.01.
    assert m["sortino_ratio"] == pytest.approx(0.00625 / 0.01 * math.sqrt(252), rel=1e-9)


def test_sortino_none_without_a_losing_day() -> None:
    m = compute_metrics(np.array([100.0, 101.0, 101.0, 103.0]), np.array([5.0]))
    assert m["sortino_ratio"] is None
    assert m["sharpe_ratio"] is not None


def test_ratios_none_with_fewer_than_two_returns() -> None:
    m = compute_metrics(np.array([100.0, 110.0]), np.array([]))
    assert m["sharpe_ratio"] is None and m["sortino_ratio"] is None
    assert m["total_return"] == pytest.approx(0.1)


def test_profit_factor_and_win_rate_on_known_pnls() -> None:
    m = compute_metrics(np.array([1.0, 1.0]), np.array([100.0, -50.0, 30.0, -25.0, 0.0]))
    assert m["win_rate"] == pytest.approx(0.4)
    assert m["profit_factor"] == pytest.approx(130.0 / 75.0)
    assert m["total_trades"] == 5
    no_loss = compute_metrics(np.array([1.0, 1.0]), np.array([10.0, 20.0]))
    assert no_loss["profit_factor"] is None
    assert no_loss["win_rate"] == 1.0


def test_cagr_over_exactly_one_year_equals_total_return() -> None:
    rng = np.random.default_rng(7)
    equity = 100.0 * np.cumprod(1 + rng.normal(0.0005, 0.01, 253))
    m = compute_metrics(equity, np.array([]))
    assert m["annual_return"] == pytest.approx(m["total_return"], rel=1e-12)
    assert m["annual_return"] == pytest.approx(equity[-1] / equity[0] - 1, rel=1e-12)


def test_metrics_are_plain_floats_and_strict_json() -> None:
    m = compute_metrics(np.array([100.0, 120.0, 90.0, 130.0]), np.array([1.0, -2.0]))
    json.dumps(m, allow_nan=False)
    for key in METRIC_KEYS:
        expected = int if key == "total_trades" else float
        assert type(m[key]) is expected, key


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_runs_on_three_years(strategy: str) -> None:
    bars = MarketDataCache(maxsize=4).bars("MSFT", *THREE_YEARS)
    params = resolve_parameters(strategy, None)
    result = run_backtest(bars, strategy, params)
    assert isinstance(result, BacktestResult)
    assert set(result.metrics) == set(METRIC_KEYS)
    document = {"metrics": result.metrics, "dates": result.dates, "trades": result.trades}
    json.dumps({**document, "equity": result.equity}, allow_nan=False)
    assert len(result.dates) == len(result.equity) == len(bars)
    assert len(result.daily_returns) == len(bars) - 1
    assert result.metrics["total_trades"] == len(result.trades) == len(result.trade_returns)
    pnl = sum(t["pnl"] for t in result.trades)
    assert pnl == pytest.approx(result.equity[-1] - CAPITAL, abs=1e-6)
    assert all(t["status"] == "closed" for t in result.trades[:-1])
    again = run_backtest(bars, strategy, params)
    assert again.equity == result.equity and again.metrics == result.metrics


def test_warm_up_never_signals_and_rsi_extremes() -> None:
    falling = pd.Series(np.linspace(200.0, 100.0, 40))
    params = resolve_parameters("rsi", {"period": 14})
    entries, exits = STRATEGIES["rsi"].signals(falling, params)
    assert not entries[:14].any() and entries[14:].all()  # RSI 0 once warmed up
    assert not exits.any()
    _, exits_up = STRATEGIES["rsi"].signals(falling[::-1].reset_index(drop=True), params)
    assert not exits_up[:14].any() and exits_up[14:].all()  # RSI 100


def test_cross_counts_a_touch_as_below_and_warm_up_never_signals() -> None:
    # SMA(2) == SMA(3) == 10 on indices 2-3 (a tie is "not above"); on index 4
    # SMA(2) = 10.5 > SMA(3) = 10.33: that is the cross. Index 1 has no SMA(3).
    params = resolve_parameters("sma_cross", {"fast_period": 2, "slow_period": 3})
    entries, exits = STRATEGIES["sma_cross"].signals(pd.Series([10.0, 10, 10, 10, 11]), params)
    assert entries.tolist() == [False, False, False, False, True]
    assert not exits.any()


def test_bollinger_signals_by_hand() -> None:
    # Window [10, 10, 7]: mid 9, sample std sqrt(3) -> lower band 7.27 > 7: entry.
    # Window [10, 7, 8.5]: mid 8.5, lower 7; the close 8.5 sits between the
    # bands (only equal to mid), so no signal. Window [7, 8.5, 12]: 12 > mid: exit.
    params = resolve_parameters("bollinger", {"period": 3, "std_dev": 1.0})
    closes = pd.Series([10.0, 10, 10, 7, 8.5, 12])
    entries, exits = STRATEGIES["bollinger"].signals(closes, params)
    assert entries.tolist() == [False, False, False, True, False, False]
    assert exits.tolist() == [False, False, False, False, False, True]


def test_macd_enters_once_after_the_bottom_of_a_v() -> None:
    closes = pd.Series(np.concatenate([np.linspace(200, 100, 61), np.linspace(101, 160, 60)]))
    entries, exits = STRATEGIES["macd"].signals(closes, resolve_parameters("macd", None))
    assert entries.sum() == 1 and 60 < int(np.flatnonzero(entries)[0]) < 70
    assert not exits.any()


# --------------------------------------------------------------------------- strategies


def test_resolve_fills_defaults_and_coerces_types() -> None:
    assert resolve_parameters("sma_cross", None) == {"fast_period": 10, "slow_period": 20}
    got = resolve_parameters("rsi", {"period": 10.0, "oversold": 25})
    assert got == {"period": 10, "oversold": 25.0, "overbought": 70.0}
    assert type(got["period"]) is int and type(got["oversold"]) is float


@pytest.mark.parametrize(
    ("strategy", "given", "code", "field"),
    [
        ("nope", {}, "unknown_strategy", None),
        ("sma_cross", {"speed": 3}, "invalid_parameter", "speed"),
        ("sma_cross", {"fast_period": True}, "invalid_parameter", "fast_period"),
        ("momentum", {"threshold": True}, "invalid_parameter", "threshold"),  # 1 is in range
        ("sma_cross", {"fast_period": "10"}, "invalid_parameter", "fast_period"),
        ("sma_cross", {"fast_period": None}, "invalid_parameter", "fast_period"),
        ("sma_cross", {"fast_period": 10.5}, "invalid_parameter", "fast_period"),
        ("rsi", {"oversold": float("nan")}, "invalid_parameter", "oversold"),
        ("rsi", {"oversold": float("inf")}, "invalid_parameter", "oversold"),
        ("sma_cross", {"fast_period": 1}, "invalid_parameter", "fast_period"),
        ("sma_cross", {"slow_period": 401}, "invalid_parameter", "slow_period"),
        ("momentum", {"threshold": 10**400}, "invalid_parameter", "threshold"),
        ("sma_cross", {"fast_period": 20, "slow_period": 20}, "invalid_parameter", "fast_period"),
        ("rsi", {"oversold": 50, "overbought": 50}, "invalid_parameter", "oversold"),
        ("macd", {"slow": 12}, "invalid_parameter", "slow"),
    ],
)
def test_resolve_rejections(strategy: str, given: dict, code: str, field: str | None) -> None:
    with pytest.raises(ParameterError) as info:
        resolve_parameters(strategy, given)
    assert info.value.code == code
    assert info.value.field == field
    assert (field or strategy) in str(info.value)


def test_resolve_rejects_non_mapping() -> None:
    with pytest.raises(ParameterError) as info:
        resolve_parameters("sma_cross", [1, 2])  # type: ignore[arg-type]
    assert info.value.code == "invalid_parameter"


def test_catalogue_shape_and_defaults_resolve() -> None:
    cat = catalogue()
    json.dumps(cat, allow_nan=False)
    assert [s["name"] for s in cat] == ["sma_cross", "rsi", "macd", "bollinger", "momentum"]
    sma = cat[0]
    assert sma["defaults"] == {"fast_period": 10, "slow_period": 20}
    assert sma["parameters"]["fast_period"] == {"type": "int", "default": 10, "min": 2, "max": 200}
    assert cat[1]["parameters"]["oversold"]["type"] == "float"
    for entry in cat:
        assert resolve_parameters(entry["name"], entry["defaults"]) == entry["defaults"]


# --------------------------------------------------------------------------- market data


def test_bars_are_deterministic_in_process_and_case_insensitive() -> None:
    first, second = generate_bars("AAPL"), generate_bars("aapl")
    pd.testing.assert_frame_equal(first, second)
    assert not np.array_equal(first["close"].to_numpy(), generate_bars("MSFT")["close"])
    assert symbol_seed("AAPL") != symbol_seed("MSFT")


def test_bars_are_deterministic_across_processes() -> None:
    code = (
        "import hashlib, pandas as pd\n"
        "from target.market_data import generate_bars, symbol_seed\n"
        "df = generate_bars('AAPL')\n"
        "h = pd.util.hash_pandas_object(df, index=True).to_numpy()\n"
        "print(symbol_seed('AAPL'), hashlib.sha256(h.tobytes()).hexdigest())\n"
    )
    expected = f"{symbol_seed('AAPL')} {_frame_digest(generate_bars('AAPL'))}"
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected


@pytest.mark.parametrize("symbol", ["AAPL", "ZZZZ", "BRK.B", "X"])
def test_ohlc_invariant_over_whole_range(symbol: str) -> None:
    df = generate_bars(symbol)
    o, h, lo, c = (df[k].to_numpy() for k in ("open", "high", "low", "close"))
    assert (lo <= np.minimum(o, c)).all() and (h >= np.maximum(o, c)).all()
    assert (lo > 0).all()
    for col in (o, h, lo, c):
        assert (np.round(col, 4) == col).all()
    assert df["volume"].dtype == np.int64 and (df["volume"] > 0).all()


def test_only_business_days_in_full_range() -> None:
    idx = generate_bars("AAPL").index
    assert (idx.day_of_week < 5).all()
    assert idx.is_monotonic_increasing and idx.is_unique
    assert idx[0].date() == DATA_START and idx[-1].date() == DATA_END  # both Mondays
    assert len(idx) == np.busday_count(DATA_START, DATA_END + timedelta(days=1))


def test_cache_lru_counts_and_eviction() -> None:
    cache = MarketDataCache(maxsize=2)
    day = date(2024, 1, 2)
    for sym in ("AAA", "aaa", "BBB", "AAA", "CCC"):  # CCC evicts BBB (least recent)
        cache.bars(sym, day, day)
    assert (cache.hits, cache.misses) == (2, 3)
    cache.bars("AAA", day, day)
    assert cache.hits == 3
    cache.bars("BBB", day, day)  # evicted earlier: a miss, and now evicts CCC
    assert (cache.hits, cache.misses) == (3, 4)
    cache.bars("CCC", day, day)
    assert cache.cache_info() == {"hits": 3, "misses": 5, "size": 2, "maxsize": 2}


def test_cache_slices_inclusively_and_payload_is_plain() -> None:
    cache = MarketDataCache()
    week = cache.bars("AAPL", date(2024, 1, 2), date(2024, 1, 5))  # Tue..Fri
    assert week.index.strftime("%Y-%m-%d").tolist() == [f"2024-01-0{d}" for d in (2, 3, 4, 5)]
    assert len(cache.bars("AAPL", date(2024, 1, 6), date(2024, 1, 8))) == 1  # Sat..Mon
    assert len(cache.bars("AAPL", date(2024, 1, 8), date(2024, 1, 5))) == 0

    payload = cache.to_payload("aapl", date(2024, 1, 1), date(2024, 12, 31))
    json.dumps(payload, allow_nan=False)
    assert payload["symbol"] == "AAPL" and payload["count"] == 262
    assert (payload["start"], payload["end"]) == ("2024-01-01", "2024-12-31")
    bars = payload["bars"]
    assert all(len(v) == 262 for v in bars.values())
    assert bars["date"][0] == "2024-01-01" and type(bars["volume"][0]) is int
    assert type(bars["close"][0]) is float
    full = generate_bars("AAPL").loc["2024-01-01":"2024-12-31"]
    assert bars["close"] == full["close"].tolist()
