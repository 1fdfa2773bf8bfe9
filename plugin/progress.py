"""The console progress line of long runs: stage, offered load, achieved throughput, time.

Locust's headless console shows stats tables but not where a shaped run is:
which stage or step, what load it offers, what the target achieves, and how
long is left. Every ``PROGRESS_EVERY_S`` the master (or local runner) logs one
line, from the shape's ``progress()`` when there is a shape, else from ``-t``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent

from users.settings import settings_of

logger = logging.getLogger("quantload.progress")
PROGRESS_EVERY_S = 10.0


def clock(seconds: float | None) -> str:
    """``75`` -> ``1m15s``; None (open-ended) -> ``open-ended``."""
    if seconds is None:
        return "open-ended"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return (
        f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    )


def progress_line(progress: dict[str, Any], achieved_rps: float, users: int) -> str:
    """One line from a shape's ``progress()`` (or a plain run's equivalent)."""
    stage = progress.get("stage") or "-"
    shape = progress.get("shape")
    where = f"{shape} stage {stage}" if shape else f"stage {stage}"
    unit = progress.get("unit") or "users"
    offered = progress.get("offered")
    offered_text = (
        (f"{offered:.1f} req/s" if unit == "req/s" else f"{offered:.0f} users")
        if offered is not None
        else f"{users} users"
    )
    return (
        f"{where} | offered {offered_text} | achieved {achieved_rps:.1f} req/s | "
        f"{users} users | {clock(progress.get('elapsed_s'))} elapsed, "
        f"{clock(progress.get('remaining_s'))} left"
    )


class ProgressPrinter:
    def __init__(self, every_s: float = PROGRESS_EVERY_S) -> None:
        self.every_s = every_s
        self._greenlet: gevent.Greenlet | None = None

    def start(self, environment: Any) -> None:
        self.stop()
        self._greenlet = gevent.spawn(self._run, environment, time.monotonic())

    def stop(self) -> None:
        if self._greenlet is not None and self._greenlet is not gevent.getcurrent():
            self._greenlet.kill(block=False)
        self._greenlet = None

    def _run(self, environment: Any, started: float) -> None:
        while True:
            gevent.sleep(self.every_s)
            logger.info(
                progress_line(
                    self._progress(environment, started),
                    environment.runner.stats.total.current_rps,
                    environment.runner.user_count,
                )
            )

    @staticmethod
    def _progress(environment: Any, started: float) -> dict[str, Any]:
        shape = environment.shape_class
        if shape is not None and hasattr(shape, "progress"):
            return shape.progress()
        elapsed = time.monotonic() - started
        run_time = settings_of(environment).run_time
        return {
            "elapsed_s": elapsed,
            "offered": None,
            "remaining_s": max(0.0, run_time - elapsed) if run_time else None,
        }
