"""``python -m reports compare BASELINE_DIR CURRENT_DIR``: two run directories in, exit code out.

Loads both runs, compares their summaries (:mod:`reports.compare`), prints the table,
writes ``compare.html`` (:mod:`reports.compare_output`) and exits 0 (no regression),
1 (regression) or 2 (bad input, or runs that are not comparable: one line on stderr,
the reasons; ``--force`` compares them anyway, the reasons as notes).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from reports.compare import DEFAULT_MAX_REGRESSION, compare_summaries, format_limit
from reports.compare_identity import comparability_problems, rate_driven
from reports.compare_output import format_table, printable, render_html
from reports.compare_stats import Samples
from rundir.reader import RunData, RunDirError, load_run

__all__ = ["build_parser", "main", "parse_percentage", "run_compare"]

HTML_FILE = "compare.html"


def parse_percentage(text: str) -> float:
    """``--max-regression`` as a fraction: "10%" and "10" are 10 % (0.10); a bare number
    below 1 is already a fraction ("0.1" is 10 %); write "0.5%" for half a percent."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1].strip()) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"--max-regression: expected a percentage such as 10%, 10 or 0.1, got {text!r}"
        )
    return value if raw.endswith("%") or value < 1 else value / 100


class InputError(Exception):
    """Bad input: the CLI says it in one line on stderr and exits 2."""


def _load(path: Path, which: str) -> RunData:
    """The run, or :class:`InputError`: also when a damaged file trips the reader."""
    try:
        run = load_run(path)
    except (RunDirError, OSError) as exc:
        raise InputError(f"{which}: {exc}") from exc
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputError(f"{which}: {path} is damaged ({exc.__class__.__name__}: {exc})") from exc
    if run.summary is None:
        raise InputError(
            f"{which}: {path} has no readable summary.json "
            "(the run did not finish); nothing to compare"
        )
    return run


def _samples(run: RunData) -> dict[str, Samples]:
    """Each endpoint's final histogram as ``(values_ms, counts)``."""
    return {key: (h.values_ms, h.counts) for key, h in run.histograms.items()}


def _fail(message: str) -> int:
    print("compare: error: " + " ".join(message.split()), file=sys.stderr)
    return 2


def run_compare(
    baseline: Path,
    current: Path,
    *,
    max_regression: float = DEFAULT_MAX_REGRESSION,
    out: Path | None = None,
    force: bool = False,
) -> int:
    """Compare two run directories, print the table, write the HTML; the exit code:
    0 no regression, 1 regression, 2 bad input or runs not comparable (one line on
    stderr; ``force`` compares them anyway)."""
    if not math.isfinite(max_regression) or max_regression < 0:
        return _fail(f"--max-regression must be 0 or more, got {max_regression!r}")
    try:
        base_run, cur_run = _load(Path(baseline), "baseline"), _load(Path(current), "current")
    except InputError as exc:
        return _fail(str(exc))
    assert base_run.summary is not None and cur_run.summary is not None
    problems = comparability_problems(
        (base_run.meta, base_run.summary, base_run.events),
        (cur_run.meta, cur_run.summary, cur_run.events),
    )
    if problems and not force:
        return _fail(
            "the runs are not comparable (--force to compare anyway): " + "; ".join(problems)
        )
    comparison = compare_summaries(
        base_run.summary,
        cur_run.summary,
        max_regression,
        samples=(_samples(base_run), _samples(cur_run)),
        rate_driven=rate_driven(base_run.meta) and rate_driven(cur_run.meta),
    )
    if problems:
        comparison = replace(
            comparison, notes=(*comparison.notes, *(f"forced: {p}" for p in problems))
        )
    print(
        f"baseline {printable(base_run.run_id, 80)} -> current "
        f"{printable(cur_run.run_id, 80)}, max regression {format_limit(max_regression)}"
    )
    print(format_table(comparison))
    target = Path(out) if out is not None else Path(current) / HTML_FILE
    try:
        target.write_text(render_html(comparison, base_run, cur_run), encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {target}: {exc.strerror or exc}")
    print(f"wrote {target}")
    return 1 if comparison.regressed else 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage + error
        raise InputError(message)


def build_parser(prog: str = "python -m reports compare") -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        description="Compare a run with a baseline run: exit 0 no "
        "regression, 1 regression, 2 bad input.",
    )
    parser.add_argument("baseline", type=Path, help="baseline run directory")
    parser.add_argument("current", type=Path, help="current run directory")
    parser.add_argument(
        "--max-regression",
        default="10%",
        help="how much worse is tolerated (default 10%%): 10%% and 10 mean "
        "10 %%, a bare number below 1 is a fraction (0.1 = 10 %%); "
        "write 0.5%% for half a percent",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="compare runs that are not comparable (different load, target or an "
        "overloaded generator); the reasons become notes",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"where to write the HTML (default CURRENT/{HTML_FILE})",
    )
    return parser


def main(argv: list[str]) -> int:
    """The CLI: ``BASELINE CURRENT [--max-regression X] [--out PATH]`` -> exit code."""
    try:
        args = build_parser().parse_args(argv)
        limit = parse_percentage(args.max_regression)
    except (InputError, ValueError) as exc:
        return _fail(str(exc))
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    return run_compare(
        args.baseline, args.current, max_regression=limit, out=args.out, force=args.force
    )
