"""The generator's ceiling from rows of known cost: CPU % = fixed + per-request cost x rate."""

from __future__ import annotations

import numpy as np
import pytest

from reports.analysis.generator_ceiling import (
    CEILING_CPU_PERCENT,
    generator_ceiling,
    processes_needed,
)

US = 200.0  # CPU microseconds a request
FIXED = 3.0  # CPU % with no requests


def cpu_of(rps_per_process: np.ndarray) -> np.ndarray:
    return FIXED + rps_per_process * US / 1e6 * 100


def framed(values: np.ndarray) -> np.ndarray:
    """A start-up row before and a shutdown row after (both left out by the estimate)."""
    return np.concatenate([[1.0], values, [99.0]])


def test_stepped_rows_give_the_cost_and_the_ceiling_of_one_process():
    steps = np.repeat([200.0, 500.0, 1000.0, 2000.0], 5)
    found = generator_ceiling(framed(steps), {"local": framed(cpu_of(steps))})
    assert found is not None and found.fitted
    assert found.us_per_request == pytest.approx(US)
    assert found.fixed_percent == pytest.approx(FIXED)
    assert found.ceiling_rps == pytest.approx((CEILING_CPU_PERCENT - FIXED) / (US / 1e4))
    assert found.peak_rps_per_process == 2000.0
    assert found.peak_share == pytest.approx(2000.0 / found.ceiling_rps)
    assert not found.near  # 2,000 of 4,350 req/s


def test_workers_share_the_rate():
    steps = np.repeat([400.0, 1000.0, 3000.0, 6400.0], 4)  # two processes together
    cpu = framed(cpu_of(steps / 2))
    found = generator_ceiling(framed(steps), {"w1": cpu, "w2": cpu + 0.0})
    assert found is not None and found.processes == 2
    assert found.us_per_request == pytest.approx(US)
    assert found.peak_rps_per_process == 3200.0 and found.near  # 3,200 of 4,350: 74 %
    assert found.peak_share == pytest.approx(3200.0 / 4350.0)


def test_a_steady_rate_errs_low_by_counting_the_fixed_part_as_cost():
    steady = np.full(10, 1000.0)
    found = generator_ceiling(framed(steady), {"local": framed(cpu_of(steady))})
    assert found is not None and not found.fitted
    assert found.us_per_request == pytest.approx(US + FIXED / 100 / 1000 * 1e6)
    assert found.ceiling_rps < (CEILING_CPU_PERCENT - FIXED) / (US / 1e4)


@pytest.mark.parametrize(
    "case", ["no generator", "too few rows", "idle generator", "unsampled", "no requests"]
)
def test_no_estimate_without_loaded_rows(case):
    rps = framed(np.full(10, 1000.0))
    cpu = {"local": framed(cpu_of(np.full(10, 1000.0)))}
    if case == "no generator":
        cpu = {}
    elif case == "too few rows":
        rps, cpu = rps[:4], {"local": cpu["local"][:4]}
    elif case == "idle generator":
        cpu = {"local": np.full(12, 1.0)}
    elif case == "unsampled":
        cpu = {"local": np.full(12, np.nan)}
    else:
        rps = np.zeros(12)
    assert generator_ceiling(rps, cpu) is None


def test_processes_needed_keep_each_under_the_warning_line():
    assert processes_needed(1000, 4000) == 1  # 1,000 <= 0.7 x 4,000
    assert processes_needed(2800, 4000) == 1  # exactly at the line
    assert processes_needed(2801, 4000) == 2
    assert processes_needed(10000, 4000) == 4  # 10,000 / 2,800 = 3.6
    assert processes_needed(0, 4000) == 1


def test_summary_json_carries_the_figures_the_card_shows():
    steps = np.repeat([200.0, 500.0, 1000.0, 3200.0], 5)
    found = generator_ceiling(framed(steps), {"local": framed(cpu_of(steps))})
    assert found is not None
    shown = found.as_dict()
    assert shown["us_per_request"] == pytest.approx(US) and shown["processes"] == 1
    assert shown["ceiling_rps"] == pytest.approx(4350.0) and shown["near"] is True
    assert shown["peak_share"] == pytest.approx(3200 / 4350, abs=0.001)
    assert shown["ceiling_cpu_percent"] == CEILING_CPU_PERCENT and shown["fitted"] is True
