"""Shared fixtures: real reference targets on loopback, stopped by the test that starts them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psutil
import pytest
import requests

from plugin.embedded_target import EmbeddedTarget
from tests.processes import wait_gone


@pytest.fixture(scope="session")
def target() -> Iterator[EmbeddedTarget]:
    """One default target for the whole session (read-mostly tests share it)."""
    with EmbeddedTarget("--workers", "2", "--job-step-ms", "20") as t:
        yield t


@pytest.fixture
def start_target(tmp_path) -> Iterator[Callable[..., EmbeddedTarget]]:
    """Start a target with the given flags; every one is stopped, and checked gone, after."""
    started: list[tuple[EmbeddedTarget, list[psutil.Process]]] = []

    def start(*flags: str, **kwargs) -> EmbeddedTarget:
        t = EmbeddedTarget(*flags, db=kwargs.pop("db", tmp_path / f"t{len(started)}.db"), **kwargs)
        t.start()
        started.append((t, psutil.Process(t.pid).children(recursive=True)))
        return t

    yield start
    for t, children in started:
        t.stop()
        alive = wait_gone(children, timeout=10)
        assert not alive, f"target left worker processes behind: {alive}"


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
    """One short real run of the default population against the embedded target, shared
    by the tests that only read what it left (its report, its run directory)."""
    from tests.locust_runs import run_locust

    run = run_locust(
        "-u",
        "6",
        "-r",
        "6",
        "-t",
        "8s",
        tmp_path=tmp_path_factory.mktemp("default-run"),
        timeout=90,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


LONG_MODULES_FIRST = (
    "tests/reports/test_report_accuracy.py",  # two 75 s leak runs, light on CPU
    "tests/plugin/test_collector.py",
    "tests/plugin/test_locustfile.py",
    "tests/scenarios/test_profiles.py",  # every profile, four at a time
    "tests/scenarios/test_shapes.py",
    "tests/reports/test_compare.py",
    "tests/plugin/test_console.py",
    "tests/reports/test_history_cli.py",
    "tests/users/test_user_classes.py",
    "tests/reports/test_report_render.py",
    "tests/plugin/test_fault_runs.py",
    "tests/plugin/test_worker_faults.py",
    "tests/reports/test_thresholds_run.py",
    "tests/plugin/test_distributed_run.py",
    "tests/deploy/test_multi_host.py",
    "tests/metrics/test_target_sampler.py",
    "tests/plugin/test_outage.py",
    "tests/reports/test_stepped_report.py",
    "tests/metrics/test_aggregate.py",
    "tests/scenarios/test_job_capacity.py",
    "tests/reports/test_report_browser.py",
    "tests/plugin/test_webui.py",
    "tests/plugin/test_webui_guard.py",
)
"""The modules that hold a worker longest (one run's ``--durations``), longest first:
pytest-xdist hands out whole modules in collection order, and one of these started last
would run on alone at the end while the other workers wait."""


def pytest_collection_modifyitems(config, items) -> None:
    """Move :data:`LONG_MODULES_FIRST` to the front, keeping every other order as it was."""
    rank = {path: i for i, path in enumerate(LONG_MODULES_FIRST)}
    root = config.rootpath

    def key(item) -> int:
        path = item.path.relative_to(root).as_posix()
        return rank.get(path, len(rank))

    items.sort(key=key)  # stable: within a rank, collection order stays
