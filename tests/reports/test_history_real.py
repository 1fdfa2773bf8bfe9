"""The CI gate on real runs, short form (``make calibrate`` runs the long one:
``bench.history_calibration``, ten runs then five 15 ms slower): five real runs against a
reference target, then one against a target 15 ms slower; ``history check`` exits 1."""

from __future__ import annotations

import pytest

from bench.history_calibration import calibrate


@pytest.mark.slow
@pytest.mark.timing  # latency against the runs' noise: a loaded parallel phase hid it once
def test_a_15_ms_slower_build_fails_the_gate(tmp_path, start_target):
    normal, slow = start_target("--latency-ms", "0"), start_target("--latency-ms", "15")
    out = calibrate(
        tmp_path / "history.sqlite",
        tmp_path,
        baseline=5,
        slow=1,
        seconds=3,  # 60 answers a run: a 15 ms shift stands out of a busy machine's noise
        hosts=(normal.url, slow.url),
    )
    assert out.ok, out.output
    assert "p50 (ms)" in out.output and "REGRESSION" in out.output
