"""Marks drawn over the report's time charts: the target's outage windows, shaded."""

from __future__ import annotations

import numpy as np

from reports.chart_data import time_divisor

__all__ = ["OUTAGE_COLOR", "shade_outages"]

OUTAGE_COLOR = "#cf222e"


def shade_outages(chart: dict, windows: list[tuple[float, float]], elapsed_s: np.ndarray) -> dict:
    """The chart with each target outage ``(start_s, end_s)`` shaded across its plot (nothing
    added without one); the x unit follows :func:`~reports.chart_data.time_axis`."""
    if not windows:
        return chart
    divisor, _ = time_divisor(elapsed_s)
    spec = chart["figure"]["layout"]
    spec["shapes"] = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": round(start / divisor, 3),
            "x1": round(end / divisor, 3),
            "y0": 0,
            "y1": 1,
            "fillcolor": OUTAGE_COLOR,
            "opacity": 0.25,
            "line": {"width": 0},
            "layer": "below",
        }
        for start, end in windows
    ]
    chart["note"] = (chart["note"] + " " if chart["note"] else "") + (
        "Shaded: the target was unreachable."
    )
    return chart
