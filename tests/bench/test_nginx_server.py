"""bench.nginx_server: Debian's nginx answering recorded bodies (POST 201), counting what it
answered, and gone when the bench is done (its process and its temporary directory).
Skipped where nginx is not installed (CI does not run the benches)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from bench.nginx_server import NginxServer, missing_tools

pytestmark = pytest.mark.skipif(missing_tools("nginx") is not None, reason="nginx not installed")


def test_recorded_answers_are_served_counted_and_nothing_is_left():
    server = NginxServer(b'{"id": "b1"}', b'{"bars": []}', cpu=0)
    with server as url, requests.Session() as s:
        before = server.requests_served()
        created = s.post(f"{url}/v1/backtests", json={"symbol": "AAPL"})
        reread = s.get(f"{url}/v1/backtests/b1")
        market = s.get(f"{url}/v1/market-data/AAPL?start=2023-07-03")
        tiny = s.get(f"{url}/tiny")
        other = s.get(f"{url}/v1/queue")
        assert (created.status_code, created.content) == (201, b'{"id": "b1"}')
        assert created.headers["Content-Type"] == "application/json"
        assert (reread.status_code, reread.content) == (200, b'{"id": "b1"}')
        assert (market.status_code, market.content) == (200, b'{"bars": []}')
        assert (tiny.status_code, tiny.json()) == (200, {"ok": True})
        assert other.status_code == 404
        assert server.requests_served() - before == 5
        proc, root = server._proc, Path(server._dir.name)
    assert proc.poll() is not None
    assert not root.exists()
