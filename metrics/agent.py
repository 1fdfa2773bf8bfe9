"""The host agent: what a machine can tell about itself and one process tree on it.

Run it on the target host when the load generator is elsewhere::

    python -m metrics.agent --port 9274 --pid PID      # or --name NAME
    locust ... --target-metrics agent:http://TARGET-HOST:9274

``GET /sample`` (or ``/``) answers one JSON object whose keys are the fields of
``Sample`` (:mod:`metrics.sample`) plus ``pid``, ``process_error`` and ``hostname``.
The readers (``ProcessTreeReader``, ``HostReader``, :mod:`metrics.host_readers`) are
also what ``local:PID`` uses in the load generator's own process, so both sources
measure the same thing the same way.

It binds 127.0.0.1 unless told otherwise, uses only the standard library and
psutil, and with a token (``--token`` or, better, env QUANTLOAD_AGENT_TOKEN,
which ``ps`` does not show) answers 401 to any request without
``Authorization: Bearer TOKEN``. It never prints the token or logs requests.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn
from urllib.parse import urlsplit

import psutil

from metrics.host_readers import HostReader, WatchedProcess
from metrics.sample import Sample

DEFAULT_PORT = 9274
DEFAULT_HOST = "127.0.0.1"
TOKEN_ENV = "QUANTLOAD_AGENT_TOKEN"
LISTEN_PREFIX = "quantload agent listening on "
SAMPLE_PATHS = ("/", "/sample")


class AgentServer(ThreadingHTTPServer):
    """Serves readings; a lock keeps the CPU baselines consistent across concurrent requests."""

    daemon_threads = True

    def __init__(
        self, host: str, port: int, watched: WatchedProcess, token: str | None = None
    ) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.watched = watched
        self.host_reader = HostReader()
        self._expected = f"Bearer {token}".encode() if token else None
        self._lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"

    def authorized(self, header: str | None) -> bool:
        if self._expected is None:
            return True
        return hmac.compare_digest((header or "").encode("utf-8", "replace"), self._expected)

    def reading(self) -> dict[str, object]:
        with self._lock:
            pid, error, process = self.watched.read()
            host = self.host_reader.read()
        sample = Sample(time=time.time(), **process, **host)  # type: ignore[arg-type]
        return {
            **sample.to_dict(),
            "pid": pid,
            "process_error": error,
            "hostname": socket.gethostname(),
        }


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    server_version = "quantload-agent"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if not self.server.authorized(self.headers.get("Authorization")):
            self._send(
                401,
                {"error": {"code": "unauthorized", "message": "missing or wrong bearer token"}},
                {"WWW-Authenticate": "Bearer"},
            )
        elif urlsplit(self.path).path not in SAMPLE_PATHS:
            self._send(404, {"error": {"code": "not_found", "message": "try GET /sample"}})
        else:
            self._send(200, self.server.reading())

    def _send(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # a request a second would drown the terminal


class _OneLineParser(argparse.ArgumentParser):
    """Bad flags: one line on stderr and exit 2, no usage block, no traceback."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0..65535)")
    return int(text)


def _pid(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a process id")
    if not psutil.pid_exists(int(text)):
        raise argparse.ArgumentTypeError(f"no process with id {text}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="quantload agent",
        description="Serve this host's and one process tree's resources "
        "as JSON for quantload's --target-metrics agent:URL.",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to bind (default {DEFAULT_HOST}: this machine only)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--pid", type=_pid, help="watch this process and its children")
    which.add_argument(
        "--name",
        help="watch the oldest process with this name or command-line "
        "word, found again if it restarts",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV) or None,
        help=f"require 'Authorization: Bearer TOKEN' (better: env {TOKEN_ENV})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        server = AgentServer(args.host, args.port, WatchedProcess(args.pid, args.name), args.token)
    except OSError as exc:
        sys.stderr.write(
            f"quantload agent: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n"
        )
        return 1
    if not args.token and args.host not in ("127.0.0.1", "::1", "localhost"):
        sys.stderr.write(
            f"quantload agent: warning: no token, anyone who reaches {server.url} can read it\n"
        )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # unwinds serve_forever cleanly
    print(f"{LISTEN_PREFIX}{server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
