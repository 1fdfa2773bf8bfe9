"""reports.analysis.usl: recover known USL parameters from synthetic points."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reports.analysis.usl import fit_usl, usl_curve, usl_throughput

N = np.array([1, 2, 4, 8, 16, 32, 64], dtype=float)
SIGMA, KAPPA, LAM = 0.05, 0.001, 10.0
PEAK = math.sqrt((1 - SIGMA) / KAPPA)  # 30.8


def test_exact_points_give_the_parameters_and_peak():
    fit = fit_usl(N, usl_throughput(N, SIGMA, KAPPA, LAM))
    assert fit.supported and fit.points == 7
    assert fit.sigma == pytest.approx(SIGMA, rel=0.01)
    assert fit.kappa == pytest.approx(KAPPA, rel=0.01)
    assert fit.lam == pytest.approx(LAM, rel=0.01)
    assert fit.peak_concurrency == pytest.approx(30.8, abs=0.1)
    assert fit.max_throughput == pytest.approx(float(usl_throughput(PEAK, SIGMA, KAPPA, LAM)))
    assert fit.r2 == pytest.approx(1.0) and fit.rmse < 1e-6
    assert "peaks near 31 users" in fit.note and "contention 5 %" in fit.note
    assert usl_curve(fit, N) == pytest.approx(usl_throughput(N, SIGMA, KAPPA, LAM), rel=1e-6)
    assert json.dumps(fit.as_dict(), allow_nan=False)


def test_noisy_points_are_recovered_within_a_few_percent():
    noise = np.random.default_rng(7).normal(0, 0.01, N.size)
    fit = fit_usl(N, usl_throughput(N, SIGMA, KAPPA, LAM) * (1 + noise))
    assert fit.supported and fit.r2 > 0.99
    assert fit.sigma == pytest.approx(SIGMA, rel=0.1)
    assert fit.kappa == pytest.approx(KAPPA, rel=0.1)
    assert fit.lam == pytest.approx(LAM, rel=0.05)
    assert fit.peak_concurrency == pytest.approx(PEAK, rel=0.05)


def test_linear_scaling_has_no_peak():
    fit = fit_usl(N, LAM * N)
    assert fit.supported and fit.kappa == pytest.approx(0, abs=1e-9)
    assert fit.sigma == pytest.approx(0, abs=1e-9)
    assert fit.peak_concurrency is None and fit.max_throughput is None
    assert "linear" in fit.note


def test_contention_only_approaches_an_asymptote():
    fit = fit_usl(N, usl_throughput(N, 0.1, 0.0, LAM))
    assert fit.peak_concurrency is None
    assert fit.max_throughput == pytest.approx(LAM / 0.1, rel=0.01)


def test_three_levels_are_not_supported():
    fit = fit_usl(N[:3], usl_throughput(N[:3], SIGMA, KAPPA, LAM))
    assert not fit.supported and "3 distinct concurrency level" in fit.note
    assert fit.sigma is not None  # fitted, but not to be trusted
    two = fit_usl(N[:2], usl_throughput(N[:2], SIGMA, KAPPA, LAM))
    assert not two.supported and two.sigma is None
    with pytest.raises(ValueError):
        usl_curve(two, N)


def test_non_positive_points_and_poor_fits_are_not_supported():
    x = usl_throughput(N, SIGMA, KAPPA, LAM)
    x[3] = 0.0
    zero = fit_usl(N, x)
    assert not zero.supported and "non-positive" in zero.note and zero.points == 6
    scattered = fit_usl(N, np.array([50, 5, 80, 3, 60, 2, 70], dtype=float))
    assert not scattered.supported and "r2" in scattered.note
