"""Universal Scalability Law: why throughput stops growing with concurrency, and where.

Gunther's USL models throughput at concurrency N as

    X(N) = lam * N / (1 + sigma * (N - 1) + kappa * N * (N - 1))

``lam``: throughput of one user; ``sigma`` (contention): the share of work that
queues for a shared resource, which caps throughput at ``lam / sigma``; ``kappa``
(coherency): the cost of keeping shared state consistent, which makes throughput
FALL past ``N* = sqrt((1 - sigma) / kappa)``. Fitting the steps of a closed-model run
tells whether adding users can still help, and estimates the peak.

Fit: a non-negative least-squares fit of Gunther's linearisation
``N / X = a + b (N - 1) + c N (N - 1)`` (a = 1/lam, b = sigma/lam, c = kappa/lam)
gives robust starting values; :func:`scipy.optimize.curve_fit` then refines them on
the throughput itself with bounds ``0 <= sigma <= 1``, ``kappa >= 0``, ``lam > 0``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from reports.analysis.tables import JsonResult

__all__ = ["MIN_LEVELS", "MIN_R2", "UslFit", "fit_usl", "usl_curve", "usl_throughput"]

MIN_LEVELS = 4
"""Distinct concurrency levels needed to trust a fit (3 parameters fit 3 points exactly)."""
MIN_R2 = 0.8
"""Below this r2 (on throughput) the USL does not describe the points."""
NEGLIGIBLE = 1e-6
"""A fitted term changing X at the largest measured N by less than this share is 0."""


def usl_throughput(n: np.ndarray, sigma: float, kappa: float, lam: float) -> np.ndarray:
    """X(N) of the USL for the given parameters."""
    n = np.asarray(n, dtype=float)
    x: np.ndarray = lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))
    return x


@dataclass(frozen=True)
class UslFit(JsonResult):
    """A USL fit; parameters None when too few points could be fitted at all.

    ``peak_concurrency``: ``N* = sqrt((1 - sigma) / kappa)`` (at least 1), None when
    ``kappa == 0`` (no retrograde region: throughput never falls). ``max_throughput``:
    ``X(N*)``, or the asymptote ``lam / sigma`` when ``kappa == 0 < sigma``, None when
    both are 0 (linear). ``supported``: the fit may be trusted; ``note`` says why not,
    or what the fit means, in plain English.
    """

    sigma: float | None
    kappa: float | None
    lam: float | None
    peak_concurrency: float | None
    max_throughput: float | None
    r2: float | None
    rmse: float | None
    points: int
    supported: bool
    note: str


def _linearised(n: np.ndarray, x: np.ndarray) -> tuple[float, float, float] | None:
    """(sigma, kappa, lam) from NNLS on ``N / X``; None when degenerate."""
    # scipy is imported where it is used: it costs about 0.5 s, and load generators
    # import this package at start but fit only at a run's end.
    from scipy.optimize import nnls

    design = np.column_stack([np.ones_like(n), n - 1, n * (n - 1)])
    (a, b, c), _ = nnls(design, n / x)
    if a <= 0:
        return None
    return min(b / a, 1.0), c / a, 1.0 / a


def _refined(
    n: np.ndarray,
    x: np.ndarray,
    start: tuple[float, float, float],
) -> tuple[float, float, float]:
    """Least squares on X itself, within the bounds; ``start`` when it does not converge."""
    from scipy.optimize import OptimizeWarning, curve_fit

    sigma0, kappa0, lam0 = start
    try:
        with warnings.catch_warnings():  # the covariance is not used: its warning is noise
            warnings.simplefilter("ignore", OptimizeWarning)
            params, _ = curve_fit(
                usl_throughput,
                n,
                x,
                p0=[sigma0, kappa0, lam0],
                bounds=([0.0, 0.0, 1e-12], [1.0, np.inf, np.inf]),
                x_scale="jac",
                max_nfev=10_000,
            )
    except (RuntimeError, ValueError):
        return start
    return float(params[0]), float(params[1]), float(params[2])


def _pct(value: float) -> str:
    return f"{value * 100:.3g} %"


def _meaning(
    sigma: float,
    kappa: float,
    lam: float,
    peak: float | None,
    best: float | None,
    n_max: float,
    unit: str,
) -> str:
    if peak is not None and best is not None:
        where = " (beyond the measured range: extrapolated)" if peak > n_max else ""
        return (
            f"contention {_pct(sigma)}, coherency {_pct(kappa)}: throughput peaks "
            f"near {peak:.0f} {unit} at about {best:.0f} req/s{where}"
        )
    if best is not None:
        return (
            f"contention {_pct(sigma)}, no coherency cost: throughput approaches "
            f"{best:.0f} req/s but does not fall"
        )
    return f"linear scaling: each one of the {unit} adds {lam:.3g} req/s, no limit in sight"


def fit_usl(concurrency: np.ndarray, throughput: np.ndarray, *, unit: str = "users") -> UslFit:
    """Fit the USL to (concurrency, throughput) points, e.g. the steps of a stepped run.

    ``unit`` names the concurrency in the note ("users", "requests in flight").

    Points with a NaN are dropped. Not ``supported`` (parameters still given when a fit
    was possible) when: fewer than :data:`MIN_LEVELS` distinct levels (no fit below 3),
    any non-positive concurrency or throughput (fitted without those points: the USL
    does not model a stalled or idle step), or r2 < :data:`MIN_R2`. Terms whose effect
    at the largest measured N is below :data:`NEGLIGIBLE` are set to exactly 0.
    """
    n_all = np.asarray(concurrency, dtype=float).ravel()
    x_all = np.asarray(throughput, dtype=float).ravel()
    if n_all.shape != x_all.shape:
        raise ValueError(
            f"concurrency and throughput differ in length: {n_all.size} != {x_all.size}"
        )
    finite = np.isfinite(n_all) & np.isfinite(x_all)
    positive = finite & (n_all > 0) & (x_all > 0)
    n, x = n_all[positive], x_all[positive]
    levels = np.unique(n).size
    problems = []
    if (finite & ~positive).any():
        problems.append(
            f"{int((finite & ~positive).sum())} point(s) with non-positive "
            "concurrency or throughput, which the USL does not model, were left out"
        )
    if levels < MIN_LEVELS:
        problems.append(
            f"only {levels} distinct concurrency level(s): at least {MIN_LEVELS} "
            "are needed to test a 3-parameter fit"
        )
    if levels < 3:
        return UslFit(
            sigma=None,
            kappa=None,
            lam=None,
            peak_concurrency=None,
            max_throughput=None,
            r2=None,
            rmse=None,
            points=int(n.size),
            supported=False,
            note="; ".join(problems),
        )
    start = _linearised(n, x) or (0.0, 0.0, float(np.max(x / n)))
    sigma, kappa, lam = _refined(n, x, start)
    n_max = float(n.max())
    if sigma * (n_max - 1) < NEGLIGIBLE:
        sigma = 0.0
    if kappa * n_max * (n_max - 1) < NEGLIGIBLE:
        kappa = 0.0
    peak = max(1.0, math.sqrt((1 - sigma) / kappa)) if kappa > 0 else None
    if peak is not None:
        best: float | None = float(usl_throughput(np.array(peak), sigma, kappa, lam))
    else:
        best = lam / sigma if sigma > 0 else None
    residuals = x - usl_throughput(n, sigma, kappa, lam)
    ss_res = float(np.sum(residuals**2))
    ss_tot = float(np.sum((x - x.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    if r2 < MIN_R2:
        problems.append(f"the USL does not describe these points (r2 {r2:.2f} < {MIN_R2})")
    meaning = _meaning(sigma, kappa, lam, peak, best, n_max, unit)
    note = f"not supported: {'; '.join(problems)}. Fit: {meaning}" if problems else meaning
    return UslFit(
        sigma=sigma,
        kappa=kappa,
        lam=lam,
        peak_concurrency=peak,
        max_throughput=best,
        r2=r2,
        rmse=math.sqrt(ss_res / n.size),
        points=int(n.size),
        supported=not problems,
        note=note,
    )


def usl_curve(fit: UslFit, n_values: np.ndarray) -> np.ndarray:
    """The fitted X(N) at ``n_values`` (for plotting); ValueError without parameters."""
    if fit.sigma is None or fit.kappa is None or fit.lam is None:
        raise ValueError(f"the fit has no parameters: {fit.note}")
    return usl_throughput(np.asarray(n_values, dtype=float), fit.sigma, fit.kappa, fit.lam)
