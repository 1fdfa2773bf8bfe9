"""The job pipeline's capacity for ``summary.json``, the report and the console.

:func:`job_capacity_section` picks the rows of a ``job-capacity`` run (the
``JobCapacityShape``) and hands them to :func:`reports.analysis.job_capacity.job_capacity`:
the offered job rate per row, the queue depth (the target's reading, else the users'
``QUEUE depth``), the drain rows (from the first ``drain`` row to the end: rows after the
plan ended submit nothing either), the jobs accepted per row (``POST /v1/jobs``) and the
WebSocket delivery percentiles; the result is ``summary.json``'s ``job_capacity``.
:func:`job_capacity_view` and :func:`headline` turn that section into the report's
words and the console's verdict line; a re-rendered report reads the same section.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from reports.analysis.job_capacity import DRAIN_STAGE, JobCapacityRules, job_capacity
from reports.view_text import level_text, number
from rundir.reader import RunData

__all__ = ["SHAPE_CLASS", "headline", "job_capacity_section", "job_capacity_view"]

SHAPE_CLASS = "JobCapacityShape"
"""The shape whose runs have a ``job_capacity`` section (``meta.json``'s ``shape_class``)."""
SUBMIT_KEY = "POST /v1/jobs"
"""The row key of job submissions: the jobs accepted per row are its successes."""
COLUMNS = (
    "offered (jobs/s)",
    "submitted (jobs/s)",
    "queue at start",
    "queue at end",
    "backlog growth (jobs/s)",
    "WS delivery p50 ms",
    "WS delivery p95 ms",
)


def job_capacity_section(run: RunData) -> dict[str, Any] | None:
    """``summary.json``'s ``job_capacity`` for a ``JobCapacityShape`` run, else None."""
    if run.meta.get("shape_class") != SHAPE_CLASS:
        return None
    s = run.series
    submitted = None
    if SUBMIT_KEY in s.endpoint_counts:
        submitted = s.endpoint_counts[SUBMIT_KEY] - s.endpoint_failures.get(SUBMIT_KEY, 0.0)
    rules = JobCapacityRules()
    found = job_capacity(
        s.elapsed_s,
        s.span_s,
        s.offered,
        s.queue_depth,
        np.logical_or.accumulate(np.array([st == DRAIN_STAGE for st in s.stage], dtype=bool)),
        submitted=submitted,
        ws_p50_ms=s.ws_p50_ms,
        ws_p95_ms=s.ws_p95_ms,
        rules=rules,
    )
    return {**found.as_dict(), "unit": "jobs/s", "rules": dataclasses.asdict(rules)}


def headline(section: dict[str, Any]) -> str:
    """One line: the capacity (or what held), the backlog growth beyond it, the drain."""
    capacity, sustained = section.get("capacity_jobs_per_s"), section.get("sustained_jobs_per_s")
    if section.get("found") and capacity is not None:
        parts = [
            f"{number(capacity, 2)} jobs/s",
            f"queue grew from {level_text(section.get('first_growing_jobs_per_s'))} jobs/s, "
            f"backlog +{number(section.get('backlog_growth_jobs_per_s'), 2)} jobs/s "
            "at the top step",
        ]
    elif sustained is not None:
        parts = [f"held at least {number(sustained, 2)} jobs/s (queue stable at every step)"]
    else:
        return str(section.get("reason") or "not measured")
    return ", ".join([*parts, drain_text(section.get("drain"))])


def drain_text(drain: dict[str, Any] | None) -> str:
    """How the queue drained after the stop, in a few words."""
    if not drain:
        return "drain not watched"
    if drain.get("drained"):
        return (
            f"drained {number(drain.get('backlog_jobs'), 0)} jobs in "
            f"{number(drain.get('drain_s'), 0)} s"
        )
    return (
        f"not drained in {number(drain.get('watched_s'), 0)} s "
        f"({number(drain.get('depth_at_end'), 0)} jobs left)"
    )


def job_capacity_view(section: dict[str, Any] | None) -> dict[str, Any] | None:
    """The report's "Job pipeline capacity" section, or None for other runs."""
    if not section:
        return None
    rows = []
    for step in section.get("steps") or []:
        growing = step.get("growing")
        state, verdict = {
            True: ("bad", "growing"),
            False: ("ok", "stable"),
        }.get(growing, ("muted", "not judged"))
        growth = step.get("growth_jobs_per_s")
        rows.append(
            {
                "cells": [
                    level_text(step.get("offered_jobs_per_s")),
                    number(step.get("arrival_jobs_per_s"), 2),
                    number(step.get("depth_start"), 0),
                    number(step.get("depth_end"), 0),
                    "-" if growth is None else f"{growth:+.2f}",
                    number(step.get("ws_p50_ms")),
                    number(step.get("ws_p95_ms")),
                ],
                "state": state,
                "verdict": verdict,
            }
        )
    drain = section.get("drain") or {}
    expected = drain.get("expected_s")
    return {
        "headline": headline(section),
        "reason": str(section.get("reason") or "").capitalize(),
        "columns": COLUMNS,
        "rows": rows,
        "drain": drain_text(drain or None)
        + (f"; at the capacity it takes {number(expected, 0)} s" if expected is not None else ""),
    }
