"""users.settings: every option read typed, with the suite's defaults; the values the master
shares with its workers; a real parse of Locust's parser with the suite's options."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from types import SimpleNamespace

from rundir.layout import DEFAULT_APDEX_T_MS, DEFAULT_INTERVAL_S
from users.settings import (
    DEFAULT_SEED,
    RunSettings,
    live_arrival_rate,
    set_arrival_rate_option,
    settings_of,
    share_with_workers,
)


def test_nothing_given_is_every_default():
    for source in (None, SimpleNamespace(), SimpleNamespace(parsed_options=None)):
        settings = settings_of(source)
        assert settings == RunSettings()
        assert (settings.seed, settings.interval, settings.apdex_t_ms) == (
            DEFAULT_SEED,
            DEFAULT_INTERVAL_S,
            DEFAULT_APDEX_T_MS,
        )
        assert settings.workers == 1 and settings.threshold == () and settings.target_flags == ""


def test_none_and_empty_strings_count_as_not_given_zero_does_not():
    options = argparse.Namespace(
        run_dir="",
        api_key=None,
        seed=0,
        interval=2.5,
        threshold=["p95_ms<300"],
        user_classes=["A", "B"],
    )
    settings = settings_of(options)
    assert settings.run_dir is None and settings.api_key is None
    assert settings.seed == 0 and settings.interval == 2.5
    assert settings.threshold == ("p95_ms<300",) and settings.user_classes == ("A", "B")


def test_an_environment_is_read_through_its_parsed_options():
    env = SimpleNamespace(parsed_options=argparse.Namespace(run_time=30, config="ci.conf"))
    assert (settings_of(env).run_time, settings_of(env).config) == (30, "ci.conf")


def test_the_live_arrival_rate_reads_as_settings_of_does():
    cases = [
        SimpleNamespace(),
        SimpleNamespace(arrival_rate=None, quantload_workers=None),
        SimpleNamespace(arrival_rate="", quantload_workers=""),
        SimpleNamespace(arrival_rate=0.0, quantload_workers=3),
        SimpleNamespace(arrival_rate=250.5, quantload_workers=2),
    ]
    for options in [*cases, SimpleNamespace(parsed_options=cases[-1]), None]:
        settings = settings_of(options)
        assert live_arrival_rate(options) == (settings.arrival_rate, settings.workers), options


def test_values_shared_with_workers_round_trip():
    options = argparse.Namespace()
    share_with_workers(options, workers=3, run_id="r1", run_start=1700000000.5)
    set_arrival_rate_option(options, 42.0)
    settings = settings_of(options)
    assert (settings.workers, settings.run_id, settings.run_start, settings.arrival_rate) == (
        3,
        "r1",
        1700000000.5,
        42.0,
    )
    share_with_workers(options, workers=None, run_id="r2")  # None leaves a value as it was
    assert (settings_of(options).workers, settings_of(options).run_id) == (3, "r2")


PARSE = """
import json, sys
from locust.argument_parser import get_parser
from plugin.options import add_options
from users.settings import settings_of
parser = get_parser()
add_options(parser)
options = parser.parse_args(sys.argv[1:])
s = settings_of(options)
print(json.dumps({"dests": sorted(vars(options)), "seed": s.seed, "interval": s.interval,
                  "run_dir": s.run_dir, "threshold": list(s.threshold)}))
"""


def test_every_field_of_the_suite_is_an_option_locust_parses():
    """Every field is registered by plugin/options.py or Locust (the names cannot drift);
    Locust's real parser (in its own process: Locust monkey-patches on import)."""
    args = [
        "-f",
        "locustfile.py",
        "--seed",
        "7",
        "--interval",
        "2",
        "--run-dir",
        "out",
        "--threshold",
        "p95_ms<300",
    ]
    out = subprocess.run(
        [sys.executable, "-c", PARSE, *args], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    parsed = json.loads(out)
    shared = {"workers", "run_id", "run_start"}
    missing = [
        name
        for name in RunSettings.__dataclass_fields__
        if name not in parsed["dests"] and name not in shared
    ]
    assert missing == []
    assert (parsed["seed"], parsed["interval"], parsed["run_dir"], parsed["threshold"]) == (
        7,
        2.0,
        "out",
        ["p95_ms<300"],
    )
