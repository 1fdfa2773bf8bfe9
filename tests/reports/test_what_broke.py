"""The sentence the report and the console give for summary.json's ``first_saturation``."""

from __future__ import annotations

from reports.what_broke import broke_first_line


def test_a_generator_bound_run_says_first_that_it_is_about_the_generator():
    line = broke_first_line({"evidence": "load generator: its CPU 97 %", "about_generator": True})
    assert line is not None and line.startswith("the load generator, not the service")
    assert "its CPU 97 %" in line


def test_other_verdicts_are_their_evidence_and_none_without_one():
    evidence = "target CPU 0.98 of 2 cores at 8 users"
    assert broke_first_line({"evidence": evidence, "about_generator": False}) == evidence
    assert broke_first_line(None) is None and broke_first_line({}) is None
