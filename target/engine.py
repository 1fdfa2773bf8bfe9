"""Vectorised long-only backtest engine.

The target has to answer backtest requests fast enough that a load test
measures the web stack and queueing, not Python loops, so everything that runs
per day is numpy: the position is a forward-filled state array and the equity
curve is ``initial_capital * cumprod(daily_factor)``. Only the (short) list of
trades is built with a Python loop. The module is pure and deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from target.strategies import get_strategy

#: Trading days per year used to annualise returns and ratios.
ANNUALISATION = 252
#: Risk-free rate for Sharpe/Sortino (per the API contract).
RISK_FREE_RATE = 0.0
DEFAULT_INITIAL_CAPITAL = 100_000.0
DEFAULT_FEES = 0.001
DEFAULT_SLIPPAGE = 0.0005

TRADE_CLOSED = "closed"
TRADE_OPEN = "open"

METRIC_KEYS = (
    "total_return",
    "annual_return",
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "total_trades",
)


@dataclass(frozen=True)
class BacktestResult:
    """Everything the API needs to render a backtest, already JSON-friendly.

    ``daily_returns`` (len(equity) - 1) and ``trade_returns`` stay numpy arrays
    for consumers such as Monte Carlo resampling; they are not meant for JSON.
    """

    metrics: dict[str, Any]
    dates: list[str]
    equity: list[float]
    trades: list[dict[str, Any]]
    daily_returns: np.ndarray = field(repr=False)
    trade_returns: np.ndarray = field(repr=False)


def position_from_signals(entries: Any, exits: Any) -> np.ndarray:
    """Position (0/1, int8) held after each day's close.

    An entry sets 1, an exit sets 0, and the state is forward-filled from the
    last signal; before any signal the book is flat. An exit beats an entry on
    the same day, so an ambiguous day never opens a position. Repeated entries
    while long (or exits while flat) are no-ops because they re-set the same
    state. Signals must be boolean (NaN-free) array-likes of equal length.
    """
    e = np.asarray(entries, dtype=bool)
    x = np.asarray(exits, dtype=bool)
    if e.shape != x.shape or e.ndim != 1:
        raise ValueError("entries and exits must be 1-D and of equal length")
    # Index of the latest day carrying a signal, -1 before the first one.
    last = np.where(e | x, np.arange(e.size), -1)
    np.maximum.accumulate(last, out=last)
    state = (e & ~x).astype(np.int8)
    return np.where(last >= 0, state[np.maximum(last, 0)], 0).astype(np.int8)


def _daily_factors(
    close: np.ndarray, position: np.ndarray, fees: float, slippage: float
) -> np.ndarray:
    """Per-day equity multipliers implementing the fill model.

    Entry at close*(1+s) with fees on the cash; exit at close*(1-s) with fees
    on the proceeds; held days are marked to the close.
    """
    prev = np.concatenate(([0], position[:-1]))
    growth = np.ones_like(close)
    growth[1:] = close[1:] / close[:-1]
    entry = (position == 1) & (prev == 0)
    held = (position == 1) & (prev == 1)
    exit_ = (position == 0) & (prev == 1)
    factor = np.ones_like(close)
    factor[entry] = (1.0 - fees) / (1.0 + slippage)
    factor[held] = growth[held]
    factor[exit_] = growth[exit_] * (1.0 - slippage) * (1.0 - fees)
    return factor


def _finite_or_none(value: float) -> float | None:
    """Plain float, or None where the value is NaN/inf (keeps JSON strict)."""
    value = float(value)
    return value if math.isfinite(value) else None


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den == 0.0:
        return None
    return _finite_or_none(num / den)


def compute_metrics(equity: np.ndarray, trade_pnls: np.ndarray) -> dict[str, Any]:
    """Performance metrics of an equity curve and its trades' P&L.

    Undefined values (zero denominators, no trades, fewer than two daily
    returns) are ``None``, never NaN/inf, so the result always passes
    ``json.dumps(..., allow_nan=False)``. All floats are plain Python floats.
    """
    eq = np.asarray(equity, dtype=float)
    pnls = np.asarray(trade_pnls, dtype=float)
    total_trades = int(pnls.size)
    out: dict[str, Any] = dict.fromkeys(METRIC_KEYS)
    out["total_trades"] = total_trades
    if total_trades:
        out["win_rate"] = float(np.count_nonzero(pnls > 0) / total_trades)
        out["profit_factor"] = _ratio(pnls[pnls > 0].sum(), abs(pnls[pnls < 0].sum()))
    if eq.size == 0 or not eq[0] > 0:
        return out

    growth = eq[-1] / eq[0]
    n = eq.size - 1
    out["total_return"] = _finite_or_none(growth - 1.0)
    out["max_drawdown"] = _finite_or_none(np.max(1.0 - eq / np.maximum.accumulate(eq)))
    if n >= 1 and growth >= 0:
        try:
            out["annual_return"] = _finite_or_none(growth ** (ANNUALISATION / n) - 1.0)
        except OverflowError:
            out["annual_return"] = None
    if n >= 2:
        r = np.diff(eq) / eq[:-1] - RISK_FREE_RATE / ANNUALISATION
        scale = math.sqrt(ANNUALISATION)
        mean = float(r.mean())
        std = float(r.std(ddof=1))
        downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
        out["sharpe_ratio"] = _ratio(mean * scale, std)
        out["sortino_ratio"] = _ratio(mean * scale, downside)
    out["calmar_ratio"] = _ratio(out["annual_return"], out["max_drawdown"])
    return out


def _date_strings(index: pd.Index) -> list[str]:
    """YYYY-MM-DD strings; numpy formatting is ~50x faster than strftime."""
    values = np.asarray(index.values).astype("datetime64[D]")
    return np.datetime_as_string(values, unit="D").tolist()


def _trades(
    dates: list[str],
    close: np.ndarray,
    position: np.ndarray,
    equity: np.ndarray,
    initial_capital: float,
    slippage: float,
) -> list[dict[str, Any]]:
    """Trade list from position changes; returns/P&L come from the equity curve.

    Using the equity curve (rather than re-deriving from prices) keeps the sum
    of trade P&L exactly consistent with the final equity.
    """
    prev = np.concatenate(([0], position[:-1]))
    entries = np.flatnonzero((position == 1) & (prev == 0))
    exits = np.flatnonzero((position == 0) & (prev == 1))
    last = close.size - 1
    trades = []
    for k, i in enumerate(entries.tolist()):
        cash = float(equity[i - 1]) if i > 0 else initial_capital
        is_open = k >= exits.size
        j = last if is_open else int(exits[k])
        value = float(equity[j])
        exit_price = close[j] if is_open else close[j] * (1.0 - slippage)
        trades.append(
            {
                "entry_date": dates[i],
                "entry_price": float(close[i] * (1.0 + slippage)),
                "exit_date": dates[j],
                "exit_price": float(exit_price),
                "return": value / cash - 1.0,
                "pnl": value - cash,
                "status": TRADE_OPEN if is_open else TRADE_CLOSED,
            }
        )
    return trades


def run_backtest(
    bars: pd.DataFrame,
    strategy: str,
    parameters: Mapping[str, Any],
    *,
    initial_capital: float = DEFAULT_INITIAL_CAPITAL,
    fees: float = DEFAULT_FEES,
    slippage: float = DEFAULT_SLIPPAGE,
) -> BacktestResult:
    """Backtest ``strategy`` on ``bars`` (DatetimeIndex + positive ``close``).

    ``parameters`` must come from ``resolve_parameters``; an unknown strategy
    raises ``ParameterError``. Signals act at the same day's close, as in the
    fill model described in the module docstring.
    """
    if "close" not in bars.columns or len(bars) == 0:
        raise ValueError("bars must be a non-empty frame with a 'close' column")
    if not (initial_capital > 0 and 0 <= fees < 1 and 0 <= slippage < 1):
        raise ValueError("need initial_capital > 0 and 0 <= fees, slippage < 1")
    template = get_strategy(strategy)
    close_s = bars["close"].astype(float)
    close = close_s.to_numpy()
    entries, exits = template.signals(close_s, parameters)
    position = position_from_signals(entries, exits)

    equity = initial_capital * np.cumprod(_daily_factors(close, position, fees, slippage))
    dates = _date_strings(bars.index)
    trades = _trades(dates, close, position, equity, float(initial_capital), slippage)
    trade_pnls = np.fromiter((t["pnl"] for t in trades), dtype=float, count=len(trades))
    trade_returns = np.fromiter((t["return"] for t in trades), dtype=float, count=len(trades))
    return BacktestResult(
        metrics=compute_metrics(equity, trade_pnls),
        dates=dates,
        equity=equity.tolist(),
        trades=trades,
        daily_returns=np.diff(equity) / equity[:-1],
        trade_returns=trade_returns,
    )
