"""bench.generator_ceiling on a machine without wrk: one line naming the Debian package to
install, exit 2, no traceback, nothing started."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.locust_runs import REPO


def test_a_missing_tool_is_one_line_and_exit_2(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no wrk there (nginx may be in /usr/sbin)
    done = subprocess.run(
        [sys.executable, "-m", "bench.generator_ceiling", "--rounds", "1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "wrk" in done.stderr and "apt-get install" in done.stderr


def test_generator_capacity_refuses_a_short_step_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "bench.generator_capacity", "--step-s", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "bench: --step-s must be at least 4 (seconds), not 1\n"


def test_the_bare_open_model_has_arrival_rate_user_s_in_flight_cap():
    """The bench copies the cap (importing the user class would monkey-patch the bench); a
    process of its own imports both, Locust first, as a locustfile would."""
    code = (
        "from users.arrival_rate_user import DEFAULT_MAX_IN_FLIGHT as user_cap\n"
        "from bench.generator_ceiling import OPEN_MAX_IN_FLIGHT as bench_cap\n"
        "print(user_cap, bench_cap)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    user_cap, bench_cap = done.stdout.split()
    assert bench_cap == user_cap
