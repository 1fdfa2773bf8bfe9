"""JUnit XML for thresholds: one test case per threshold, so CI shows which rule failed.

``junit_xml`` is pure string building; ``write_junit`` is the one write. Endpoint
names come from the target under test and may hold anything (``<script>``,
quotes, ampersands, control characters), so every text and attribute is escaped
and characters XML 1.0 cannot carry at all are replaced with U+FFFD: the output
always parses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from reports.thresholds import Result, format_number, format_observed
from rundir.files import write_atomic

JUNIT_FILENAME = "junit.xml"
DEFAULT_SUITE_NAME = "quantload.thresholds"
FAILURE_TYPE = "threshold"

# Characters outside XML 1.0's Char production (C0 controls, lone surrogates, U+FFFE/F).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTR_ENTITIES = {'"': "&quot;", "'": "&apos;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def junit_xml(
    results: Sequence[Result], suite_name: str = DEFAULT_SUITE_NAME, duration_s: float = 0.0
) -> str:
    """A JUnit document with one ``<testcase>`` per result, ``<failure>`` on failed ones.

    A failure's message says observed vs limit (or why there was no data); each
    case's ``<system-out>`` carries the observed value, passed or not.
    """
    failures = sum(not r.passed for r in results)
    counts = f'tests="{len(results)}" failures="{failures}" errors="0"'
    suite = _attr(suite_name)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="{suite}" {counts} time="{duration_s:.3f}">',
        f'  <testsuite name="{suite}" {counts} skipped="0" time="{duration_s:.3f}">',
    ]
    for result in results:
        lines.append(f'    <testcase classname="{suite}" name="{_attr(result.name)}" time="0">')
        if not result.passed:
            message = f"{result.name}: {result.note or 'failed'}"
            lines.append(
                f'      <failure message="{_attr(message)}" type="{FAILURE_TYPE}">'
                f"{_text(_detail(result))}</failure>"
            )
        lines.append(f"      <system-out>{_text(_detail(result))}</system-out>")
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)


def write_junit(
    path: str | Path,
    results: Sequence[Result],
    suite_name: str = DEFAULT_SUITE_NAME,
    duration_s: float = 0.0,
) -> Path:
    """Write ``junit_xml(...)`` to ``path`` (whole or not at all: see ``write_atomic``)."""
    path = Path(path)
    write_atomic(path, junit_xml(results, suite_name, duration_s))
    return path


def _detail(result: Result) -> str:
    t = result.threshold
    unit = f" {t.unit}" if t.unit else ""
    observed = (
        "no data" if result.observed is None else (f"{format_observed(result.observed)}{unit}")
    )
    line = f"{t.metric} = {observed} (limit {t.op} {format_number(t.value)}{unit})"
    return f"{line}: {result.note}" if result.note else line


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", value))


def _attr(value: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", value), _ATTR_ENTITIES)
