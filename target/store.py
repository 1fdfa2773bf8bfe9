"""SQLite persistence for backtests and jobs (WAL mode).

All writes go through one writer thread that commits in groups: many
concurrent writers never meet SQLite's "database is locked", nothing queued is
lost, and the event loop never waits on disk. Reads use a connection per
thread, which WAL lets run beside the writer.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS backtests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    strategy TEXT NOT NULL,
    parameters TEXT NOT NULL,
    start TEXT NOT NULL,
    "end" TEXT NOT NULL,
    created_at REAL NOT NULL,
    metrics TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS backtests_symbol ON backtests (symbol, seq);
CREATE INDEX IF NOT EXISTS backtests_strategy ON backtests (strategy, seq);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    error TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
"""
MAX_GROUP_COMMIT = 256
_STOP = object()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Store:
    """Backtests and jobs on disk. Writes are awaited until committed."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        writer = _connect(self.path)
        writer.executescript(SCHEMA)
        writer.commit()
        self._writer = writer
        self._queue: queue.Queue = queue.Queue()
        self._local = threading.local()
        self._thread = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self._thread.start()

    # -- writing --------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            while len(batch) < MAX_GROUP_COMMIT:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(more)
            self._commit(batch)
        self._writer.close()

    def _commit(self, batch: list[tuple[Callable[[sqlite3.Connection], Any], Future]]) -> None:
        results = []
        try:
            for op, _ in batch:
                results.append(op(self._writer))
            self._writer.commit()
        except Exception as exc:  # one bad op must not lose the others: replay them singly
            self._writer.rollback()
            for op, fut in batch:
                try:
                    value = op(self._writer)
                    self._writer.commit()
                    fut.set_result(value)
                except Exception as single:  # noqa: BLE001 - handed to the awaiting caller
                    self._writer.rollback()
                    fut.set_exception(single)
            del exc
            return
        for (_, fut), value in zip(batch, results, strict=True):
            fut.set_result(value)

    async def _write(self, op: Callable[[sqlite3.Connection], Any]) -> Any:
        fut: Future = Future()
        self._queue.put((op, fut))
        return await asyncio.wrap_future(fut)

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=10)

    # -- reading --------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
            conn.row_factory = sqlite3.Row
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return await asyncio.to_thread(lambda: fn(self._reader()))

    # -- backtests ------------------------------------------------------------
    async def save_backtest(self, doc: dict[str, Any], body: str) -> None:
        """``body`` is the stored document's JSON, served back verbatim on reads."""
        row = (
            doc["id"],
            doc["symbol"],
            doc["strategy"],
            json.dumps(doc["parameters"]),
            doc["start"],
            doc["end"],
            doc["created_at"],
            json.dumps(doc["metrics"]),
            body,
        )
        await self._write(
            lambda c: c.execute(
                'INSERT INTO backtests (id, symbol, strategy, parameters, start, "end", created_at,'
                " metrics, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    async def backtest_body(self, backtest_id: str) -> str | None:
        def fetch(c: sqlite3.Connection) -> str | None:
            row = c.execute("SELECT body FROM backtests WHERE id = ?", (backtest_id,)).fetchone()
            return row[0] if row else None

        return await self._read(fetch)

    async def query_backtests(
        self,
        *,
        strategy: str | None,
        symbol: str | None,
        limit: int,
        before_seq: int | None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first, keyset-paginated on ``seq``; returns (items, next cursor)."""
        clauses, args = [], []
        if strategy:
            clauses.append("strategy = ?")
            args.append(strategy)
        if symbol:
            clauses.append("symbol = ?")
            args.append(symbol)
        if before_seq is not None:
            clauses.append("seq < ?")
            args.append(before_seq)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = (
            f'SELECT seq, id, symbol, strategy, parameters, start, "end", created_at, metrics'
            f" FROM backtests {where} ORDER BY seq DESC LIMIT ?"
        )

        def fetch(c: sqlite3.Connection):
            rows = c.execute(sql, (*args, limit + 1)).fetchall()
            items = [
                {
                    "id": r["id"],
                    "symbol": r["symbol"],
                    "strategy": r["strategy"],
                    "parameters": json.loads(r["parameters"]),
                    "start": r["start"],
                    "end": r["end"],
                    "created_at": r["created_at"],
                    "metrics": json.loads(r["metrics"]),
                }
                for r in rows[:limit]
            ]
            next_seq = rows[limit - 1]["seq"] if len(rows) > limit else None
            return items, next_seq

        return await self._read(fetch)

    # -- jobs -----------------------------------------------------------------
    async def insert_job(self, job: dict[str, Any]) -> None:
        row = (
            job["id"],
            job["kind"],
            job["status"],
            json.dumps(job["request"]),
            job["progress"],
            job["created_at"],
        )
        await self._write(
            lambda c: c.execute(
                "INSERT INTO jobs (id, kind, status, request, progress, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    async def update_job(self, job_id: str, **fields: Any) -> None:
        if "result" in fields and fields["result"] is not None:
            fields["result"] = json.dumps(fields["result"])
        assignments = ", ".join(f"{name} = ?" for name in fields)
        args = (*fields.values(), job_id)
        await self._write(lambda c: c.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", args))

    async def job_doc(self, job_id: str) -> dict[str, Any] | None:
        def fetch(c: sqlite3.Connection):
            row = c.execute(
                "SELECT id, kind, status, progress, created_at, started_at, finished_at, error"
                " FROM jobs WHERE id = ?",
                (job_id,),
            ).fetchone()
            return dict(row) if row else None

        return await self._read(fetch)

    async def job_result(self, job_id: str) -> Any:
        def fetch(c: sqlite3.Connection):
            row = c.execute("SELECT result FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return json.loads(row[0]) if row and row[0] else None

        return await self._read(fetch)

    async def count(self, table: str) -> int:
        if table not in ("backtests", "jobs"):
            raise ValueError(table)
        return await self._read(lambda c: c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
