"""Debian's nginx serving recorded answers, for measuring load generators (benches only).

:class:`NginxServer` writes an nginx config and the recorded bodies into a temporary
directory, starts ``nginx -g 'daemon off;'`` in the foreground, pinned with ``taskset``
to one core, listening on 127.0.0.1 at a free port, with its own pid file, error log and
temp paths (so it runs as root or not, beside any system nginx), and stops it on exit:
SIGTERM to the master, then SIGKILL to its process group if it lingers. Nothing else is
left running.

Routes (bodies recorded once from the reference target, served as ``application/json``):

- ``POST /v1/backtests``: 201, the backtest document (nginx answers a POST to a static
  file with 405; ``error_page 405 =201`` turns that into the file with 201);
- ``GET /v1/backtests/...``: 200, the same document (a reread);
- ``GET /v1/market-data/...``: 200, the market data;
- ``GET /tiny``: 200, a tiny JSON body (the worst case for a generator's per-request cost);
- ``GET /nginx_status``: ``stub_status``, whose request count is how the benches count
  every generator's requests the same way (:meth:`NginxServer.requests_served`);
- anything else: 404.

:func:`missing_tools` names the Debian package to install when nginx or wrk is absent.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

TINY_BODY = b'{"ok": true}'
"""The tiny answer of ``GET /tiny``."""
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
"""Where the tools are looked for (a non-root PATH often lacks /usr/sbin, nginx's home)."""
PACKAGES = {"nginx": "nginx", "wrk": "wrk"}
"""Tool -> the Debian package that has it."""

CONFIG = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    types {{ application/json json; }}
    default_type application/json;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
        location = /v1/backtests {{
            rewrite ^ /backtest.json break;
            error_page 405 =201 /backtest.json;
        }}
        location /v1/backtests/ {{ rewrite ^ /backtest.json break; }}
        location /v1/market-data/ {{ rewrite ^ /market.json break; }}
        location = /tiny {{ rewrite ^ /tiny.json break; }}
        location = /nginx_status {{ stub_status; }}
        location = /backtest.json {{ internal; }}
        location / {{ return 404; }}
    }}
}}
"""


def tool_path(name: str) -> str | None:
    """The executable ``name`` on PATH or in /usr/sbin, /sbin; None when absent."""
    return shutil.which(name, path=SEARCH_PATH)


def missing_tools(*names: str) -> str | None:
    """One line naming the apt packages to install when any of ``names`` is absent, else None."""
    missing = [PACKAGES.get(n, n) for n in names if tool_path(n) is None]
    if not missing:
        return None
    return (
        f"bench: {' and '.join(missing)} not installed; on Debian/Ubuntu: "
        f"apt-get install -y --no-install-recommends {' '.join(missing)}"
    )


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NginxServer:
    """nginx on ``cpu`` serving ``backtest`` (POST 201, GET 200), ``market`` and ``/tiny``.

    Use as a context manager: ``with NginxServer(doc, market) as url: ...``; the url is
    ``http://127.0.0.1:PORT``. Raises RuntimeError (with nginx's error log) when it does
    not start within ``START_TIMEOUT_S``.
    """

    def __init__(self, backtest: bytes, market: bytes, cpu: int = 1) -> None:
        self.bodies = {"backtest.json": backtest, "market.json": market, "tiny.json": TINY_BODY}
        self.cpu = cpu
        self.url = ""
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._readings = 0

    def __enter__(self) -> str:
        nginx = tool_path("nginx")
        if nginx is None:
            raise RuntimeError(missing_tools("nginx"))
        self._dir = tempfile.TemporaryDirectory(prefix="quantload-nginx-")
        self._readings = 0
        root = Path(self._dir.name)
        (root / "www").mkdir()
        (root / "tmp").mkdir()
        for name, body in self.bodies.items():
            (root / "www" / name).write_bytes(body)
        # Readable by nginx's unprivileged worker user when started as root.
        for path in (root, root / "www", *(root / "www").iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
        port = free_port()
        (root / "nginx.conf").write_text(CONFIG.format(dir=root, port=port))
        cmd = ["taskset", "-c", str(self.cpu), nginx, "-p", f"{root}/", "-c", "nginx.conf"]
        cmd += ["-e", str(root / "error.log"), "-g", "daemon off;"]
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.url = f"http://127.0.0.1:{port}"
        try:
            self._wait_ready(root)
        except BaseException:
            self.__exit__()
            raise
        return self.url

    def _wait_ready(self, root: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                break
            try:
                self.requests_served()
                return
            except requests.RequestException:
                time.sleep(0.05)
        log = root / "error.log"
        tail = log.read_text()[-600:] if log.exists() else "(no error log)"
        raise RuntimeError(f"nginx did not start at {self.url}: {tail}")

    def requests_served(self) -> int:
        """Requests nginx has answered so far (``stub_status``), these status readings
        (this one included) left out: the difference of two readings is exact."""
        text = requests.get(f"{self.url}/nginx_status", timeout=5).text
        self._readings += 1
        # "Active connections: 1 \nserver accepts handled requests\n 3 3 57 \nReading: ..."
        return int(text.splitlines()[2].split()[2]) - self._readings

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what we started
                proc.wait(STOP_TIMEOUT_S)
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
