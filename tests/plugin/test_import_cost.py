"""The suite adds at most ``BUDGET_S`` to every locust process's start (issue: reports and
scipy were imported at start, ~1.9 s a process, when only a run's end needs them)."""

from __future__ import annotations

import statistics
import subprocess
import sys

import pytest

from bench.import_cost import BUDGET_S, import_seconds
from tests.locust_runs import REPO

ROUNDS = 3


@pytest.mark.timing
def test_importing_the_locustfile_costs_little_more_than_locust():
    extra = [import_seconds("locustfile") - import_seconds("locust") for _ in range(ROUNDS)]
    assert statistics.median(extra) <= BUDGET_S, extra


def test_heavy_report_libraries_wait_for_the_run_end():
    """Not a timing check: what the locustfile pulls in at import, by name (Jinja2 comes
    with Locust's own web UI, so it is not on the list)."""
    code = (
        "import sys, locustfile; heavy = {'scipy', 'plotly', 'reports.render'} "
        "& set(sys.modules); assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
