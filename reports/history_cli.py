"""``python -m reports history [check]``: the run history's page and its CI gate.

- ``python -m reports history [--history-db URL] [--profile NAME] [--endpoint NAME]
  [--out PATH]`` writes ``history.html`` (:mod:`reports.history_page`);
- ``python -m reports history check [--history-db URL] [--profile NAME] [--endpoint
  NAME] [--max-regression 10%] [--junit PATH]`` prints the verdict per metric, writes
  JUnit XML (one case per metric) and exits 1 when the newest run starts or continues a
  regression beyond the limit against the last stable segment, 0 otherwise.

Bad input (no or an unreadable history, a foreign database, an unknown profile or
endpoint, a bad limit): one line on stderr, exit 2. Defaults: the history at
``results/history.sqlite``, the newest run's profile, the aggregate of all requests.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from reports.compare_cli import parse_percentage
from reports.history_changes import Verdict
from reports.history_record import AGGREGATE
from reports.history_series import LABELS, HistorySeries, gate, series_of
from reports.history_store import (
    HistoryError,
    catalogue,
    history_url,
    open_history,
    read_history,
)

__all__ = ["main"]

DEFAULT_DB = "results/history.sqlite"
DEFAULT_OUT = "history.html"
DEFAULT_JUNIT = "history-junit.xml"


class InputError(Exception):
    """Bad input: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise InputError(message)


def _parser(check: bool) -> argparse.ArgumentParser:
    prog = "python -m reports history" + (" check" if check else "")
    parser = _Parser(prog=prog, description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--history-db", default=DEFAULT_DB, help=f"path or URL (default {DEFAULT_DB})"
    )
    parser.add_argument("--profile", default=None, help="default: the newest run's")
    parser.add_argument("--endpoint", default=AGGREGATE, help=f"default: {AGGREGATE!r}")
    if check:
        parser.add_argument("--max-regression", default="10%", help="default 10%%")
        parser.add_argument("--junit", type=Path, default=Path(DEFAULT_JUNIT))
    else:
        parser.add_argument("--out", type=Path, default=Path(DEFAULT_OUT))
    return parser


def load(db: str, profile: str | None, endpoint: str) -> HistorySeries:
    """The series asked for, or :class:`InputError` / :class:`HistoryError`."""
    url = history_url(db)
    if url is None:
        raise InputError("--history-db none: there is no history to read")
    engine = open_history(url, create=False)
    try:
        newest, endpoints = catalogue(engine)
        if newest is None:
            raise InputError("the history is empty")
        profile = profile or newest
        if profile not in endpoints:
            raise InputError(f"no run of profile {profile!r} in the history")
        if endpoint not in endpoints[profile]:
            raise InputError(f"no endpoint {endpoint!r} in profile {profile!r}'s runs")
        rows = read_history(engine, profile=profile, endpoint=endpoint)
    finally:
        engine.dispose()
    series = replace(
        series_of(rows, profile, endpoint), endpoints=tuple(sorted(endpoints[profile]))
    )
    if not series.runs:
        raise InputError(f"no complete run of profile {profile!r} in the history")
    return series


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def verdict_line(v: Verdict) -> str:
    change = "-" if v.change is None else f"{v.change * 100:+.1f} %"
    status = "REGRESSION" if v.regressed else ("ok" if v.judged else "not judged")
    return (
        f"{LABELS.get(v.metric, v.metric):<26} {status:<11} newest {_fmt(v.newest):>9} "
        f"baseline {_fmt(v.baseline):>9} {change:>9}  {v.reason}"
    )


def write_junit(path: Path, verdicts: list[Verdict], suite: str) -> None:
    root = ET.Element("testsuite", name=suite, tests=str(len(verdicts)))
    root.set("failures", str(sum(v.regressed for v in verdicts)))
    for v in verdicts:
        case = ET.SubElement(root, "testcase", classname=suite, name=v.metric)
        if v.regressed:
            ET.SubElement(case, "failure", message=verdict_line(v))
        elif not v.judged:
            ET.SubElement(case, "skipped", message=v.reason)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def check_main(argv: list[str]) -> int:
    args = _parser(check=True).parse_args(argv)
    try:
        limit = parse_percentage(args.max_regression)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    series = load(args.history_db, args.profile, args.endpoint)
    verdicts = gate(series, limit)
    print(
        f"history check: profile {series.profile!r}, {series.endpoint}, {series.runs} runs, "
        f"newest {series.run_ids[-1]} (build {series.builds[-1]}), max regression {limit * 100:g} %"
    )
    for v in verdicts:
        print(verdict_line(v))
    write_junit(args.junit, verdicts, f"quantload history {series.profile}")
    regressed = [v.metric for v in verdicts if v.regressed]
    print(f"regression: {', '.join(regressed)}" if regressed else "no regression")
    return 1 if regressed else 0


def page_main(argv: list[str]) -> int:
    # plotly and Jinja2 (about 0.5 s) are imported for the page only, not for the CI gate
    from reports.history_page import render_history

    args = _parser(check=False).parse_args(argv)
    series = load(args.history_db, args.profile, args.endpoint)
    args.out.write_text(render_history(series), encoding="utf-8")
    print(f"history: {args.out}")
    return 0


def main(argv: list[str]) -> int:
    """``history [check] ...`` -> exit code (2 and one line on bad input)."""
    try:
        if argv and argv[0] == "check":
            return check_main(argv[1:])
        return page_main(argv)
    except (InputError, HistoryError, OSError) as exc:
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print("history: error: " + " ".join(str(text).split()), file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
