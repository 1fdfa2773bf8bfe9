"""The run history (``reports.history_store``, ``reports.history_record``): written at the
end of a real run, concurrent writers, schema versions, foreign and damaged databases,
the finalize stage, and no secret in it."""

from __future__ import annotations

import dataclasses
import multiprocessing
import sqlite3

import pytest
from sqlalchemy import update

from reports.finalize import finalize
from reports.history_record import AGGREGATE, EndpointRecord, RunRecord, git_commit
from reports.history_store import (
    SCHEMA_VERSION,
    HistoryError,
    append_run,
    history_url,
    open_history,
    read_history,
    schema_table,
)
from tests.locust_runs import REPO, free_port, run_locust
from tests.reports.test_finalize import finished_run

SECRET = "k3y5ecretAbcdef0123456789xyz"


def record(
    run_id: str = "r",
    build: str = "b",
    p95: float = 10.0,
    profile: str = "ci",
    endpoint: str = "GET /x",
) -> RunRecord:
    """A run of ``profile`` with the aggregate and one endpoint at ``p95``."""
    rows = (
        EndpointRecord(AGGREGATE, 1000, 0, 100.0, p95 / 2, p95, 2 * p95),
        EndpointRecord(endpoint, 1000, 0, 100.0, p95 / 2, p95, 2 * p95, histogram="HIST"),
    )
    return RunRecord(
        run_id=run_id,
        build_id=build,
        profile=profile,
        classes="StressUser",
        host="embedded",
        target_flags="",
        started_at=None,
        start_epoch=None,
        complete=True,
        capacity_rps=None,
        leak_kb_per_request=None,
        summary_json="{}",
        endpoints=rows,
    )


def _append_many(args: tuple[str, int, int]) -> None:
    url, worker, n = args
    engine = open_history(url)
    for i in range(n):
        append_run(engine, record(run_id=f"w{worker}-{i}", build=f"b{worker}"))
    engine.dispose()


def test_concurrent_writers_lose_no_run(tmp_path):
    url = history_url(str(tmp_path / "h.sqlite"))
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(6) as pool:
        pool.map(_append_many, [(url, w, 15) for w in range(6)])
    rows = read_history(open_history(url, create=False), endpoint=AGGREGATE)
    assert len(rows) == 90 and len({r.run_id for r in rows}) == 90


def test_schema_version_and_filters(tmp_path):
    engine = open_history(history_url(str(tmp_path / "h.sqlite")))
    append_run(engine, record("a", profile="ci"))
    append_run(engine, record("b", profile="soak"))
    assert [r.run_id for r in read_history(engine, profile="soak")] == ["b"] * 2
    assert {r.endpoint for r in read_history(engine, endpoint="GET /x")} == {"GET /x"}
    with engine.begin() as conn:
        assert conn.execute(schema_table.select()).scalar_one() == SCHEMA_VERSION
        conn.execute(update(schema_table).values(version=SCHEMA_VERSION + 1))
    with pytest.raises(HistoryError, match="newer quantload"):
        open_history(str(engine.url))


@pytest.mark.parametrize("case", ["garbage", "foreign", "missing"])
def test_unreadable_foreign_or_missing_database_is_one_line(tmp_path, case):
    path = tmp_path / "h.sqlite"
    if case == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    elif case == "foreign":
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(HistoryError) as info:
        open_history(history_url(str(path)), create=case != "missing")
    assert "\n" not in str(info.value)


def test_history_url_forms(tmp_path):
    assert history_url("none") is None and history_url("NONE") is None
    assert history_url(None, tmp_path / "results" / "run1") == (
        f"sqlite:///{tmp_path / 'results' / 'history.sqlite'}"
    )
    assert history_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert history_url("rel.sqlite").endswith("/rel.sqlite")
    assert git_commit(REPO) and git_commit(tmp_path) is None


def test_a_failing_history_stage_is_named_and_the_others_still_run(tmp_path):
    demo = tmp_path / "run"
    finished_run(demo)
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"garbage" * 200)
    outcome = finalize(demo, history_db=str(bad))
    assert outcome.stage_errors == ["history"] and outcome.report is not None
    assert finalize(demo, history_db="none").stage_errors == []
    assert not (tmp_path / "history.sqlite").exists()


@pytest.mark.slow
def test_a_real_run_is_appended_with_its_identity_and_no_secret(tmp_path):
    run = run_locust(
        "-u", "2", "-r", "2", "-t", "3s", "StressUser",
        "--build-id", "build-77",
        "--api-key", SECRET,
        "--target-flags", f"--latency-ms 1 --api-key {SECRET}",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    db = tmp_path / "history.sqlite"
    rows = read_history(open_history(history_url(str(db)), create=False))
    assert {r.build_id for r in rows} == {"build-77"} and {r.profile for r in rows} == {
        "locustfile"
    }
    aggregate = next(r for r in rows if r.endpoint == AGGREGATE)
    assert aggregate.count > 0 and aggregate.p95_ms is not None
    assert any(r.endpoint == "POST /v1/backtests" for r in rows)
    for path in tmp_path.glob("history.sqlite*"):
        assert SECRET.encode() not in path.read_bytes()
    with sqlite3.connect(db) as conn:
        flags, classes, host = conn.execute(
            "SELECT target_flags, classes, host FROM quantload_runs"
        ).fetchone()
        hist = conn.execute(
            "SELECT histogram FROM quantload_endpoints WHERE endpoint='POST /v1/backtests'"
        ).fetchone()[0]
    assert "***" in flags and classes == "StressUser" and host == "embedded" and hist


def test_records_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        record().run_id = "x"  # type: ignore[misc]


def test_a_database_password_never_reaches_the_message():
    with pytest.raises(HistoryError) as info:
        open_history(f"postgresql://quantload:{SECRET}@127.0.0.1:{free_port()}/history")
    assert SECRET not in str(info.value) and "\n" not in str(info.value)
