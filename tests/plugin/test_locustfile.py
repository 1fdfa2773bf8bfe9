"""locustfile.py as a user runs it: options, bad input, and the embedded default target."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.locust_runs import (
    LOCUSTFILE,
    REPO,
    assert_gone,
    processes_args,
    run_locust,
    started_targets,
)
from tests.processes import wait_gone


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--host", "ftp://example.com"], "--host"),
        (["--host", "not a url"], "--host"),
        (["--arrival-rate", "0"], "--arrival-rate"),
        (["--arrival-rate", "-5"], "--arrival-rate"),
        (["--arrival-rate", "fast"], "--arrival-rate"),
        (["NoSuchUser"], "unknown user class NoSuchUser"),
        (["--max-in-flight", "0"], "--max-in-flight"),
        (["--shape", "zigzag"], "--shape"),
        (["-u", "-1"], "-u/--users: must be 0 or more"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle, tmp_path):
    run = run_locust("-u", "1", "-t", "2s", *args, tmp_path=tmp_path, timeout=60)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not run.stats, "no load may be sent on bad input"


@pytest.mark.parametrize("where", ["a file", "under a file", "cannot be created"])
def test_unusable_run_dir_is_one_line_and_exit_2_before_any_load(where, tmp_path):
    a_file = tmp_path / "taken"
    a_file.write_text("not a directory\n")
    run_dir = {
        "a file": a_file,
        "under a file": a_file / "run",
        "cannot be created": Path("/proc/quantload-no-such/run"),
    }[where]
    run = run_locust("-u", "1", "-t", "2s", "--run-dir", str(run_dir), tmp_path=tmp_path)
    assert run.returncode == 2, run.stderr[-2000:]
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "--run-dir" in lines[0], run.stderr
    assert not run.stats, "no load may be sent on bad input"
    assert a_file.read_text() == "not a directory\n"


def test_a_finished_run_is_never_overwritten(tmp_path):
    earlier = tmp_path / "rundir"
    earlier.mkdir()
    (earlier / "summary.json").write_text('{"run_id": "earlier"}\n')
    (earlier / "meta.json").write_text('{"run_id": "earlier"}\n')
    run = run_locust("-u", "1", "-t", "1s", "StressUser", tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (earlier / "summary.json").read_text() == '{"run_id": "earlier"}\n'
    fresh = tmp_path / "rundir-2"
    assert json.loads((fresh / "summary.json").read_text())["total"]["count"] > 0
    assert f"holds an earlier run, kept as it is: this run writes {fresh}" in run.stderr


def test_web_ui_port_in_use_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--web-host", "127.0.0.1"]
            + ["--web-port", str(port), "--run-dir", str(tmp_path / "run")],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if "INFO" not in line]
    assert errors == [
        f"quantload: the web UI cannot listen on 127.0.0.1:{port}: Address already in use"
    ], done.stderr
    assert not started_targets(done.stderr)  # checked before the target starts


def test_bad_target_flags_are_one_line(tmp_path):
    run = run_locust(
        "-u", "1", "-t", "2s", "--target-flags", "--error-rate 7", tmp_path=tmp_path, timeout=60
    )
    assert run.returncode == 2
    assert "embedded reference target did not start" in run.stderr
    assert "Traceback" not in run.stderr


def test_default_population_against_embedded_target(default_run):
    run = default_run  # conftest's shared run of the default population, no class named
    assert run.returncode == 0, run.stderr[-2000:]
    assert "started the reference target at http://127.0.0.1:" in run.stderr
    assert run.count() > 0 and int(run.total["Failure Count"]) == 0, run.failures
    names = {name for _, name in run.stats}
    assert "/v1/backtests" in names and "/v1/jobs" in names
    assert not any(
        "StressUser" in line for line in run.stderr.splitlines() if "Spawning" in line
    ), "only the default population runs"


def test_processes_mode_starts_exactly_one_target(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        LOCUSTFILE,
        "--headless",
        *processes_args(2),
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        "8s",
        "--only-summary",
        "--run-dir",
        str(tmp_path / "run"),
        "StressUser",
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    seen: set[int] = set()
    try:
        root = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                seen |= {
                    c.pid
                    for c in root.children(recursive=True)
                    if c.cmdline()[1:3] == ["-m", "target"]
                }
            except psutil.Error:
                pass
            time.sleep(0.2)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert len(seen) == 1, f"expected one target, saw {seen}"
    assert started_targets(err) == list(seen)
    assert_gone(list(seen))


def test_ctrl_c_stops_the_embedded_target(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            LOCUSTFILE,
            "--headless",
            "-u",
            "2",
            "-t",
            "60s",
            "--run-dir",
            str(tmp_path / "run"),
            "StressUser",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = ""
    try:
        deadline = time.monotonic() + 60
        while not started_targets(log) and time.monotonic() < deadline:
            log += proc.stderr.readline()
        assert started_targets(log), "the embedded target never started"
        target = psutil.Process(started_targets(log)[0])
        family = [target, *target.children(recursive=True)]
        deadline = time.monotonic() + 30
        while (
            "Ramping to" not in log
            and "All users spawned" not in log
            and time.monotonic() < deadline
        ):
            log += proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    alive = wait_gone(family, timeout=15)
    assert not alive


def test_api_key_reaches_the_target_and_never_the_output(tmp_path):
    key = "k3y-that-must-not-leak"
    run = run_locust(
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "3s",
        "StressUser",
        tmp_path=tmp_path,
        env={"QUANTLOAD_API_KEY": key},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.count() > 0 and int(run.total["Failure Count"]) == 0, run.failures
    assert key not in run.stdout + run.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "summary.json" for p in written)
    for path in written:  # CSV, run directory (meta, rows, events, summary, junit)
        assert key not in path.read_text(errors="replace"), path
    # the target really checks it: told another key, it refuses every request
    refused = run_locust(
        "-u",
        "1",
        "-t",
        "2s",
        "StressUser",
        "--target-flags",
        "--api-key other",
        tmp_path=tmp_path / "refused",
        env={"QUANTLOAD_API_KEY": key},
    )
    assert refused.count() > 0 and refused.count() == int(refused.total["Failure Count"])
    assert key not in refused.stdout + refused.stderr
