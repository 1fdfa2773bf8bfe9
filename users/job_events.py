"""One job's progress events over WebSocket, followed to the end and measured.

``JobEventStream`` follows ``WS /v1/jobs/{id}/events`` until the job's final status,
for any user class that follows jobs (``WebSocketUser`` one at a time,
``JobArrivalUser`` many at once, one stream each). The handshake is a request to the
target, so it is a Locust request event (in Locust's stats, CSVs and reports beside
HTTP); what the stream delivers is measured through the suite's own channel
(``users.measurements``), never in Locust's request stats:

* ``WS_CONNECT`` / ``/v1/jobs/{id}/events`` (a request): handshake time in ms; a failure
  when the connection is refused, closed with 4401/4404 or answered with an
  error message.
* ``WS_MSG`` / ``/v1/jobs/{id}/events`` (a measurement): delivery latency in ms, receive
  ``time.time()`` minus the message's ``sent_at`` (negative clock skew clamped
  to 0); length = message bytes.
* ``WS_RATE`` / ``messages_per_s`` (a measurement): NOT a time, the messages
  per second over the whole subscription (first connect to final status,
  reconnects included), once per job; length = message count.
* ``WS_CONNECT`` / ``disconnect`` (a request failure): one per drop before a final status,
  with the reason; response_time = ms the stream had been open.

After a drop the stream reconnects with exponential backoff (capped, with jitter
from the caller's seeded RNG) at most ``max_reconnects`` times. The server always
sends the job's current state first, so a reconnect - or a subscriber that arrives
after the job ended - starts with a state message that may already be final.
Every socket is closed in a ``finally``; :meth:`JobEventStream.close` closes one
still open (a user's ``on_stop``).
"""

from __future__ import annotations

import json
import random
import struct
import time
from dataclasses import dataclass
from typing import Any

import gevent
import websocket

from users.api import FINAL_JOB_STATUSES
from users.measurements import WS_MESSAGE_KIND, WS_RATE_KIND, record
from users.routes import ROUTE_JOB_EVENTS

CONNECT_REQUEST_TYPE = "WS_CONNECT"
"""Request type of the handshake (a request to the target, in Locust's stats)."""
MESSAGE_REQUEST_TYPE = WS_MESSAGE_KIND
"""Kind of a progress message's delivery latency (a measurement, not a request)."""
RATE_REQUEST_TYPE = WS_RATE_KIND
"""Kind of a stream's message rate (a measurement, not a request)."""
RATE_NAME = "messages_per_s"
DISCONNECT_NAME = "disconnect"
CLOSE_NORMAL = 1000
PERMANENT_CLOSE_CODES = frozenset({4401, 4404})
"""Unauthorized / unknown job: reconnecting cannot help."""


class WsDisconnected(Exception):
    """The event stream ended (close, error, timeout) before the job's final status."""


class WsRejected(Exception):
    """The server refused the subscription (error message or 44xx close); no retry."""


@dataclass(frozen=True)
class StreamSettings:
    """How a stream connects, waits and reconnects (a user class's attributes)."""

    connect_timeout_s: float = 10.0
    recv_timeout_s: float = 30.0
    """Silence longer than this on an open stream counts as a drop."""
    close_timeout_s: float = 1.0
    """How long a close waits for the server's close frame."""
    max_reconnects: int = 5
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 5.0


class JobEventStream:
    """One job's event stream: :meth:`follow` it to the end (see the module docstring).

    ``url``: the job's ``ws://`` events URL (``BacktestApi.job_events_url``);
    ``headers``: sent with the handshake (the API key); ``rng``: the backoff jitter;
    ``environment``: whose ``request`` event records the handshakes.
    """

    def __init__(
        self,
        environment: Any,
        url: str,
        headers: dict[str, str],
        rng: random.Random,
        settings: StreamSettings | None = None,
    ) -> None:
        self.environment = environment
        self.url = url
        self.headers = headers
        self.rng = rng
        self.settings = settings or StreamSettings()
        self._ws: websocket.WebSocket | None = None

    def follow(self) -> str | None:
        """Follow the job's events to a final status, reconnecting on drops.

        Returns the final status, or ``None`` if it was never seen (rejected or
        out of reconnect attempts); fires ``WS_RATE`` once either way when any
        message arrived.
        """
        first_open: float | None = None
        count = [0]
        final: str | None = None
        for attempt in range(self.settings.max_reconnects + 1):
            if attempt:
                self._sleep_backoff(attempt)
            try:
                opened = self._connect(self.url)
            except WsRejected:
                break
            except Exception:  # already recorded as a failed WS_CONNECT
                continue
            first_open = first_open if first_open is not None else opened
            try:
                final = self._read_until_final(count)
            except WsRejected:
                break
            except WsDisconnected as e:
                self._fire(
                    DISCONNECT_NAME,
                    CONNECT_REQUEST_TYPE,
                    (time.perf_counter() - opened) * 1000,
                    exception=e,
                )
                continue
            finally:
                self.close()
            break
        if first_open is not None and count[0]:
            elapsed = max(time.perf_counter() - first_open, 1e-6)
            self._fire(RATE_NAME, RATE_REQUEST_TYPE, count[0] / elapsed, length=count[0])
        return final

    def _connect(self, url: str) -> float:
        """Open the stream and record ``WS_CONNECT``; returns the perf_counter time it opened."""
        header = [f"{k}: {v}" for k, v in self.headers.items()]
        t0 = time.perf_counter()
        try:
            self._ws = websocket.create_connection(
                url, header=header, timeout=self.settings.connect_timeout_s
            )
        except Exception as e:
            self.close()
            elapsed_ms = (time.perf_counter() - t0) * 1000
            if isinstance(e, websocket.WebSocketBadStatusException):
                # its text quotes the response headers (a Date among them): keep only the
                # status, so Locust groups these failures in one row
                status = WsRejected(f"handshake status {e.status_code}")
                self._fire(ROUTE_JOB_EVENTS, CONNECT_REQUEST_TYPE, elapsed_ms, exception=status)
                if 400 <= e.status_code < 500:  # refused for good: retrying cannot help
                    raise status from e
            else:
                self._fire(ROUTE_JOB_EVENTS, CONNECT_REQUEST_TYPE, elapsed_ms, exception=e)
            raise
        opened = time.perf_counter()
        self._fire(ROUTE_JOB_EVENTS, CONNECT_REQUEST_TYPE, (opened - t0) * 1000)
        self._ws.settimeout(self.settings.recv_timeout_s)
        return opened

    def _read_until_final(self, count: list[int]) -> str:
        """Record every message until a final status; raises on drops and rejections."""
        ws = self._ws
        assert ws is not None
        while True:
            try:
                opcode, frame = ws.recv_data_frame(control_frame=True)
            except Exception as e:  # timeout, reset, closed: the stream is gone
                raise WsDisconnected(f"{type(e).__name__}: {e}") from e
            received = time.time()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else None
                if code in PERMANENT_CLOSE_CODES:
                    self._fire(
                        ROUTE_JOB_EVENTS,
                        CONNECT_REQUEST_TYPE,
                        0,
                        exception=WsRejected(f"closed with code {code}"),
                    )
                    raise WsRejected(f"closed with code {code}")
                raise WsDisconnected(f"closed with code {code} before a final status")
            if opcode not in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                continue  # ping/pong: websocket-client already answered pings
            status = self._record_message(frame.data, received)
            count[0] += 1
            if status in FINAL_JOB_STATUSES:
                return status

    def _record_message(self, data: bytes | str, received: float) -> str | None:
        """Fire ``WS_MSG`` for one message; returns its job status."""
        try:
            message = json.loads(data)
            if not isinstance(message, dict):
                raise ValueError(f"message is a JSON {type(message).__name__}, not an object")
            if "error" not in message:
                sent_at = float(message["sent_at"])
        except (ValueError, TypeError, KeyError) as e:
            bad = ValueError(f"malformed event message: {type(e).__name__}")
            self._fire(ROUTE_JOB_EVENTS, MESSAGE_REQUEST_TYPE, 0, length=len(data), exception=bad)
            return None
        if "error" in message:
            error = message["error"]
            code = error.get("code", "?") if isinstance(error, dict) else "?"
            rejected = WsRejected(f"server error: {code}")
            self._fire(ROUTE_JOB_EVENTS, CONNECT_REQUEST_TYPE, 0, exception=rejected)
            raise rejected
        latency_ms = max(0.0, (received - sent_at) * 1000)  # clamp clock skew
        self._fire(ROUTE_JOB_EVENTS, MESSAGE_REQUEST_TYPE, latency_ms, length=len(data))
        return message.get("status")

    def _sleep_backoff(self, attempt: int) -> None:
        """Equal-jitter exponential backoff: half fixed, half random, capped."""
        ceiling = min(
            self.settings.backoff_cap_s, self.settings.backoff_base_s * 2 ** (attempt - 1)
        )
        gevent.sleep(ceiling / 2 + self.rng.uniform(0, ceiling / 2))

    def _fire(
        self,
        name: str,
        request_type: str,
        response_time: float,
        length: int = 0,
        exception: Exception | None = None,
    ) -> None:
        """A handshake (or its stream's failure) is a Locust request; the rest measurements."""
        if request_type != CONNECT_REQUEST_TYPE:
            record(request_type, name, response_time, exception, length)
            return
        self.environment.events.request.fire(
            request_type=request_type,
            name=name,
            response_time=response_time,
            response_length=length,
            exception=exception,
            context={},
        )

    def close(self) -> None:
        """Close the socket if one is open (idempotent)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close(status=CLOSE_NORMAL, timeout=self.settings.close_timeout_s)
            except Exception:  # closing a broken socket: nothing left to report
                ws.shutdown()
