"""Correctness under load from a run directory: ``summary.json``'s ``correctness`` and the
report's section, one implementation (:func:`run_correctness`, :func:`correctness_view`).

The counts come from the rows' ``ANSWER "<METHOD> <name>"`` cells (``--check-answers``,
``users.answer_check``): count = answers checked against their golden answer, failures =
wrong results; the answers a route gave are its requests less those failed for another
reason. The grouping by load level is :mod:`reports.analysis.correctness`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from reports.analysis.correctness import (
    Correctness,
    RouteCorrectness,
    WrongExample,
    correctness,
    wrong_example,
)
from rundir.layout import ANSWER_TYPE, split_key
from rundir.reader import RunData

__all__ = ["correctness_view", "run_correctness"]


def _routes(endpoints: Sequence[Mapping[str, Any]]) -> list[RouteCorrectness]:
    by_key = {f"{e.get('method')} {e.get('name')}": e for e in endpoints}
    routes = []
    for key, row in sorted(by_key.items()):
        method, route = split_key(key)
        if method != ANSWER_TYPE:
            continue
        checked, wrong = int(row.get("count") or 0), int(row.get("failures") or 0)
        request = by_key.get(route, {})
        other_failures = max(0, int(request.get("failures") or 0) - wrong)
        answers = max(checked, int(request.get("count") or 0) - other_failures)
        routes.append(
            RouteCorrectness(route, answers, checked, wrong, wrong / checked if checked else None)
        )
    return routes


def _examples(errors: Sequence[Mapping[str, Any]]) -> list[WrongExample]:
    out = []
    for row in errors:
        if row.get("method") == ANSWER_TYPE:
            found = wrong_example(str(row.get("name")), str(row.get("message")), row["count"])
            if found is not None:
                out.append(found)
    return out


def run_correctness(run: RunData, endpoints: Sequence[Mapping[str, Any]]) -> Correctness:
    """The run's answers checked and wrong, by route and load level; ``endpoints``: the
    run's endpoint rows (``summary.json``'s, or rebuilt for a run that never wrote one)."""
    s = run.series
    keys = [k for k in s.endpoint_counts if split_key(k)[0] == ANSWER_TYPE]
    zeros = np.zeros(len(s))
    checked = sum((np.nan_to_num(s.endpoint_counts[k]) for k in keys), zeros)
    wrong = sum(
        (np.nan_to_num(s.endpoint_failures[k]) for k in keys if k in s.endpoint_failures), zeros
    )
    in_flight = s.rps * s.avg_ms / 1000.0 if len(s) else zeros
    return correctness(
        s.load if len(s) else zeros,
        in_flight,
        checked,
        wrong,
        routes=_routes(endpoints),
        examples=_examples((run.summary or {}).get("errors") or []),
        unit=s.load_unit,
    )


def _pct(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.2f} %"


def _level(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def correctness_view(c: Correctness | None) -> dict[str, Any]:
    """The report's "Correctness under load" section: headline, the table by load level,
    the routes and the examples (strings, escaped by the template)."""
    if c is None:
        return {"headline": "", "levels": [], "routes": [], "examples": [], "state": ""}
    return {
        "headline": c.headline,
        "state": "" if not c.checked else ("bad" if c.wrong else "ok"),
        "unit": c.unit,
        "levels": [
            {
                "level": _level(lv.level),
                "in_flight": "-" if lv.in_flight is None else f"{lv.in_flight:.1f}",
                "checked": f"{lv.checked:,}",
                "wrong": f"{lv.wrong:,}",
                "ratio": _pct(lv.wrong_ratio),
                "onset": lv.level == c.onset_level,
            }
            for lv in c.levels
        ],
        "routes": [
            {
                "route": r.route,
                "answers": f"{r.answers:,}",
                "checked": f"{r.checked:,}",
                "wrong": f"{r.wrong:,}",
                "ratio": _pct(r.wrong_ratio),
            }
            for r in c.routes
        ],
        "examples": [
            {"route": e.route, "field": e.field, "detail": e.detail, "count": f"{e.count:,}"}
            for e in c.examples
        ],
    }
