"""The report's capacity words: the capacity card, the breakpoint table and its notes.

Every row of the table is a step judged by the headline's own rules (the rows of
:attr:`~reports.run_analysis.RunAnalysis.judged`, judged by
:func:`reports.analysis.step_verdict`), so a row never reads *good* at a load the headline
calls broken; each broken row says which rules it broke and by how much.
"""

from __future__ import annotations

from typing import Any

from reports.analysis import JudgedStep
from reports.run_analysis import RunAnalysis
from reports.view_text import card, level_text, number
from reports.what_broke import broke_first_line

__all__ = ["capacity_card", "capacity_section", "verdict_text"]

RULE_NAMES = {
    "stall": "no responses",
    "errors": "error ratio",
    "dropped": "dropped arrivals",
    "throughput": "throughput below the offered rate",
    "p95": "p95 over the limit",
    "growth": "throughput stopped growing",
}
"""Plain names of the rules (``reports.analysis`` ``RULE_*``)."""
SEARCH_COLUMNS = (
    "step",
    "phase",
    "offered (req/s)",
    "achieved (req/s)",
    "achieved / offered",
    "error %",
    "dropped",
    "p95 ms",
)
STEP_COLUMNS = (
    "load ({unit})",
    "throughput (req/s)",
    "error %",
    "p95 ms",
    "mean ms",
    "efficiency",
    "growth eff.",
    "p95 vs first",
)


def capacity_card(analysis: RunAnalysis) -> dict[str, str]:
    """The capacity (or, on a run without steps, the throughput) card."""
    search, step_break, unit = analysis.search, analysis.step_break, analysis.unit
    if search is not None:
        if search.get("found") and search.get("capacity_rps") is not None:
            return card(
                "capacity",
                "Capacity",
                f"{number(search['capacity_rps'])} req/s",
                f"breaks at {level_text(search.get('offered_at_break'))} req/s offered: "
                f"{search.get('reason')}",
                "info",
            )
        return card(
            "capacity",
            "Capacity",
            f">= {number(search.get('capacity_rps'))} req/s",
            f"no break found ({search.get('stop_reason')})",
            "warn",
        )
    if step_break is not None:
        point = step_break.point
        if point.found:
            held = (
                f"held {level_text(step_break.last_good_level)} {unit}"
                if step_break.last_good_level is not None
                else "broke at the first step"
            )
            return card(
                "capacity",
                "Capacity",
                f"{number(point.capacity_rps)} req/s",
                f"{held}; broke at {level_text(step_break.break_level)} {unit}: {point.reason}",
                "info",
            )
        return card(
            "capacity",
            "Capacity",
            f">= {number(point.capacity_rps)} req/s",
            f"no step broke, up to {level_text(step_break.last_good_level)} {unit}",
            "ok",
        )
    return card(
        "capacity",
        "Throughput",
        f"{number(analysis.aggregate.get('rps'))} req/s",
        "not a stepped run: capacity needs steps (config/breakpoint.conf or "
        "config/scalability.conf)",
        "info",
    )


def verdict_text(row: JudgedStep) -> str:
    """``good``, or ``broken (rule, rule): reason``; a row's note follows."""
    verdict = row.verdict
    text = (
        f"broken ({', '.join(RULE_NAMES.get(r, r) for r in verdict.rules)}): {verdict.reason}"
        if verdict.broken
        else "good"
    )
    return f"{text}. {row.note[0].upper()}{row.note[1:]}." if row.note else text


def _state(row: JudgedStep) -> str:
    if not row.counted or row.note:
        return "muted"
    return "bad" if row.verdict.broken else "ok"


def _search_cells(row: JudgedStep) -> list[str]:
    m = row.measure
    return [
        str(row.number),
        row.phase or "-",
        level_text(m.offered_rps),
        number(m.achieved_rps),
        number(m.throughput_ratio, 2),
        number(100 * m.error_ratio, 2),
        f"{m.dropped:,}",
        number(m.p95_ms, 0),
    ]


def _step_table(analysis: RunAnalysis) -> tuple[list[str], list[list[str]]]:
    """Columns and cells of a stepped run's rows (by level); Little's law only when checked."""
    scaling = {s.level: s for s in analysis.scaling}
    little = {s.level: c for s, c in zip(analysis.steps, analysis.little, strict=False)}
    stats = {s.level: s for s in analysis.steps}
    columns = [c.format(unit=analysis.unit) for c in STEP_COLUMNS]
    if little:
        columns.append("Little's law")
    cells = []
    for row in analysis.judged:
        sc, st, lc = scaling.get(row.level), stats.get(row.level), little.get(row.level)
        line = [
            level_text(row.level),
            number(row.measure.achieved_rps),
            number(100 * row.measure.error_ratio, 2),
            number(row.measure.p95_ms),
            number(st.mean_ms if st else None),
            number(sc.efficiency if sc else None, 2),
            number(sc.growth_efficiency if sc else None, 2),
            f"{number(sc.degradation if sc else None, 2)}x",
        ]
        if little:
            line.append("-" if lc is None else ("consistent" if lc.consistent else lc.note))
        cells.append(line)
    return columns, cells


def _notes(analysis: RunAnalysis) -> list[str]:
    notes = []
    broke = broke_first_line(analysis.saturation.as_dict() if analysis.saturation else None)
    if broke:  # first: a generator-bound run says at once that its result is about us
        notes.append(f"What broke first: {broke}.")
    if analysis.p95_limit is not None and analysis.judged:
        notes.append(f"Steps are judged by the headline's rules; {analysis.p95_limit.describe()}.")
    usl = analysis.usl
    if usl is not None:
        notes.append(
            f"Universal Scalability Law: {usl.note}" + ("" if usl.supported else " (not trusted)")
        )
    if analysis.open_model and analysis.steps:
        notes.append(
            "Open model: the load is an arrival rate, so the USL's concurrency is the "
            "mean number of requests in flight (throughput x mean latency)."
        )
    if analysis.search is not None:
        notes.append(
            "The capacity is the live breakpoint search's: each step below was judged as it "
            "ran (error ratio, p95, throughput against the offered rate, dropped arrivals), "
            "over its measuring window. A rate listed twice was measured again: a break by p95 "
            "alone, or any break while the rate was still growing, may be a hiccup of the "
            "machine, so only the repeat counts."
        )
    if not analysis.steps and analysis.search is None:
        notes.append(
            "This run had no steps of steady load, so there is no breaking point to "
            "find. Run config/scalability.conf (users) or config/breakpoint.conf "
            "(arrival rate) for one."
        )
    return notes


def capacity_section(analysis: RunAnalysis) -> dict[str, Any]:
    """The summary sentence, notes, and the table: ``columns`` and ``rows`` (``cells``,
    ``verdict``, ``state``), one row per judged step."""
    head = capacity_card(analysis)
    if analysis.search is not None:
        columns = list(SEARCH_COLUMNS)
        cells = [_search_cells(row) for row in analysis.judged]
    else:
        columns, cells = _step_table(analysis)
    rows = [
        {"cells": line, "verdict": verdict_text(row), "state": _state(row)}
        for row, line in zip(analysis.judged, cells, strict=True)
    ]
    return {
        "summary": f"{head['label']}: {head['value']} ({head['detail']}).",
        "notes": _notes(analysis),
        "columns": columns,
        "rows": rows,
        "unit": analysis.unit,
    }
