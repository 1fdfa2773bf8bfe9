"""Target-host sampling against real processes on 127.0.0.1: the reference target,
the host agent as a subprocess, the target's own /metrics, and outages of each."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from metrics.agent import LISTEN_PREFIX, TOKEN_ENV
from metrics.host_readers import WatchedProcess, find_process
from metrics.sample import SourceError
from metrics.source_spec import SourceSpec, parse_source
from metrics.target_sampler import TargetSampler
from metrics.target_sources import (
    AgentSource,
    LocalProcessSource,
    NoSource,
    PrometheusSource,
    build_source,
)
from plugin.embedded_target import EmbeddedTarget
from tests.locust_runs import REPO

START_TIMEOUT_S = 20.0
WAIT_TIMEOUT_S = 15.0
CPU_WINDOW_S = 0.3
LOADED_CPU_PERCENT = 50.0  # one job worker crunching Monte Carlo runs is ~100 % of a core
TOKEN = "s3cret-agent-token"
MONTE_CARLO = {
    "kind": "monte_carlo",
    "symbol": "AAPL",
    "strategy": "sma_cross",
    "start": "2005-01-01",
    "end": "2024-12-31",
    "num_runs": 10000,
}


def wait_for(
    condition: Callable[[], object], timeout: float = WAIT_TIMEOUT_S, what: str = "condition"
) -> object:
    """Poll until ``condition()`` is truthy; its value, or AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
    return value


class Agents:
    """Agent subprocesses started by one test; all stopped at teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, *flags: str, token: str | None = None) -> tuple[subprocess.Popen, str]:
        env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        if token:
            env[TOKEN_ENV] = token
        proc = subprocess.Popen(
            [sys.executable, "-m", "metrics.agent", *flags],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            if select.select([proc.stdout], [], [], 0.2)[0]:
                line = proc.stdout.readline()
                assert line.startswith(LISTEN_PREFIX), line
                return proc, line[len(LISTEN_PREFIX) :].strip()
        raise AssertionError(f"agent did not start: {self.stop(proc)}")

    @staticmethod
    def stop(proc: subprocess.Popen) -> str:
        """Terminate (if alive) and return everything it printed."""
        if proc.poll() is None:
            proc.terminate()
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        return out + err


@pytest.fixture(scope="module")
def idle_target() -> Iterator[EmbeddedTarget]:
    """This module's own target, which no test gives a job: its queue depth stays 0 whatever
    other modules do to the session's shared target, in any order or process."""
    with EmbeddedTarget("--workers", "2") as t:
        yield t


@pytest.fixture
def agents() -> Iterator[Agents]:
    started = Agents()
    yield started
    for proc in started.procs:
        started.stop(proc)


def test_parse_source_accepts_each_form_and_rejects_the_rest_in_one_line() -> None:
    assert parse_source("local:4242") == SourceSpec("local", pid=4242)
    assert parse_source("agent:http://10.0.0.5:9274") == SourceSpec(
        "agent", url="http://10.0.0.5:9274"
    )
    assert parse_source("prometheus:https://h/metrics").url == "https://h/metrics"
    assert parse_source("none") == SourceSpec("none")
    assert parse_source(" AUTO ") == SourceSpec("auto")
    bad = [
        "",
        "local:",
        "local:0",
        "local:12x",
        "agent:10.0.0.5:9274",
        "agent:ftp://h",
        "prometheus:http://h:99999",
        "agent:http://bob:hunter2@h",
        "pigeon",
        "none:1",
    ]
    for spec in bad:
        with pytest.raises(ValueError) as info:
            parse_source(spec)
        message = str(info.value)
        assert message.startswith("argument --target-metrics: ") and "\n" not in message
        assert "hunter2" not in message


def test_build_source_resolves_auto_and_keeps_the_token_private() -> None:
    assert isinstance(build_source(None), NoSource)
    assert isinstance(build_source("auto"), NoSource)
    auto = build_source(None, embedded_pid=os.getpid(), embedded_url="http://127.0.0.1:1")
    assert isinstance(auto, LocalProcessSource) and auto.metrics_url == "http://127.0.0.1:1/metrics"
    agent = build_source("agent:http://127.0.0.1:1", token=TOKEN)
    assert isinstance(agent, AgentSource) and agent.url == "http://127.0.0.1:1/sample"
    assert TOKEN not in agent.description
    sampler = TargetSampler(build_source("none"))
    sampler.start()  # nothing to sample: no thread, no gap
    assert sampler._thread is None and sampler.latest() is None and sampler.gaps == 0


def test_local_source_sums_the_target_and_its_workers_and_sees_load(start_target, http) -> None:
    target = start_target("--workers", "2", "--job-step-ms", "20")
    source = LocalProcessSource(target.pid, metrics_url=target.url)
    sample = source.sample()
    assert sample.children >= 2  # two job workers (and multiprocessing's resource tracker)
    assert sample.rss_bytes > psutil.Process(target.pid).memory_info().rss > 0
    assert sample.threads >= 3 and sample.open_files > 0
    assert sample.host_mem_total_bytes > sample.host_mem_used_bytes > 0
    assert sample.queue_depth == 0

    def cpu_over_a_window() -> float:
        source.sample()
        time.sleep(CPU_WINDOW_S)  # the measurement itself, not a wait for something
        return source.sample().cpu_percent

    idle_cpu = cpu_over_a_window()
    job = http.post(f"{target.url}/v1/jobs", json=MONTE_CARLO, timeout=10)
    assert job.status_code == 202, job.text
    peak = wait_for(
        lambda: (cpu := cpu_over_a_window()) >= LOADED_CPU_PERCENT and cpu,
        what=f"cpu >= {LOADED_CPU_PERCENT}% while a worker runs a job",
    )
    assert peak > idle_cpu  # the load is in a child process, so children count
    http.delete(f"{target.url}/v1/jobs/{job.json()['id']}", timeout=10)


def test_local_source_of_a_process_that_ended_is_a_source_error() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        source = LocalProcessSource(proc.pid)
        assert source.sample().rss_bytes > 0
    finally:
        proc.kill()
        proc.wait()
    with pytest.raises(SourceError, match="gone"):
        source.sample()


def test_agent_serves_the_target_and_requires_its_token(idle_target, agents) -> None:
    target = idle_target
    proc, url = agents.start("--port", "0", "--pid", str(target.pid), token=TOKEN)
    sample = AgentSource(url, token=TOKEN).sample()
    assert sample.children >= 2 and sample.rss_bytes > 0 and sample.threads > 0
    assert sample.host_mem_total_bytes > 0 and sample.host_cpu_count >= 1
    body = requests.get(
        f"{url}/sample", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    ).json()
    assert body["pid"] == target.pid and body["process_error"] is None
    for token in (None, "wrong"):
        with pytest.raises(SourceError, match="HTTP 401"):
            AgentSource(url, token=token).sample()
    assert requests.get(url, timeout=5).json()["error"]["code"] == "unauthorized"
    # --name finds the target again by a word of its command line (its database path)
    assert WatchedProcess(name=str(target.db)).read()[0] == target.pid
    assert find_process(str(target.db)).pid == target.pid
    assert TOKEN not in agents.stop(proc)


@pytest.mark.parametrize(
    "flags, says",
    [
        (["--port", "http"], "argument --port"),
        (["--pid", "1", "--name", "x"], "not allowed with"),
        (["--pid", "999999999"], "no process with id"),
        (["--colour"], "unrecognized arguments"),
    ],
)
def test_agent_bad_flags_are_one_line_and_exit_2(flags: list[str], says: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "metrics.agent", *flags],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and says in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_prometheus_source_reads_the_targets_own_metrics(idle_target) -> None:
    target = idle_target
    source = PrometheusSource(target.url)
    first = source.sample()
    rss = psutil.Process(target.pid).memory_info().rss
    assert abs(first.rss_bytes - rss) <= 0.1 * rss  # process_* covers the main process only
    assert first.queue_depth == 0 and first.open_files > 0
    assert first.cpu_percent is None  # a rate needs two scrapes
    second = wait_for(
        lambda: (s := source.sample()).cpu_percent is not None and s,
        what="a cpu rate from two scrapes",
    )
    assert second.cpu_percent >= 0 and second.rss_bytes > 0


NODE_EXPORTER = """\
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{{cpu="0",mode="idle"}} {idle0}
node_cpu_seconds_total{{cpu="0",mode="user"}} {user0}
node_cpu_seconds_total{{cpu="1",mode="idle"}} {idle1}
node_cpu_seconds_total{{cpu="1",mode="iowait"}} {iowait1}
node_cpu_seconds_total{{cpu="1",mode="system"}} {user1}
# TYPE node_memory_MemTotal_bytes gauge
node_memory_MemTotal_bytes 8e+09
# TYPE node_memory_MemAvailable_bytes gauge
node_memory_MemAvailable_bytes 6e+09
# TYPE node_load1 gauge
node_load1 1.5
# TYPE node_network_receive_bytes_total counter
node_network_receive_bytes_total{{device="eth0"}} 1000
node_network_receive_bytes_total{{device="lo"}} 24
# TYPE node_disk_written_bytes_total counter
node_disk_written_bytes_total{{device="sda"}} 4096
"""


def test_prometheus_source_maps_node_exporter_series_exactly() -> None:
    page = {"text": NODE_EXPORTER.format(idle0=100, user0=50, idle1=100, iowait1=5, user1=50)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            data = page["text"].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        source = PrometheusSource(f"http://127.0.0.1:{server.server_address[1]}")
        first = source.sample()
        assert first.host_cpu_percent is None and first.host_cpu_count == 2
        assert (first.host_mem_total_bytes, first.host_mem_used_bytes) == (8e9, 2e9)
        assert first.load1 == 1.5 and first.net_recv_bytes == 1024
        assert first.disk_write_bytes == 4096 and first.rss_bytes is None
        # 50 s of CPU time pass, 40 of them idle or iowait (not busy): 20 % busy
        page["text"] = NODE_EXPORTER.format(idle0=115, user0=55, idle1=115, iowait1=15, user1=55)
        assert source.sample().host_cpu_percent == 20.0
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_sampler_marks_one_gap_per_outage_and_recovers(agents, caplog) -> None:
    proc, url = agents.start("--port", "0")  # host only: enough to be a source
    gaps: list[str] = []
    recoveries: list[float] = []
    sampler = TargetSampler(
        AgentSource(url), interval_s=0.1, on_gap=gaps.append, on_recover=recoveries.append
    )
    caplog.set_level("INFO", logger="quantload.target_sampler")
    sampler.start()
    try:
        wait_for(sampler.latest, what="a first sample")
        proc.kill()
        proc.wait()
        wait_for(lambda: gaps, what="on_gap")
        assert sampler.latest() is None and sampler.in_gap
        failures = sampler.failures
        wait_for(lambda: sampler.failures >= failures + 3, what="more failed reads")
        assert sampler.gaps == 1 and len(gaps) == 1 and "unreachable" in gaps[0]
        agents.start("--port", str(urlsplit(url).port))  # back on the same port
        wait_for(lambda: recoveries, what="on_recover")
        assert sampler.latest() is not None and not sampler.in_gap
        assert sampler.gaps == 1 and len(recoveries) == 1 and recoveries[0] > 0
    finally:
        sampler.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "quantload.target_sampler"]
    assert len(lines) == 2, lines  # one line when it went, one when it came back


PARSER_AND_GEVENT_CHECK = """
import json, sys, time
from locust.argument_parser import LocustArgumentParser  # monkey-patches, as in a real run
import gevent.monkey
from metrics.target_sampler import TargetSampler
from metrics.target_sources import build_source
from plugin.options import add_target_metrics_option
parser = LocustArgumentParser(prog="locust")
add_target_metrics_option(parser)
options = parser.parse_args(sys.argv[1:])
token = next(a for a in parser._actions if a.dest == "agent_token")
out = {"target_metrics": options.target_metrics, "token_set": bool(options.agent_token),
       "token_is_secret": token.is_secret, "in_web_ui": sorted(
           {"target_metrics", "agent_token"} & set(parser.args_included_in_web_ui)),
       "patched": gevent.monkey.is_module_patched("threading")}
if options.target_metrics:
    sampler = TargetSampler(build_source(options.target_metrics, token=options.agent_token), 0.1)
    sampler.start()
    deadline = time.monotonic() + 10
    while sampler.latest() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # gevent's sleep here: the sampler greenlet runs meanwhile
    sampler.stop()
    out["sampled"] = sampler.samples > 0 and sampler.gaps == 0
print(json.dumps(out))
"""


def parse_with_locust(
    *args: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Locust's real parser, in a fresh process (importing locust here would patch ssl late)."""
    environ = {
        k: v for k, v in os.environ.items() if k not in (TOKEN_ENV, "QUANTLOAD_TARGET_METRICS")
    }
    return subprocess.run(
        [sys.executable, "-c", PARSER_AND_GEVENT_CHECK, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, **(env or {})},
    )


def test_options_on_locusts_parser_and_sampling_under_gevent(agents) -> None:
    _, url = agents.start("--port", "0", token=TOKEN)
    run = parse_with_locust(env={"QUANTLOAD_TARGET_METRICS": f"agent:{url}", TOKEN_ENV: TOKEN})
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {
        "target_metrics": f"agent:{url}",
        "token_set": True,
        "token_is_secret": True,
        "in_web_ui": [],
        "patched": True,
        "sampled": True,
    }
    assert TOKEN not in run.stdout + run.stderr
    default = parse_with_locust()
    assert json.loads(default.stdout.splitlines()[-1])["target_metrics"] is None  # auto
    bad = parse_with_locust("--target-metrics", "pigeon")
    assert bad.returncode == 2
    assert "argument --target-metrics: 'pigeon' is not one of" in bad.stderr
