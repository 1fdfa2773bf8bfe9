"""``python -m reports render RUN_DIR``, ``compare BASELINE CURRENT`` and ``history [check]``.

``render`` re-renders ``report.html`` from a run directory, a crashed run's
included (it says what is missing); ``compare`` is the build-over-build gate
(see :mod:`reports.compare_cli`); ``history`` writes the run history's page and
``history check`` is its CI gate (see :mod:`reports.history_cli`). Bad input: one
line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Each command imports its own modules when it runs: the CI gate (``history check``) must
# not pay for plotly, Jinja2 and the report's analysis (about 1 s) before it reads a row.
EXIT_BAD_INPUT = 2
USAGE = (
    "usage: python -m reports render RUN_DIR [--out PATH]\n"
    "       python -m reports compare BASELINE_DIR CURRENT_DIR [--max-regression 10%] "
    "[--out PATH]\n"
    "       python -m reports history [--history-db URL] [--profile NAME] [--endpoint NAME] "
    "[--out PATH]\n"
    "       python -m reports history check [--history-db URL] [--profile NAME] "
    "[--endpoint NAME] [--max-regression 10%] [--junit PATH]"
)


def render_main(argv: list[str]) -> int:
    from reports.render import render_report
    from rundir.reader import RunDirError

    parser = argparse.ArgumentParser(
        prog="python -m reports render", description="Write report.html for a run directory."
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the page (default RUN_DIR/report.html)",
    )
    args = parser.parse_args(argv)
    try:
        path = render_report(args.run_dir, args.out)
    except RunDirError as exc:
        print(f"reports render: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"reports render: cannot write the report: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"report: {path}")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else EXIT_BAD_INPUT
    command, rest = argv[0], argv[1:]
    if command == "render":
        return render_main(rest)
    if command == "compare":
        from reports import compare_cli

        return compare_cli.main(rest)
    if command == "history":
        from reports import history_cli

        return history_cli.main(rest)
    print(
        f"python -m reports: unknown command {command!r} (render, compare or history)",
        file=sys.stderr,
    )
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
