"""One reading of the target (:class:`Sample`) and the error of a reading that failed.

Shared by the host agent (which serves samples as JSON) and the load generator's
target sources (:mod:`metrics.target_sources`, which read them). Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

__all__ = ["Sample", "SourceError"]


class SourceError(Exception):
    """A reading could not be taken; the message is one line, free of secrets."""


@dataclass
class Sample:
    """One reading of the target. A field is None when the source does not report it.

    ``cpu_percent`` is percent of ONE core summed over the process tree (100 = one
    core busy; up to 100 x cores), as top shows it; ``host_cpu_percent`` is the
    whole host, 0..100. Sizes are bytes. Disk and network fields are cumulative
    counters since boot (rates are the reader's job). ``time`` is epoch seconds
    on the machine that took or received the reading.
    """

    time: float
    cpu_percent: float | None = None
    rss_bytes: int | None = None  # summed RSS; pages shared between processes count once each
    threads: int | None = None
    open_files: int | None = None  # open file descriptors: files, sockets, pipes
    children: int | None = None  # descendant processes, not counting the process itself
    host_cpu_percent: float | None = None
    host_cpu_count: int | None = None
    host_mem_used_bytes: int | None = None  # total - available, as node_exporter users compute it
    host_mem_total_bytes: int | None = None
    load1: float | None = None
    disk_read_bytes: int | None = None
    disk_write_bytes: int | None = None
    net_sent_bytes: int | None = None
    net_recv_bytes: int | None = None
    queue_depth: float | None = None  # jobs waiting, when the target exports quantload_queue_depth

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object], time: float) -> Sample:
        """Build from JSON (unknown keys ignored); a non-numeric value is a SourceError."""
        values: dict[str, object] = {}
        for field in fields(cls):
            value = data.get(field.name)
            if field.name == "time" or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SourceError(f"{field.name} is {value!r}, not a number")
            values[field.name] = value
        return cls(time=time, **values)  # type: ignore[arg-type]
