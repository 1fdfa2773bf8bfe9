"""``history.html``: one self-contained page (plotly inlined, nothing fetched) of a run
history: per metric the series across runs, the change points with their size and
confidence, and where the newest run stands (the gate's verdict at the default limit).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from reports.compare import DEFAULT_MAX_REGRESSION
from reports.history_changes import ChangePoint, change_points, judge
from reports.history_series import LABELS, METRICS, HistorySeries, gated_metrics
from reports.render import plotly_js, script_json

__all__ = ["render_history"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _figure(series: HistorySeries, metric: str, points: list[ChangePoint]) -> dict[str, Any]:
    """A plotly spec: the values by run number, change points as dashed lines."""
    values = series.values[metric]
    x = np.arange(1, values.size + 1)
    keep = np.isfinite(values)
    text = [f"{r} (build {b})" for r, b in zip(series.run_ids, series.builds, strict=True)]
    traces: list[dict[str, Any]] = [
        {
            "type": "scattergl" if values.size > 2000 else "scatter",
            "mode": "lines+markers" if values.size <= 300 else "lines",
            "x": x[keep].tolist(),
            "y": values[keep].round(6).tolist(),
            "text": [t for t, k in zip(text, keep, strict=True) if k],
            "name": LABELS[metric],
            "hovertemplate": "run %{x}: %{y}<br>%{text}<extra></extra>",
        }
    ]
    if keep.any():
        last = int(np.flatnonzero(keep)[-1])
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [last + 1],
                "y": [round(float(values[last]), 6)],
                "name": "newest",
                "marker": {"size": 11, "color": "#cf222e"},
            }
        )
    shapes = [
        {
            "type": "line",
            "x0": p.index + 1,
            "x1": p.index + 1,
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"dash": "dash", "color": "#9a6700"},
        }
        for p in points
    ]
    return {
        "data": traces,
        "layout": {
            "title": {"text": LABELS[metric]},
            "xaxis": {"title": {"text": "run"}},
            "margin": {"t": 40, "r": 10, "l": 60, "b": 40},
            "shapes": shapes,
            "showlegend": False,
            "height": 300,
        },
    }


def render_history(series: HistorySeries, limit: float = DEFAULT_MAX_REGRESSION) -> str:
    """The page, autoescaped (run ids, builds and endpoint names are untrusted)."""
    gated = gated_metrics(series)
    sections = []
    for metric in METRICS:
        values = series.values[metric]
        if not np.isfinite(values).any():
            continue
        finite = np.flatnonzero(np.isfinite(values))  # change points index the runs
        points = [replace(p, index=int(finite[p.index])) for p in change_points(values[finite])]
        verdict = judge(metric, values, limit)
        sections.append(
            {
                "metric": metric,
                "label": LABELS[metric],
                "figure": script_json(_figure(series, metric, points)),
                "points": points,
                "verdict": verdict,
                "gated": metric in gated,
            }
        )
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    return env.get_template("history.html.j2").render(
        series=series,
        sections=sections,
        limit=f"{limit * 100:g} %",
        plotly_js=plotly_js(),
    )
