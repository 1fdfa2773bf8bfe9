"""The accuracy checks of :mod:`bench.report_accuracy`: one real locust run each, its
``summary.json`` number against the reference target's known truth, as a :class:`Check`.

- capacity: ``breaking_point.capacity_rps`` of the breakpoint profile vs N*1000/S;
- leak: ``leak.slope_kb_per_request`` vs ``--leak-kb-per-request`` (verdict "leak"), and
  the verdict "none" without the knob;
- latency: the p50 of ``GET /v1/strategies`` vs ``--latency-ms``, and the error net of the
  route's own time (:func:`net_latency_error`).

Why these settings and limits: :mod:`bench.report_accuracy`'s docstring.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.locust_run import Run, RunFailed, run_locust
from users.routes import ROUTE_STRATEGIES

CAPACITY_LIMIT = 0.10
CAPACITY_TIMEOUT_S = 600

LEAK_KB_PER_REQUEST = 64.0
LEAK_LIMIT = 0.10
LEAK_RUN_S = 90
LEAK_USERS = 1
NO_LEAK_STEPS = "10,20"
NO_LEAK_STEP_S = 90
"""The stepped no-leak run: StressUser (a mixed workload: its fresh backtests fill the
target's caches) at 10 then 20 users, 90 s each; the leak is judged at the steady load of
the last step after its warm-up (an 80 s window), long enough for a verdict."""
NO_LEAK_VERDICTS = ("none", "unknown")
NO_LEAK_TRUTH = "none (0 KB/req)"

LATENCY_MS = 20.0
LATENCY_LIMIT_MS = 3.0
LATENCY_RUN_S = 20
LATENCY_RATE = 50.0
LATENCY_ROUTE = ("GET", ROUTE_STRATEGIES)


@dataclass
class Check:
    """One row of the table."""

    name: str
    truth: str
    measured: str
    error: str
    limit: str
    passed: bool
    wall_s: float
    note: str = ""
    run: Run | None = None
    value: float | None = None
    """The measured number itself (req/s, KB/request, ms), when there is one."""

    def describe(self) -> str:
        """One line for an assertion message."""
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{self.name}: truth {self.truth}, measured {self.measured}, error "
            f"{self.error}, limit {self.limit}: {verdict} ({self.note})"
        )


def _failed(name: str, truth: str, limit: str, error: Exception, wall_s: float) -> Check:
    return Check(name, truth, "n/a", "n/a", limit, False, wall_s, note=str(error).strip())


def _incomplete(summary: dict[str, Any]) -> str:
    if summary.get("complete", True):
        return ""
    return f"; run incomplete: {summary.get('incomplete_reasons')}"


# -- capacity -------------------------------------------------------------------------------


def capacity_check(
    slots: int, service_ms: float, workdir: Path, timeout: float = CAPACITY_TIMEOUT_S
) -> Check:
    """``breaking_point.capacity_rps`` of the breakpoint profile vs N*1000/S, within 10 %."""
    truth = slots * 1000.0 / service_ms
    name = f"capacity --slots {slots} --service-ms {service_ms:g}"
    limit = f"+-{CAPACITY_LIMIT:.0%}"
    started = time.monotonic()
    try:
        run = run_locust(
            [
                "--config",
                "config/breakpoint.conf",
                "--target-flags",
                f"--slots {slots} --service-ms {service_ms:g}",
            ],
            workdir / f"capacity-{slots}x{service_ms:g}",
            timeout,
        )
    except (RunFailed, OSError) as e:
        return _failed(name, f"{truth:.1f} req/s", limit, e, time.monotonic() - started)
    section = run.summary.get("breaking_point") or {}
    found = section.get("capacity_rps")
    note = (
        f"source {section.get('source')}, found {section.get('found')}, "
        f"reason {section.get('reason')}{_incomplete(run.summary)}"
    )
    if found is None:
        return Check(name, f"{truth:.1f} req/s", "none", "n/a", limit, False, run.wall_s, note, run)
    error = (found - truth) / truth
    return Check(
        name,
        f"{truth:.1f} req/s",
        f"{found:.1f} req/s",
        f"{error:+.1%}",
        limit,
        abs(error) <= CAPACITY_LIMIT,
        run.wall_s,
        note,
        run,
        value=found,
    )


# -- leak -----------------------------------------------------------------------------------


def _leak_run(kb_per_request: float, workdir: Path, run_s: float, users: int, label: str) -> Run:
    flags = ["--config", "config/leak.conf", "--run-time", f"{run_s:g}s", "--soak-load", str(users)]
    if kb_per_request > 0:
        flags += ["--target-flags", f"--leak-kb-per-request {kb_per_request:g}"]
    return run_locust(flags, workdir / label, timeout=run_s + 120)


def _leak_note(leak: dict[str, Any], summary: dict[str, Any]) -> str:
    ci = (leak.get("slope_kb_per_request_ci_low"), leak.get("slope_kb_per_request_ci_high"))
    ci_text = f"{ci[0]:.2f}..{ci[1]:.2f}" if None not in ci else "n/a"
    growth = leak.get("growth_mb")
    return (
        f"verdict {leak.get('verdict')}, CI {ci_text} KB/req, "
        f"{leak.get('requests_in_window')} requests in "
        f"{(leak.get('window_end_s') or 0) - (leak.get('window_start_s') or 0):.0f} s, "
        f"growth {growth if growth is None else round(growth, 1)} MB"
        f"{_incomplete(summary)}"
    )


def leak_check(
    workdir: Path,
    kb_per_request: float = LEAK_KB_PER_REQUEST,
    run_s: float = LEAK_RUN_S,
    users: int = LEAK_USERS,
) -> Check:
    """``leak.slope_kb_per_request`` vs ``--leak-kb-per-request``, within 10 %, verdict leak."""
    name = f"leak slope --leak-kb-per-request {kb_per_request:g}"
    truth = f"{kb_per_request:g} KB/req"
    limit = f"+-{LEAK_LIMIT:.0%}, verdict leak"
    started = time.monotonic()
    try:
        run = _leak_run(kb_per_request, workdir, run_s, users, f"leak-{kb_per_request:g}")
    except (RunFailed, OSError) as e:
        return _failed(name, truth, limit, e, time.monotonic() - started)
    leak = run.summary.get("leak") or {}
    slope, verdict = leak.get("slope_kb_per_request"), leak.get("verdict")
    note = _leak_note(leak, run.summary)
    if slope is None:
        return Check(name, truth, f"none ({verdict})", "n/a", limit, False, run.wall_s, note, run)
    error = (slope - kb_per_request) / kb_per_request
    return Check(
        name,
        truth,
        f"{slope:.2f} KB/req ({verdict})",
        f"{error:+.1%}",
        limit,
        abs(error) <= LEAK_LIMIT and verdict == "leak",
        run.wall_s,
        note,
        run,
        value=slope,
    )


def _no_leak_result(name: str, limit: str, run: Run, verdicts: tuple[str, ...]) -> Check:
    """A no-leak run's row: passed when its verdict is one of ``verdicts``."""
    leak = run.summary.get("leak") or {}
    slope, verdict = leak.get("slope_kb_per_request"), leak.get("verdict")
    slope_text = "n/a" if slope is None else f"{slope:+.2f} KB/req"
    return Check(
        name,
        NO_LEAK_TRUTH,
        f"{verdict} ({slope_text})",
        slope_text,
        limit,
        verdict in verdicts,
        run.wall_s,
        _leak_note(leak, run.summary),
        run,
        value=slope,
    )


def no_leak_check(workdir: Path, run_s: float = LEAK_RUN_S, users: int = LEAK_USERS) -> Check:
    """The same run without ``--leak-kb-per-request``: the verdict must be ``"none"``."""
    name, limit = "leak verdict, no leak", 'verdict "none"'
    started = time.monotonic()
    try:
        run = _leak_run(0.0, workdir, run_s, users, "no-leak")
    except (RunFailed, OSError) as e:
        return _failed(name, NO_LEAK_TRUTH, limit, e, time.monotonic() - started)
    return _no_leak_result(name, limit, run, ("none",))


def no_leak_stepped_check(
    workdir: Path, steps: str = NO_LEAK_STEPS, step_s: float = NO_LEAK_STEP_S
) -> Check:
    """A stepped run of a mixed workload (config/scalability.conf shortened) against a target
    with no leak: its caches warm up as the load steps up; the verdict must be ``"none"``
    or ``"unknown"``, never ``"suspected"`` or ``"leak"``."""
    name = f"leak verdict, no leak, stepped {steps} users x {step_s:g} s"
    limit = 'verdict "none" or "unknown", never "suspected"'
    started = time.monotonic()
    args = ["--config", "config/scalability.conf", "--steps", steps, "--step-s", f"{step_s:g}"]
    try:
        run = run_locust(args, workdir / "no-leak-stepped", CAPACITY_TIMEOUT_S)
    except (RunFailed, OSError) as e:
        return _failed(name, NO_LEAK_TRUTH, limit, e, time.monotonic() - started)
    return _no_leak_result(name, limit, run, NO_LEAK_VERDICTS)


# -- latency --------------------------------------------------------------------------------


def latency_check(
    workdir: Path,
    latency_ms: float = LATENCY_MS,
    run_s: float = LATENCY_RUN_S,
    rate: float = LATENCY_RATE,
    limit_ms: float = LATENCY_LIMIT_MS,
) -> Check:
    """The p50 of ``GET /v1/strategies`` (summary ``endpoints[]``, exact HDR) vs
    ``--latency-ms``, within ``limit_ms``; the route's own service time is not subtracted."""
    method, route = LATENCY_ROUTE
    name = f"p50 {method} {route} --latency-ms {latency_ms:g}"
    truth, limit = f"{latency_ms:g} ms", f"+-{limit_ms:g} ms"
    mix = {"user_class_name": "ArrivalRateUser", "route_mix": {"strategies": 1}}
    started = time.monotonic()
    try:
        run = run_locust(
            [
                "-f",
                "locustfile.py",
                "--headless",
                "ArrivalRateUser",
                "--arrival-rate",
                f"{rate:g}",
                "-u",
                "1",
                "-r",
                "1",
                "-t",
                f"{run_s:g}s",
                "--config-users",
                json.dumps(mix),
                "--target-flags",
                f"--latency-ms {latency_ms:g}",
            ],
            workdir / f"latency-{latency_ms:g}",
            timeout=run_s + 90,
        )
    except (RunFailed, OSError) as e:
        return _failed(name, truth, limit, e, time.monotonic() - started)
    row = next(
        (
            e
            for e in run.summary.get("endpoints") or []
            if e.get("method") == method and e.get("name") == route
        ),
        None,
    )
    if row is None or row.get("p50_ms") is None:
        return Check(
            name,
            truth,
            "none",
            "n/a",
            limit,
            False,
            run.wall_s,
            f"no {method} {route} row in summary.json{_incomplete(run.summary)}",
            run,
        )
    p50, count, failures = float(row["p50_ms"]), int(row["count"]), int(row["failures"])
    error = p50 - latency_ms
    note = (
        f"{count} requests, {failures} failed, {row.get('rps', 0):.1f}/s, "
        f"p90 {row.get('p90_ms')} ms{_incomplete(run.summary)}"
    )
    return Check(
        name,
        truth,
        f"{p50:.2f} ms",
        f"{error:+.2f} ms",
        limit,
        abs(error) <= limit_ms and failures == 0 and count > 0,
        run.wall_s,
        note,
        run,
        value=p50,
    )


def net_latency_error(with_latency: Check, baseline: Check, latency_ms: float) -> float | None:
    """p50 with ``--latency-ms`` minus the baseline p50 (no added latency) minus the knob:
    the error left once the route's own service time is taken out."""
    if with_latency.value is None or baseline.value is None:
        return None
    return with_latency.value - baseline.value - latency_ms
