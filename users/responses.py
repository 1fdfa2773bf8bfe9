"""Pure response checks: what a correct answer looks like, and how to say what is wrong.

This module imports neither Locust nor gevent, so tests exercise every
verdict without a server or a monkey-patched process. ``users/api.py`` takes a
snapshot of a Locust response (:class:`RawResponse`), asks :func:`judge` for a
:class:`Verdict`, and reports the verdict's ``failure`` text to Locust.

Failure messages are deliberately stable (no ids, timestamps or byte counts)
because Locust groups failures by their text: one row per kind of problem, not
one per request.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: How much of a non-JSON body a failure message quotes.
BODY_EXCERPT_CHARS = 80
#: How many items of a list are shape-checked (bounds the load generator's CPU per response).
MAX_LIST_ITEMS_CHECKED = 3
#: Seconds to back off after a 429 that carries no usable Retry-After.
DEFAULT_RETRY_AFTER_S = 1.0
#: Exception names that mean "the body ended before its Content-Length" in either HTTP client.
TRUNCATION_ERRORS = frozenset(
    {"IncompleteRead", "ChunkedEncodingError", "ProtocolError", "HTTPConnectionClosed"}
)
#: Error codes are quoted in failures only if they look like codes (keeps garbage grouped).
MAX_ERROR_CODE_CHARS = 40

NUMBER: tuple[type, ...] = (int, float)
OPTIONAL_NUMBER: tuple[type, ...] = (int, float, type(None))
OPTIONAL_STR: tuple[type, ...] = (str, type(None))

JOB_STATUSES = frozenset({"queued", "running", "succeeded", "failed", "cancelled"})
FINAL_JOB_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

# A shape maps each required key to a type, a tuple of types, a nested shape
# (a dict: the value must be an object with those keys) or a one-element list
# ``[spec]`` (the value must be an array whose items match ``spec``).
Shape = Mapping[str, Any]

STRATEGY_SHAPE: Shape = {"name": str, "defaults": dict, "parameters": dict}
STRATEGIES_SHAPE: Shape = {"strategies": [STRATEGY_SHAPE]}
MARKET_DATA_SHAPE: Shape = {
    "symbol": str,
    "start": str,
    "end": str,
    "count": int,
    "bars": {"date": list, "open": list, "high": list, "low": list, "close": list, "volume": list},
}
METRICS_SHAPE: Shape = {
    name: OPTIONAL_NUMBER
    for name in (
        "total_return",
        "annual_return",
        "sharpe_ratio",
        "sortino_ratio",
        "calmar_ratio",
        "max_drawdown",
        "win_rate",
        "profit_factor",
    )
} | {"total_trades": int}
TRADE_SHAPE: Shape = {"entry_date": str, "entry_price": NUMBER, "return": NUMBER, "status": str}
BACKTEST_SHAPE: Shape = {
    "id": str,
    "symbol": str,
    "strategy": str,
    "parameters": dict,
    "start": str,
    "end": str,
    "created_at": NUMBER,
    "metrics": METRICS_SHAPE,
    "equity_curve": {"dates": list, "equity": list},
    "trades": [TRADE_SHAPE],
}
BACKTEST_SUMMARY_SHAPE: Shape = {"id": str, "symbol": str, "strategy": str, "metrics": dict}
BACKTEST_LIST_SHAPE: Shape = {"items": [BACKTEST_SUMMARY_SHAPE], "next_cursor": OPTIONAL_STR}
JOB_SHAPE: Shape = {
    "id": str,
    "kind": str,
    "status": str,
    "progress": NUMBER,
    "created_at": NUMBER,
    "started_at": OPTIONAL_NUMBER,
    "finished_at": OPTIONAL_NUMBER,
}
JOB_RESULT_SHAPE: Shape = {"id": str, "kind": str, "status": str, "result": dict}
QUEUE_SHAPE: Shape = {"depth": int, "running": int, "workers": int}

_JSON_TYPE_NAMES: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def json_type_name(value: Any) -> str:
    """The JSON name of ``value``'s type (``object``, ``array``, ``null`` ...)."""
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _expected_name(spec: type | tuple[type, ...]) -> str:
    types = spec if isinstance(spec, tuple) else (spec,)
    if int in types and float in types:
        types = tuple(t for t in types if t is not int)  # "number", not "integer or number"
    return " or ".join(_JSON_TYPE_NAMES.get(t, t.__name__) for t in types)


def _type_matches(value: Any, spec: type | tuple[type, ...]) -> bool:
    types = spec if isinstance(spec, tuple) else (spec,)
    if isinstance(value, bool) and bool not in types:
        return False  # JSON true is not a number, though Python says bool is an int
    if isinstance(value, float) and not math.isfinite(value) and float in types:
        return True  # json.loads accepts NaN/Infinity; the shape is still right
    return isinstance(value, types)


def validate_shape(obj: Any, required: Shape, path: str = "") -> str | None:
    """Check that ``obj`` is an object holding every key of ``required`` with the right type.

    Returns ``None`` when the shape is right, else one stable sentence naming the
    first problem (``"missing key 'metrics'"``, ``"key 'progress' is string,
    expected number"``). Extra keys are allowed: the target may grow fields.
    """
    if not isinstance(obj, dict):
        where = f"key '{path}'" if path else "body"
        return f"{where} is {json_type_name(obj)}, expected object"
    for key, spec in required.items():
        here = f"{path}.{key}" if path else key
        if key not in obj:
            return f"missing key '{here}'"
        value = obj[key]
        if isinstance(spec, Mapping):
            problem = validate_shape(value, spec, here)
        elif isinstance(spec, list):
            problem = _validate_items(value, spec[0], here)
        elif not _type_matches(value, spec):
            problem = f"key '{here}' is {json_type_name(value)}, expected {_expected_name(spec)}"
        else:
            problem = None
        if problem:
            return problem
    return None


def _validate_items(value: Any, spec: Any, path: str) -> str | None:
    if not isinstance(value, list):
        return f"key '{path}' is {json_type_name(value)}, expected array"
    for item in value[:MAX_LIST_ITEMS_CHECKED]:
        if isinstance(spec, Mapping):
            problem = validate_shape(item, spec, f"{path}[]")
        elif not _type_matches(item, spec):
            problem = f"key '{path}[]' is {json_type_name(item)}, expected {_expected_name(spec)}"
        else:
            problem = None
        if problem:
            return problem
    return None


def check_job_status(job: dict) -> str | None:
    """Extra check for job documents: the status is one the API defines."""
    return None if job.get("status") in JOB_STATUSES else "unknown job status"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date).

    ``None`` when the header is absent or unreadable; never negative.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def body_excerpt(text: str, limit: int = BODY_EXCERPT_CHARS) -> str:
    """The first ``limit`` characters of ``text`` on one line, marked with ``...`` if cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def error_code(body: bytes | None) -> str | None:
    """The ``error.code`` of an API error body, if it is one and the code looks like a code."""
    if not body:
        return None
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    err = doc.get("error") if isinstance(doc, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    if (
        isinstance(code, str)
        and 0 < len(code) <= MAX_ERROR_CODE_CHARS
        and code.replace("_", "").replace("-", "").isalnum()
    ):
        return code
    return None


@dataclass(frozen=True)
class RawResponse:
    """What :func:`judge` needs from an HTTP response, independent of the HTTP client.

    ``status`` is 0 when no response arrived (``error`` then says why);
    ``read_error`` is set when reading the body raised; header names are lower-case.
    """

    status: int
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    error: BaseException | None = None
    read_error: BaseException | None = None


@dataclass(frozen=True)
class Verdict:
    """The outcome of one request: the parsed body, or a failure sentence (never both)."""

    body: Any = None
    failure: str | None = None
    retry_after_s: float | None = None  # set for every 429, so the caller can back off

    @property
    def ok(self) -> bool:
        return self.failure is None


def _is_truncated(raw: RawResponse) -> bool:
    """True when the body is shorter than its Content-Length (the server hung up mid-body)."""
    declared = raw.headers.get("content-length")
    encoding = (raw.headers.get("content-encoding") or "identity").strip().lower()
    if declared is None or encoding != "identity":
        return False  # a compressed body's length is not the decoded content's length
    try:
        return int(declared) > len(raw.content or b"")
    except ValueError:
        return False


def _frame_problem(raw: RawResponse) -> str | None:
    """Status-independent checks every verdict needs before the body is looked at."""
    if raw.read_error is not None:
        name = type(raw.read_error).__name__
        return "truncated body" if name in TRUNCATION_ERRORS else f"body read failed: {name}"
    if _is_truncated(raw):
        return "truncated body"
    if not raw.content:
        return "empty body"
    return None


def _not_json(raw: RawResponse) -> str:
    content_type = (raw.headers.get("content-type") or "no content-type").split(";")[0].strip()
    text = (raw.content or b"").decode("utf-8", errors="replace")
    return f"body is not JSON ({content_type}): {body_excerpt(text)!r}"


def judge(
    raw: RawResponse,
    expected_status: int,
    shape: Shape,
    check: Callable[[dict], str | None] | None = None,
) -> Verdict:
    """Decide whether ``raw`` is correct: expected status, JSON, right shape, ``check`` passes.

    The order matters: no response beats everything, a 429 is its own kind of
    failure, a wrong status is reported with the API's error code, and only a
    response with the expected status is parsed and shape-checked. (The light check
    that skips the parse is ``users.exchange.light_success``.)
    """
    if raw.status == 0:
        name = type(raw.error).__name__ if raw.error is not None else "no response"
        if name in TRUNCATION_ERRORS:
            return Verdict(failure="truncated body")
        return Verdict(failure=f"connection error: {name}")
    if raw.status == 429:
        wait = parse_retry_after(raw.headers.get("retry-after"))
        return Verdict(
            failure="rate limited (429)",
            retry_after_s=DEFAULT_RETRY_AFTER_S if wait is None else wait,
        )
    if raw.status != expected_status:
        code = error_code(raw.content)
        if 200 <= raw.status < 300:
            return Verdict(failure=f"status {raw.status}, expected {expected_status}")
        return Verdict(failure=f"status {raw.status}: {code}" if code else f"status {raw.status}")
    if problem := _frame_problem(raw):
        return Verdict(failure=problem)
    content = raw.content
    assert content, "_frame_problem refused a missing or empty body"
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return Verdict(failure=_not_json(raw))
    problem = validate_shape(body, shape)
    if problem is None and check is not None:
        problem = check(body)
    return Verdict(failure=problem) if problem else Verdict(body=body)
