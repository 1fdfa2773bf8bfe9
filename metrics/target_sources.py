"""Where a reading of the target comes from: one source per ``--target-metrics`` kind.

``local:PID`` (:class:`LocalProcessSource`: psutil here, the process and all its
descendants summed, plus this host), ``agent:URL`` (:class:`AgentSource`:
``python -m metrics.agent`` on the target host), ``prometheus:URL``
(:class:`PrometheusSource`: node_exporter, or the target's own ``/metrics``, whose
``process_*`` series cover one process, not its children) and ``none``
(:class:`NoSource`); :func:`build_source` picks one. A source's ``sample()`` raises
:class:`~metrics.sample.SourceError` when it cannot read; it never retries (the
sampler, :mod:`metrics.target_sampler`, does).
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from typing import Any, Protocol
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from metrics.host_readers import (
    IDLE_MODES,
    MIN_RATE_WINDOW_S,
    HostReader,
    ProcessTreeReader,
    busy_percent,
)
from metrics.sample import Sample, SourceError
from metrics.source_spec import SourceSpec, parse_source

__all__ = [
    "AgentSource",
    "LocalProcessSource",
    "NoSource",
    "PrometheusSource",
    "Source",
    "build_source",
    "read_prometheus",
]

HTTP_TIMEOUT_S = 0.8  # per socket operation; below the interval so one slow scrape skips no tick
MAX_BODY_BYTES = 8 * 1024 * 1024  # node_exporter pages run to a few hundred KiB
AGENT_PATH = "/sample"
PROMETHEUS_PATH = "/metrics"

# Prometheus sample name -> Sample field; values of every label set are summed.
PROMETHEUS_SUMS = {
    "process_resident_memory_bytes": "rss_bytes",
    "process_open_fds": "open_files",
    "node_memory_MemTotal_bytes": "host_mem_total_bytes",
    "node_load1": "load1",
    "node_disk_read_bytes_total": "disk_read_bytes",
    "node_disk_written_bytes_total": "disk_write_bytes",
    "node_network_transmit_bytes_total": "net_sent_bytes",
    "node_network_receive_bytes_total": "net_recv_bytes",
    "quantload_queue_depth": "queue_depth",
}
PROMETHEUS_FLOATS = ("load1", "queue_depth")  # the other fields are whole numbers


class Source(Protocol):
    """Anything with ``sample() -> Sample`` that raises SourceError when it cannot."""

    description: str  # for log lines; never holds a secret
    active: bool  # False: nothing to sample, the sampler does not run

    def sample(self) -> Sample: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None  # a redirect would carry the bearer token to another host


# Direct connections only: the target is usually on an internal network, and a proxy
# would add its own latency and failures to what we measure.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _http_get(url: str, token: str | None = None, timeout: float = HTTP_TIMEOUT_S) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with _OPENER.open(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
            body: bytes = resp.read(MAX_BODY_BYTES)
            return body
    except urllib.error.HTTPError as exc:
        raise SourceError(f"{url} answered HTTP {exc.code}") from None
    except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
        reason = getattr(exc, "reason", None) or exc or type(exc).__name__
        raise SourceError(f"{url} unreachable: {reason}") from None


def _endpoint(url: str, default_path: str) -> str:
    return url.rstrip("/") + default_path if urlsplit(url).path in ("", "/") else url


def _rate(now: tuple[float, float], before: tuple[float, float] | None) -> float | None:
    """Percent of one core from two (cpu_seconds, monotonic_time) readings."""
    if before is None or now[1] - before[1] < MIN_RATE_WINDOW_S or now[0] < before[0]:
        return None  # no baseline, too short a window, or the counter reset (a restart)
    return 100.0 * (now[0] - before[0]) / (now[1] - before[1])


def read_prometheus(text: str) -> dict[str, float]:
    """Sum the series quantload knows from Prometheus text; raw CPU counters under ``_``-keys."""
    out: dict[str, float] = {}
    cpus: set[str | None] = set()
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                key = PROMETHEUS_SUMS.get(s.name)
                if s.name == "process_cpu_seconds_total":
                    key = "_process_cpu_seconds"
                elif s.name == "node_memory_MemAvailable_bytes":
                    key = "_mem_available"
                elif s.name == "node_cpu_seconds_total":
                    key = "_cpu_idle" if s.labels.get("mode") in IDLE_MODES else "_cpu_busy"
                    cpus.add(s.labels.get("cpu"))
                if key is not None:
                    out[key] = out.get(key, 0.0) + s.value
    except (ValueError, TypeError, IndexError) as exc:
        raise SourceError(f"not Prometheus text: {exc}") from None
    if cpus:
        out["_cpu_count"] = float(len(cpus))
    return out


class NoSource:
    """``--target-metrics none``: nothing is sampled, and nothing is a gap."""

    description = "none"
    active = False

    def sample(self) -> Sample:
        return Sample(time=time.time())


class LocalProcessSource:
    """A process tree on this machine, plus this host; ``metrics_url`` adds queue depth."""

    active = True

    def __init__(self, pid: int, metrics_url: str | None = None) -> None:
        self.pid = pid
        self.description = f"local process {pid}"
        self.metrics_url = _endpoint(metrics_url, PROMETHEUS_PATH) if metrics_url else None
        self._tree = ProcessTreeReader(pid)
        self._host = HostReader()

    def sample(self) -> Sample:
        values: dict[str, Any] = {**self._tree.read(), **self._host.read()}
        if self.metrics_url:  # best effort: a slow /metrics costs the depth, not the sample
            try:
                values["queue_depth"] = read_prometheus(
                    _http_get(self.metrics_url).decode("utf-8", "replace")
                ).get("queue_depth")
            except SourceError:
                values["queue_depth"] = None
        return Sample(time=time.time(), **values)


class AgentSource:
    """``python -m metrics.agent`` on the target host; a URL without a path means /sample."""

    active = True

    def __init__(
        self, url: str, token: str | None = None, timeout_s: float = HTTP_TIMEOUT_S
    ) -> None:
        self.url = _endpoint(url, AGENT_PATH)
        self.description = f"agent {self.url}"
        self.timeout_s = timeout_s
        self._token = token  # private, and kept out of every message

    def sample(self) -> Sample:
        body = _http_get(self.url, self._token, self.timeout_s)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise SourceError(f"{self.url} did not answer a JSON object")
        if data.get("process_error"):  # the agent is up but the watched process is not
            raise SourceError(f"agent: {data['process_error']}")
        return Sample.from_dict(data, time=time.time())


class PrometheusSource:
    """A Prometheus text endpoint (no path: /metrics); CPU rates need two scrapes."""

    active = True

    def __init__(self, url: str, timeout_s: float = HTTP_TIMEOUT_S) -> None:
        self.url = _endpoint(url, PROMETHEUS_PATH)
        self.description = f"prometheus {self.url}"
        self.timeout_s = timeout_s
        self._cpu: tuple[float, float] | None = None
        self._host_cpu: tuple[float, float] | None = None

    def sample(self) -> Sample:
        raw = read_prometheus(_http_get(self.url, None, self.timeout_s).decode("utf-8", "replace"))
        now = time.monotonic()
        values: dict[str, Any] = {
            key: (v if key in PROMETHEUS_FLOATS else round(v))
            for key, v in raw.items()
            if not key.startswith("_")
        }
        if not values and "_process_cpu_seconds" not in raw and "_cpu_idle" not in raw:
            raise SourceError(f"{self.url} has no series quantload knows")
        if "_process_cpu_seconds" in raw:
            cpu = (raw["_process_cpu_seconds"], now)
            values["cpu_percent"] = _rate(cpu, self._cpu)
            if self._cpu is None or now - self._cpu[1] >= MIN_RATE_WINDOW_S:
                self._cpu = cpu  # a short window keeps the baseline for the next scrape
        if "_cpu_idle" in raw:
            host = (raw["_cpu_idle"] + raw.get("_cpu_busy", 0.0), raw["_cpu_idle"])
            values["host_cpu_percent"], self._host_cpu = busy_percent(host, self._host_cpu), host
            values["host_cpu_count"] = int(raw["_cpu_count"])
        if "_mem_available" in raw and "host_mem_total_bytes" in values:
            used = raw["host_mem_total_bytes"] - raw["_mem_available"]
            values["host_mem_used_bytes"] = round(used)
        return Sample(time=time.time(), **values)


def build_source(
    spec: str | SourceSpec | None,
    *,
    token: str | None = None,
    embedded_pid: int | None = None,
    embedded_url: str | None = None,
) -> Source:
    """The source for a run. None or auto: the embedded target's process tree (with its
    queue depth from ``embedded_url``) when the suite started the target, else none."""
    parsed = parse_source(spec) if isinstance(spec, str) else spec or SourceSpec("auto")
    if parsed.kind == "auto" and embedded_pid is not None:
        return LocalProcessSource(embedded_pid, metrics_url=embedded_url)
    if parsed.kind == "local":
        return LocalProcessSource(parsed.pid)  # type: ignore[arg-type]
    if parsed.kind == "agent":
        return AgentSource(parsed.url, token)  # type: ignore[arg-type]
    if parsed.kind == "prometheus":
        return PrometheusSource(parsed.url)  # type: ignore[arg-type]
    return NoSource()  # none, or auto when the suite did not start the target
