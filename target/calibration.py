"""The calibration knobs: the known truths the suite's measurements are checked against.

Each knob is exact by construction, so a measured number that disagrees with it
is the suite's error, not the target's:

- ``SlotPool``: N slots, each backtest holds one for at least S ms, so the
  sustained backtest capacity is N*1000/S per second.
- ``CalibrationMiddleware``: ``--latency-ms`` (sleep before the app, holding no
  slot), ``--error-rate`` (seeded 500s, decided before the app runs so an
  injected error has no side effect), ``--leak-kb-per-request`` (bytes
  written, so they are resident, on every /v1 request) and
  ``--stall-after-requests`` (the stall, started by the N-th /v1 request).
- ``burn_cpu``: ``--cpu-ms C``, C ms of CPU burnt by each backtest on the event
  loop's thread, so the one server process saturates its one core at about
  1000/C backtests per second (less the app's own CPU per request).
- ``stall_forever_after``: blocks the event loop itself for the stall, as a
  stop-the-world pause would; the kernel's accept backlog and socket buffers
  hold what arrives meanwhile, and it is answered afterwards. The request-count
  stall blocks the same way, from inside the N-th request.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIX = "/v1"
KIB = 1024


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer an HTTP request from middleware, in the API's error format."""
    body = error_body(code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SlotPool:
    """N slots; ``hold()`` keeps one for at least ``service_ms``.

    With ``slots`` None there is no limit on concurrency, but the minimum
    service time still applies, so ``--service-ms`` alone sets a latency floor.
    """

    def __init__(self, slots: int | None, service_ms: float) -> None:
        self._sem = asyncio.Semaphore(slots) if slots else None
        self._service_s = service_ms / 1000.0
        self.slots = slots
        self.in_use = 0

    @asynccontextmanager
    async def hold(self):
        if self._sem is not None:
            await self._sem.acquire()
        self.in_use += 1
        started = time.perf_counter()
        try:
            yield
            remaining = self._service_s - (time.perf_counter() - started)
            if remaining > 0:
                await asyncio.sleep(remaining)
        finally:
            self.in_use -= 1
            if self._sem is not None:
                self._sem.release()


class LeakSink:
    """Retains memory on purpose. Written bytes, because untouched pages are not in RSS."""

    def __init__(self, kb_per_request: float) -> None:
        self._chunk = b"\x01" * int(kb_per_request * KIB)
        self._retained = bytearray()
        self._lock = threading.Lock()

    @property
    def retained_bytes(self) -> int:
        return len(self._retained)

    def leak(self) -> None:
        if self._chunk:
            with self._lock:
                self._retained += self._chunk


class CalibrationMiddleware:
    """Applies latency, injected errors, the leak and the request-count stall to /v1 HTTP."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        latency_ms: float,
        error_rate: float,
        seed: int,
        leak: LeakSink,
        stall_after_requests: int | None = None,
        stall_s: float = 0.0,
    ) -> None:
        self.app = app
        self.latency_s = latency_ms / 1000.0
        self.error_rate = error_rate
        self._rng = random.Random(seed)
        self.leak = leak
        self._stall_after = stall_after_requests
        self._stall_s = stall_s
        self._v1_requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        self._v1_requests += 1
        if self._v1_requests == self._stall_after:
            time.sleep(self._stall_s)  # blocking on purpose, as stall_forever_after: all wait
        self.leak.leak()
        # Drawn before any await, so the k-th /v1 request's fate depends only on the seed.
        inject = self.error_rate > 0 and self._rng.random() < self.error_rate
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        if inject:
            await send_error(send, 500, "injected_error", "error injected by --error-rate")
            return
        await self.app(scope, receive, send)


async def stall_forever_after(started_monotonic: float, at_s: float, stall_s: float) -> None:
    """Sleep until ``at_s`` after start, then freeze the whole event loop for ``stall_s``."""
    delay = started_monotonic + at_s - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    time.sleep(stall_s)  # blocking on purpose: nothing is answered meanwhile


def burn_cpu(ms: float) -> None:
    """Spin until this thread has used ``ms`` more milliseconds of CPU (0: return at once).

    Thread CPU time, not wall time: a busy machine stretches the wall time but the CPU
    spent, what a sampler of the target process sees, stays ``ms``.
    """
    if ms <= 0:
        return
    until = time.thread_time() + ms / 1000.0
    while time.thread_time() < until:
        pass
