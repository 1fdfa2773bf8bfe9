"""The target's paths: route templates, the API key header, and URLs built from them.

A route template (``ROUTE_*``) names every request in Locust's stats (one row per
route, never one per id) and keys the Retry-After gate; :class:`users.api.BacktestApi`
builds its paths from them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

__all__ = [
    "API_KEY_HEADER",
    "ROUTE_BACKTEST",
    "ROUTE_BACKTESTS",
    "ROUTE_JOB",
    "ROUTE_JOB_EVENTS",
    "ROUTE_JOB_RESULT",
    "ROUTE_JOBS",
    "ROUTE_MARKET_DATA",
    "ROUTE_QUEUE",
    "ROUTE_STRATEGIES",
    "job_events_url",
    "path_part",
    "query_string",
]

# Route templates: the request names in Locust's stats (and the Retry-After keys).
ROUTE_STRATEGIES = "/v1/strategies"
ROUTE_MARKET_DATA = "/v1/market-data/{symbol}"
ROUTE_BACKTESTS = "/v1/backtests"
ROUTE_BACKTEST = "/v1/backtests/{id}"
ROUTE_JOBS = "/v1/jobs"
ROUTE_JOB = "/v1/jobs/{id}"
ROUTE_JOB_RESULT = "/v1/jobs/{id}/result"
ROUTE_JOB_EVENTS = "/v1/jobs/{id}/events"
ROUTE_QUEUE = "/v1/queue"

API_KEY_HEADER = "X-API-Key"


def job_events_url(base_url: str, job_id: str) -> str:
    """The ``ws://`` (or ``wss://`` for https) URL of a job's progress events."""
    parts = urlsplit(base_url)
    scheme = {"https": "wss", "wss": "wss"}.get(parts.scheme, "ws")
    path = parts.path.rstrip("/") + ROUTE_JOB_EVENTS.replace("{id}", quote(str(job_id), safe=""))
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def path_part(value: object) -> str:
    """One path segment, percent-encoded (``/`` too)."""
    return quote(str(value), safe="")


def query_string(**params: Any) -> str:
    """``?a=1&b=2`` from the parameters that are not ``None`` ('' when none are)."""
    present = {k: v for k, v in params.items() if v is not None}
    return "?" + urlencode(present) if present else ""
