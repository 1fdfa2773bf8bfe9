"""Locust's per-second counts stay bounded (plugin.stats_trim, Locust issue #2045), and every
figure Locust reads from them is unchanged.

Locust runs in a subprocess (it monkey-patches on import; so does importing
``plugin.stats_trim``): a real ``Environment`` with a local runner, its ``RequestStats``
fed an hour of requests, one second at a time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.locust_runs import REPO

HOUR_S = 3600

SCRIPT = """
import json, sys
import gevent
import locust.stats
from locust.env import Environment
from plugin import stats_trim
from users.common import ApiUser

HOUR_S, clock = int(sys.argv[1]), [1_800_000_000.5]
locust.stats.time = type("Clock", (), {"time": staticmethod(lambda: clock[0])})


def feed(stats, seconds):
    for _ in range(seconds):
        clock[0] += 1
        for name in ("/a", "/b"):
            stats.log_request("GET", name, 10, 100)
        stats.log_error("GET", "/a", "boom")


def figures(stats):
    entries = [stats.total, *stats.entries.values()]
    return {
        "current": [[e.current_rps, e.current_fail_per_sec] for e in entries],
        "totals": [[e.num_requests, e.num_failures] for e in entries],
        "seconds": max(len(d) for e in entries for d in (e.num_reqs_per_sec, e.num_fail_per_sec)),
    }


out = {"keep_s": stats_trim.KEEP_S, "every_s": stats_trim.TRIM_EVERY_S}
env = Environment(user_classes=[ApiUser])
env.create_local_runner()
feed(env.stats, HOUR_S)
out["untrimmed"] = figures(env.stats)
out["dropped"] = stats_trim.trim_per_second(env.stats)
out["trimmed"] = figures(env.stats)

stats_trim.TRIM_EVERY_S = 0.01  # the runner's greenlet, as plugin.hooks installs it at init
env = Environment(user_classes=[ApiUser], parsed_options=type("Options", (), {})())
env.create_local_runner()
stats_trim.keep_trimmed(env)
feed(env.stats, HOUR_S)
gevent.sleep(0.1)
out["live"] = figures(env.stats)

json_env = Environment(user_classes=[ApiUser], parsed_options=type("O", (), {"json": True})())
json_env.create_local_runner()
stats_trim.keep_trimmed(json_env)
feed(json_env.stats, 100)
gevent.sleep(0.1)
out["json"] = figures(json_env.stats)
env.runner.quit()
json_env.runner.quit()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def fed() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(HOUR_S)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_an_hour_of_seconds_is_trimmed_to_the_window_locust_reads(fed):
    keep_s = fed["keep_s"]
    assert fed["untrimmed"]["seconds"] == HOUR_S  # Locust alone keeps every second
    assert fed["trimmed"]["seconds"] <= keep_s + 1
    # kept: the newest second and keep_s before it; five dicts (total, /a, /b; failures: total, /a)
    assert fed["dropped"] == 5 * (HOUR_S - keep_s - 1)
    # what Locust shows from them is the same: current rates, totals
    assert fed["trimmed"]["current"] == fed["untrimmed"]["current"]
    assert fed["trimmed"]["totals"] == fed["untrimmed"]["totals"]
    assert fed["trimmed"]["current"][0] == [2.0, 1.0]


def test_the_runner_keeps_them_trimmed_unless_locust_prints_them_as_json(fed):
    assert fed["live"]["seconds"] <= fed["keep_s"] + fed["every_s"] + 1
    assert fed["live"]["totals"] == fed["untrimmed"]["totals"]
    assert fed["json"]["seconds"] == 100  # --json prints every second: kept
