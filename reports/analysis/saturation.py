"""What broke first: the resource that saturated at the knee of a stepped or breakpoint run.

The breaking point (:mod:`~reports.analysis.step_break`, the live search) says *where* the
service broke; this module says *why*, from the series the run already records, by stated
rules applied in order to the knee (the lowest broken load level) and the last good level
below it. The first rule that holds names the resource:

1. **load generator** - a generator process's CPU at or over ``generator_cpu_limit`` (% of
   one core; a Locust process uses one core) at the knee or below it, or arrivals dropped
   at the knee while the target still answered within the p95 limit: the result is about
   the load generator, not the service, and the verdict says so first;
2. **target CPU** - the target's CPU at the knee within ``CPU_NEAR`` of its cores, or of a
   whole number of them (one core busy: a single-threaded server, or one process); or the
   target host's CPU at or over ``HOST_CPU_LIMIT`` % while the target's own is not low
   (``CPU_LOW``): the target got what CPU was left (a load generator on the same machine
   competes; under ``CPU_LOW`` it is rule 6's, with the host's CPU noted);
3. **memory** - the host's memory at or over ``MEMORY_LIMIT`` of its total;
4. **rate limiting** - the knee's errors over ``ERROR_MIN`` and most of the run's failures
   429s; **errors** - the same with other failures (the most frequent one named);
5. **job queue** - the job queue growing through the knee (``QUEUE_GROWTH_MIN`` jobs/s,
   ending at ``QUEUE_DEPTH_MIN`` or more) and not below it;
6. **concurrency limit** - latency climbing (p95 or mean at least ``LATENCY_CLIMB`` times
   the last good level's) while throughput stays flat and the target's CPU stays low
   (under ``CPU_LOW`` of one core): requests queue for a fixed number of slots (a pool, a
   lock); the limit is estimated by Little's law, capacity x the lowest level's mean latency.
   When that estimate is under ``MIN_SERVED_AT_ONCE`` the target was idle most of the time:
   the requests waited outside it, and the verdict is **load generator** (one starved of
   CPU by other processes reads well under 90 %).

The database is not among them: the run records no database timings. When the data a rule
needs is missing (no target metrics), the verdict is unknown and says what is missing.
Pure: arrays and step statistics in, a frozen dataclass out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reports.analysis.step_resources import ResourceColumns, StepReading, step_readings
from reports.analysis.tables import JsonResult

__all__ = [
    "CONCURRENCY",
    "ERRORS",
    "GENERATOR",
    "JOB_QUEUE",
    "MEMORY",
    "RATE_LIMITING",
    "TARGET_CPU",
    "ResourceColumns",
    "Saturation",
    "StepReading",
    "first_saturation",
    "step_readings",
]

GENERATOR = "load generator"
TARGET_CPU = "target CPU"
MEMORY = "memory"
RATE_LIMITING = "rate limiting"
ERRORS = "errors"
JOB_QUEUE = "job queue"
CONCURRENCY = "concurrency limit"

GENERATOR_CPU_LIMIT = 90.0
"""A generator process at this % of one core or more is overloaded (metrics.generator's)."""
CPU_NEAR = 0.85
"""The target's CPU is saturated at this share of its cores (or of a whole number of them)."""
CPU_OVER = 1.08
"""...and at most this share of that whole number (1.3 cores is near no whole number)."""
HOST_CPU_LIMIT = 90.0
MEMORY_LIMIT = 0.9
ERROR_MIN = 0.01
"""The knee's error ratio from which errors are its cause."""
RATE_LIMITED_SHARE = 0.5
"""The share of the run's failures that must be 429s for "rate limiting"."""
QUEUE_GROWTH_MIN = 0.1
QUEUE_DEPTH_MIN = 5.0
LATENCY_CLIMB = 1.5
MIN_SERVED_AT_ONCE = 0.8
"""Below this many requests served at once (Little's law), the target was idle most of the
time while latency climbed: the wait was outside it (rule 6's generator case)."""
LEVEL_RTOL = 1e-3
"""A step is at the knee's level within this (relative): rows keep offered rates to 0.001."""
CPU_LOW = 0.6
"""The target's CPU, in cores, under which it is "low" (and not near a whole core)."""


@dataclass(frozen=True)
class Saturation(JsonResult):
    """The verdict. ``resource``: one of this module's names, None when unknown or when
    nothing broke (``found`` False); ``evidence``: one line, the figures in words;
    ``about_generator``: the result is about the load generator, not the service;
    ``missing``: what was not recorded that a rule needed; ``knee``/``good``: the
    readings the rules looked at."""

    found: bool
    resource: str | None
    evidence: str
    level: float | None
    unit: str
    about_generator: bool = False
    missing: tuple[str, ...] = ()
    knee: StepReading | None = None
    good: StepReading | None = None
    figures: dict[str, Any] = field(default_factory=dict)


def _pick(readings: Sequence[StepReading], level: float | None) -> StepReading | None:
    """The reading at ``level`` within :data:`LEVEL_RTOL` (rows keep levels rounded), the
    last measured when it was measured again."""
    if level is None:
        return None
    at = [r for r in readings if np.isclose(r.level, level, rtol=LEVEL_RTOL, atol=0.0)]
    return max(at, key=lambda r: r.start_s) if at else None


def _near_whole_cores(busy: float, cores: int | None) -> int | None:
    """The whole number of cores ``busy`` is saturating (None: none)."""
    if cores and busy >= CPU_NEAR * cores:
        return cores
    whole = max(1, int(round(busy)))
    if CPU_NEAR * whole <= busy <= CPU_OVER * whole and (cores is None or whole <= cores):
        return whole
    return None


def _fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.{digits}f}{unit}"


def first_saturation(
    readings: Sequence[StepReading],
    *,
    knee_level: float | None,
    good_level: float | None,
    unit: str,
    p95_limit_ms: float | None = None,
    error_kinds: Mapping[str, int] | None = None,
    generator_cpu_limit: float = GENERATOR_CPU_LIMIT,
) -> Saturation:
    """The first resource to saturate at the knee (see the module docstring for the rules).

    ``readings``: every step's (:func:`step_readings`); ``knee_level``: the lowest broken
    level (None: nothing broke); ``good_level``: the last good level below it (None: the
    lowest step broke); ``unit``: the levels' unit (users, req/s); ``p95_limit_ms``: the
    limit the steps were judged by; ``error_kinds``: the run's failures by message.
    """
    lowest = min(readings, key=lambda r: r.level, default=None)
    knee, good = _pick(readings, knee_level), _pick(readings, good_level)
    where = f"{_fmt(knee_level, 1)} {unit}" if knee_level is not None else ""

    def verdict(
        resource: str | None,
        evidence: str,
        *,
        missing: tuple[str, ...] = (),
        figures: dict[str, Any] | None = None,
    ) -> Saturation:
        return Saturation(
            found=True,
            resource=resource,
            evidence=evidence,
            level=knee_level,
            unit=unit,
            about_generator=resource == GENERATOR,
            missing=missing,
            knee=knee,
            good=good,
            figures=figures or {},
        )

    if knee is None:
        top = max(readings, key=lambda r: r.level, default=None)
        text = (
            f"nothing broke up to {_fmt(top.level)} {unit}: no resource saturated"
            if top is not None
            else "no steps of steady load: nothing to judge"
        )
        return Saturation(False, None, text, None, unit, good=good)
    gen = _generator(knee, good, generator_cpu_limit, p95_limit_ms, unit)
    if gen is not None:
        return verdict(GENERATOR, gen)
    missing = () if knee.target_cores_busy is not None else ("target CPU",)
    busy = knee.target_cores_busy
    if busy is not None and (whole := _near_whole_cores(busy, knee.cores)) is not None:
        of = f"{whole} of {knee.cores}" if knee.cores and whole != knee.cores else f"{whole}"
        note = "" if whole == knee.cores else f" ({of} cores: a server that uses {whole})"
        text = (
            f"target CPU {busy:.2f} of {knee.cores or '?'} cores at {where}{note}, "
            f"{knee.throughput_rps:,.1f} req/s"
        )
        figures = {"cores_busy": busy, "cores": knee.cores, "saturated_cores": whole}
        return verdict(TARGET_CPU, text, figures=figures)
    host = knee.host_cpu_percent
    if host is not None and host >= HOST_CPU_LIMIT and (busy is None or busy >= CPU_LOW):
        text = (
            f"target CPU: its host's CPU {knee.host_cpu_percent:.0f} % busy at {where}, the "
            f"target itself at {_fmt(busy, 2)} of {knee.cores or '?'} cores (other processes "
            "took the rest: a load generator on the same machine competes)"
        )
        figures = {"cores_busy": busy, "cores": knee.cores, "host_cpu_percent": host}
        return verdict(TARGET_CPU, text, figures=figures)
    if knee.host_mem_fraction is not None and knee.host_mem_fraction >= MEMORY_LIMIT:
        text = f"the target host's memory {100 * knee.host_mem_fraction:.0f} % used at {where}"
        return verdict(MEMORY, text)
    errors = _errors(knee, good, where, error_kinds or {})
    if errors is not None:
        return verdict(*errors)
    queue = _queue(knee, good, where)
    if queue is not None:
        return verdict(JOB_QUEUE, queue)
    resource, text, figures = _concurrency(knee, good, lowest, where)
    return verdict(resource, text, missing=missing if resource is None else (), figures=figures)


def _generator(
    knee: StepReading,
    good: StepReading | None,
    limit: float,
    p95_limit_ms: float | None,
    unit: str,
) -> str | None:
    about = "load generator: the result is about the load generator, not the service"
    for step in (good, knee):
        if step is not None and (step.generator_cpu_percent or 0.0) >= limit:
            return (
                f"{about}: its CPU {step.generator_cpu_percent:.0f} % of one core "
                f"(limit {limit:.0f} %) at {_fmt(step.level)} {unit}"
            )
    fast = knee.p95_ms is not None and p95_limit_ms is not None and knee.p95_ms <= p95_limit_ms
    if knee.dropped and fast:
        return (
            f"{about}: {knee.dropped} arrivals dropped at {_fmt(knee.level)} {unit} while the "
            f"target answered within the p95 limit (p95 {_fmt(knee.p95_ms)} ms)"
        )
    return None


def _errors(
    knee: StepReading, good: StepReading | None, where: str, kinds: Mapping[str, int]
) -> tuple[str, str] | None:
    below = good.error_ratio if good is not None else 0.0
    if knee.error_ratio < ERROR_MIN or knee.error_ratio <= below:
        return None
    failed = sum(kinds.values())
    limited = sum(n for message, n in kinds.items() if "429" in message)
    share = f"{100 * knee.error_ratio:.1f} % errors at {where}"
    if failed and limited / failed >= RATE_LIMITED_SHARE:
        return RATE_LIMITING, (
            f"rate limiting: {share}, {limited:,} of the run's {failed:,} failures are "
            f"429 (rate limited); {knee.throughput_rps:,.1f} req/s got through"
        )
    top = max(kinds.items(), key=lambda kv: kv[1], default=None)
    named = f"; most often: {top[0]} ({top[1]:,})" if top else ""
    return ERRORS, f"errors: {share}{named}"


def _queue(knee: StepReading, good: StepReading | None, where: str) -> str | None:
    growth, depth = knee.queue_growth_per_s, knee.queue_depth
    if growth is None or depth is None or growth < QUEUE_GROWTH_MIN or depth < QUEUE_DEPTH_MIN:
        return None
    if good is not None and (good.queue_growth_per_s or 0.0) >= QUEUE_GROWTH_MIN:
        return None
    return (
        f"job queue: growing {growth:.2f} jobs/s at {where} (depth {depth:.0f}), "
        "stable below: the workers cannot keep up"
    )


def _concurrency(
    knee: StepReading,
    good: StepReading | None,
    lowest: StepReading | None,
    where: str,
) -> tuple[str | None, str, dict[str, Any]]:
    """(resource or None, evidence, figures): a concurrency limit, or why not. Latency
    climbs against the lowest load's (light load: the service time) or the step below's."""
    ref = good or lowest
    climbs = any(
        k is not None and r is not None and r > 0 and k >= LATENCY_CLIMB * r
        for base in (lowest, good)
        if base is not None
        for k, r in ((knee.p95_ms, base.p95_ms), (knee.mean_ms, base.mean_ms))
    )
    busy = knee.target_cores_busy
    light = lowest.p95_ms if lowest is not None else None
    latency = f"p95 {_fmt(light)} ms at the lowest load -> {_fmt(knee.p95_ms)} ms"
    if not climbs:
        text = f"no resource stood out at {where} ({latency}, target CPU {_fmt(busy, 2)} cores)"
        return None, text, {}
    capacity = max(knee.throughput_rps, good.throughput_rps if good else 0.0)
    service = lowest.mean_ms if lowest is not None else None
    slots = capacity * service / 1000.0 if service else None
    if slots is not None and slots < MIN_SERVED_AT_ONCE:
        text = (
            f"load generator: the result is about the load generator, not the service: "
            f"latency climbed at {where} ({latency}) while the target served {slots:.2f} "
            f"requests at a time on average ({capacity:,.1f} req/s x its "
            f"{_fmt(service, 2)} ms at the lowest load, Little's law): it was idle most of "
            "the time, so requests waited outside it, in the load generator (starved of "
            f"CPU? its busiest process {_fmt(knee.generator_cpu_percent, 0)} %) or on the "
            "way to it"
        )
        return GENERATOR, text, {"served_at_once": slots, "capacity_rps": capacity}
    if busy is None:
        text = (
            f"unknown: latency climbed at {where} ({latency}) but the target's CPU was not "
            "recorded (no target metrics: pass --target-metrics), so a CPU limit and a "
            "concurrency limit cannot be told apart"
        )
        return None, text, {}
    if busy >= CPU_LOW:
        text = (
            f"no resource stood out at {where}: latency climbed ({latency}) with the "
            f"target's CPU at {busy:.2f} cores, neither low nor at a whole core"
        )
        return None, text, {}
    host = knee.host_cpu_percent
    text = (
        f"concurrency limit: throughput {_fmt(ref.throughput_rps if ref else None)} -> "
        f"{knee.throughput_rps:,.1f} req/s while {latency} at {where}, and the target's CPU "
        f"stayed at {busy:.2f} of {knee.cores or '?'} cores"
        + (f"; about {slots:.1f} requests served at once (Little's law)" if slots else "")
        + (
            f" (the host's CPU was at {host:.0f} %: CPU starvation is not ruled out)"
            if host is not None and host >= HOST_CPU_LIMIT
            else ""
        )
    )
    figures = {"capacity_rps": capacity, "concurrency_estimate": slots, "cores_busy": busy}
    return CONCURRENCY, text, figures
