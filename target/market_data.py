"""Deterministic synthetic daily OHLCV bars and their LRU cache.

The reference target must return the same prices for a symbol on every run,
in every process, on every machine, so that backtest results (and the load
test's assertions about them) are reproducible without shipping a data set.
Each symbol seeds a numpy ``Generator`` from a SHA-256 digest of its name
(Python's ``hash()`` is salted per process) and the whole 1990-2035 history is
generated in one vectorised pass; requests then slice that series.
"""

from __future__ import annotations

import functools
import hashlib
import math
import threading
from collections import OrderedDict
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

DATA_START = date(1990, 1, 1)
DATA_END = date(2035, 12, 31)
TRADING_DAYS_PER_YEAR = 252
PRICE_DECIMALS = 4
COLUMNS = ("open", "high", "low", "close", "volume")

# Per-symbol characteristics, drawn from the symbol's seed.
START_PRICE_RANGE = (20.0, 500.0)
ANNUAL_VOL_RANGE = (0.15, 0.45)
#: Annual drift of the log price; mildly positive on average, like equities.
ANNUAL_LOG_DRIFT_RANGE = (-0.02, 0.10)
#: Base daily volume, drawn log-uniformly.
BASE_VOLUME_RANGE = (1e5, 5e7)

#: Closes are reflected into this band (in log space). Over 46 years a plain
#: geometric walk at 45% vol can reach fractions of a cent, where 4-decimal
#: rounding would destroy returns and a zero close would divide by zero.
PRICE_FLOOR = 1.0
PRICE_CEILING = 10_000.0
#: Overnight gap and intraday wick sizes, as fractions of the daily vol.
GAP_VOL_FRACTION = 0.25
WICK_VOL_FRACTION = 0.5
#: Wicks never exceed this fraction, which keeps lows strictly positive.
MAX_WICK = 0.5
#: Day-to-day volume dispersion (log-normal sigma) and its link to |return|.
VOLUME_LOG_SIGMA = 0.3
VOLUME_SHOCK_SENSITIVITY = 0.5

DEFAULT_CACHE_SIZE = 512


def symbol_seed(symbol: str) -> int:
    """Stable 64-bit seed: first 8 bytes of SHA-256 of the upper-cased symbol."""
    digest = hashlib.sha256(symbol.upper().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


@functools.lru_cache(maxsize=1)
def business_days() -> pd.DatetimeIndex:
    """All business days in the data range (one shared, immutable index)."""
    return pd.bdate_range(DATA_START, DATA_END, name="date")


@functools.lru_cache(maxsize=1)
def _day_numbers() -> np.ndarray:
    """``business_days()`` as ``datetime64[D]`` for fast searchsorted/formatting."""
    days = np.asarray(business_days().values).astype("datetime64[D]")
    days.setflags(write=False)
    return days


def _fold(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect ``x`` into ``[lo, hi]`` (a triangle wave; vectorised reflection)."""
    width = hi - lo
    y = np.mod(x - lo, 2.0 * width)
    return lo + width - np.abs(y - width)


def generate_bars(symbol: str) -> pd.DataFrame:
    """Full-range OHLCV for ``symbol`` (case-insensitive), identical on every call.

    Closes are a geometric random walk with per-symbol drift and volatility;
    opens gap slightly from the previous close; highs/lows wrap both with
    positive wicks. After rounding to 4 decimals, ``low <= open, close <= high``
    holds on every bar and volume is a positive integer.
    """
    rng = np.random.default_rng(symbol_seed(symbol))
    index = business_days()
    n = len(index)
    # Scalar draws first, in a fixed order, then fixed-size arrays: the stream
    # layout must never depend on anything but the seed.
    start_price = rng.uniform(*START_PRICE_RANGE)
    annual_vol = rng.uniform(*ANNUAL_VOL_RANGE)
    annual_drift = rng.uniform(*ANNUAL_LOG_DRIFT_RANGE)
    base_volume = math.exp(rng.uniform(*np.log(BASE_VOLUME_RANGE)))
    shocks = rng.standard_normal(n)
    gaps = rng.standard_normal(n)
    wick_up = rng.standard_normal(n)
    wick_down = rng.standard_normal(n)
    volume_noise = rng.standard_normal(n)

    daily_vol = annual_vol / math.sqrt(TRADING_DAYS_PER_YEAR)
    log_returns = annual_drift / TRADING_DAYS_PER_YEAR + daily_vol * shocks
    log_close = _fold(
        math.log(start_price) + np.cumsum(log_returns),
        math.log(PRICE_FLOOR),
        math.log(PRICE_CEILING),
    )
    close = np.exp(log_close)
    prev_close = np.concatenate(([start_price], close[:-1]))
    open_ = prev_close * np.exp(GAP_VOL_FRACTION * daily_vol * gaps)
    up = np.minimum(np.abs(WICK_VOL_FRACTION * daily_vol * wick_up), MAX_WICK)
    down = np.minimum(np.abs(WICK_VOL_FRACTION * daily_vol * wick_down), MAX_WICK)
    high = np.maximum(open_, close) * (1.0 + up)
    low = np.minimum(open_, close) * (1.0 - down)

    open_r = np.round(open_, PRICE_DECIMALS)
    close_r = np.round(close, PRICE_DECIMALS)
    # Re-impose the OHLC invariant on the rounded values. Rounding is monotone,
    # so this is a no-op today; it makes the guarantee independent of how the
    # wicks above are generated.
    high_r = np.maximum(np.round(high, PRICE_DECIMALS), np.maximum(open_r, close_r))
    low_r = np.minimum(np.round(low, PRICE_DECIMALS), np.minimum(open_r, close_r))
    volume = base_volume * np.exp(VOLUME_LOG_SIGMA * volume_noise)
    volume *= 1.0 + VOLUME_SHOCK_SENSITIVITY * np.abs(shocks)
    volume_i = np.maximum(np.rint(volume), 1).astype(np.int64)

    return pd.DataFrame(
        {"open": open_r, "high": high_r, "low": low_r, "close": close_r, "volume": volume_i},
        index=index,
    )


def _as_day(d: date) -> np.datetime64:
    """A ``date`` (or ``datetime``, time dropped) as ``datetime64[D]``."""
    return np.datetime64(date(d.year, d.month, d.day), "D")


class MarketDataCache:
    """Thread-safe LRU of full generated series, keyed by upper-cased symbol.

    A full series is ~12,000 bars (~0.5 MB), so the default 512 entries bound
    the cache at roughly 250 MB. Generation runs outside the lock so that one
    slow miss never blocks hits on other symbols; two threads missing the same
    symbol at once both generate it (identically) and both count as misses.
    """

    def __init__(self, maxsize: int = DEFAULT_CACHE_SIZE) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[str, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def series(self, symbol: str) -> pd.DataFrame:
        """The full-range frame for ``symbol``; do not mutate it."""
        key = symbol.upper()
        with self._lock:
            frame = self._data.get(key)
            if frame is not None:
                self._data.move_to_end(key)
                self.hits += 1
                return frame
            self.misses += 1
        frame = generate_bars(key)
        with self._lock:
            existing = self._data.get(key)
            if existing is not None:
                self._data.move_to_end(key)
                return existing
            self._data[key] = frame
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return frame

    @staticmethod
    def _bounds(start: date, end: date) -> tuple[int, int]:
        """Row range ``[i, j)`` of business days within ``start..end`` inclusive."""
        days = _day_numbers()
        i = int(np.searchsorted(days, _as_day(start), side="left"))
        j = int(np.searchsorted(days, _as_day(end), side="right"))
        return i, max(i, j)

    def bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Bars with ``start <= date <= end`` (inclusive; empty if end < start).

        The slice shares memory with the cached series; pandas copy-on-write
        keeps the cache intact if a caller modifies it.
        """
        i, j = self._bounds(start, end)
        return self.series(symbol).iloc[i:j]

    def to_payload(self, symbol: str, start: date, end: date) -> dict[str, Any]:
        """JSON-ready market-data document; ``start``/``end`` echo the request."""
        frame = self.series(symbol)
        i, j = self._bounds(start, end)
        bars: dict[str, list[Any]] = {
            "date": np.datetime_as_string(_day_numbers()[i:j], unit="D").tolist()
        }
        for column in COLUMNS:
            bars[column] = frame[column].to_numpy()[i:j].tolist()
        return {
            "symbol": symbol.upper(),
            "start": _as_day(start).item().isoformat(),
            "end": _as_day(end).item().isoformat(),
            "count": j - i,
            "bars": bars,
        }

    def cache_info(self) -> dict[str, int]:
        """Counters for /metrics (``quantload_cache_*_total{cache="market_data"}``)."""
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "size": len(self._data),
                "maxsize": self.maxsize,
            }

    def clear(self) -> None:
        """Drop every cached series and reset the counters."""
        with self._lock:
            self._data.clear()
            self.hits = 0
            self.misses = 0
