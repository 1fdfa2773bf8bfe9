"""Faults with the real target: SIGTERM and SIGKILL a headless run that started the
embedded reference target (no ``--host``).

What must hold: the run directory stays usable (a partial ``summary.json`` and a whole
``report.html`` on SIGTERM; whole ``timeseries.jsonl`` lines and a renderable report on
SIGKILL), and no target or job-worker process outlives the run. The processes are
recorded by PID while the run goes and checked gone BEFORE the test's own cleanup kills
anything, so the check fails when the target does not die with its launcher (on SIGKILL
only ``PR_SET_PDEATHSIG``, in ``plugin/embedded_target.py``, can end it).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import psutil
import pytest

from bench.synthetic_run import write_synthetic_run
from tests.locust_runs import LOCUSTFILE, REPO
from tests.processes import wait_gone
from tests.run_checks import check_run_dir, stop_all, wait_for_lines

GONE_WITHIN_S = 15.0
"""Every recorded process must be gone this long after locust exited (it takes ~1 s)."""
VOID_TAGS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


def embedded_target_tree(locust_pid: int) -> list[psutil.Process]:
    """The embedded target started by locust process ``locust_pid`` and every process under
    it (its job workers, multiprocessing's resource tracker). Asserts the target and at least
    one job worker are there, so a check on these PIDs can fail."""
    descendants = psutil.Process(locust_pid).children(recursive=True)
    targets = [p for p in descendants if _cmdline(p)[1:3] == ["-m", "target"]]
    assert len(targets) == 1, [(p.pid, _cmdline(p)) for p in descendants]
    tree = [targets[0], *targets[0].children(recursive=True)]
    job_workers = [  # forked by multiprocessing's forkserver, itself a child of the target
        p for p in tree if p.ppid() != targets[0].pid and "forkserver" in " ".join(_cmdline(p))
    ]
    assert job_workers, [(p.pid, _cmdline(p)) for p in tree]
    return tree


def scratch_dir(tree: list[psutil.Process]) -> Path:
    """The launcher's scratch directory holding the target's database (its ``--db``)."""
    cmd = _cmdline(tree[0])
    db = Path(cmd[cmd.index("--db") + 1])
    assert db.parent.name.startswith("quantload-target-"), cmd
    return db.parent


def kill_left(procs: list[psutil.Process]) -> None:
    """Cleanup: SIGKILL whichever of ``procs`` still runs (same process, not a reused PID)."""
    for proc in procs:
        try:
            if proc.is_running():
                proc.kill()
        except psutil.NoSuchProcess:
            pass
    wait_gone(procs, timeout=10)


class _Balance(HTMLParser):
    """Tracks open elements; a cut-off page leaves some open."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.mismatched: list[tuple[str, tuple[int, int]]] = []
        self.closed: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag) -> None:
        if tag in VOID_TAGS:
            return
        if self.open and self.open[-1] == tag:
            self.open.pop()
            self.closed.add(tag)
        else:
            self.mismatched.append((tag, self.getpos()))


def check_whole_incomplete_report(path: Path) -> str:
    """``report.html`` is a whole page (ends with ``</html>``, every element closed) that says
    the run is incomplete; returns its text."""
    text = path.read_text()
    assert text.rstrip().endswith("</html>"), text[-300:]
    page = _Balance()
    page.feed(text)
    page.close()
    assert page.open == [] and page.mismatched == [], (page.open, page.mismatched[:5])
    assert {"html", "head", "body", "main"} <= page.closed
    assert 'id="incomplete"' in text and "Incomplete run." in text
    return text


def start_run(tmp_path: Path, run_dir: Path) -> subprocess.Popen:
    """A headless run (no --host: it starts the embedded target), long enough to be cut."""
    err = (tmp_path / "locust.err").open("w")
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                LOCUSTFILE,
                "--headless",
                "-u",
                "2",
                "-r",
                "2",
                "-t",
                "60s",
                "--only-summary",
                "--run-dir",
                str(run_dir),
                "JobUser",
                "WebSocketUser",
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    finally:
        err.close()  # the child has its own copy


def interrupt(tmp_path: Path, sig: signal.Signals) -> tuple[Path, bool, int | None]:
    """Start a run, record its target's process tree, send ``sig`` to locust, and check every
    recorded process gone (before cleanup); returns (run dir, whether the target's scratch
    directory was left behind (then removed here), locust's exit code)."""
    run_dir = tmp_path / "run"
    proc = start_run(tmp_path, run_dir)
    tree: list[psutil.Process] = []
    scratch: Path | None = None
    try:
        wait_for_lines(run_dir / "timeseries.jsonl", 2, proc)
        tree = embedded_target_tree(proc.pid)
        scratch = scratch_dir(tree)
        proc.send_signal(sig)
        proc.wait(timeout=60)
        alive = wait_gone(tree, timeout=GONE_WITHIN_S)
        assert not alive, (
            f"left behind after {sig.name} to locust: {[(p.pid, _cmdline(p)) for p in alive]}"
        )
    finally:
        kill_left(tree)
        stop_all([proc])
        scratch_left = scratch is not None and scratch.exists()
        if scratch_left:  # a SIGKILLed launcher cannot remove it, nor does the target
            shutil.rmtree(scratch, ignore_errors=True)
    log = (tmp_path / "locust.err").read_text()
    assert f"(pid {tree[0].pid})" in log, log[-2000:]  # the process locust says it started
    return run_dir, scratch_left, proc.returncode


@pytest.mark.slow
def test_sigterm_writes_a_partial_run_and_leaves_no_target(tmp_path):
    run_dir, scratch_left, code = interrupt(tmp_path, signal.SIGTERM)
    assert code == 130  # interrupted: never a green exit
    assert not scratch_left  # the launcher removed the target's db
    meta, rows, events, summary = check_run_dir(run_dir)
    assert summary["complete"] is False and summary["incomplete_reasons"] == ["interrupted"]
    assert events[-1]["reason"] == "interrupted" and meta["embedded_target"] is True
    assert len(rows) >= 2 and summary["total"]["count"] > 0, (code, len(rows))
    text = check_whole_incomplete_report(run_dir / "report.html")
    assert "interrupted" in text


@pytest.mark.slow
def test_sigkill_leaves_whole_lines_a_renderable_run_and_no_target(tmp_path):
    run_dir, _, code = interrupt(tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    text = (run_dir / "timeseries.jsonl").read_text()
    assert text.endswith("\n")
    rows = [json.loads(line) for line in text.splitlines()]  # every line whole JSON
    assert len(rows) >= 2 and sum(r["total"]["count"] for r in rows) > 0
    assert not (run_dir / "summary.json").exists()
    assert not (run_dir / "report.html").exists()

    done = subprocess.run(
        [sys.executable, "-m", "reports", "render", str(run_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    page = check_whole_incomplete_report(run_dir / "report.html")
    # killed before the first histogram checkpoint (10 s): percentiles from the rows, marked
    assert not list((run_dir / "histograms").glob("*.hdr"))
    table = page.split('id="percentile-table"')[1].split("</table>")[0]
    total = table.split("All requests to the target")[1].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", total)
    latencies = cells[4:12]  # p50 .. p99.9, max, mean; after count .. req/s
    assert all(v.startswith("≈") and float(v[1:].replace(",", "")) > 0 for v in latencies[:-1]), (
        cells
    )


def test_report_html_is_replaced_atomically(tmp_path):
    """report.html is written like summary.json: a temporary file beside it, fsync, rename,
    so a SIGKILL at any moment leaves the old report or the new one (seen with strace)."""
    run_dir = write_synthetic_run(tmp_path / "run", intervals=60, endpoints=3)
    calls = tmp_path / "calls"
    done = subprocess.run(
        ["strace", "-f", "-qq", "-o", str(calls), "-e", "trace=openat,fsync,rename,renameat2"]
        + [sys.executable, "-m", "reports", "render", str(run_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0 and "ptrace" in done.stderr:  # a sandbox without ptrace
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr[-2000:]
    trace = calls.read_text().splitlines()
    writes = [
        line for line in trace if "openat" in line and "O_WRONLY" in line and "report" in line
    ]
    assert writes and all("report.html.tmp" in line for line in writes), writes  # never in place
    fd = writes[-1].rsplit("=", 1)[1].strip()
    fsyncs = [i for i, line in enumerate(trace) if re.search(rf"fsync\({fd}\)\s+= 0", line)]
    rename = next(i for i, line in enumerate(trace) if "rename" in line and "report.html" in line)
    assert fsyncs and fsyncs[-1] < rename, "report.html renamed into place without an fsync"
    assert (run_dir / "report.html").read_text().rstrip().endswith("</html>")
