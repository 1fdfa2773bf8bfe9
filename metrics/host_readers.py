"""What a machine can tell about itself and one process tree on it, read with psutil.

:class:`ProcessTreeReader` (a process and its descendants, summed) and
:class:`HostReader` (this host's CPU, memory, load and I/O counters) are what the host
agent serves and what ``local:PID`` reads in the load generator's own process, so both
sources measure the same thing the same way. :class:`WatchedProcess` is the agent's
process, fixed by pid or found by name (:func:`find_process`).
"""

from __future__ import annotations

import os
import time

import psutil

from metrics.sample import SourceError

__all__ = [
    "IDLE_MODES",
    "MIN_RATE_WINDOW_S",
    "HostReader",
    "ProcessTreeReader",
    "WatchedProcess",
    "busy_percent",
    "find_process",
]

MIN_RATE_WINDOW_S = 0.05  # CPU rates over shorter windows are noise, reported as None
IDLE_MODES = ("idle", "iowait")  # CPU time in these modes is not busy (psutil and node_exporter)


def busy_percent(now: tuple[float, float], before: tuple[float, float] | None) -> float | None:
    """Host CPU busy % (0..100) from two (total_seconds, idle_seconds) readings."""
    if before is None or now[0] - before[0] <= 0:
        return None
    busy = 1.0 - (now[1] - before[1]) / (now[0] - before[0])
    return round(100.0 * min(1.0, max(0.0, busy)), 2)


class ProcessTreeReader:
    """The process ``pid`` and all its descendants, summed; CPU as a rate between reads.

    Once the process has gone it stays gone (its pid may be reused by a stranger).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._root: psutil.Process | None = None
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, create_time) -> cpu seconds
        self._read_at: tuple[float, float] | None = None  # (monotonic, epoch) of the last read
        try:
            self.read()  # the baseline, so the first real read already has a CPU rate
        except SourceError:
            pass

    def _process(self) -> psutil.Process:
        if self._root is None:
            self._root = psutil.Process(self.pid)
        elif not self._root.is_running():
            raise psutil.NoSuchProcess(self.pid)
        return self._root

    def read(self) -> dict[str, float | int | None]:
        started, started_epoch = time.monotonic(), time.time()
        cpu: dict[tuple[int, float], float] = {}
        rss = threads = fds = 0
        fds_known = True
        try:
            root = self._process()
            for proc in [root, *root.children(recursive=True)]:
                try:
                    with proc.oneshot():
                        times = proc.cpu_times()
                        cpu[(proc.pid, proc.create_time())] = times.user + times.system
                        rss += proc.memory_info().rss
                        threads += proc.num_threads()
                        try:
                            fds += proc.num_fds() if psutil.POSIX else proc.num_handles()
                        except psutil.AccessDenied:
                            fds_known = False
                except psutil.NoSuchProcess:  # a child that ended meanwhile (zombies included)
                    if proc is root:
                        raise
        except psutil.NoSuchProcess:
            raise SourceError(f"process {self.pid} is gone") from None
        except psutil.AccessDenied:
            raise SourceError(f"no permission to read process {self.pid}") from None
        cpu_percent = None
        if self._read_at is not None and started - self._read_at[0] >= MIN_RATE_WINDOW_S:
            spent = 0.0
            for key, seconds in cpu.items():
                before = self._cpu.get(key)
                if before is None:  # a child born since the last read counts whole
                    before = 0.0 if key[1] >= self._read_at[1] else seconds
                spent += max(0.0, seconds - before)
            cpu_percent = round(100.0 * spent / (started - self._read_at[0]), 2)
        if cpu_percent is not None or self._read_at is None:  # short window: keep the baseline
            self._cpu, self._read_at = cpu, (started, started_epoch)
        return {
            "cpu_percent": cpu_percent,
            "rss_bytes": rss,
            "threads": threads,
            "open_files": fds if fds_known else None,
            "children": len(cpu) - 1,
        }


def _cpu_totals() -> tuple[float, float]:
    times = psutil.cpu_times()
    total = sum(times)
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)  # inside user/nice
    return total, sum(getattr(times, mode, 0.0) for mode in IDLE_MODES)


class HostReader:
    """This machine's CPU (busy share between reads), memory, load and I/O counters.

    Keeps its own CPU baseline rather than ``psutil.cpu_percent()``'s module-wide
    one, which other samplers in the same process would disturb.
    """

    def __init__(self) -> None:
        self._cpu, self._cpu_at = _cpu_totals(), time.monotonic()

    def read(self) -> dict[str, float | int | None]:
        busy = None
        if time.monotonic() - self._cpu_at >= MIN_RATE_WINDOW_S:  # else keep the baseline
            cpu = _cpu_totals()
            busy, self._cpu, self._cpu_at = busy_percent(cpu, self._cpu), cpu, time.monotonic()
        mem = psutil.virtual_memory()
        disk = psutil.disk_io_counters()  # None where the kernel shows no disks (containers)
        net = psutil.net_io_counters()
        return {
            "host_cpu_percent": busy,
            "host_cpu_count": psutil.cpu_count(),
            "host_mem_used_bytes": mem.total - mem.available,
            "host_mem_total_bytes": mem.total,
            "load1": psutil.getloadavg()[0],
            "disk_read_bytes": disk.read_bytes if disk else None,
            "disk_write_bytes": disk.write_bytes if disk else None,
            "net_sent_bytes": net.bytes_sent if net else None,
            "net_recv_bytes": net.bytes_recv if net else None,
        }


def find_process(name: str, exclude: int | None = None) -> psutil.Process | None:
    """The oldest process whose name, or one of whose command-line words (or its
    basename), equals ``name``; oldest, so a matching parent wins over its children."""
    found: list[psutil.Process] = []
    for proc in psutil.process_iter(["name", "cmdline", "create_time"]):
        words = proc.info["cmdline"] or []
        if proc.pid != exclude and (
            proc.info["name"] == name
            or any(name in (word, os.path.basename(word)) for word in words)
        ):
            found.append(proc)
    return min(found, key=lambda p: p.info["create_time"] or 0.0, default=None)


class WatchedProcess:
    """The process the agent reports on: fixed by pid, or found (again, after a
    restart) by name. ``read()`` gives (pid, process_error, process fields)."""

    def __init__(self, pid: int | None = None, name: str | None = None) -> None:
        self.pid, self.name = pid, name
        self._reader = ProcessTreeReader(pid) if pid is not None else None

    def read(self) -> tuple[int | None, str | None, dict[str, float | int | None]]:
        if self.pid is None and self.name is None:
            return None, None, {}  # a host-only agent
        if self._reader is None and self.name is not None:
            proc = find_process(self.name, exclude=os.getpid())
            if proc is None:
                return None, f"no process named {self.name!r}", {}
            self._reader = ProcessTreeReader(proc.pid)
        assert self._reader is not None
        try:
            return self._reader.pid, None, self._reader.read()
        except SourceError as exc:
            if self.name is not None:
                self._reader = None  # look the name up again next time
            return None, str(exc), {}
