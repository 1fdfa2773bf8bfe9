"""The sentence the report and the console give for summary.json's ``first_saturation``."""

from __future__ import annotations

from reports.what_broke import broke_first_line


def test_the_sentence_is_the_evidence_and_none_without_one():
    evidence = "target CPU 0.98 of 2 cores at 8 users"
    assert broke_first_line({"evidence": evidence, "about_generator": False}) == evidence
    assert broke_first_line(None) is None and broke_first_line({}) is None
