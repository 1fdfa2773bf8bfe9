"""reports/analysis/correctness.py on synthetic rows of known answer."""

from __future__ import annotations

import math

import numpy as np

from reports.analysis.correctness import RouteCorrectness, correctness, wrong_example

ROUTE = "POST /v1/backtests"


def test_wrong_answers_grouped_by_level_with_the_onset_and_the_worst_level():
    levels = [10, 10, 20, 20, 30, 30, 40, 40, np.nan, 0]  # no level, then the run stopping
    in_flight = [9, 9, 19, 19, 29, 29, 35, 37, np.nan, 8]
    checked = [50, 50, 100, 100, 100, 100, 100, 100, 5, 5]
    wrong = [0, 0, 0, 0, 0, 0, 3, 5, 1, 1]
    routes = [RouteCorrectness(ROUTE, 710, 705, 9, 9 / 705)]
    examples = [
        wrong_example(ROUTE, "WrongAnswer('wrong result: sharpe_ratio')", 7),
        wrong_example(ROUTE, "WrongAnswer('wrong result: sharpe_ratio 1.2 != golden 1.3')", 1),
        wrong_example(ROUTE, "status 500", 3),
    ]
    c = correctness(
        levels, in_flight, checked, wrong, routes=routes, examples=[e for e in examples if e]
    )
    # the first row of each new level ran partly at the level before: no level
    assert [(lv.level, lv.checked, lv.wrong) for lv in c.levels] == [
        (10, 100, 0),
        (20, 100, 0),
        (30, 100, 0),
        (40, 100, 5),
    ]
    assert (c.onset_level, c.last_right_level, c.worst_level) == (40, 30, 40)
    assert math.isclose(c.onset_in_flight or 0, 37)
    assert (c.checked, c.wrong, c.answers) == (705, 9, 710)
    assert c.examples[0].detail == "sharpe_ratio 1.2 != golden 1.3"
    assert c.examples[1].field == "sharpe_ratio" and c.examples[1].count == 7
    assert c.headline.startswith(
        "Answers went wrong above 30 users (~29 in flight); 5.0 % of checked answers wrong at "
        "40 users; 9 of 705 checked answers wrong (1.3 %; 705 of 710 answers checked)"
    )


def test_no_wrong_answer_and_nothing_checked():
    right = correctness(
        [5, 5], [4, 4], [10, 10], [0, 0], routes=[RouteCorrectness(ROUTE, 20, 20, 0, 0.0)]
    )
    assert right.onset_level is None and right.wrong_ratio == 0.0
    assert right.headline == "Every checked answer was right (20 of 20 answers checked)."
    none = correctness([5], [4], [0], [0])
    assert none.wrong_ratio is None and none.headline.startswith("No answer was checked")
    first = correctness(
        [5.0, 10.0],
        [4, 8],
        [10, 10],
        [2, 2],
        unit="req/s",
        routes=[RouteCorrectness(ROUTE, 20, 20, 4, 0.2)],
    )
    assert first.headline.startswith("Answers went wrong from the lowest load checked, 5 req/s")


def test_a_row_that_ran_at_two_loads_belongs_to_neither():
    """Users stopping from 5 to 0 pass 1 at a row's end: that row's wrong answers were made
    at 5 users and must not make 1 user look wrong (seen on a loaded machine)."""
    levels = [1, 1, 5, 5, 5, 1, 0]
    c = correctness(levels, [1, 1, 5, 5, 5, 3, 0], [10] * 7, [0, 0, 0, 2, 3, 4, 0])
    assert [(lv.level, lv.checked, lv.wrong) for lv in c.levels] == [(1, 20, 0), (5, 20, 5)]
    assert (c.onset_level, c.last_right_level) == (5, 1)
