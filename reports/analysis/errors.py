"""The run's failures, grouped by route and message, for the report's Errors table.

A failure's message as Locust keeps it is often the exception's repr
(``CatchResponseError('status 500: injected_error')``); :func:`error_message` shows the
message itself. :func:`error_type` folds the ids and numbers out of a message so that
occurrences differing only in ids group together; :func:`error_ratios` groups by route and
that type.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reports.analysis.tables import JsonResult

__all__ = ["ErrorShare", "error_message", "error_ratios", "error_type"]

_REPR = re.compile(r"^\s*(?P<cls>[A-Za-z_][\w.]*)\((?P<args>.*)\)\s*$", re.DOTALL)
MESSAGE_ONLY = ("CatchResponseError",)
"""Exceptions whose message says it all (the suite's own failure reasons): the class is
dropped; any other keeps its name (``ConnectionResetError: ...``)."""


def error_message(raw: str) -> str:
    """The message of a failure: ``Name('text')`` (an exception's repr) becomes ``text`` for
    the suite's own failures (:data:`MESSAGE_ONLY`) and ``Name: text`` for any other
    exception (several arguments joined by spaces); anything else is returned as it is."""
    match = _REPR.match(str(raw))
    if match is None:
        return str(raw)
    try:
        args = ast.literal_eval(f"({match['args']},)") if match["args"].strip() else ()
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return str(raw)
    text = " ".join(str(a) for a in args)
    name = match["cls"].rsplit(".", 1)[-1]
    if name in MESSAGE_ONLY:
        return text or name
    return f"{name}: {text}" if text else name


_URL = re.compile(r"\b[a-zA-Z][\w+.-]*://[^\s'\",)\]<>]*|(?<![\w.<])/[^\s'\",)\]<>]+")
_NUMBERISH = re.compile(r"[\w-]*\d[\w-]*")
_STATUS = re.compile(r"(?:10[0-3]|[2-5]\d\d)")
_STATUS_BEFORE = re.compile(r"(?i)(?:status|code|http\w*|\w*error)\W*$")
_STATUS_AFTER = re.compile(r"\s+[A-Z]")


def _number_token(match: re.Match[str]) -> str:
    token = match.group(0)
    if _STATUS.fullmatch(token):
        before = match.string[max(0, match.start() - 40) : match.start()]
        if _STATUS_AFTER.match(match.string, match.end()) or _STATUS_BEFORE.search(before):
            return token
    return "<n>"


def error_type(message: str) -> str:
    """The type of an error message, so that occurrences differing in ids group together.

    Rules, in order: URLs (``scheme://...``) and paths (``/v1/backtests/123``) become
    ``<url>`` (the endpoint is reported apart); every word containing a digit (numbers,
    hex, UUIDs, ids such as ``bt_7f3a``) becomes ``<n>``, except an HTTP status code
    (100-103, 200-599) followed by a capitalised reason (``500 Server Error``) or
    preceded by ``status``, ``code``, ``HTTP...`` or ``...Error``; whitespace collapses.
    """
    text = _URL.sub("<url>", str(message))
    text = _NUMBERISH.sub(_number_token, text)
    return " ".join(text.split())


@dataclass(frozen=True)
class ErrorShare(JsonResult):
    """One route's failures of one type (see :func:`error_type`) over the run."""

    error_type: str
    count: int
    ratio: float | None
    """``count`` over all requests of the run (None when there were none)."""
    endpoints: tuple[str, ...]
    """``"METHOD name"`` of the route (one: rows group by route and type)."""
    example: str
    """The most frequent message of the type on that route (:func:`error_message`)."""


def error_ratios(errors: Sequence[Mapping[str, Any]], total_requests: int) -> list[ErrorShare]:
    """Group error rows ``{"method", "name", "message", "count"}`` by route and message type
    (of :func:`error_message`), most frequent first; ties by type, then route. Rows with a
    non-positive count are ignored."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in errors:
        count = int(row.get("count") or 0)
        if count <= 0:
            continue
        message = error_message(str(row.get("message", "")))
        route = f"{row.get('method', '')} {row.get('name', '')}".strip()
        group = groups.setdefault((route, error_type(message)), {"count": 0, "messages": {}})
        group["count"] += count
        group["messages"][message] = group["messages"].get(message, 0) + count
    shares = [
        ErrorShare(
            error_type=kind,
            count=g["count"],
            ratio=g["count"] / total_requests if total_requests > 0 else None,
            endpoints=(route,),
            example=max(g["messages"].items(), key=lambda kv: kv[1])[0],
        )
        for (route, kind), g in groups.items()
    ]
    return sorted(shares, key=lambda s: (-s.count, s.error_type, s.endpoints))
