"""Load plans tick by tick (pure: no Locust), the scenario options, and the import rule
that keeps them testable (importing the plans must not import Locust or gevent)."""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys

import pytest

from plugin.options import SHAPE_OPTIONS, add_scenario_options, apply_scenario_users
from scenarios.options import option_value, scenario_user_names
from scenarios.plans import (
    DEFAULT_SPAWN_RATE,
    MIN_ARRIVAL_RATE,
    UNIT_RPS,
    UNIT_USERS,
    LoadPlan,
    Segment,
    Stage,
    ramp_plan,
    soak_plan,
    spike_plan,
    step_plan,
)
from tests.locust_runs import LOCUSTFILE, REPO, processes_args, run_locust


def ticks(plan: LoadPlan, until_s: int) -> list[tuple[int, float] | None]:
    """What a shape's tick() hands Locust, once a second, as Locust calls it."""
    out = []
    for t in range(until_s):
        stage = plan.stage_at(float(t))
        out.append(None if stage is None else (stage.users, stage.spawn_rate))
    return out


# -- ramp ---------------------------------------------------------------------------------------


def test_ramp_ticks():
    plan = ramp_plan(10, ramp_up_s=5, hold_s=3, ramp_down_s=2)
    assert ticks(plan, 11) == [(10, 2.0)] * 5 + [(10, DEFAULT_SPAWN_RATE)] * 3 + [(0, 5.0)] * 2 + [
        None
    ]


def test_ramp_stages_and_intended_load():
    plan = ramp_plan(10, ramp_up_s=5, hold_s=3, ramp_down_s=2)
    assert plan.stage_at(0) == Stage("ramp-up", 10, 2.0, None, 0.0, UNIT_USERS, 5.0)
    assert plan.stage_at(2.5).offered == 5.0
    assert plan.stage_at(5) == Stage("hold", 10, DEFAULT_SPAWN_RATE, None, 10.0, UNIT_USERS, 3.0)
    assert plan.stage_at(9) == Stage("ramp-down", 0, 5.0, None, 5.0, UNIT_USERS, 1.0)
    assert plan.stage_at(10) is None and plan.end_s == 10


def test_ramp_without_up_or_down_is_a_hold():
    plan = ramp_plan(7, ramp_up_s=0, hold_s=4, ramp_down_s=0)
    assert [s.name for s in map(plan.stage_at, range(4))] == ["hold"] * 4
    assert plan.stage_at(4) is None


def test_open_model_ramp_interpolates_the_rate_each_tick():
    plan = ramp_plan(
        100, ramp_up_s=10, hold_s=5, ramp_down_s=0, unit=UNIT_RPS, connections=4, spawn_rate=50
    )
    rates = [plan.stage_at(t).arrival_rate for t in range(15)]
    assert rates == [MIN_ARRIVAL_RATE] + [10.0 * t for t in range(1, 10)] + [100.0] * 5
    assert {(plan.stage_at(t).users, plan.stage_at(t).spawn_rate) for t in range(15)} == {(4, 50)}
    assert plan.stage_at(3).unit == UNIT_RPS and plan.stage_at(3).offered == 30.0


# -- step ---------------------------------------------------------------------------------------


def test_step_ticks_and_names():
    plan = step_plan([5, 10, 20, 40], step_s=2, spawn_rate=20)
    assert ticks(plan, 9) == [(5, 20)] * 2 + [(10, 20)] * 2 + [(20, 20)] * 2 + [(40, 20)] * 2 + [
        None
    ]
    assert plan.stage_at(0).name == "step 1/4 (5 users)"
    assert plan.stage_at(7.5).name == "step 4/4 (40 users)"
    assert plan.stage_at(7.5).remaining_s == 0.5


def test_arrival_rate_steps():
    plan = step_plan([20, 40, 80], step_s=10, unit=UNIT_RPS, connections=2)
    assert [plan.stage_at(t).arrival_rate for t in (0, 9.9, 10, 25)] == [20, 20, 40, 80]
    assert plan.stage_at(10).name == "step 2/3 (40 req/s)"
    assert plan.stage_at(30) is None


def test_run_time_cuts_a_plan_short():
    plan = step_plan([5, 10, 20, 40], step_s=60, run_time_s=100)
    assert plan.stage_at(99.5).name.startswith("step 2/4")
    assert plan.stage_at(99.5).remaining_s == pytest.approx(0.5)
    assert plan.stage_at(100) is None
    assert plan.remaining_s(40) == 60


# -- spike --------------------------------------------------------------------------------------


def test_spike_ticks():
    plan = spike_plan(10, 100, base_s=3, spike_s=2, recovery_s=3, surge_s=2)
    assert ticks(plan, 9) == [(10, DEFAULT_SPAWN_RATE)] * 3 + [(100, 45.0)] * 2 + [
        (10, 45.0)
    ] * 3 + [None]
    assert [plan.stage_at(t).name for t in (0, 3, 5)] == ["baseline", "spike", "recovery"]


def test_open_model_spike_jumps_at_once():
    plan = spike_plan(50, 500, base_s=10, spike_s=5, recovery_s=10, unit=UNIT_RPS, connections=2)
    assert [plan.stage_at(t).arrival_rate for t in (9.99, 10, 14.99, 15)] == [50, 500, 500, 50]


# -- soak ---------------------------------------------------------------------------------------


def test_soak_holds_until_the_run_time():
    plan = soak_plan(25, warmup_s=5, run_time_s=20)
    assert ticks(plan, 21) == [(25, 5.0)] * 5 + [(25, DEFAULT_SPAWN_RATE)] * 15 + [None]
    assert plan.stage_at(4).name == "warm-up" and plan.stage_at(4).offered == 20.0
    assert plan.stage_at(12).name == "soak" and plan.stage_at(12).remaining_s == 8


def test_soak_without_a_run_time_runs_until_stopped():
    plan = soak_plan(25, warmup_s=60)
    stage = plan.stage_at(1e6)
    assert stage.name == "soak" and math.isinf(stage.remaining_s)
    assert plan.progress(1e6)["remaining_s"] is None


# -- progress and validation -------------------------------------------------------------------


def test_progress_line_data():
    plan = ramp_plan(10, ramp_up_s=5, hold_s=3, ramp_down_s=2)
    assert plan.progress(2.5) == {
        "stage": "ramp-up",
        "offered": 5.0,
        "unit": "users",
        "elapsed_s": 2.5,
        "stage_remaining_s": 2.5,
        "remaining_s": 7.5,
    }
    assert plan.progress(10)["stage"] is None and plan.progress(10)["remaining_s"] == 0


@pytest.mark.parametrize(
    "build",
    [
        lambda: LoadPlan([]),
        lambda: LoadPlan([Segment("a", 1, 0, 1)], unit="rps"),
        lambda: LoadPlan([Segment("a", math.inf, 1, 1), Segment("b", 1, 1, 1)]),
        lambda: Segment("a", 0, 1, 1),
        lambda: Segment("a", math.inf, 0, 1),
        lambda: Segment("a", 1, -1, 1),
        lambda: step_plan([], step_s=1),
        lambda: LoadPlan([Segment("a", 1, 0, 1)], run_time_s=0),
    ],
)
def test_bad_plans_are_refused(build):
    with pytest.raises(ValueError):
        build()


# -- options ------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Stands in for Locust's parser: accepts (and drops) its extra keyword arguments."""

    def add_argument(self, *args, env_var=None, include_in_web_ui=True, **kwargs):
        if args[0].startswith("--") and args[0] != "--help":  # one of ours
            assert env_var == "QUANTLOAD_" + args[0][2:].replace("-", "_").upper()
            assert include_in_web_ui is False
        return super().add_argument(*args, **kwargs)


def parse(*args: str) -> argparse.Namespace:
    parser = _Parser()
    add_scenario_options(parser)
    return parser.parse_args(list(args))


def test_options_default_to_not_given():
    options = parse()
    for flag, _kind, _help in SHAPE_OPTIONS:
        assert getattr(options, flag.lstrip("-").replace("-", "_")) is None
    assert option_value(options, "ramp_peak", 20) == 20


def test_options_parse_and_override():
    options = parse(
        "--steps",
        "5, 10 20,40",
        "--shape-unit",
        "rps",
        "--ramp-peak",
        "50",
        "--breakpoint-max-p95-ms",
        "800",
        "--breakpoint-max-error-ratio",
        "0.05",
    )
    assert options.steps == (5, 10, 20, 40)
    assert options.shape_unit == UNIT_RPS
    assert option_value(options, "ramp_peak", 20) == 50
    assert options.breakpoint_max_p95_ms == 800 and options.breakpoint_max_error_ratio == 0.05


@pytest.mark.parametrize(
    "args",
    [
        ["--steps", ""],
        ["--steps", "5,x"],
        ["--shape-unit", "rpm"],
        ["--ramp-hold-s", "0"],
        ["--breakpoint-growth", "1"],
        ["--breakpoint-max-error-ratio", "2"],
        ["--step-s", "-1"],
    ],
)
def test_bad_options_are_refused(args, capsys):
    with pytest.raises(SystemExit) as exc:
        parse(*args)
    assert exc.value.code == 2


def test_scenario_users_fill_in_only_when_no_class_is_named():
    options = argparse.Namespace(
        user_classes=[],
        scenario_users="StressUser, ArrivalRateUser",
        class_picker=False,
        worker=False,
    )
    assert scenario_user_names(options) == ["StressUser", "ArrivalRateUser"]
    apply_scenario_users(options)
    assert options.user_classes == ["StressUser", "ArrivalRateUser"]
    named = argparse.Namespace(user_classes=["JobUser"], scenario_users="StressUser")
    apply_scenario_users(named)
    assert named.user_classes == ["JobUser"]
    worker = argparse.Namespace(user_classes=[], scenario_users="StressUser", worker=True)
    apply_scenario_users(worker)
    assert worker.user_classes == []


def test_pure_modules_do_not_import_locust():
    code = (
        "import sys, scenarios.plans, scenarios.options, scenarios.breakpoint_search, "
        "reports.analysis; bad = {'locust', 'gevent'} & set(sys.modules); "
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- live arrival-rate changes, for real ------------------------------------------------------

OPEN_RAMP = (
    "--shape-unit",
    "rps",
    "--ramp-peak",
    "100",
    "--ramp-up-s",
    "5",
    "--ramp-hold-s",
    "3",
    "--ramp-down-s",
    "5",
    "ArrivalRateUser",
)
OPEN_RAMP_ARRIVALS = sum([0, 20, 40, 60, 80]) + 3 * 100 + sum([100, 80, 60, 40, 20])
"""The ramp's arrivals, tick by tick: the scheduler follows each second's rate exactly."""


@pytest.mark.slow
@pytest.mark.parametrize("processes", [None, 2])
def test_arrival_rate_follows_an_open_model_ramp_live(processes, tmp_path):
    """The shape sets the rate every tick; each process's scheduler re-bases on the change
    (no drift, no burst). With --processes the master broadcasts it to the workers."""
    extra = processes_args(processes) if processes else ()
    run = run_locust(
        *extra,
        *OPEN_RAMP,
        tmp_path=tmp_path,
        timeout=120,
        locustfile=f"{LOCUSTFILE},{REPO / 'scenarios' / 'ramp.py'}",
        env={"QUANTLOAD_RUN_DIR": str(tmp_path / "results")},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert int(run.total["Failure Count"]) == 0, run.failures
    # a tick lands a few ms after each second: allow one arrival per rate change and worker
    assert run.count() == pytest.approx(OPEN_RAMP_ARRIVALS, abs=20 * (processes or 1))
    # the progress line follows the shape: a line as each stage begins, not only every 10 s
    # (the 3 s hold falls between two of those), and one for the whole run at the end
    stages = re.findall(r"progress: RampShape ([a-z-]+) \| offered ([\d.]+) req/s", run.stderr)
    assert ("hold", "100.0") in stages and "ramp-down" in dict(stages), run.stderr[-3000:]
    assert "progress: done | " in run.stderr
