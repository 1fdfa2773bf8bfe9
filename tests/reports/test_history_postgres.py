"""The run history on a real PostgreSQL: a throwaway cluster (Debian's ``postgresql``
binaries, ``initdb`` + ``pg_ctl`` in a temporary directory, as a non-root user, on a free
port of 127.0.0.1), written by finalize and by concurrent writers, read by the gate;
stopped and removed by the test."""

from __future__ import annotations

import glob
import multiprocessing
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from reports.finalize import finalize
from reports.history_record import AGGREGATE
from reports.history_store import HistoryError, append_run, open_history, read_history
from tests.locust_runs import free_port
from tests.reports.test_finalize import finished_run
from tests.reports.test_history_cli import cli, levels
from tests.reports.test_history_store import _append_many, record

PG_USER = "quantload"
RUN_AS = "nobody"
"""PostgreSQL refuses to run as root: the cluster runs as this user when the tests are root."""


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    return Path(which).resolve().parent if which else None


def _demote() -> None:
    user = pwd.getpwnam(RUN_AS)
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    bin_dir = _bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        pytest.skip("PostgreSQL binaries (Debian's postgresql package) are not installed")
    root = Path(tempfile.mkdtemp(prefix="quantload-pg-", dir="/tmp"))
    as_root = os.geteuid() == 0
    if as_root:
        user = pwd.getpwnam(RUN_AS)
        os.chown(root, user.pw_uid, user.pw_gid)
    demote = _demote if as_root else None
    data, port = root / "data", free_port()
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "HOME": str(root)}

    def run(*cmd: str) -> None:
        subprocess.run(cmd, check=True, capture_output=True, env=env, preexec_fn=demote, timeout=60)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8")
        run(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "30",
            "-o", f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off", "start",
        )  # fmt: skip
        yield f"postgresql+psycopg2://{PG_USER}@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True, env=env, preexec_fn=demote, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def test_finalize_appends_to_postgres_and_the_gate_reads_it(postgres_url, tmp_path):
    run = tmp_path / "run"
    finished_run(run)
    outcome = finalize(run, history_db=postgres_url, build_id="pg-build")
    assert outcome.stage_errors == []
    engine = open_history(postgres_url, create=False)
    rows = read_history(engine, endpoint=AGGREGATE)
    assert [(r.build_id, r.profile) for r in rows] == [("pg-build", "test")]
    for i, p95 in enumerate(levels(10, 5, 1.3)):
        append_run(engine, record(f"gate-{i}", f"b{i}", p95, profile="gate"))
    engine.dispose()
    done = cli(
        "check", "--history-db", postgres_url, "--profile", "gate", "--junit", tmp_path / "j.xml"
    )
    assert done.returncode == 1 and "regression since run 11 of 15" in done.stdout, done.stderr


def test_concurrent_writers_lose_no_run_on_postgres(postgres_url):
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        pool.map(_append_many, [(postgres_url, 100 + w, 10) for w in range(4)])
    engine = open_history(postgres_url, create=False)
    rows = [r for r in read_history(engine, endpoint=AGGREGATE) if r.run_id.startswith("w10")]
    engine.dispose()
    assert len({r.run_id for r in rows}) == 40


def test_concurrent_first_runs_create_one_history_on_postgres(postgres_url):
    """Four writers on a fresh database at once: the schema made once, no run lost."""
    fresh = postgres_url.rsplit("/", 1)[0] + "/fresh"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE fresh"))
    admin.dispose()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        pool.map(_append_many, [(fresh, w, 5) for w in range(4)])
    engine = open_history(fresh, create=False)
    assert len(read_history(engine, endpoint=AGGREGATE)) == 20
    engine.dispose()


def test_a_wrong_postgres_url_is_one_line(postgres_url):
    bad = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(HistoryError) as info:
        open_history(bad)
    assert "\n" not in str(info.value) and "no_such_database" in str(info.value)
