"""The threshold options, ``--thresholds FILE`` and ``--threshold EXPR``, and what they mean.

Kept apart from ``reports/thresholds.py`` so the rules know nothing of command
lines. The parser is Locust's (``add_argument`` takes ``env_var=`` and
``include_in_web_ui=``); nothing here imports Locust.

The options stay plain strings in the parsed namespace, because Locust ships
``parsed_options`` to workers with every spawn message; ``thresholds_from_options``
turns them into a ThresholdSet on the master (or local runner).
"""

from __future__ import annotations

from reports.thresholds import ThresholdError, ThresholdSet, load_thresholds, parse_threshold

THRESHOLDS_FILE_ENV = "QUANTLOAD_THRESHOLDS"


def add_threshold_options(parser) -> None:
    """Register ``--thresholds`` and ``--threshold`` on Locust's parser.

    Neither shows in the web UI: thresholds are checked before any load is sent,
    and a form edit afterwards would skip that check.
    """
    parser.add_argument(
        "--thresholds", metavar="FILE", default=None, env_var=THRESHOLDS_FILE_ENV,
        include_in_web_ui=False,
        help="TOML file of thresholds the run must meet, e.g. config/thresholds.toml "
             f"(env {THRESHOLDS_FILE_ENV}); a failed one makes the exit code 3")
    parser.add_argument(
        "--threshold", metavar="EXPR", action="append", default=None, include_in_web_ui=False,
        help="one more threshold, repeatable: 'p95_ms<300' for the whole run, "
             "'POST /v1/backtests: p95_ms<800' for one endpoint (scope before the last ':')")


def thresholds_from_options(options) -> ThresholdSet:
    """The file's thresholds plus every ``--threshold``, checked; a run given neither has none.

    Raises ThresholdError with one line naming the option, for ``parser.error``.
    """
    path = getattr(options, "thresholds", None)
    try:
        base = load_thresholds(path) if path else ThresholdSet()
    except ThresholdError as exc:
        raise ThresholdError(f"argument --thresholds: {exc}") from None
    extra = []
    for text in getattr(options, "threshold", None) or ():
        try:
            extra.append(parse_threshold(text))
        except ThresholdError as exc:
            raise ThresholdError(f"argument --threshold: {exc}") from None
    return base.merged(extra)
