"""Correctness under load: checked and wrong answers, grouped by load level. Pure.

The suite checks deterministic answers against golden ones (``--check-answers``); each
row of the run counts the answers it checked and the wrong ones. This module groups them
by the row's load level (users, or the offered rate), finds where answers first went
wrong, and says so in one sentence ("answers went wrong above 30 users (~28 in flight);
4.1 % of checked answers wrong at 40 users"). Arrays and plain values in, dataclasses out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from reports.analysis.tables import JsonResult

__all__ = [
    "Correctness",
    "LevelCorrectness",
    "RouteCorrectness",
    "WrongExample",
    "correctness",
    "wrong_example",
]

MAX_EXAMPLES = 5
"""Wrong answers quoted with their values."""
LEVEL_DECIMALS = 3
"""Rows whose load levels agree to this many decimals are one level."""
_WRONG_RE = re.compile(r"wrong result: ([A-Za-z_][\w.]*)(.*?)['\"]?\)?$")


@dataclass(frozen=True)
class RouteCorrectness(JsonResult):
    """One route's answers: ``answers`` it gave (not failed for another reason), ``checked``
    against a golden answer, ``wrong``; ``wrong_ratio`` = wrong / checked (None: none checked)."""

    route: str
    answers: int
    checked: int
    wrong: int
    wrong_ratio: float | None


@dataclass(frozen=True)
class LevelCorrectness(JsonResult):
    """The answers checked while the load was at ``level`` (every row at it, ramps too)."""

    level: float
    in_flight: float | None
    """Mean requests in flight at that level (throughput x mean latency, Little's law)."""
    checked: int
    wrong: int
    wrong_ratio: float | None


@dataclass(frozen=True)
class WrongExample(JsonResult):
    """A wrong answer as its failure said it: the field that differed and, when the message
    carried them, the values (``sharpe_ratio -0.28 != golden -0.41``)."""

    route: str
    field: str
    detail: str
    count: int


@dataclass(frozen=True)
class Correctness(JsonResult):
    """The run's correctness under load (``summary.json``'s ``correctness``)."""

    answers: int
    checked: int
    wrong: int
    wrong_ratio: float | None
    unit: str
    routes: list[RouteCorrectness] = field(default_factory=list)
    levels: list[LevelCorrectness] = field(default_factory=list)
    onset_level: float | None = None
    """The lowest level with a wrong answer (None: none wrong)."""
    onset_in_flight: float | None = None
    last_right_level: float | None = None
    """The highest level below the onset whose checked answers were all right."""
    worst_level: float | None = None
    """The level with the highest share of wrong answers."""
    examples: list[WrongExample] = field(default_factory=list)
    headline: str = ""


def wrong_example(route: str, message: str, count: int) -> WrongExample | None:
    """A :class:`WrongExample` from a failure message holding ``wrong result: FIELD ...``
    (as recorded, maybe inside an exception's repr), or None for any other message."""
    found = _WRONG_RE.search(message)
    if found is None:
        return None
    name = found.group(1)
    return WrongExample(route, name, (name + found.group(2)).strip(), count)


def _ratio(wrong: int, checked: int) -> float | None:
    return wrong / checked if checked else None


def _level_text(level: float, unit: str) -> str:
    text = f"{level:.0f}" if float(level).is_integer() else f"{level:.3g}"
    return f"{text} {unit[:-1] if unit == 'users' and level == 1 else unit}"


def _in_flight_text(value: float | None) -> str:
    return "" if value is None else f" (~{value:.0f} in flight)"


def _group(
    levels: np.ndarray, in_flight: np.ndarray, checked: np.ndarray, wrong: np.ndarray
) -> list[LevelCorrectness]:
    keyed = np.round(levels, LEVEL_DECIMALS)
    out = []
    usable = np.isfinite(keyed) & (keyed > 0) & (checked > 0)  # 0: the run stopping
    # A row's level is its load at its end: one whose level differs from the row before ran
    # at two loads (a step, users stopping) and belongs to neither.
    before = np.concatenate((keyed[:1], keyed[:-1]))
    usable &= keyed == before
    for level in np.unique(keyed[usable]):
        rows = usable & (keyed == level)
        flights = in_flight[rows]
        flights = flights[np.isfinite(flights)]
        n, w = int(checked[rows].sum()), int(wrong[rows].sum())
        out.append(
            LevelCorrectness(
                level=float(level),
                in_flight=float(flights.mean()) if flights.size else None,
                checked=n,
                wrong=w,
                wrong_ratio=_ratio(w, n),
            )
        )
    return out


def _headline(c: Correctness) -> str:
    if not c.checked:
        return (
            "No answer was checked: no deterministic request (a backtest) was asked twice, "
            "so none had a golden answer to compare with (users that draw fresh parameters "
            "each time, such as BacktestUser), or none was answered, or --check-answers was 0."
        )
    of = f"{c.checked:,} of {c.answers:,} answers checked"
    if not c.wrong:
        return f"Every checked answer was right ({of})."
    share = (
        f"{c.wrong:,} of {c.checked:,} checked answers wrong "
        f"({100 * (c.wrong_ratio or 0):.1f} %; {of})"
    )
    if c.onset_level is None:
        return f"Answers went wrong: {share}."
    onset = next(lv for lv in c.levels if lv.level == c.onset_level)
    if c.last_right_level is not None:
        right = next(lv for lv in c.levels if lv.level == c.last_right_level)
        where = (
            f"Answers went wrong above {_level_text(right.level, c.unit)}"
            f"{_in_flight_text(right.in_flight)}"
        )
    else:
        where = (
            f"Answers went wrong from the lowest load checked, "
            f"{_level_text(onset.level, c.unit)}{_in_flight_text(onset.in_flight)}"
        )
    worst = next(lv for lv in c.levels if lv.level == c.worst_level)
    return (
        f"{where}; {100 * (worst.wrong_ratio or 0):.1f} % of checked answers wrong at "
        f"{_level_text(worst.level, c.unit)}; {share}."
    )


def correctness(
    levels: Sequence[float] | np.ndarray,
    in_flight: Sequence[float] | np.ndarray,
    checked: Sequence[float] | np.ndarray,
    wrong: Sequence[float] | np.ndarray,
    *,
    routes: Sequence[RouteCorrectness] = (),
    examples: Sequence[WrongExample] = (),
    unit: str = "users",
) -> Correctness:
    """Group per-row ``checked``/``wrong`` counts by the row's load ``levels`` (NaN or 0:
    no level; a row whose level differs from the row before it ran at two loads: no level
    either; such rows count in the totals only), with each row's requests ``in_flight``;
    ``routes`` give the run's totals per route (their sums are the run's), ``examples``
    the wrong answers quoted (the most frequent ``MAX_EXAMPLES`` with values are kept)."""
    lv = np.asarray(levels, dtype=float)
    fl = np.asarray(in_flight, dtype=float)
    ch = np.nan_to_num(np.asarray(checked, dtype=float))
    wr = np.nan_to_num(np.asarray(wrong, dtype=float))
    if not (lv.shape == fl.shape == ch.shape == wr.shape):
        raise ValueError("levels, in_flight, checked and wrong differ in length")
    grouped = _group(lv, fl, ch, wr)
    onset = next((g for g in grouped if g.wrong), None)
    last_right = (
        None
        if onset is None
        else next(
            (g for g in reversed(grouped) if g.level < onset.level and not g.wrong),
            None,
        )
    )
    worst = max(grouped, key=lambda g: g.wrong_ratio or 0.0) if onset is not None else None
    n = sum(r.checked for r in routes)
    w = sum(r.wrong for r in routes)
    quoted = sorted(examples, key=lambda e: (-(" != " in e.detail), -e.count, e.detail))
    result = Correctness(
        answers=sum(r.answers for r in routes),
        checked=n,
        wrong=w,
        wrong_ratio=_ratio(w, n),
        unit=unit,
        routes=list(routes),
        levels=grouped,
        onset_level=onset.level if onset else None,
        onset_in_flight=onset.in_flight if onset else None,
        last_right_level=last_right.level if last_right else None,
        worst_level=worst.level if worst else None,
        examples=quoted[:MAX_EXAMPLES],
    )
    return replace(result, headline=_headline(result))
