"""Persistence under many concurrent writers: nothing lost, nothing mixed up."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import requests

WRITERS = 20
PER_WRITER = 25


def test_concurrent_writers_lose_nothing(start_target, tmp_path):
    db = tmp_path / "writers.db"
    t = start_target(db=db)

    def writer(i: int) -> list[str]:
        symbol = f"W{i:02d}"
        with requests.Session() as s:
            ids = []
            for k in range(PER_WRITER):
                r = s.post(
                    f"{t.url}/v1/backtests",
                    json={
                        "symbol": symbol,
                        "strategy": ["sma_cross", "rsi"][k % 2],
                        "start": "2022-01-03",
                        "end": "2023-12-29",
                    },
                    timeout=60,
                )
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
            return ids

    with ThreadPoolExecutor(WRITERS) as pool:
        written = [i for ids in pool.map(writer, range(WRITERS)) for i in ids]
    assert len(written) == len(set(written)) == WRITERS * PER_WRITER

    with requests.Session() as s:
        for backtest_id in written[::7]:
            assert s.get(f"{t.url}/v1/backtests/{backtest_id}").json()["id"] == backtest_id
        found, cursor = [], None
        while True:
            params = {"symbol": "W07", "limit": 10, **({"cursor": cursor} if cursor else {})}
            page = s.get(f"{t.url}/v1/backtests", params=params).json()
            found += page["items"]
            if not (cursor := page["next_cursor"]):
                break
        assert len(found) == PER_WRITER and {b["symbol"] for b in found} == {"W07"}
        rsi = s.get(f"{t.url}/v1/backtests", params={"strategy": "rsi", "limit": 200}).json()
        assert len(rsi["items"]) == 200 and {b["strategy"] for b in rsi["items"]} == {"rsi"}

    with sqlite3.connect(db) as conn:  # the file itself: WAL mode, every row there
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert (
            conn.execute("SELECT COUNT(DISTINCT id) FROM backtests").fetchone()[0]
            == WRITERS * PER_WRITER
        )
