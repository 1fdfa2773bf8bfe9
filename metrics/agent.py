"""The host agent: what a machine can tell about itself and one process tree on it.

Run it on the target host when the load generator is elsewhere::

    python -m metrics.agent --port 9274 --pid PID      # or --name NAME
    locust ... --target-metrics agent:http://TARGET-HOST:9274

``GET /sample`` (or ``/``) answers one JSON object whose keys are the fields of
``Sample`` plus ``pid``, ``process_error`` and ``hostname``. The readers here
(``ProcessTreeReader``, ``HostReader``) are also what ``local:PID`` uses in the
load generator's own process, so both sources measure the same thing the same way.

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
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn
from urllib.parse import urlsplit

import psutil

DEFAULT_PORT = 9274
DEFAULT_HOST = "127.0.0.1"
TOKEN_ENV = "QUANTLOAD_AGENT_TOKEN"
LISTEN_PREFIX = "quantload agent listening on "
SAMPLE_PATHS = ("/", "/sample")
MIN_RATE_WINDOW_S = 0.05  # CPU rates over shorter windows are noise, reported as None
IDLE_MODES = ("idle", "iowait")  # CPU time in these modes is not busy (psutil and node_exporter)


class SourceError(Exception):
    """A reading could not be taken; the message is one line, free of secrets."""


@dataclass
class Sample:
    """One reading of the target. A field is None when the source does not report it.

    ``cpu_percent`` is percent of ONE core summed over the process tree (100 = one
    core busy; up to 100 x cores), as top shows it; ``host_cpu_percent`` is the
    whole host, 0..100. Sizes are bytes. Disk and network fields are cumulative
    counters since boot (rates are the reader's job). ``time`` is epoch seconds
    on the machine that took or received the reading.
    """

    time: float
    cpu_percent: float | None = None
    rss_bytes: int | None = None  # summed RSS; pages shared between processes count once each
    threads: int | None = None
    open_files: int | None = None  # open file descriptors: files, sockets, pipes
    children: int | None = None  # descendant processes, not counting the process itself
    host_cpu_percent: float | None = None
    host_cpu_count: int | None = None
    host_mem_used_bytes: int | None = None  # total - available, as node_exporter users compute it
    host_mem_total_bytes: int | None = None
    load1: float | None = None
    disk_read_bytes: int | None = None
    disk_write_bytes: int | None = None
    net_sent_bytes: int | None = None
    net_recv_bytes: int | None = None
    queue_depth: float | None = None  # jobs waiting, when the target exports quantload_queue_depth

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object], time: float) -> Sample:
        """Build from JSON (unknown keys ignored); a non-numeric value is a SourceError."""
        values: dict[str, object] = {}
        for field in fields(cls):
            value = data.get(field.name)
            if field.name == "time" or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SourceError(f"{field.name} is {value!r}, not a number")
            values[field.name] = value
        return cls(time=time, **values)  # type: ignore[arg-type]


def busy_percent(now: tuple[float, float], before: tuple[float, float] | None) -> float | None:
    """Host CPU busy % (0..100) from two (total_seconds, idle_seconds) readings."""
    if before is None or now[0] - before[0] <= 0:
        return None
    busy = 1.0 - (now[1] - before[1]) / (now[0] - before[0])
    return round(100.0 * min(1.0, max(0.0, busy)), 2)


class ProcessTreeReader:
    """The process ``pid`` and all its descendants, summed; CPU as a rate between reads.

    Once the process has gone it stays gone (its pid may be reused by a stranger).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._root: psutil.Process | None = None
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, create_time) -> cpu seconds
        self._read_at: tuple[float, float] | None = None  # (monotonic, epoch) of the last read
        try:
            self.read()  # the baseline, so the first real read already has a CPU rate
        except SourceError:
            pass

    def _process(self) -> psutil.Process:
        if self._root is None:
            self._root = psutil.Process(self.pid)
        elif not self._root.is_running():
            raise psutil.NoSuchProcess(self.pid)
        return self._root

    def read(self) -> dict[str, float | int | None]:
        started, started_epoch = time.monotonic(), time.time()
        cpu: dict[tuple[int, float], float] = {}
        rss = threads = fds = 0
        fds_known = True
        try:
            root = self._process()
            for proc in [root, *root.children(recursive=True)]:
                try:
                    with proc.oneshot():
                        times = proc.cpu_times()
                        cpu[(proc.pid, proc.create_time())] = times.user + times.system
                        rss += proc.memory_info().rss
                        threads += proc.num_threads()
                        try:
                            fds += proc.num_fds() if psutil.POSIX else proc.num_handles()
                        except psutil.AccessDenied:
                            fds_known = False
                except psutil.NoSuchProcess:  # a child that ended meanwhile (zombies included)
                    if proc is root:
                        raise
        except psutil.NoSuchProcess:
            raise SourceError(f"process {self.pid} is gone") from None
        except psutil.AccessDenied:
            raise SourceError(f"no permission to read process {self.pid}") from None
        cpu_percent = None
        if self._read_at is not None and started - self._read_at[0] >= MIN_RATE_WINDOW_S:
            spent = 0.0
            for key, seconds in cpu.items():
                before = self._cpu.get(key)
                if before is None:  # a child born since the last read counts whole
                    before = 0.0 if key[1] >= self._read_at[1] else seconds
                spent += max(0.0, seconds - before)
            cpu_percent = round(100.0 * spent / (started - self._read_at[0]), 2)
        if cpu_percent is not None or self._read_at is None:  # short window: keep the baseline
            self._cpu, self._read_at = cpu, (started, started_epoch)
        return {"cpu_percent": cpu_percent, "rss_bytes": rss, "threads": threads,
                "open_files": fds if fds_known else None, "children": len(cpu) - 1}


def _cpu_totals() -> tuple[float, float]:
    times = psutil.cpu_times()
    total = sum(times)
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)  # inside user/nice
    return total, sum(getattr(times, mode, 0.0) for mode in IDLE_MODES)


class HostReader:
    """This machine's CPU (busy share between reads), memory, load and I/O counters.

    Keeps its own CPU baseline rather than ``psutil.cpu_percent()``'s module-wide
    one, which other samplers in the same process would disturb.
    """

    def __init__(self) -> None:
        self._cpu, self._cpu_at = _cpu_totals(), time.monotonic()

    def read(self) -> dict[str, float | int | None]:
        busy = None
        if time.monotonic() - self._cpu_at >= MIN_RATE_WINDOW_S:  # else keep the baseline
            cpu = _cpu_totals()
            busy, self._cpu, self._cpu_at = busy_percent(cpu, self._cpu), cpu, time.monotonic()
        mem = psutil.virtual_memory()
        disk = psutil.disk_io_counters()  # None where the kernel shows no disks (containers)
        net = psutil.net_io_counters()
        return {
            "host_cpu_percent": busy, "host_cpu_count": psutil.cpu_count(),
            "host_mem_used_bytes": mem.total - mem.available, "host_mem_total_bytes": mem.total,
            "load1": psutil.getloadavg()[0],
            "disk_read_bytes": disk.read_bytes if disk else None,
            "disk_write_bytes": disk.write_bytes if disk else None,
            "net_sent_bytes": net.bytes_sent if net else None,
            "net_recv_bytes": net.bytes_recv if net else None,
        }


def find_process(name: str, exclude: int | None = None) -> psutil.Process | None:
    """The oldest process whose name, or one of whose command-line words (or its
    basename), equals ``name``; oldest, so a matching parent wins over its children."""
    found: list[psutil.Process] = []
    for proc in psutil.process_iter(["name", "cmdline", "create_time"]):
        words = proc.info["cmdline"] or []
        if proc.pid != exclude and (proc.info["name"] == name or any(
                name in (word, os.path.basename(word)) for word in words)):
            found.append(proc)
    return min(found, key=lambda p: p.info["create_time"] or 0.0, default=None)


class WatchedProcess:
    """The process the agent reports on: fixed by pid, or found (again, after a
    restart) by name. ``read()`` gives (pid, process_error, process fields)."""

    def __init__(self, pid: int | None = None, name: str | None = None) -> None:
        self.pid, self.name = pid, name
        self._reader = ProcessTreeReader(pid) if pid is not None else None

    def read(self) -> tuple[int | None, str | None, dict[str, float | int | None]]:
        if self.pid is None and self.name is None:
            return None, None, {}  # a host-only agent
        if self._reader is None and self.name is not None:
            proc = find_process(self.name, exclude=os.getpid())
            if proc is None:
                return None, f"no process named {self.name!r}", {}
            self._reader = ProcessTreeReader(proc.pid)
        assert self._reader is not None
        try:
            return self._reader.pid, None, self._reader.read()
        except SourceError as exc:
            if self.name is not None:
                self._reader = None  # look the name up again next time
            return None, str(exc), {}


class AgentServer(ThreadingHTTPServer):
    """Serves readings; a lock keeps the CPU baselines consistent across concurrent requests."""

    daemon_threads = True

    def __init__(self, host: str, port: int, watched: WatchedProcess,
                 token: str | None = None) -> None:
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
        return {**sample.to_dict(), "pid": pid, "process_error": error,
                "hostname": socket.gethostname()}


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    server_version = "quantload-agent"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if not self.server.authorized(self.headers.get("Authorization")):
            self._send(401, {"error": {"code": "unauthorized",
                                       "message": "missing or wrong bearer token"}},
                       {"WWW-Authenticate": "Bearer"})
        elif urlsplit(self.path).path not in SAMPLE_PATHS:
            self._send(404, {"error": {"code": "not_found", "message": "try GET /sample"}})
        else:
            self._send(200, self.server.reading())

    def _send(self, status: int, body: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
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
    parser = _OneLineParser(prog="quantload agent",
                            description="Serve this host's and one process tree's resources "
                                        "as JSON for quantload's --target-metrics agent:URL.")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to bind (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--pid", type=_pid, help="watch this process and its children")
    which.add_argument("--name", help="watch the oldest process with this name or command-line "
                                      "word, found again if it restarts")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV) or None,
                        help=f"require 'Authorization: Bearer TOKEN' (better: env {TOKEN_ENV})")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        server = AgentServer(args.host, args.port, WatchedProcess(args.pid, args.name), args.token)
    except OSError as exc:
        sys.stderr.write(f"quantload agent: cannot listen on {args.host}:{args.port}: "
                         f"{exc.strerror or exc}\n")
        return 1
    if not args.token and args.host not in ("127.0.0.1", "::1", "localhost"):
        sys.stderr.write(f"quantload agent: warning: no token, anyone who reaches "
                         f"{server.url} can read it\n")
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
