"""A canned-response HTTP/1.1 server on uvloop, for measuring the load generator itself.

It answers every request with bytes recorded once from the real target, choosing
by method and path prefix, so a Locust process on the other core is the
bottleneck, not the server. Keep-alive, no parsing beyond the request line and
Content-Length.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import uvloop

Responses = dict[tuple[str, str], tuple[int, bytes]]
REASONS = {200: b"OK", 201: b"Created", 202: b"Accepted", 404: b"Not Found"}


def _raw(status: int, body: bytes) -> bytes:
    head = b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
        status,
        REASONS.get(status, b"OK"),
        len(body),
    )
    return head + body


class _Canned(asyncio.Protocol):
    def __init__(self, responses: dict[tuple[bytes, bytes], bytes]) -> None:
        self.responses = responses
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:].strip())
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            method, path = head.split(b" ", 2)[:2]
            self.transport.write(self._answer(method, path))

    def _answer(self, method: bytes, path: bytes) -> bytes:
        for (m, prefix), raw in self.responses.items():
            if m == method and path.startswith(prefix):
                return raw
        return _raw(404, b'{"error": {"code": "not_found", "message": "not canned"}}')


def serve(sock: socket.socket, responses: Responses) -> None:
    """Serve forever on an already bound, listening socket (run in its own process)."""
    canned = {
        (m.encode(), p.encode()): _raw(status, body) for (m, p), (status, body) in responses.items()
    }

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Canned(canned), sock=sock)
        async with server:
            await server.serve_forever()

    try:
        uvloop.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
