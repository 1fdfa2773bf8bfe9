"""One HTTP exchange with the target, below the API's methods.

:class:`Prepared` is a request built once (path and body encoded) and sent any number
of times; :func:`snapshot` copies what :func:`users.responses.judge` needs out of a
Locust response; :func:`light_success` is ``validation="light"``'s fast verdict on an
obviously good answer; :class:`FullChecks` picks which answers a light-validating process
still parses and shape-checks in full. Imports no Locust or gevent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from users.responses import RawResponse, Shape

__all__ = [
    "FULL_CHECKS_PER_ROUTE_S",
    "FullChecks",
    "LIGHT_BODY",
    "Prepared",
    "light_success",
    "snapshot",
]

#: A light check looks for the ``id`` only this far into the body (it leads the document).
LIGHT_ID_WINDOW = 512
LIGHT_ID_RE = re.compile(rb'"id"\s*:\s*"([^"\\]{1,200})"')
#: What a light call returns for a good answer without an id (never mutated).
LIGHT_BODY: dict = {}
_HEADERS_KEPT = ("content-type", "content-length", "content-encoding", "retry-after")


def snapshot(resp: Any) -> RawResponse:
    """Copy what ``judge`` needs out of a Locust response (FastResponse or requests-based).

    Reading the body can raise after a connection dropped mid-body; that is
    captured as ``read_error``, never raised.
    """
    status = getattr(resp, "status_code", 0) or 0
    headers: dict[str, str] = {}
    source = getattr(resp, "headers", None)
    if source:
        for name in _HEADERS_KEPT:
            value = source.get(name)
            if value is not None:
                headers[name] = str(value)
    try:
        content = resp.content
        read_error = None
    except Exception as exc:  # noqa: BLE001 - any read failure is a verdict, not a crash
        content, read_error = None, exc
    if content is not None and not isinstance(content, bytes):
        content = str(content).encode("utf-8", errors="replace")
    return RawResponse(
        status=int(status),
        content=content,
        headers=headers,
        error=getattr(resp, "error", None),
        read_error=read_error,
    )


class Prepared(NamedTuple):
    """A request built once and sent any number of times (path and body already encoded)."""

    method: str
    path: str
    route: str
    expected_status: int
    shape: Shape
    body: bytes | None = None
    name: str | None = None
    check: Callable[[dict], str | None] | None = None
    answer_key: bytes | None = None
    """Set for a deterministic answer (a backtest): its golden answer's key (``users.golden``)."""


def light_success(resp: Any, req: Prepared) -> dict | None:
    """The light body of an obviously good answer, or None to take the full path.

    Only the common case is fast: the expected status and a body framed as a JSON
    object (with its ``id`` when the shape has one). Anything else, failures
    included, goes through ``judge``, which explains exactly what is wrong.
    """
    if getattr(resp, "status_code", 0) != req.expected_status:
        return None
    try:
        content = resp.content
    except Exception:  # noqa: BLE001 - judged (and explained) on the full path
        return None
    if not content or content[:1] != b"{" or content[-1:] != b"}":
        return None
    if "id" not in req.shape:
        return LIGHT_BODY
    match = LIGHT_ID_RE.search(content, 0, LIGHT_ID_WINDOW)
    return {"id": match.group(1).decode("utf-8", errors="replace")} if match else None


FULL_CHECKS_PER_ROUTE_S = 5.0
"""Under ``validation="light"``, answers per route and second (per process) still parsed
and shape-checked in full: a systematically wrong shape shows within a fraction of a
second, at a cost that does not grow with the request rate."""


class FullChecks:
    """Which light-validated answers are parsed and shape-checked in full: per route, the
    first answer in every slot of ``1 / per_second`` s of the clock (at most ``per_second``
    a second). Every answer the light check doubts is checked in full as well
    (``BacktestApi``'s rule)."""

    def __init__(
        self,
        per_second: float = FULL_CHECKS_PER_ROUTE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.clock = clock
        self._slot: dict[str, int] = {}
        """Each route's latest slot with a full check."""

    def take(self, route: str) -> bool:
        """True when this answer of ``route`` is to be checked in full."""
        slot = int(self.clock() * self.per_second)
        if self._slot.get(route) == slot:
            return False
        self._slot[route] = slot
        return True
