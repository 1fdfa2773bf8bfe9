"""Thresholds from a TOML file (``reports.threshold_files``) and from the ``--thresholds`` and
``--threshold`` options (``plugin.options``): good files, defaults, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from plugin.options import THRESHOLDS_FILE_ENV, thresholds_from_options
from reports.threshold_files import load_thresholds, parse_thresholds_toml
from reports.thresholds import (
    DEFAULT_ABORT_DELAY_S,
    EXIT_OK,
    ThresholdError,
    evaluate,
    exit_code,
)
from tests.locust_runs import REPO

# --- the file -----------------------------------------------------------------------------

GOOD_FILE = """\
# thresholds for the ci profile
[thresholds]
total = ["p95_ms<300", "fail_ratio<0.01"]
"POST /v1/backtests" = "p95_ms < 800ms"
"GET /v1/strategies" = []

[abort]
on_fail = ["fail_ratio<0.2", "POST /v1/backtests: p99_ms<5000"]   # evaluated while the run goes
delay_s = 15
"""


def test_load_good_file(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(GOOD_FILE)
    tset = load_thresholds(path)
    assert [t.name for t in tset.thresholds] == [
        "p95_ms<300",
        "fail_ratio<0.01",
        "POST /v1/backtests: p95_ms<800",
    ]
    assert [t.name for t in tset.abort_on_fail] == [
        "fail_ratio<0.2",
        "POST /v1/backtests: p99_ms<5000",
    ]
    assert tset.abort_delay_s == 15.0
    assert len(tset.end_of_run) == 5


def test_file_defaults_and_empty():
    tset = parse_thresholds_toml('[thresholds]\ntotal = "count>0"\n')
    assert [t.name for t in tset.thresholds] == ["count>0"]
    assert tset.abort_on_fail == () and tset.abort_delay_s == DEFAULT_ABORT_DELAY_S
    assert not parse_thresholds_toml("# nothing yet\n")


def test_the_shipped_ci_thresholds_load():
    tset = load_thresholds(REPO / "config" / "thresholds.toml")
    names = [t.name for t in tset.thresholds]
    assert "fail_ratio<0.01" in names
    assert any(t.scope == "POST /v1/backtests" for t in tset.thresholds)
    assert tset.abort_on_fail and tset.abort_delay_s > 0


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ThresholdError, match=r"^thresholds file '.*nope\.toml' not found$"):
        load_thresholds(path)


def test_a_directory_is_not_a_file(tmp_path):
    with pytest.raises(ThresholdError, match=r"^cannot read thresholds file '.*': "):
        load_thresholds(tmp_path)


BAD_FILES = [
    (
        '[thresholds]\ntotal = ["p95_ms<300",\n    oops]\n',
        r"^t\.toml: bad TOML: Invalid value \(at line 3, column 5\)$",
    ),
    (
        "[thresholds]\ntotal = p95_ms<300\n",
        r"^t\.toml: bad TOML: Invalid value \(at line 2, column 9\)$",
    ),
    (
        '[thresholds]\n"POST /v1/backtests" = ["p95<800"]\n',
        r"^t\.toml: \[thresholds\] 'POST /v1/backtests': threshold 'p95<800': "
        r"unknown metric 'p95' \(did you mean 'p95_ms'\?\)$",
    ),
    (
        '[threshold]\ntotal = ["p95_ms<300"]\n',
        r"^t\.toml: unknown key 'threshold' \(did you mean 'thresholds'\?\)$",
    ),
    ("p95_ms = 300\n", r"^t\.toml: unknown key 'p95_ms' \(one of thresholds, abort\)$"),
    (
        "[thresholds]\ntotal = 300\n",
        r"^t\.toml: \[thresholds\] 'total': expected a threshold string or a list of them, "
        r"not 300$",
    ),
    (
        '[thresholds]\ntotal = ["p95_ms<300", 5]\n',
        r"^t\.toml: \[thresholds\] 'total': expected a threshold string or a list of them",
    ),
    (
        'thresholds = ["p95_ms<300"]\n',
        r"^t\.toml: 'thresholds' must be a table \(\[thresholds\]\), not list$",
    ),
    (
        '[abort]\non_fails = ["fail_ratio<0.2"]\n',
        r"^t\.toml: \[abort\] unknown key 'on_fails' \(did you mean 'on_fail'\?\)$",
    ),
    (
        "[abort]\ndelay_s = -1\n",
        r"^t\.toml: \[abort\] delay_s must be a number of seconds >= 0, not -1$",
    ),
    (
        '[abort]\ndelay_s = "10"\n',
        r"^t\.toml: \[abort\] delay_s must be a number of seconds >= 0, not '10'$",
    ),
    (
        '[abort]\non_fail = ["fail_ratio<<0.2"]\n',
        r"^t\.toml: \[abort\] on_fail: threshold 'fail_ratio<<0.2': bad operator '<<'",
    ),
    (
        '[thresholds]\ntotal = ["GET /x: p95_ms<1"]\n',
        r"^t\.toml: \[thresholds\] 'total': threshold 'GET /x: p95_ms<1': already scoped",
    ),
]


@pytest.mark.parametrize(("text", "pattern"), BAD_FILES)
def test_bad_files(tmp_path, text, pattern, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("t.toml").write_text(text)
    with pytest.raises(ThresholdError, match=pattern) as caught:
        load_thresholds("t.toml")
    assert "\n" not in str(caught.value)


# --- options --------------------------------------------------------------------------------


PARSER_CHECK = """
import json, sys
from locust.argument_parser import get_parser
from plugin.options import add_threshold_options
parser = get_parser()
add_threshold_options(parser)
options = parser.parse_args(sys.argv[1:])
print(json.dumps({"thresholds": options.thresholds, "threshold": options.threshold,
                  "in_web_ui": sorted({"thresholds", "threshold"}
                                      & set(parser.args_included_in_web_ui))}))
"""


def parse_with_locust(*args: str, env: dict[str, str] | None = None) -> dict:
    """Locust's real parser, in a fresh process (importing locust here would patch ssl late)."""
    environ = {k: v for k, v in os.environ.items() if k != THRESHOLDS_FILE_ENV}
    out = subprocess.run(
        [sys.executable, "-c", PARSER_CHECK, *args],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, **(env or {})},
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_options_on_locusts_parser(tmp_path):
    conf = tmp_path / "ci.conf"
    conf.write_text(
        "thresholds = config/thresholds.toml\n"
        "threshold = [p99_ms<900, POST /v1/backtests: max_ms<5000]\n"
    )
    assert parse_with_locust("--config", str(conf)) == {
        "thresholds": "config/thresholds.toml",
        "threshold": ["p99_ms<900", "POST /v1/backtests: max_ms<5000"],
        "in_web_ui": [],
    }
    assert parse_with_locust(
        "--threshold", "a", "--threshold", "b: c", env={THRESHOLDS_FILE_ENV: "other.toml"}
    ) == {"thresholds": "other.toml", "threshold": ["a", "b: c"], "in_web_ui": []}
    assert parse_with_locust() == {"thresholds": None, "threshold": None, "in_web_ui": []}


def test_thresholds_from_options_merges(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(GOOD_FILE)
    tset = thresholds_from_options(
        SimpleNamespace(
            thresholds=str(path), threshold=["apdex>0.9", "p95_ms < 300", "GET /x: p50_ms<1"]
        )
    )
    assert [t.name for t in tset.thresholds] == [
        "p95_ms<300",
        "fail_ratio<0.01",
        "POST /v1/backtests: p95_ms<800",
        "apdex>0.9",
        "GET /x: p50_ms<1",
    ]
    assert tset.abort_delay_s == 15.0


def test_neither_option_means_no_thresholds():
    tset = thresholds_from_options(SimpleNamespace(thresholds=None, threshold=None))
    assert not tset and tset.end_of_run == ()
    assert exit_code(evaluate(tset.end_of_run, {})) == EXIT_OK


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            SimpleNamespace(thresholds=None, threshold=["p95<3"]),
            "argument --threshold: threshold 'p95<3': unknown metric 'p95' "
            "(did you mean 'p95_ms'?)",
        ),
        (
            SimpleNamespace(thresholds="/nonexistent/t.toml", threshold=None),
            "argument --thresholds: thresholds file '/nonexistent/t.toml' not found",
        ),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ThresholdError) as caught:
        thresholds_from_options(options)
    assert str(caught.value) == message
