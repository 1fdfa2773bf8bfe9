"""The leak and latency numbers of ``summary.json`` against the reference target's truths.

The same checks as ``python -m bench.report_accuracy`` (from ``bench.accuracy_checks``), each a real
locust run in a subprocess against the embedded target, read from its summary.json:

- leak: ``leak.slope_kb_per_request`` within 10 % of ``--leak-kb-per-request 64`` (verdict
  "leak"), and verdict "none" without the knob. The two runs go side by side (each has its
  own target; memory is measured per target) and last 75 s, not the bench's 90 s: a 65 s
  window after the 10 s warm-up, still above the analysis's 60 s / 1000 requests minimum;
- latency: the p50 of GET /v1/strategies with ``--latency-ms 20`` against the same route's
  p50 with ``--latency-ms 0``, run in the same test: the difference is
  the added 20 ms (at least 19 ms; at most 3 ms over, the route's own time cancelling out).
  The two go side by side, each against its own target, so both see the same machine.

About 2 minutes in all on a 2-core machine. The capacity check (breakpoint profile vs
N*1000/S) is not here: 1.5-3 minutes a setting is too slow for ``make test``; it runs in
``make calibrate`` (bench/report_accuracy.py and bench/breakpoint_accuracy.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.accuracy_checks import (
    Check,
    latency_check,
    leak_check,
    net_latency_error,
    no_leak_check,
)
from tests.locust_runs import assert_gone, started_targets

pytestmark = pytest.mark.slow

LEAK_RUN_S = 75


def _assert_clean(check: Check) -> None:
    """The run wrote a complete summary and left no target process behind."""
    assert check.run is not None, check.describe()
    assert_gone(started_targets(check.run.log))
    assert check.run.summary.get("complete", True), check.run.summary.get("incomplete_reasons")


@pytest.fixture(scope="module")
def leak_runs(tmp_path_factory) -> tuple[Check, Check]:
    workdir = tmp_path_factory.mktemp("leak")
    with ThreadPoolExecutor(2) as pool:
        leaking = pool.submit(leak_check, workdir, run_s=LEAK_RUN_S)
        clean = pool.submit(no_leak_check, workdir, run_s=LEAK_RUN_S)
        return leaking.result(), clean.result()


def test_leak_slope_within_10_percent_of_the_knob(leak_runs):
    check, _ = leak_runs
    _assert_clean(check)
    leak = check.run.summary["leak"]
    assert leak["requests_in_window"] >= 1000, leak
    assert check.passed, check.describe()
    assert leak["verdict"] == "leak"
    assert abs(leak["slope_kb_per_request"] - 64) <= 0.10 * 64


def test_no_leak_gives_verdict_none(leak_runs):
    _, check = leak_runs
    _assert_clean(check)
    assert check.run.summary["leak"]["requests_in_window"] >= 1000
    assert check.passed, check.describe()
    assert check.run.summary["leak"]["verdict"] == "none"


LATENCY_MS = 20.0
LATENCY_RUN_S = 6
NET_BELOW_MS = 1.0
"""The added latency must show at least this close: a recorder that loses time fails."""
NET_ABOVE_MS = 3.0
"""Queueing on a busy 2-core machine adds to the slower run; the knob is a floor, not exact."""


@pytest.mark.timing
def test_read_p50_grows_by_the_added_latency(tmp_path):
    # side by side, each with its own target: both see the same machine at the same time
    with ThreadPoolExecutor(2) as pool:
        added = pool.submit(
            latency_check, tmp_path / "added", latency_ms=LATENCY_MS, run_s=LATENCY_RUN_S
        )
        base = pool.submit(
            latency_check, tmp_path / "baseline", latency_ms=0.0, run_s=LATENCY_RUN_S
        )
        with_latency, baseline = added.result(), base.result()
    for check in (with_latency, baseline):
        _assert_clean(check)
        assert check.value is not None and check.value > 0, check.describe()
    net = net_latency_error(with_latency, baseline, LATENCY_MS)
    assert -NET_BELOW_MS <= net <= NET_ABOVE_MS, (with_latency.describe(), baseline.describe())
