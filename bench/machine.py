"""What a reader needs to weigh a benchmark's numbers: the machine they came from."""

from __future__ import annotations

import platform

import psutil


def machine() -> str:
    """CPU model, cores, memory and Python version, on one line."""
    model = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{model}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
