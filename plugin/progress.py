"""The console progress line: where a run is, what it offers, what the target achieves.

Locust's headless console shows stats tables but not where a shaped run is:
which stage or step, what load it offers, what the target achieves, and how
long is left. The master (or local runner) logs one line every
``PROGRESS_EVERY_S``, and at once whenever the shape enters a new stage (so a
line never describes a stage that is over); from the shape's ``progress()``
when there is a shape, else from ``-t``. When the test stops, one last line
gives the whole run's throughput, errors and p95, from Locust's own totals.

Every figure is about requests to the target (Locust's stats hold nothing else:
job, queue and WebSocket readings go through ``users.measurements``).
Throughput and error % are over the time since the previous line; p95 is
Locust's current one (its last 10 s).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import gevent

from metrics.summary import rate
from users.settings import settings_of

logger = logging.getLogger("quantload.progress")
PROGRESS_EVERY_S = 10.0
"""A line at least this often."""
POLL_S = 1.0
"""How often the printer looks for a new stage (the shape's own tick is 1 s)."""


def clock(seconds: float | None) -> str:
    """``75`` -> ``1m15s``; None (unbounded) -> ``no time limit``."""
    if seconds is None:
        return "no time limit"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return (
        f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    )


@dataclass(frozen=True)
class Achieved:
    """What the target achieved over a stretch of the run (Locust's request stats)."""

    rps: float
    error_pct: float
    p95_ms: float | None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def achieved_text(achieved: Achieved) -> str:
    """``36.9 req/s, errors 0.0 %, p95 23 ms``."""
    return (
        f"{achieved.rps:.1f} req/s, errors {achieved.error_pct:.1f} %, p95 {_ms(achieved.p95_ms)}"
    )


def progress_line(progress: dict[str, Any], achieved: Achieved, users: int) -> str:
    """One line from a shape's ``progress()`` (or a plain run's equivalent) and what the
    target achieved since the previous line; ``users``: the users running now."""
    stage, shape = progress.get("stage"), progress.get("shape")
    where = " ".join(str(part) for part in (shape, stage) if part)
    unit = progress.get("unit") or "users"
    offered = progress.get("offered")
    if offered is None:
        load = f"{users} users"
    elif unit == "req/s":
        load = f"offered {offered:.1f} req/s ({users} users)"
    elif round(offered) == users:
        load = f"{users} users"
    else:  # Locust is still spawning or stopping users towards the stage's level
        load = f"{round(offered)} users offered, {users} running"
    remaining = progress.get("remaining_s")
    left = "no time limit" if remaining is None else f"{clock(remaining)} left"
    parts = [where] if where else []
    parts += [load, achieved_text(achieved), f"{clock(progress.get('elapsed_s'))} elapsed, {left}"]
    return "progress: " + " | ".join(parts)


def final_line(total: Any, run_s: float) -> str:
    """The test's last line: Locust's totals over the run. Throughput is requests per second
    of the run (``summary.json``'s definition; Locust's table divides by the time to the
    last request instead, a hair more in a short run with think time)."""
    count = total.num_requests
    errors = 100.0 * total.num_failures / count if count else 0.0
    p95 = total.get_response_time_percentile(0.95) if count else None
    achieved = Achieved(rate(count, run_s), errors, p95)
    return f"progress: done | {count} requests in {clock(run_s)} | {achieved_text(achieved)}"


def _current_p95(total: Any) -> float | None:
    """Locust's p95 of about the last 10 s (its whole run's where it keeps no window)."""
    if total.use_response_times_cache:
        return total.get_current_response_time_percentile(0.95)
    return total.get_response_time_percentile(0.95)


class ProgressPrinter:
    """One per process; the master or local runner starts it at ``test_start``."""

    def __init__(self, every_s: float = PROGRESS_EVERY_S, poll_s: float = POLL_S) -> None:
        self.every_s = every_s
        self.poll_s = poll_s
        self._greenlet: gevent.Greenlet | None = None
        self._environment: Any = None
        self._started = 0.0
        self._run_start = 0.0
        self._load_stop: float | None = None

    def start(self, environment: Any, run_start: float | None = None) -> None:
        """Start the lines; ``run_start`` (``time.time()``): when the run writer's run began,
        so the last line's duration, and so its throughput, is ``summary.json``'s."""
        self.stop(final=False)
        self._environment, self._started = environment, time.monotonic()
        self._run_start = time.time() if run_start is None else run_start
        self._load_stop = None
        self._greenlet = gevent.spawn(self._run, environment, self._started)

    def load_stopped(self) -> None:
        """Locust's ``test_stopping``: the load ends now (where ``summary.json``'s run ends)."""
        if self._load_stop is None:
            self._load_stop = time.time()

    def stop(self, final: bool = True) -> None:
        """End the lines; ``final``: log the whole run's line (test stop)."""
        greenlet, self._greenlet = self._greenlet, None
        running = greenlet is not None
        if greenlet is not None and greenlet is not gevent.getcurrent():
            greenlet.kill(block=False)
        environment, self._environment = self._environment, None
        if final and running and environment is not None and environment.runner is not None:
            total = environment.runner.stats.total
            run_s = (self._load_stop or time.time()) - self._run_start
            logger.info(final_line(total, run_s))

    def _run(self, environment: Any, started: float) -> None:
        last_at, last_count, last_failures = time.monotonic(), 0, 0
        last_stage = self._progress(environment, started).get("stage")
        while True:
            gevent.sleep(self.poll_s)
            now = time.monotonic()
            progress = self._progress(environment, started)
            stage = progress.get("stage")
            if now - last_at < self.every_s - self.poll_s / 2 and stage == last_stage:
                continue
            total = environment.runner.stats.total  # Locust may replace it (clear_all)
            count, failures = total.num_requests, total.num_failures
            if count < last_count:  # Locust's stats were reset (web UI)
                last_count = last_failures = 0
            done = count - last_count
            achieved = Achieved(
                done / max(now - last_at, 1e-9),
                100.0 * (failures - last_failures) / done if done else 0.0,
                _current_p95(total) if count else None,
            )
            logger.info(progress_line(progress, achieved, environment.runner.user_count))
            last_at, last_count, last_failures, last_stage = now, count, failures, stage

    @staticmethod
    def _progress(environment: Any, started: float) -> dict[str, Any]:
        shape = environment.shape_class
        if shape is not None and hasattr(shape, "progress"):
            try:
                return shape.progress()
            except Exception:  # a shape not started yet has no plan: a plain line then
                pass
        elapsed = time.monotonic() - started
        run_time = settings_of(environment).run_time
        return {
            "elapsed_s": elapsed,
            "offered": None,
            "remaining_s": max(0.0, run_time - elapsed) if run_time else None,
        }
