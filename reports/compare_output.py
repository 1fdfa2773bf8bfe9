"""A comparison shown: the plain-text table the CLI prints and the ``compare.html`` page.

The rules and the numbers are :mod:`reports.compare`'s; this module only lays them out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from reports.compare import (
    ERROR_RATIO_FLOOR,
    LABELS,
    LATENCY_FLOOR_MS,
    METRICS,
    MIN_GATED_REQUESTS,
    Comparison,
    format_change,
    format_limit,
    format_value,
    number,
)
from rundir.reader import RunData

__all__ = ["format_table", "printable", "render_html"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


def printable(text: str, width: int) -> str:
    """Endpoint names come from the target: no control characters into a terminal."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= width else clean[: width - 1] + "~"


def format_table(comparison: Comparison) -> str:
    """The plain-text table: one line per row, changes of each metric, ``!`` marks a
    regression, ``~`` past the limit but within the runs' noise and ``?`` past the limit
    on an ungated row or metric."""
    widths = {m: 17 if m == "error_ratio" else 10 for m in METRICS}
    head = f"{'endpoint':<36} {'requests':>13}" + "".join(
        f" {LABELS[m]:>{widths[m] + 1}}" for m in METRICS
    )
    lines = [head]
    for row in (comparison.aggregate, *comparison.endpoints):
        cells = "".join(
            f" {format_change(m):>{widths[m.metric]}}"
            + ("!" if m.regressed else "~" if m.noise else "?" if m.past_limit else " ")
            for m in row.metrics
        )
        counts = f"{row.baseline_count}/{row.current_count}"
        lines.append(
            f"{printable(row.key, 36):<36} {counts:>13}{cells}"
            + ("" if row.gated else " (not gated)")
        )
    for word, keys in (("added", comparison.added), ("removed", comparison.removed)):
        lines += [f"{word}: {printable(k, 80)}" for k in keys]
    return "\n".join([*lines, printable(comparison.verdict(), 400)])


def _run_facts(run: RunData) -> dict[str, Any]:
    summary, meta = run.summary or {}, run.meta
    return {
        "run id": run.run_id,
        "started": meta.get("started_at") or "-",
        "duration": f"{summary['duration_s']:g} s"
        if number(summary.get("duration_s")) is not None
        else "-",
        "users max": summary.get("users_max", "-"),
        "host": meta.get("host") or "-",
        "user classes": ", ".join(map(str, meta.get("user_classes") or [])) or "-",
        "target flags": meta.get("target_flags") or "-",
        "complete": "yes" if run.complete else "no",
    }


def render_html(comparison: Comparison, baseline: RunData, current: RunData) -> str:
    """The page, autoescaped: every string from the runs is untrusted and never marked safe."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    env.filters.update(
        value=lambda m, which: format_value(m.metric, getattr(m, which), m.unit),
        change=format_change,
    )
    problems = [f"baseline: {p}" for p in baseline.problems] + [
        f"current: {p}" for p in current.problems
    ]
    return env.get_template("compare.html.j2").render(
        c=comparison,
        limit=format_limit(comparison.max_regression),
        problems=problems,
        facts=(_run_facts(baseline), _run_facts(current)),
        min_requests=MIN_GATED_REQUESTS,
        latency_floor=LATENCY_FLOOR_MS,
        error_floor_pp=ERROR_RATIO_FLOOR * 100,
    )
