"""The target's samples of a whole run, kept compactly for the web UI's charts and CSV.

One ``array('d')`` per column (about 50 bytes a sample: a day at one sample a
second is about 4 MB); a missing value or a gap (the source did not answer) is NaN.
No Locust, no Flask: the web UI (``plugin.webui``) serves what this holds.
"""

from __future__ import annotations

import csv
import io
import math
import time
from array import array
from typing import Any

MAX_CHART_POINTS = 600
"""Points per chart line: a longer run is thinned evenly (the CSV keeps every sample)."""
FIELDS = ("cpu_percent", "rss_mb", "queue_depth", "threads", "children")
"""The columns beside ``t``, as the CSV names them."""
_SOURCES = {
    "cpu_percent": ("cpu_percent", 1.0),
    "rss_mb": ("rss_bytes", 2**20),
    "queue_depth": ("queue_depth", 1.0),
    "threads": ("threads", 1.0),
    "children": ("children", 1.0),
}
"""Each column: the sample's key and the divisor to its unit."""


def _number(sample: dict[str, Any], key: str, scale: float) -> float:
    value = sample.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value) / scale


class TargetSeries:
    """Every sample of the current run: times (epoch s) and one column per :data:`FIELDS`."""

    def __init__(self) -> None:
        self.t = array("d")
        self.gap = array("b")
        self.columns = {name: array("d") for name in FIELDS}

    def __len__(self) -> int:
        return len(self.t)

    def add(self, at: float, sample: dict[str, Any] | None) -> None:
        """One sample at ``at``; None: a gap (every column NaN)."""
        self.t.append(at)
        self.gap.append(1 if sample is None else 0)
        for name, (key, scale) in _SOURCES.items():
            self.columns[name].append(math.nan if sample is None else _number(sample, key, scale))

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]  # fresh columns for a new run

    def csv_text(self) -> str:
        """Every sample, oldest first: ``time`` (HH:MM:SS), ``epoch`` and the columns (empty
        where missing, ``gap`` in the CPU and RSS columns where the source did not answer)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["time", "epoch", *FIELDS])
        for i, at in enumerate(self.t):
            values = []
            for name in FIELDS:
                value = self.columns[name][i]
                if self.gap[i] and name in ("cpu_percent", "rss_mb"):
                    values.append("gap")
                elif math.isnan(value):
                    values.append("")
                else:
                    values.append(
                        f"{value:.1f}" if name in ("cpu_percent", "rss_mb") else f"{value:.0f}"
                    )
            writer.writerow([time.strftime("%H:%M:%S", time.localtime(at)), f"{at:.3f}", *values])
        return out.getvalue()

    def chart_data(self, max_points: int = MAX_CHART_POINTS) -> dict[str, Any]:
        """``{"t": [...], "cpu_percent": [...], ...}`` for the charts: at most ``max_points``
        evenly spaced samples, the newest always included; None where missing."""
        n = len(self.t)
        step = max(1, math.ceil(n / max_points)) if n else 1
        picks = list(range(n - 1, -1, -step))[::-1]
        out: dict[str, Any] = {"t": [round(self.t[i], 3) for i in picks], "samples": n}
        for name in ("cpu_percent", "rss_mb", "queue_depth"):
            column = self.columns[name]
            out[name] = [None if math.isnan(column[i]) else round(column[i], 2) for i in picks]
        return out
