"""Every named scenario in config/ starts, runs a few seconds (``-t 5s``) and exits cleanly.

Profiles are run as the README says, ``locust -f locustfile.py --config config/NAME.conf``:
the profile's ``shape = NAME`` picks its shape, so the explicit ``-f`` keeps it.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from rundir.layout import PSEUDO_REQUEST_TYPES
from tests.locust_runs import REPO, assert_gone, read_stats, started_targets

CONFIG = REPO / "config"
RUN_S = 5
PARALLEL = 4
"""Profiles run at once (each starts its own reference target): most send little load, so
four side by side still leave the 2 cores room."""

DEFAULT_POPULATION = ("GET", "/v1/strategies")
"""A row only the default population makes (BacktestUser opens the catalogue on start)."""

EXPECTED = {
    # profile: (shape class or None, runs the default population?, a row it must make)
    "smoke": (None, True, DEFAULT_POPULATION),
    "load-10": ("RampShape", True, DEFAULT_POPULATION),
    "load-50": ("RampShape", True, DEFAULT_POPULATION),
    "load-100": ("RampShape", True, DEFAULT_POPULATION),
    "scalability": ("StepShape", False, ("POST", "/v1/backtests")),
    "breakpoint": ("BreakpointShape", False, ("POST", "/v1/backtests")),
    "spike": ("SpikeShape", True, DEFAULT_POPULATION),
    "soak": ("SoakShape", True, DEFAULT_POPULATION),
    "leak": ("SoakShape", False, ("GET", "/v1/backtests")),
    "high-volume": ("RampShape", False, ("POST", "/v1/backtests")),
    "data-size": (None, False, ("POST", "/v1/backtests [1y]")),
    "cache": (None, False, ("POST", "/v1/backtests [cold]")),
    "database": ("StepShape", False, ("POST", "/v1/backtests")),
    "websocket": ("RampShape", False, ("WS_CONNECT", "/v1/jobs/{id}/events")),
    "jobs": ("StepShape", False, ("QUEUE", "depth")),
    "ci": (None, True, DEFAULT_POPULATION),
}
"""What each profile must run; a profile missing here fails ``test_every_profile_is_listed``.
A profile with its own classes (``scenario-users``) must not run the default population."""

RUN_ELSEWHERE = {
    "job-capacity": "tests/scenarios/test_job_capacity.py runs it short (its steps, drain and "
    "row interval shortened: 5 s of its first step would judge nothing) and checks its section",
}
"""Profiles this module does not run, and which test does."""


@dataclass
class ProfileRun:
    returncode: int
    stderr: str
    stats: dict
    summary: dict | None


def run_profile(name: str, tmp_path: Path) -> ProfileRun:
    out = tmp_path / name
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        "locustfile.py",
        "--config",
        str(CONFIG / f"{name}.conf"),
        "-t",
        f"{RUN_S}s",
        "--only-summary",
        "--csv",
        str(out / "run"),
    ]
    env = {**os.environ, "QUANTLOAD_RUN_DIR": str(out / "results")}
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert_gone(started_targets(done.stderr))
    stats, _failures = read_stats(out / "run")
    summary_file = out / "results" / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else None
    return ProfileRun(done.returncode, done.stderr, stats, summary)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, ProfileRun]:
    """Every profile, run once, a few at a time."""
    tmp = tmp_path_factory.mktemp("profiles")
    names = sorted(EXPECTED)
    with ThreadPoolExecutor(PARALLEL) as pool:
        return dict(zip(names, pool.map(lambda n: run_profile(n, tmp), names), strict=True))


def test_every_profile_is_listed():
    assert {p.stem for p in CONFIG.glob("*.conf")} == set(EXPECTED) | set(RUN_ELSEWHERE)


@pytest.mark.parametrize("name", sorted([*EXPECTED, *RUN_ELSEWHERE]))
def test_profile_says_what_question_it_answers(name):
    lines = (CONFIG / f"{name}.conf").read_text().splitlines()
    header = " ".join(line for line in itertools.takewhile(lambda x: x.startswith("#"), lines))
    assert header.startswith(f"# {name}: ") and "?" in header, (
        f"{name}.conf must start with a comment '# {name}: <the question it answers>?'"
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_profile_runs_briefly_and_exits_0(name, runs):
    run = runs[name]
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    shape, default_population, row = EXPECTED[name]
    if shape is not None:
        assert f"{shape}: " in run.stderr, f"{name} did not run {shape}"
    measured = {(e["method"], e["name"]) for e in (run.summary or {}).get("endpoints", [])}
    if row[0] in PSEUDO_REQUEST_TYPES:  # a measurement: the run directory's, not Locust's
        assert row in measured and row not in run.stats, (name, sorted(measured))
    else:
        assert row in run.stats, (name, sorted(run.stats))
    assert (DEFAULT_POPULATION in run.stats) == default_population, (name, sorted(run.stats))
    assert "progress: done | " in run.stderr, run.stderr[-3000:]  # the run's last line
    if name == "ci":  # its thresholds file was read and every rule in it judged, and passed
        rules = tomllib.loads((CONFIG / "thresholds.toml").read_text())["thresholds"]
        judged = {t["name"]: t["passed"] for t in run.summary["thresholds"]}
        for rule in (r for scoped in rules.values() for r in scoped):
            assert any(n.endswith(rule) for n in judged), (rule, judged)
        assert all(judged.values()) and run.summary["passed"], judged
