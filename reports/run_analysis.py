"""A whole run analysed: :class:`~rundir.reader.RunData` in, :class:`RunAnalysis` out.

The glue between the run directory and the pure functions of
:mod:`reports.analysis`: it picks which numbers feed which analysis (the target's
requests, not job timings; the breakpoint search's own steps when there was one)
and builds ``summary.json``'s ``breaking_point`` and ``leak`` sections. The
summary hook at test stop and ``python -m reports render`` both call
:func:`analyse_run`, so a re-rendered report says what the original said.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from metrics.summary import SUMMARY_PERCENTILES, percentiles_from_rows, rate
from reports.analysis import (
    BreakLimits,
    CacheEffect,
    DataSizeScaling,
    ErrorShare,
    JudgedStep,
    LeakAnalysis,
    LittleCheck,
    P95Limit,
    StepBreak,
    StepMeasure,
    StepScaling,
    StepStats,
    UslFit,
    aggregate_steps,
    analyse_leak,
    apdex_score,
    breaking_point_from_steps,
    cache_effect,
    data_size_scaling,
    error_ratios,
    fit_usl,
    littles_law_steps,
    percentile_table,
    scalability,
    segment_steps,
)
from reports.analysis.correctness import Correctness
from reports.analysis.generator_ceiling import GeneratorCeiling, generator_ceiling
from reports.analysis.saturation import Saturation
from reports.correctness import run_correctness
from reports.step_rows import at_capacity_figures, search_judged, search_limits
from reports.what_broke import what_broke
from rundir.layout import ANSWER_TYPE, MASTER_GENERATOR, is_request, split_key
from rundir.reader import RunData
from rundir.series import REQUESTS_ROW_KEY, RunSeries, read_row_stats

MIN_STEPS = 2
"""Fewer steady steps than this: the run was not stepped; no breaking-point analysis."""
DEFAULT_MIN_ROWS = 5
"""Rows a step of steady load needs (shorter runs of one level are ramps)."""
MEASURE_STAGE = ": measure"
MIN_MEASURED_ROWS = 3
"""A measurement window the shape marked is a step from this many rows."""


@dataclass
class RunAnalysis:
    endpoints: list[dict[str, Any]]
    """Every endpoint row (summary.json's shape), the target's requests and the others."""
    aggregate: dict[str, Any]
    """The target's requests together (pseudo-requests left out)."""
    approximate: bool
    """Percentiles rebuilt from checkpointed histograms or rows, not the final ones."""
    errors: list[ErrorShare]
    steps: list[StepStats]
    scaling: list[StepScaling]
    little: list[LittleCheck]
    step_break: StepBreak | None
    usl: UslFit | None
    leak: LeakAnalysis
    cache: list[CacheEffect]
    data_size: DataSizeScaling | None
    search: dict[str, Any] | None
    """The live breakpoint search's result (``BreakpointSearch.summary()``), if it ran."""
    unit: str
    """The load's unit: ``"users"`` (closed model) or the offered rate's (open model)."""
    generator_overloads: list[dict[str, Any]] = field(default_factory=list)
    generator_max_cpu: float | None = None
    generator_ceiling: GeneratorCeiling | None = None
    """One generator process's cost and ceiling, from the rows (None: too few loaded rows)."""
    judged: list[JudgedStep] = field(default_factory=list)
    """The breakpoint table's rows, judged by the headline's rules: the search's steps (its
    re-measurements too) when a search ran, else the stepped run's steps by level."""
    p95_limit: P95Limit | None = None
    """The p95 limit those rows were judged by, and where it came from."""
    at_capacity: dict[str, Any] | None = None
    """p95, p99 and Apdex (approximate) at the last good step, and which step that was."""
    correctness: Correctness | None = None
    """Answers checked against golden ones, wrong ones by load level (``--check-answers``)."""
    saturation: Saturation | None = None
    """What broke first: the resource that saturated at the knee (stepped and search runs)."""

    @property
    def open_model(self) -> bool:
        return self.unit != "users"


def _endpoints_from_histograms(run: RunData) -> list[dict[str, Any]]:
    """Rows for a run that never wrote its summary: counts from the timeseries (every row
    written), percentiles from the last histogram checkpoint."""
    series, duration = run.series, float(np.nansum(run.series.span_s)) or 1.0
    rows = []
    keys = set(series.endpoint_counts) | set(run.histograms)
    from_rows = _row_stats(run, keys - set(run.histograms))
    for key in sorted(keys, key=lambda k: split_key(k)[::-1]):
        method, name = split_key(key)
        hist = run.histograms.get(key)
        count = (
            int(series.endpoint_counts[key].sum())
            if key in series.endpoint_counts
            else (hist.count if hist else 0)
        )
        failures = (
            int(series.endpoint_failures[key].sum())
            if key in series.endpoint_failures
            else (hist.failures if hist else 0)
        )
        stats = (
            percentile_table(hist.values_ms, hist.counts)
            if hist
            else {
                **percentiles_from_rows(from_rows.get(key, []), SUMMARY_PERCENTILES),
                "from_rows": True,
            }
        )
        rows.append(
            {
                "method": method,
                "name": name,
                "count": count,
                "failures": failures,
                "rps": rate(count, duration),
                **stats,
                "apdex": apdex_score(
                    hist.values_ms, hist.counts, float(run.meta.get("apdex_t_ms") or 500.0)
                )
                if hist
                else None,
            }
        )
    return rows


def _row_stats(run: RunData, keys: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The rows' own stats of ``keys``: percentiles for endpoints no histogram was saved of
    (a run killed before its first checkpoint)."""
    return read_row_stats(run.path, keys, run.problems)


def _aggregate_from(run: RunData, endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    summary = run.summary or {}
    if summary.get("requests"):
        return dict(summary["requests"])
    requests = [e for e in endpoints if is_request(f"{e['method']} {e['name']}")]
    hists = [
        run.histograms[f"{e['method']} {e['name']}"]
        for e in requests
        if f"{e['method']} {e['name']}" in run.histograms
    ]
    count = sum(int(e.get("count") or 0) for e in requests)
    failures = sum(int(e.get("failures") or 0) for e in requests)
    duration = float(summary.get("duration_s") or np.nansum(run.series.span_s) or 1.0)
    stats: dict[str, Any] = {}
    if hists:
        stats = percentile_table(
            np.concatenate([h.values_ms for h in hists]), np.concatenate([h.counts for h in hists])
        )
    elif count:
        rows = _row_stats(run, set())[REQUESTS_ROW_KEY]
        stats = {**percentiles_from_rows(rows, SUMMARY_PERCENTILES), "from_rows": True}
    return {"count": count, "failures": failures, "rps": rate(count, duration), **stats}


def _search(run: RunData, live: dict[str, Any] | None) -> dict[str, Any] | None:
    if live is not None:
        return live
    section = (run.summary or {}).get("breaking_point") or {}
    return section.get("search")


def _steps(run: RunData) -> list[StepStats]:
    """Steps of steady load in the rows. When the shape marks its measurement windows
    (the breakpoint search's ``"...: measure"`` stages), only those rows count, whole:
    settling and draining between them are left out."""
    s = run.series
    load, settle, min_rows = s.load, None, DEFAULT_MIN_ROWS
    measured = np.array(
        [bool(stage and stage.endswith(MEASURE_STAGE)) for stage in s.stage], dtype=bool
    )
    if measured.any():
        load, settle, min_rows = np.where(measured, load, np.nan), 0.0, MIN_MEASURED_ROWS
    spans = segment_steps(s.elapsed_s, load, min_rows=min_rows)
    if len(spans) < MIN_STEPS:
        return []
    return aggregate_steps(
        spans,
        s.elapsed_s,
        s.span_s,
        s.requests,
        s.failures,
        s.p50_ms,
        s.p95_ms,
        s.p99_ms,
        s.avg_ms,
        settle,
        users=s.users,
    )


def usl_concurrency(steps: list[StepStats], open_model: bool) -> np.ndarray:
    """The USL's N per step: users in a closed model; in an open one the mean number of
    requests in flight, by Little's law (throughput x mean response time)."""
    if open_model:
        return np.array([s.answered_rps * (s.mean_ms or 0.0) / 1000.0 for s in steps])
    return np.array([s.level for s in steps], dtype=float)


def _usl(steps: list[StepStats], open_model: bool) -> UslFit | None:
    if len(steps) < MIN_STEPS:
        return None
    return fit_usl(
        usl_concurrency(steps, open_model),
        np.array([s.throughput_rps for s in steps], dtype=float),
        unit="requests in flight" if open_model else "users",
    )


def _leak(series: RunSeries, requests_done: np.ndarray) -> LeakAnalysis:
    leak = analyse_leak(series.elapsed_s, requests_done, series.target_rss, load=series.load)
    if len(series) and not np.isfinite(series.target_rss).any():
        leak = dataclasses.replace(
            leak,
            reason=(
                "the target's memory was not sampled (--target-metrics none, or no source "
                "answered): nothing to judge"
            ),
        )
    return leak


def _errors_shown(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's failures for the Errors table: a wrong answer is already its request's
    failure (``wrong result``), so its ``ANSWER`` twin is left to the Correctness section."""
    return [e for e in summary.get("errors") or [] if e.get("method") != ANSWER_TYPE]


def analyse_run(
    run: RunData, *, search: dict[str, Any] | None = None, limits: BreakLimits | None = None
) -> RunAnalysis:
    """Everything the report shows beyond raw series (see the module docstring)."""
    summary = run.summary or {}
    approximate = not summary
    endpoints = list(summary.get("endpoints") or []) or _endpoints_from_histograms(run)
    aggregate = _aggregate_from(run, endpoints)
    search = _search(run, search)
    series = run.series
    open_model = series.load_unit != "users"
    steps = _steps(run)
    step_limits = limits or search_limits(search)
    step_break = (
        breaking_point_from_steps(steps, step_limits, open_model=open_model) if steps else None
    )
    judged: list[JudgedStep] = list(step_break.judged) if step_break else []
    limit = step_break.p95_limit if step_break else None
    good = step_break.point.last_good_step if step_break and step_break.point.found else None
    if search is not None:
        judged, limit = search_judged(search)
        last_good = search.get("last_good") if search.get("found") else None
        good = (
            None
            if not last_good
            else StepMeasure(
                **{k: v for k, v in last_good.items() if k in StepMeasure.__dataclass_fields__}
            )
        )
    at_capacity = (
        at_capacity_figures(
            run, steps, good.offered_rps, good.p95_ms if search is not None else None
        )
        if good is not None
        else None
    )
    requests_done = np.cumsum(np.nan_to_num(series.requests))
    overloads = [e for e in run.events if e.get("kind") == "generator_overloaded"]
    cpu = [  # the last row is the shutdown interval: its CPU is the run ending, not load
        float(np.nanmax(v[:-1] if len(v) > 1 else v))
        for v in series.generator_cpu.values()
        if np.isfinite(v[:-1] if len(v) > 1 else v).any()
    ]
    return RunAnalysis(
        endpoints=endpoints,
        aggregate=aggregate,
        approximate=approximate,
        errors=error_ratios(_errors_shown(summary), int(aggregate.get("count") or 0)),
        steps=steps,
        scaling=scalability(steps),
        little=littles_law_steps(steps) if steps and not open_model else [],
        step_break=step_break,
        usl=_usl(steps, open_model),
        leak=_leak(series, requests_done),
        cache=cache_effect(endpoints),
        data_size=data_size_scaling(endpoints),
        search=search,
        unit=series.load_unit,
        generator_overloads=overloads,
        generator_max_cpu=max(cpu) if cpu else None,
        generator_ceiling=generator_ceiling(
            series.rps,
            {k: v for k, v in series.generator_cpu.items() if k != MASTER_GENERATOR},
        ),
        judged=judged,
        p95_limit=limit,
        at_capacity=at_capacity,
        correctness=run_correctness(run, endpoints),
        saturation=what_broke(run, steps, step_break, search, limit.ms if limit else None),
    )


def breaking_point_section(analysis: RunAnalysis) -> dict[str, Any]:
    """``summary.json``'s ``breaking_point``: the live search's verdict when one ran (it
    judged each step as it went), else the stepped run's; the USL fit either way."""
    usl = analysis.usl
    section: dict[str, Any] = {
        "found": False,
        "capacity_rps": None,
        "users_at_break": None,
        "offered_at_break": None,
        "reason": None,
        "last_good": None,
        "source": None,
        "unit": analysis.unit,
        "usl": {
            "sigma": usl.sigma if usl else None,
            "kappa": usl.kappa if usl else None,
            "peak_users": usl.peak_concurrency if usl else None,
            **(
                {
                    k: v
                    for k, v in usl.as_dict().items()
                    if k not in ("sigma", "kappa", "peak_concurrency")
                }
                if usl
                else {}
            ),
        },
        "steps": [s.as_dict() for s in analysis.steps],
        "first_saturation": analysis.saturation.as_dict() if analysis.saturation else None,
    }
    search = analysis.search
    if search is not None:
        section.update(
            found=bool(search.get("found")),
            capacity_rps=search.get("capacity_rps"),
            offered_at_break=search.get("offered_at_break"),
            reason=search.get("reason"),
            last_good=search.get("last_good"),
            source="search",
            search=search,
        )
    elif analysis.step_break is not None:
        point = analysis.step_break.point
        section.update(
            found=point.found,
            capacity_rps=point.capacity_rps,
            reason=point.reason,
            source="steps",
            last_good=None
            if point.last_good_step is None
            else {
                "level": analysis.step_break.last_good_level,
                "throughput_rps": point.last_good_step.achieved_rps,
            },
        )
        at_break = analysis.step_break.break_level
        section["offered_at_break" if analysis.open_model else "users_at_break"] = at_break
    return section


def leak_section(analysis: RunAnalysis) -> dict[str, Any]:
    """``summary.json``'s ``leak``: the contract's four keys first, then the detail."""
    leak = analysis.leak.as_dict()
    head = {k: leak.get(k) for k in ("slope_kb_per_request", "slope_mb_per_hour", "r2", "verdict")}
    return {**head, **leak}
