"""The run history: one database (SQLite by default, any SQLAlchemy URL) every run appends to.

Tables (SQLAlchemy Core, created on first use):

- ``quantload_schema``: one row, the schema version (:data:`SCHEMA_VERSION`). A newer
  quantload reads an older history; a history written by a newer one, or a database
  holding other tables but not ours, is refused (:class:`HistoryError`);
- ``quantload_runs``: one row per run: identity (build id, profile, classes, host,
  target flags, start), completeness, capacity, leak slope and the final summary;
- ``quantload_endpoints``: one row per run and endpoint (``all requests`` for the
  aggregate): count, failures, rps, p50/p95/p99 and the encoded HDR histogram.

Concurrent writers lose no run: each run is one transaction; SQLite runs in WAL mode
with a busy timeout (writers queue), PostgreSQL's transactions do the rest.
:func:`open_history` takes a path, a URL or ``none``; :func:`append_run` writes;
:func:`read_history` reads the series (no histograms) for the gate and the page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    inspect,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.schema import CreateIndex, CreateTable

from reports.history_record import RunRecord

__all__ = [
    "DEFAULT_HISTORY_FILE",
    "SCHEMA_VERSION",
    "HistoryError",
    "HistoryRow",
    "append_run",
    "catalogue",
    "history_url",
    "shown_url",
    "open_history",
    "read_history",
]

SCHEMA_VERSION = 1
DEFAULT_HISTORY_FILE = "history.sqlite"
"""Beside the run directories: ``results/history.sqlite`` for the default ``results/<run-id>``."""
SQLITE_BUSY_TIMEOUT_MS = 60_000
"""How long a SQLite writer waits for another (concurrent CI jobs queue, never fail)."""
DISABLED = "none"
CREATE_ATTEMPTS = 3

metadata = MetaData()
schema_table = Table("quantload_schema", metadata, Column("version", Integer, nullable=False))
runs_table = Table(
    "quantload_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(200), nullable=False),
    Column("build_id", String(200)),
    Column("profile", String(200), nullable=False, index=True),
    Column("classes", String(500), nullable=False),
    Column("host", String(500)),
    Column("target_flags", Text, nullable=False),
    Column("started_at", String(64)),
    Column("start_epoch", Float),
    Column("recorded_at", Float, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("capacity_rps", Float),
    Column("leak_kb_per_request", Float),
    Column("summary", Text, nullable=False),
)
endpoints_table = Table(
    "quantload_endpoints",
    metadata,
    Column("run", Integer, ForeignKey("quantload_runs.id"), nullable=False, index=True),
    Column("endpoint", String(500), nullable=False),
    Column("count", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("rps", Float),
    Column("p50_ms", Float),
    Column("p95_ms", Float),
    Column("p99_ms", Float),
    Column("histogram", Text),
)


class HistoryError(Exception):
    """The history cannot be opened, read or written (said in one line)."""


def history_url(spec: str | None, run_dir: Path | str | None = None) -> str | None:
    """The database URL of ``--history-db``: None/'' -> ``history.sqlite`` beside the run
    directory (``results/history.sqlite``); ``none`` -> None (disabled); a URL as is; any
    other text a SQLite file path."""
    if spec is not None and spec.strip().lower() == DISABLED:
        return None
    if not spec:
        parent = Path(run_dir).resolve().parent if run_dir is not None else Path("results")
        return f"sqlite:///{parent / DEFAULT_HISTORY_FILE}"
    if "://" in spec:
        return spec
    return f"sqlite:///{Path(spec).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_history(url: str, *, create: bool = True) -> Engine:
    """An engine on the history at ``url``, its schema checked (and created when ``create``
    and the database holds none of it). Raises :class:`HistoryError`: a bad URL, an
    unreadable or foreign database, a history from a newer quantload."""
    try:
        engine = create_engine(url, future=True)
    except (ArgumentError, SQLAlchemyError, ImportError, ValueError) as exc:
        raise HistoryError(f"cannot open the history {shown_url(url)}: {_short(exc)}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        path = engine.url.database
        if path and not create and not Path(path).exists():
            raise HistoryError(f"no history at {path}")
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        _check_schema(engine, create)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise HistoryError(f"cannot read the history {shown_url(url)}: {_short(exc)}") from exc
    return engine


def _check_schema(engine: Engine, create: bool) -> None:
    names = set(inspect(engine).get_table_names())
    ours = {t.name for t in metadata.sorted_tables}
    if not names & ours and (not create or names):
        raise HistoryError(
            "the database holds other tables and no quantload history (a foreign database)"
            if names
            else "the database holds no quantload history"
        )
    if not ours <= names:
        if not create:
            raise HistoryError("the database holds a damaged quantload history (tables missing)")
        _create(engine)
    row = _version(engine)
    if row is None and create:  # a concurrent first run made the tables, not yet the row
        _create(engine)
        row = _version(engine)
    if row is None:
        raise HistoryError("the history has no schema version")
    if int(row[0]) > SCHEMA_VERSION:
        raise HistoryError(
            f"the history was written by a newer quantload (schema {row[0]}, "
            f"this one reads up to {SCHEMA_VERSION})"
        )


def _version(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(schema_table.c.version)).first()


def _create(engine: Engine) -> None:
    """The tables, idempotent under concurrent first runs (``IF NOT EXISTS``; PostgreSQL
    can still fail one of two racing ``CREATE``s: it is tried again), and the version row
    (a second, identical one from a racing run is harmless)."""
    for attempt in range(CREATE_ATTEMPTS):
        try:
            _create_once(engine)
            return
        except SQLAlchemyError:
            if attempt == CREATE_ATTEMPTS - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


def _create_once(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            conn.execute(CreateTable(table, if_not_exists=True))
            for index in table.indexes:
                conn.execute(CreateIndex(index, if_not_exists=True))
        if conn.execute(select(schema_table.c.version)).first() is None:
            conn.execute(schema_table.insert().values(version=SCHEMA_VERSION))


def append_run(engine: Engine, record: RunRecord, *, recorded_at: float | None = None) -> int:
    """Append one run and its endpoints in one transaction; its row id."""
    values = {
        k: getattr(record, k)
        for k in (
            "run_id build_id profile classes host target_flags started_at start_epoch "
            "complete capacity_rps leak_kb_per_request"
        ).split()
    }
    for name in ("start_epoch", "capacity_rps", "leak_kb_per_request"):
        values[name] = _float(values[name])
    values.update(summary=record.summary_json, recorded_at=recorded_at or time.time())
    try:
        with engine.begin() as conn:
            key = conn.execute(runs_table.insert().values(**values)).inserted_primary_key
            pk = key[0] if key else None
            rows = [
                {
                    "run": pk,
                    "endpoint": e.endpoint,
                    "count": int(e.count),
                    "failures": int(e.failures),
                    "rps": _float(e.rps),
                    "p50_ms": _float(e.p50_ms),
                    "p95_ms": _float(e.p95_ms),
                    "p99_ms": _float(e.p99_ms),
                    "histogram": e.histogram,
                }
                for e in record.endpoints
            ]
            if rows:
                conn.execute(endpoints_table.insert(), rows)
    except SQLAlchemyError as exc:
        raise HistoryError(f"cannot write the history: {_short(exc)}") from exc
    return int(pk or 0)


@dataclass(frozen=True)
class HistoryRow:
    """One run and one endpoint's figures, as the gate and the page read them."""

    run: int
    run_id: str
    build_id: str | None
    profile: str
    classes: str
    started_at: str | None
    complete: bool
    capacity_rps: float | None
    leak_kb_per_request: float | None
    endpoint: str
    count: int
    failures: int
    rps: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


def read_history(
    engine: Engine, *, profile: str | None = None, endpoint: str | None = None
) -> list[HistoryRow]:
    """Every run's endpoint rows (no histograms), oldest run first; filtered by profile
    and endpoint when given."""
    r, e = runs_table.c, endpoints_table.c
    query = (
        select(
            r.id.label("run"),
            r.run_id,
            r.build_id,
            r.profile,
            r.classes,
            r.started_at,
            r.complete,
            r.capacity_rps,
            r.leak_kb_per_request,
            e.endpoint,
            e.count,
            e.failures,
            e.rps,
            e.p50_ms,
            e.p95_ms,
            e.p99_ms,
        )
        .select_from(runs_table.join(endpoints_table, e.run == r.id))
        .order_by(r.id)
    )
    if profile is not None:
        query = query.where(r.profile == profile)
    if endpoint is not None:
        query = query.where(e.endpoint == endpoint)
    try:
        with engine.connect() as conn:
            return [HistoryRow(**dict(row._mapping)) for row in conn.execute(query)]
    except SQLAlchemyError as exc:
        raise HistoryError(f"cannot read the history: {_short(exc)}") from exc


def _float(value: float | None) -> float | None:
    """A plain float (numpy's are not every driver's: psycopg2 writes ``np.float64(...)``)."""
    return None if value is None else float(value)


def catalogue(engine: Engine) -> tuple[str | None, dict[str, set[str]]]:
    """The newest run's profile and every profile's endpoints (one light query each)."""
    r, e = runs_table.c, endpoints_table.c
    try:
        with engine.connect() as conn:
            newest = conn.execute(select(r.profile).order_by(r.id.desc()).limit(1)).scalar()
            pairs = conn.execute(
                select(r.profile, e.endpoint)
                .select_from(runs_table.join(endpoints_table, e.run == r.id))
                .distinct()
            ).all()
    except SQLAlchemyError as exc:
        raise HistoryError(f"cannot read the history: {_short(exc)}") from exc
    out: dict[str, set[str]] = {}
    for profile, endpoint in pairs:
        out.setdefault(profile, set()).add(endpoint)
    return newest, out


def _short(exc: BaseException) -> str:
    """An error in one line, without SQLAlchemy's statement and link."""
    text = str(getattr(exc, "orig", None) or exc)
    return " ".join(text.split("\n")[0].split())[:300]


def shown_url(url: str) -> str:
    """A URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL: show only its scheme
        return url.split("://")[0] + "://..."
