"""Request guards: body size, API key and per-key rate limit.

They run before the routes so a refused request costs almost nothing and never
reaches the engine or the database.
"""

from __future__ import annotations

import hmac
import math
import time
from dataclasses import dataclass

from target.calibration import API_PREFIX, ASGIApp, Receive, Scope, Send, send_error

MAX_BODY_BYTES = 64 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
ANONYMOUS_KEY = "-"


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens/s, burst of one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; return 0 when allowed, else seconds until one is available."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


async def _close_websocket(receive: Receive, send: Send, code: int, reason: str) -> None:
    """Complete the handshake, then close with ``code``: a close before accepting is an
    HTTP 403 to the client, which loses which rule refused it."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code, "reason": reason})


class GuardMiddleware:
    def __init__(self, app: ASGIApp, *, api_key: str | None, rate_limit: float | None) -> None:
        self.app = app
        self._key = api_key.encode() if api_key else None
        self._buckets = TokenBuckets(rate_limit) if rate_limit else None

    def _authorised(self, presented: bytes | None) -> bool:
        if self._key is None:
            return True
        return presented is not None and hmac.compare_digest(presented, self._key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        presented = _header(scope, b"x-api-key")
        if not self._authorised(presented):
            if kind == "websocket":  # accepted, then closed: a client sees the code, not a 403
                await _close_websocket(receive, send, 4401, "missing or wrong X-API-Key header")
            else:
                await send_error(send, 401, "unauthorized", "missing or wrong X-API-Key header")
            return
        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        if self._buckets is not None:
            wait = self._buckets.take((presented or b"").decode("latin-1") or ANONYMOUS_KEY)
            if wait > 0:
                retry = str(max(1, math.ceil(wait))).encode()
                await send_error(
                    send,
                    429,
                    "rate_limited",
                    "rate limit exceeded for this key",
                    [(b"retry-after", retry)],
                )
                return
        if scope["method"] in BODY_METHODS:
            receive = await self._buffered_body(scope, receive, send)
            if receive is None:
                return
        await self.app(scope, receive, send)

    async def _buffered_body(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """Read the whole body (refusing past the limit) and replay it to the app."""
        length = _header(scope, b"content-length")
        too_large = f"body larger than {MAX_BODY_BYTES} bytes"
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            await send_error(send, 413, "payload_too_large", too_large)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await send_error(send, 413, "payload_too_large", too_large)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay
