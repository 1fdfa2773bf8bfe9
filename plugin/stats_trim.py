"""Locust's per-second request counts kept to the seconds Locust reads (Locust issue #2045).

Every Locust ``StatsEntry`` (one per endpoint, and the aggregate) counts requests and
failures by the second, ``num_reqs_per_sec`` and ``num_fail_per_sec``, and never drops a
second: on a local runner or a master each entry grows by about 100 bytes a second, for
as long as the process runs. Locust reads these dicts for ``current_rps`` and
``current_fail_per_sec`` only (the web UI's table, the console, ``--csv``, the chart's
history): the seconds from 12 to 2 before the newest request. Workers reset theirs with
every report, so they never grow there. ``--json`` and ``--json-file`` print the dicts
whole at the end: with either, nothing is trimmed.

:func:`trim_per_second` drops the seconds older than :data:`KEEP_S` before the newest
request; :func:`keep_trimmed` (``plugin.hooks`` calls it at ``init``) does so every
:data:`TRIM_EVERY_S` on a local runner or master. Every figure Locust shows is unchanged:
totals, percentiles, current rates, its charts, CSV and HTML report.
"""

from __future__ import annotations

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import RequestStats

from users.settings import settings_of

KEEP_S = 20
"""Seconds kept before the newest request: Locust reads back 12 (``current_rps``)."""
TRIM_EVERY_S = 10.0
"""How often the dicts are trimmed: at most ``KEEP_S + TRIM_EVERY_S`` seconds are held."""


def trim_per_second(stats: RequestStats, keep_s: int = KEEP_S) -> int:
    """Drop every entry's per-second counts older than ``keep_s`` s before the newest request
    (``stats.last_request_timestamp``, the second Locust's current rates count back from);
    returns how many seconds were dropped."""
    newest = stats.last_request_timestamp
    if newest is None:
        return 0
    horizon = int(newest) - keep_s
    dropped = 0
    for entry in (stats.total, *stats.entries.values()):
        for counts in (entry.num_reqs_per_sec, entry.num_fail_per_sec):
            old = [second for second in counts if second < horizon]
            for second in old:
                del counts[second]
            dropped += len(old)
    return dropped


def keep_trimmed(environment: Environment) -> None:
    """Trim this process's stats every ``TRIM_EVERY_S`` for as long as its runner lives
    (a greenlet of the runner's group, ended with it); not on a worker, and not when
    ``--json`` or ``--json-file`` will print the whole run's per-second counts."""
    runner = environment.runner
    settings = settings_of(environment)
    if runner is None or isinstance(runner, WorkerRunner) or settings.json or settings.json_file:
        return
    runner.greenlet.spawn(_trim_forever, environment)


def _trim_forever(environment: Environment) -> None:
    while True:
        gevent.sleep(TRIM_EVERY_S)
        trim_per_second(environment.stats)
