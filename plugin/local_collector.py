"""The local runner's collector: it records the requests and writes the run itself.

Request events go into a :class:`~metrics.latency.SlotRecorder`; just after each
slot boundary the ticker hands the finished slots to the
:class:`~rundir.writer.RunWriter` (source ``local``) with this process's users,
CPU/RSS, the target's reading and the shape's stage, and the writer writes the
row. ``test_stop`` ends the run at once: every request is in.
"""

from __future__ import annotations

from locust.runners import Runner

from metrics.latency import SlotRecorder
from plugin.collector import LOCAL_SOURCE, RunCollector
from rundir.writer import RunWriter


class LocalCollector(RunCollector):
    """One per local-runner process; ``plugin.hooks`` wires its ``on_*`` methods."""

    ROLE = "local"
    OWN_SOURCE = LOCAL_SOURCE

    def _run_opened(self, writer: RunWriter, now: float, interval: float) -> None:
        self.recorder = SlotRecorder(now, interval)

    def _write_due(self, writer: RunWriter, runner: Runner, now: float, now_k: int) -> None:
        if self.recorder is not None:
            writer.add(LOCAL_SOURCE, self.recorder.take(now_k), now_k - 1)
        writer.advance(now, [LOCAL_SOURCE])

    def _load_over(self, writer: RunWriter) -> None:
        self._finish()

    def _stop_interrupted(self, runner: Runner | None) -> None:
        """An interrupted run is stopped here (Locust would stop it just after the quitting
        listeners): users still firing meanwhile would be in Locust's totals and not in
        ours. Its ``test_stop`` then writes the run."""
        if runner is not None:
            runner.stop()
