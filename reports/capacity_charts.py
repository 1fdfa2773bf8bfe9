"""The capacity section's charts: throughput against load (the capacity marked), latency
against throughput (the hockey stick), and in an open model the USL against requests in flight.

A breakpoint search's charts draw the steps it judged (offered against achieved, good and
broken apart: the rows of the table); a stepped run's draw its settled steps with the USL
fit. Either way the capacity is a dashed line, so the chart and the headline say the same.
"""

from __future__ import annotations

import numpy as np

from reports import figures
from reports.analysis import usl_curve
from reports.run_analysis import RunAnalysis, usl_concurrency
from reports.view_text import level_text

__all__ = ["capacity_charts", "headline_capacity", "mark_capacity"]

GOOD_COLOR, BROKEN_COLOR = figures.COLORS[2], figures.COLORS[1]


def headline_capacity(analysis: RunAnalysis) -> float | None:
    """The capacity the headline states (the search's, else the stepped run's), if any."""
    if analysis.search is not None:
        value = analysis.search.get("capacity_rps")
        return None if value is None else float(value)
    return analysis.step_break.point.capacity_rps if analysis.step_break is not None else None


def _capacity_line(analysis: RunAnalysis, x_range: tuple[float, float]) -> list[dict]:
    """A horizontal dashed line at the headline's capacity (none when there is none)."""
    capacity = headline_capacity(analysis)
    if capacity is None:
        return []
    xs = np.array(x_range, dtype=float)
    return [
        figures.line(
            xs,
            np.full(2, capacity),
            f"capacity {capacity:,.1f} req/s",
            color=figures.COLORS[7],
            dash="dash",
        )
    ]


def _search_throughput(analysis: RunAnalysis) -> list[dict]:
    rows = [r for r in analysis.judged if r.counted]
    data = []
    for broken, name, color in (
        (False, "good step", GOOD_COLOR),
        (True, "broken step", BROKEN_COLOR),
    ):
        chosen = sorted((r for r in rows if r.verdict.broken == broken), key=lambda r: r.level)
        if chosen:
            trace = figures.scatter(
                [r.level for r in chosen], [r.measure.achieved_rps for r in chosen], name, color
            )
            trace["mode"] = "markers"
            data.append(trace)
    top = max((r.level for r in rows), default=1.0)
    data.append(
        figures.line([0.0, top], [0.0, top], "achieved = offered", color="#bbb", dash="dot")
    )
    return data + _capacity_line(analysis, (0.0, top))


def _stepped_throughput(analysis: RunAnalysis) -> list[dict]:
    steps = sorted(analysis.steps, key=lambda s: s.level)
    load = np.array([s.level for s in steps], dtype=float)
    data = [
        figures.scatter(
            load, [s.throughput_rps for s in steps], "measured throughput", figures.COLORS[0]
        )
    ]
    usl = analysis.usl
    if usl is not None and usl.sigma is not None and not analysis.open_model:
        grid = np.linspace(max(float(load.min()), 1e-3), float(load.max()) * 1.5, 120)
        data.append(
            figures.line(
                grid, usl_curve(usl, grid), "USL fit", color=figures.COLORS[1], dash="dash"
            )
        )
    return data + _capacity_line(analysis, (float(load.min()), float(load.max())))


def _hockey(analysis: RunAnalysis) -> dict:
    unit = analysis.unit
    if analysis.search is not None:
        rows = sorted((r for r in analysis.judged if r.counted), key=lambda r: r.level)
        data = [
            figures.scatter(
                [r.measure.achieved_rps for r in rows],
                [r.measure.p95_ms for r in rows],
                "p95",
                figures.COLORS[3],
                [f"{level_text(r.level)} {unit}" for r in rows],
            )
        ]
        data[0]["mode"] = "markers"
    else:
        steps = sorted(analysis.steps, key=lambda s: s.level)
        text = [f"{level_text(s.level)} {unit}" for s in steps]
        x = [s.throughput_rps for s in steps]
        data = [
            figures.scatter(x, [s.p95_ms for s in steps], "p95", figures.COLORS[3], text),
            figures.scatter(x, [s.mean_ms for s in steps], "mean", figures.COLORS[2], text),
        ]
    return figures.figure(
        "chart-hockey",
        "Latency against throughput",
        data,
        figures.layout("throughput (req/s)", "ms", hovermode="closest"),
        'The "hockey stick": latency stays flat while the service keeps up, then climbs '
        "steeply once it queues.",
    )


def capacity_charts(analysis: RunAnalysis) -> list[dict]:
    """The section's charts, none for a run without steps."""
    if not analysis.steps and not analysis.judged:
        return []
    unit = analysis.unit
    searched = analysis.search is not None and bool(analysis.judged)
    charts = [
        figures.figure(
            "chart-capacity",
            f"Throughput against load ({unit})",
            _search_throughput(analysis) if searched else _stepped_throughput(analysis),
            figures.layout(f"load ({unit})", "req/s", hovermode="closest"),
            "The dashed line is the capacity: the best throughput of a good step below the "
            "lowest broken load.",
        ),
        _hockey(analysis),
    ]
    usl = analysis.usl
    if usl is not None and usl.sigma is not None and analysis.open_model and analysis.steps:
        steps = sorted(analysis.steps, key=lambda s: s.level)
        n = usl_concurrency(steps, open_model=True)
        grid = np.linspace(max(float(n.min()), 1e-3), float(n.max()) * 1.5, 120)
        charts.append(
            figures.figure(
                "chart-usl",
                "USL: throughput against concurrency",
                [
                    figures.scatter(
                        n, [s.throughput_rps for s in steps], "measured", figures.COLORS[0]
                    ),
                    figures.line(
                        grid, usl_curve(usl, grid), "USL fit", color=figures.COLORS[1], dash="dash"
                    ),
                ],
                figures.layout(
                    "requests in flight (throughput x mean latency)", "req/s", hovermode="closest"
                ),
            )
        )
    return charts


def mark_capacity(chart: dict | None, analysis: RunAnalysis) -> dict | None:
    """The requests-per-second chart over time with the headline's capacity as a dashed
    line across it (unchanged without a capacity)."""
    capacity = headline_capacity(analysis)
    if chart is None or capacity is None:
        return chart
    xs = [t for trace in chart["figure"]["data"] for t in trace["x"] if t is not None]
    if xs:
        chart["figure"]["data"].append(
            figures.line(
                [min(xs), max(xs)],
                [capacity, capacity],
                f"capacity {capacity:,.1f} req/s",
                color=figures.COLORS[7],
                dash="dash",
            )
        )
    return chart
