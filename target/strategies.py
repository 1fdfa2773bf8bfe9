"""Strategy catalogue and parameter validation for the reference target.

The API layer only needs three things from here: the catalogue it publishes at
``GET /v1/strategies``, a strict validator that turns a client's ``parameters``
object into a complete, typed parameter dict (or a ``ParameterError`` carrying
the API error code), and per-strategy signal functions the engine calls.
Everything is pure: no I/O, no global state beyond the immutable catalogue.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Error codes, identical to the ones in docs/target-api.md so the API layer can
#: pass ``ParameterError.code`` straight through.
UNKNOWN_STRATEGY = "unknown_strategy"
INVALID_PARAMETER = "invalid_parameter"

#: JSON type names used in the catalogue, keyed by the Python type of a param.
TYPE_NAMES: dict[type, str] = {int: "int", float: "float"}

Number = int | float
Params = Mapping[str, Number]
SignalFn = Callable[[pd.Series, Params], tuple[pd.Series, pd.Series]]


class ParameterError(ValueError):
    """A client mistake in ``strategy``/``parameters``; maps to HTTP 422.

    ``code`` is the API error code and ``field`` the offending parameter name
    (``None`` for an unknown strategy), so the API layer never has to parse the
    message.
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class ParamSpec:
    """One tunable parameter: its type, default and inclusive range."""

    name: str
    kind: type
    default: Number
    minimum: Number
    maximum: Number


@dataclass(frozen=True)
class StrategyTemplate:
    """A catalogue entry: metadata, parameter specs and the signal function.

    ``less_than`` lists ``(a, b)`` pairs meaning ``params[a] < params[b]`` must
    hold; they are cross-parameter constraints a range cannot express.
    """

    name: str
    description: str
    params: tuple[ParamSpec, ...]
    signal_fn: SignalFn = field(repr=False, compare=False)
    less_than: tuple[tuple[str, str], ...] = ()

    def signals(self, close: pd.Series, params: Params) -> tuple[pd.Series, pd.Series]:
        """Return boolean ``(entries, exits)`` aligned with ``close``.

        ``params`` must already be resolved (see ``resolve_parameters``).
        Warm-up periods (NaN indicators) never produce a signal.
        """
        return self.signal_fn(close, params)

    def defaults(self) -> dict[str, Number]:
        """Default value of every parameter, in declaration order."""
        return {p.name: p.default for p in self.params}


# --------------------------------------------------------------------------- signals


def _cross_above(a: pd.Series, b: pd.Series) -> pd.Series:
    """``a > b`` today and ``a <= b`` yesterday; NaN on either day is no cross.

    Comparisons against NaN are False, so the warm-up can never signal.
    """
    return (a > b) & (a.shift(1) <= b.shift(1))


def _sma_cross(close: pd.Series, p: Params) -> tuple[pd.Series, pd.Series]:
    fast = close.rolling(int(p["fast_period"])).mean()
    slow = close.rolling(int(p["slow_period"])).mean()
    return _cross_above(fast, slow), _cross_above(slow, fast)


def _rsi(close: pd.Series, p: Params) -> tuple[pd.Series, pd.Series]:
    period = int(p["period"])
    delta = close.diff()
    # Wilder smoothing is an EMA with alpha = 1/period; min_periods keeps the
    # first ``period`` values NaN so a half-formed average never signals.
    smooth = {"alpha": 1.0 / period, "adjust": False, "min_periods": period}
    avg_gain = delta.clip(lower=0.0).ewm(**smooth).mean()
    avg_loss = (-delta).clip(lower=0.0).ewm(**smooth).mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)  # loss 0 -> RSI 100
    return rsi < float(p["oversold"]), rsi > float(p["overbought"])


def _macd(close: pd.Series, p: Params) -> tuple[pd.Series, pd.Series]:
    fast, slow, sig = int(p["fast"]), int(p["slow"]), int(p["signal_period"])
    ema_fast = close.ewm(span=fast, adjust=False, min_periods=fast).mean()
    ema_slow = close.ewm(span=slow, adjust=False, min_periods=slow).mean()
    macd = ema_fast - ema_slow
    signal = macd.ewm(span=sig, adjust=False, min_periods=sig).mean()
    return _cross_above(macd, signal), _cross_above(signal, macd)


def _bollinger(close: pd.Series, p: Params) -> tuple[pd.Series, pd.Series]:
    window = close.rolling(int(p["period"]))
    mid = window.mean()
    lower = mid - float(p["std_dev"]) * window.std()
    return close < lower, close > mid


def _momentum(close: pd.Series, p: Params) -> tuple[pd.Series, pd.Series]:
    roc = close / close.shift(int(p["lookback"])) - 1.0
    return roc > float(p["threshold"]), roc < 0.0


# --------------------------------------------------------------------------- catalogue

STRATEGIES: dict[str, StrategyTemplate] = {
    t.name: t
    for t in (
        StrategyTemplate(
            name="sma_cross",
            description="Long when the fast SMA crosses above the slow SMA; "
            "flat when it crosses back below.",
            params=(
                ParamSpec("fast_period", int, 10, 2, 200),
                ParamSpec("slow_period", int, 20, 3, 400),
            ),
            signal_fn=_sma_cross,
            less_than=(("fast_period", "slow_period"),),
        ),
        StrategyTemplate(
            name="rsi",
            description="Mean reversion on Wilder's RSI: long below `oversold`, "
            "flat above `overbought`.",
            params=(
                ParamSpec("period", int, 14, 2, 100),
                ParamSpec("oversold", float, 30.0, 1.0, 50.0),
                ParamSpec("overbought", float, 70.0, 50.0, 99.0),
            ),
            signal_fn=_rsi,
            less_than=(("oversold", "overbought"),),
        ),
        StrategyTemplate(
            name="macd",
            description="Long when the MACD line crosses above its signal line; "
            "flat when it crosses back below.",
            params=(
                ParamSpec("fast", int, 12, 2, 100),
                ParamSpec("slow", int, 26, 3, 200),
                ParamSpec("signal_period", int, 9, 2, 100),
            ),
            signal_fn=_macd,
            less_than=(("fast", "slow"),),
        ),
        StrategyTemplate(
            name="bollinger",
            description="Mean reversion: long when the close drops below the lower "
            "Bollinger band; flat once it closes above the middle band.",
            params=(
                ParamSpec("period", int, 20, 2, 200),
                ParamSpec("std_dev", float, 2.0, 0.5, 5.0),
            ),
            signal_fn=_bollinger,
        ),
        StrategyTemplate(
            name="momentum",
            description="Long when the `lookback`-day rate of change exceeds "
            "`threshold`; flat when it turns negative.",
            params=(
                ParamSpec("lookback", int, 20, 2, 250),
                ParamSpec("threshold", float, 0.05, 0.0, 1.0),
            ),
            signal_fn=_momentum,
        ),
    )
}


def get_strategy(strategy: str) -> StrategyTemplate:
    """Look a strategy up, raising ``ParameterError(unknown_strategy)`` if absent."""
    template = STRATEGIES.get(strategy) if isinstance(strategy, str) else None
    if template is None:
        known = ", ".join(STRATEGIES)
        raise ParameterError(
            UNKNOWN_STRATEGY, f"unknown strategy {strategy!r}; expected one of: {known}"
        )
    return template


def catalogue() -> list[dict[str, Any]]:
    """The JSON-ready catalogue served at ``GET /v1/strategies``."""
    return [
        {
            "name": t.name,
            "description": t.description,
            "defaults": t.defaults(),
            "parameters": {
                p.name: {
                    "type": TYPE_NAMES[p.kind],
                    "default": p.default,
                    "min": p.minimum,
                    "max": p.maximum,
                }
                for p in t.params
            },
        }
        for t in STRATEGIES.values()
    ]


# --------------------------------------------------------------------------- validation


def _coerce(spec: ParamSpec, value: Any) -> Number:
    """Check one value's type, finiteness and range; return it as ``spec.kind``.

    JSON has one number type, so an int parameter accepts an integral float
    (``10.0`` -> ``10``) but never ``10.5``; ``True`` is never a number even
    though ``bool`` subclasses ``int``.
    """
    name = spec.name
    kind = TYPE_NAMES[spec.kind]
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float):
        raise ParameterError(
            INVALID_PARAMETER,
            f"parameter {name!r} must be a number ({kind}), got {type(value).__name__}",
            name,
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(INVALID_PARAMETER, f"parameter {name!r} must be finite", name)
    if spec.kind is int and isinstance(value, float) and not value.is_integer():
        raise ParameterError(
            INVALID_PARAMETER, f"parameter {name!r} must be an integer, got {value!r}", name
        )
    # Compare before converting: float(huge int) would overflow.
    if not spec.minimum <= value <= spec.maximum:
        raise ParameterError(
            INVALID_PARAMETER,
            f"parameter {name!r} must be between {spec.minimum} and {spec.maximum}, got {value!r}",
            name,
        )
    return int(value) if spec.kind is int else float(value)


def resolve_parameters(strategy: str, given: Mapping[str, Any] | None) -> dict[str, Number]:
    """Validate ``given`` against ``strategy`` and fill in the defaults.

    Raises ``ParameterError`` with code ``unknown_strategy`` or
    ``invalid_parameter``; the result is complete and correctly typed, so the
    engine never re-validates.
    """
    template = get_strategy(strategy)
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise ParameterError(INVALID_PARAMETER, "parameters must be an object", None)
    specs = {p.name: p for p in template.params}
    unknown = [k for k in given if k not in specs]
    if unknown:
        bad = unknown[0]
        raise ParameterError(
            INVALID_PARAMETER,
            f"unknown parameter {bad!r} for strategy {template.name!r}; "
            f"expected: {', '.join(specs)}",
            bad if isinstance(bad, str) else str(bad),
        )
    resolved = {
        name: _coerce(spec, given[name]) if name in given else spec.default
        for name, spec in specs.items()
    }
    for low, high in template.less_than:
        if not resolved[low] < resolved[high]:
            raise ParameterError(
                INVALID_PARAMETER,
                f"parameter {low!r} ({resolved[low]}) must be less than "
                f"{high!r} ({resolved[high]})",
                low if low in given else high,
            )
    return resolved
