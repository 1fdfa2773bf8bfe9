"""Request bodies and the semantic checks pydantic cannot express.

Pydantic (strict, no extra fields) checks the shape; ``checked_*`` functions
check meaning (a real ticker, a possible date range) and raise ``ApiError``
with a specific code, so a client always learns exactly what was wrong.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from target.market_data import DATA_END, DATA_START

SYMBOL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9.\-]{0,9}$")
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
MAX_RANGE_DAYS = 20 * 366
MIN_TRADING_DAYS = 2
MAX_RUNS = 10_000
MAX_BATCH_SYMBOLS = 100
DEFAULT_END = date(2024, 12, 31)

DateText = Annotated[str, Field(pattern=DATE_PATTERN, examples=["2022-01-03"])]


class ApiError(Exception):
    """A client-facing error: status, stable code, human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BacktestRequest(_Strict):
    symbol: Annotated[str, Field(examples=["AAPL"])]
    strategy: Annotated[str, Field(examples=["sma_cross"])]
    parameters: dict[str, Any] | None = None
    start: DateText
    end: DateText
    initial_capital: Annotated[float, Field(gt=0, le=1e12)] = 100_000.0
    fees: Annotated[float, Field(ge=0, lt=0.1)] = 0.001
    slippage: Annotated[float, Field(ge=0, lt=0.1)] = 0.0005


class MonteCarloJob(_Strict):
    kind: Literal["monte_carlo"]
    symbol: str
    strategy: str
    parameters: dict[str, Any] | None = None
    start: DateText
    end: DateText
    num_runs: Annotated[int, Field(ge=1, le=MAX_RUNS)] = 1000


class BatchBacktestJob(_Strict):
    kind: Literal["batch_backtest"]
    symbols: Annotated[list[str], Field(min_length=1, max_length=MAX_BATCH_SYMBOLS)]
    strategy: str
    parameters: dict[str, Any] | None = None
    start: DateText
    end: DateText


JobRequest = Annotated[MonteCarloJob | BatchBacktestJob, Field(discriminator="kind")]


def checked_symbol(symbol: str) -> str:
    if not SYMBOL_RE.match(symbol):
        raise ApiError(
            422,
            "invalid_symbol",
            f"symbol must be a ticker of 1-10 letters, digits, '.' or '-': {symbol[:20]!r}",
        )
    return symbol.upper()


def _parse_date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ApiError(
            422, "invalid_date_range", f"{name} must be a real date YYYY-MM-DD: {str(text)[:20]!r}"
        ) from None


def checked_range(start: str | None, end: str | None) -> tuple[date, date]:
    """Dates inside the data, start before end, at most ``MAX_RANGE_DAYS`` apart."""
    end_d = _parse_date(end, "end") if end is not None else DEFAULT_END
    start_d = _parse_date(start, "start") if start is not None else end_d - timedelta(days=365)
    if end_d <= start_d:
        raise ApiError(422, "invalid_date_range", "end must be after start")
    if start_d < DATA_START or end_d > DATA_END:
        raise ApiError(
            422,
            "invalid_date_range",
            f"data covers {DATA_START.isoformat()} to {DATA_END.isoformat()}",
        )
    if (end_d - start_d).days > MAX_RANGE_DAYS:
        raise ApiError(422, "invalid_date_range", "date range longer than 20 years")
    if np.busday_count(start_d, end_d + timedelta(days=1)) < MIN_TRADING_DAYS:
        raise ApiError(
            422,
            "invalid_date_range",
            f"the range must hold at least {MIN_TRADING_DAYS} trading days",
        )
    return start_d, end_d
