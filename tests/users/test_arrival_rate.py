"""ArrivalRateUser in real headless runs: exact open-model rate, CO-corrected latency, drops.

Locust only runs in subprocesses (``tests.locust_runs``). The locustfile is
written per test: it imports ``ArrivalRateUser`` and defines just the options
the class reads, so these tests do not depend on the suite's ``locustfile.py``.
"""

from __future__ import annotations

import json
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.locust_runs import LocustRun, run_locust

pytestmark = pytest.mark.timing  # every test here passes or fails on a measured rate or time

RATE = 100.0
RATE_TOLERANCE = 0.03
RATE_RUN_S = 10
"""Long enough that a second's start-up jitter stays well inside the tolerance."""
POST_BACKTESTS = ("POST", "/v1/backtests")

LOCUSTFILE = textwrap.dedent('''
    import json

    import gevent
    from gevent import monkey
    from locust import events

    from users.arrival_rate_user import ArrivalRateUser
    from users.measurements import measurement

    _measured = []
    measurement.add_listener(
        lambda kind, name, value, exception=None, **_kw: _measured.append(
            [kind, name, value, None if exception is None else str(exception)]
        )
    )


    class LightArrivals(ArrivalRateUser):
        """Cheap requests, so a burst after a load-generator freeze clears in milliseconds."""

        route_mix = {"strategies": 1.0}


    @events.init_command_line_parser.add_listener
    def _options(parser, **_kwargs):
        parser.add_argument("--arrival-rate", type=float, default=None)
        parser.add_argument("--max-in-flight", type=int, default=None)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--freeze-at", type=float, default=None)
        parser.add_argument("--freeze-s", type=float, default=1.0)
        parser.add_argument("--measured-file", default=None)


    @events.quitting.add_listener
    def _save_measured(environment, **_kwargs):
        """The suite's own measurements channel (users.measurements), saved for the test."""
        if environment.parsed_options.measured_file:
            with open(environment.parsed_options.measured_file, "w") as f:
                json.dump(_measured, f)


    @events.test_start.add_listener
    def _freeze_later(environment, **_kwargs):
        """Block the whole load generator (as a GC pause would): nothing is sent meanwhile."""
        options = environment.parsed_options
        if options.freeze_at is not None:
            blocking_sleep = monkey.get_original("time", "sleep")
            gevent.spawn_later(options.freeze_at, blocking_sleep, options.freeze_s)
''')


@pytest.fixture
def locustfile(tmp_path: Path) -> str:
    path = tmp_path / "arrival_locustfile.py"
    path.write_text(LOCUSTFILE)
    return str(path)


def arrivals(
    locustfile: str,
    url: str,
    tmp_path: Path,
    *,
    users: int,
    rate: float,
    seconds: int,
    extra: tuple[str, ...] = (),
    user_class: str = "ArrivalRateUser",
) -> LocustRun:
    return run_locust(
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--host",
        url,
        "--arrival-rate",
        str(rate),
        *extra,
        user_class,
        tmp_path=tmp_path,
        locustfile=locustfile,
        timeout=seconds + 60,
    )


def achieved_rate(run: LocustRun) -> float:
    """Completed + failed requests per second, as Locust computed it for the CSV."""
    return float(run.total["Requests/s"])


def test_rate_is_exact_and_clean_whatever_the_user_count(start_target, locustfile, tmp_path):
    target = start_target()
    with ThreadPoolExecutor(2) as pool:  # both at once: half the wall time
        few, many = pool.map(
            lambda users: arrivals(
                locustfile,
                target.url,
                tmp_path / f"u{users}",
                users=users,
                rate=RATE,
                seconds=RATE_RUN_S,
            ),
            (2, 8),
        )
    for run in (few, many):
        assert run.returncode == 0, run.stderr[-2000:]
        assert int(run.total["Failure Count"]) == 0, run.failures
        assert achieved_rate(run) == pytest.approx(RATE, rel=RATE_TOLERANCE)
        assert run.count() == run.count("POST")  # default mix: backtests only
    assert achieved_rate(few) == pytest.approx(achieved_rate(many), rel=RATE_TOLERANCE)


def test_server_stall_shows_in_latency(start_target, locustfile, tmp_path):
    # The stall starts with the 200th request (2 s into the load, however long locust took
    # to start). 2 s stall at 100/s = 200 outstanding: raise the cap so nothing is dropped.
    target = start_target("--stall-after-requests", "200", "--stall-s", "2")
    run = arrivals(
        locustfile,
        target.url,
        tmp_path,
        users=4,
        rate=RATE,
        seconds=6,
        extra=("--max-in-flight", "500"),
    )
    row = run.row(*POST_BACKTESTS)
    assert int(run.total["Failure Count"]) == 0, run.failures
    assert float(row["Max Response Time"]) >= 1800
    # Every arrival due during the stall waited for its end: ~30 % of the run is slow.
    assert float(row["99%"]) >= 1000
    assert float(row["90%"]) >= 100


def test_latency_counts_from_intended_start(start_target, locustfile, tmp_path):
    """Coordinated-omission correction: a 1 s freeze of the *load generator* must show.

    The target is healthy; the arrivals due during the freeze are sent late,
    as a burst, and answered in milliseconds. Timed from the actual send they
    would all look fast (max ~50 ms); timed from the intended start, the
    earliest of them waited the whole second.
    """
    target = start_target()
    run = arrivals(
        locustfile,
        target.url,
        tmp_path,
        users=2,
        rate=50,
        seconds=7,
        extra=("--freeze-at", "3", "--freeze-s", "1"),
        user_class="LightArrivals",
    )
    row = run.row("GET", "/v1/strategies")
    assert int(run.total["Failure Count"]) == 0, run.failures
    assert float(row["Max Response Time"]) >= 900
    assert float(row["95%"]) >= 300
    assert float(row["50%"]) < 100  # outside the freeze the target is fast


def test_arrivals_over_the_cap_are_dropped(start_target, locustfile, tmp_path):
    # Capacity 1 slot / 200 ms = 5 req/s against 50 arrivals/s, at most 5 in flight.
    target = start_target("--slots", "1", "--service-ms", "200")
    run = arrivals(
        locustfile,
        target.url,
        tmp_path,
        users=2,
        rate=50,
        seconds=5,
        extra=("--max-in-flight", "5", "--measured-file", str(tmp_path / "measured.json")),
    )
    # Drops are measurements (the suite's own channel), never Locust requests.
    assert not [key for key in run.stats if key[0] == "DROPPED"], sorted(run.stats)
    measured = json.loads((tmp_path / "measured.json").read_text())
    dropped = [m for m in measured if m[0] == "DROPPED"]
    assert dropped and all(m[1] == "/v1/backtests" for m in dropped)
    assert all(m[3] == "in-flight cap 5 reached" for m in dropped), dropped[:3]
    # The sent ones are served, slowly: drops shed load instead of queueing it.
    assert int(run.row(*POST_BACKTESTS)["Failure Count"]) == 0
    sent = int(run.total["Request Count"])
    # every arrival of the timetable was sent or dropped (less start-up and those in flight
    # at the stop), so the offered rate held at 50/s against a 5 req/s target
    assert sent + len(dropped) == pytest.approx(50 * 5, rel=0.2)
    assert len(dropped) > sent
