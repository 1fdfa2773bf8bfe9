"""``--target-metrics prometheus:URL`` against a real node_exporter (Debian's
``prometheus-node-exporter``) on 127.0.0.1, its readings checked against /proc.

Every counter the sampler reads is monotonic, so /proc read just before and just
after a scrape brackets the scraped value exactly; gauges (memory used, load)
get a stated tolerance. The hand-written exposition test in
``test_target_sampler.py`` stays the unit test of the series mapping.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psutil
import pytest
import requests

from metrics.sample import Sample
from metrics.target_sources import PrometheusSource, build_source
from tests.locust_runs import free_port

BINARY = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
START_TIMEOUT_S = 20.0
CPU_WINDOW_S = 1.0  # the measurement window of the host CPU rate, not a wait
PROCESS_CPU_WINDOW_S = 0.2  # node_exporter's own CPU rate: only its range is checked
MEM_TOLERANCE = 0.02  # of MemTotal: other tests allocate and free memory meanwhile
LOAD_TOLERANCE = 0.01  # /proc/loadavg has two decimals and changes every 5 s
PERCENT_SLACK = 0.011  # the sampler rounds a percent to two decimals
COLLECTORS = (
    "--collector.disable-defaults",
    "--collector.cpu",
    "--collector.meminfo",
    "--collector.loadavg",
    # every device, so the sums compare with every line of /proc/net/dev and /proc/diskstats
    "--collector.netdev",
    "--collector.netdev.device-exclude=^$",
    "--collector.diskstats",
    "--collector.diskstats.device-exclude=^$",
)
SECTOR_BYTES = 512  # /proc/diskstats counts 512-byte sectors whatever the device's own size

pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason="prometheus-node-exporter is not installed "
    "(apt-get install prometheus-node-exporter; .ci/run installs it)",
)


@dataclass
class NodeExporter:
    url: str
    process: subprocess.Popen


def _start(port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [BINARY, f"--web.listen-address=127.0.0.1:{port}", *COLLECTORS],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.terminate()
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def _serving(url: str, proc: subprocess.Popen) -> bool:
    """Poll /metrics until it answers 200; False if the process ends or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/metrics", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.05)  # poll interval while it binds
    return False


@pytest.fixture(scope="module")
def node_exporter() -> Iterator[NodeExporter]:
    """One node_exporter for the module, on a free loopback port; stopped at teardown."""
    errors = []
    for _ in range(3):  # the port was free when picked; another process may take it first
        port = free_port()
        proc = _start(port)
        url = f"http://127.0.0.1:{port}"
        if not _serving(url, proc):
            errors.append(_stop(proc).strip()[-300:])
            continue
        try:
            yield NodeExporter(url, proc)
        finally:
            _stop(proc)
        return
    pytest.fail(f"node_exporter did not serve /metrics: {errors}")


def _cpu_jiffies() -> tuple[int, int, int]:
    """(cpu count, total, idle+iowait) summed over /proc/stat's per-cpu lines; the first
    eight fields are the modes node_exporter exports (guest time is inside user)."""
    count = total = idle = 0
    with open("/proc/stat") as f:
        for line in f:
            if re.match(r"cpu\d+ ", line):
                fields = [int(x) for x in line.split()[1:9]]
                count += 1
                total += sum(fields)
                idle += fields[3] + fields[4]
    return count, total, idle


def _meminfo() -> dict[str, int]:
    with open("/proc/meminfo") as f:
        return {k: int(v.split()[0]) * 1024 for k, v in (line.split(":", 1) for line in f)}


def _net() -> tuple[int, int]:
    recv = sent = 0
    with open("/proc/net/dev") as f:
        for line in f.readlines()[2:]:
            fields = line.split(":", 1)[1].split()
            recv += int(fields[0])
            sent += int(fields[8])
    return recv, sent


def _disk() -> tuple[int, int]:
    read = written = 0
    with open("/proc/diskstats") as f:
        for line in f:
            fields = line.split()
            read += int(fields[5]) * SECTOR_BYTES
            written += int(fields[9]) * SECTOR_BYTES
    return read, written


def _load1() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def bracketed(read: Callable[[], object], scrape: Callable[[], Sample]):
    """/proc read just before and just after one scrape."""
    before = read()
    sample = scrape()
    return before, sample, read()


def test_host_readings_match_proc(node_exporter: NodeExporter) -> None:
    source = build_source(f"prometheus:{node_exporter.url}")  # as --target-metrics parses it
    assert isinstance(source, PrometheusSource)
    (cpus0, total0, idle0), first, (cpus1, total1, idle1) = bracketed(_cpu_jiffies, source.sample)
    assert cpus0 == cpus1 == first.host_cpu_count == os.cpu_count()
    assert first.host_cpu_percent is None  # a rate needs two scrapes

    mem_before, sample, mem_after = bracketed(_meminfo, source.sample)
    total = mem_before["MemTotal"]
    assert sample.host_mem_total_bytes == total == mem_after["MemTotal"]  # exact
    used = sorted(m["MemTotal"] - m["MemAvailable"] for m in (mem_before, mem_after))
    slack = MEM_TOLERANCE * total
    assert used[0] - slack <= sample.host_mem_used_bytes <= used[1] + slack, (
        sample.host_mem_used_bytes,
        used,
    )
    assert 0 < sample.host_mem_used_bytes < total

    load = bracketed(_load1, source.sample)
    low, high = sorted((load[0], load[2]))
    assert low - LOAD_TOLERANCE <= load[1].load1 <= high + LOAD_TOLERANCE, load

    net = bracketed(_net, source.sample)
    assert net[0][0] <= net[1].net_recv_bytes <= net[2][0], net  # counters: exact bracket
    assert net[0][1] <= net[1].net_sent_bytes <= net[2][1], net
    assert net[1].net_recv_bytes > 0  # this test's own scrapes went over lo

    disk = bracketed(_disk, source.sample)
    assert disk[0][0] <= disk[1].disk_read_bytes <= disk[2][0], disk
    assert disk[0][1] <= disk[1].disk_write_bytes <= disk[2][1], disk

    # Host CPU over a window with one core kept busy (so a miscounted busy share shows):
    # both ends bracketed, so the busy share lies between the least and the most busy
    # time /proc allows over the most and the least total time.
    spinner = subprocess.Popen([sys.executable, "-S", "-c", "while True: pass"])
    try:
        (_, t0_before, i0_before), _, (_, t0_after, i0_after) = bracketed(
            _cpu_jiffies, source.sample
        )
        time.sleep(CPU_WINDOW_S)  # the measurement window itself
        (_, t1_before, i1_before), second, (_, t1_after, i1_after) = bracketed(
            _cpu_jiffies, source.sample
        )
    finally:
        spinner.kill()
        spinner.wait()
    busy_min = (t1_before - i1_before) - (t0_after - i0_after)
    busy_max = (t1_after - i1_after) - (t0_before - i0_before)
    total_min, total_max = t1_before - t0_after, t1_after - t0_before
    low = 100.0 * max(0, busy_min) / total_max
    high = min(100.0, 100.0 * busy_max / total_min)
    assert low - PERCENT_SLACK <= second.host_cpu_percent <= high + PERCENT_SLACK, (
        low,
        second.host_cpu_percent,
        high,
    )
    assert second.host_cpu_percent >= 0.8 * 100 / cpus0, "a busy core shows"


def test_node_exporters_own_process_readings(node_exporter: NodeExporter) -> None:
    """node_exporter also exports its own process_* series: rss, open fds, cpu."""
    proc = psutil.Process(node_exporter.process.pid)
    source = PrometheusSource(node_exporter.url)
    first = source.sample()
    rss = proc.memory_info().rss
    assert abs(first.rss_bytes - rss) <= 0.2 * rss, (first.rss_bytes, rss)
    fds = proc.num_fds()
    assert abs(first.open_files - fds) <= 4, (first.open_files, fds)  # scrape sockets come, go
    assert first.cpu_percent is None  # a rate needs two scrapes
    time.sleep(PROCESS_CPU_WINDOW_S)  # the measurement window itself
    second = source.sample()
    assert 0 <= second.cpu_percent <= 100 * os.cpu_count()
    assert second.queue_depth is None  # not a quantload target: no queue series
