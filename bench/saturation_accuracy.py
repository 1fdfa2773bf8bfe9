"""Does "what broke first" name the resource the reference target was set to run out of?

Real stepped runs (``config/scalability.conf``: StressUser, closed model) against targets
whose first limit is known, each printed as the verdict against the truth:

- ``slots``: ``--slots 2 --service-ms 50`` -> concurrency limit, the target's CPU well
  under its cores;
- ``cpu``: ``--cpu-ms 20`` -> target CPU (the one server process: one core);
- ``rate``: ``--rate-limit 50`` -> rate limiting (429s from the lowest step: one user asks more);
- ``generator``: the target pinned to one core and the load generator to another, each of
  its requests costing it 4 ms of CPU (``bench/starved_locustfile.py``) -> load generator;
- ``search``: the breakpoint search (open model) against ``--slots 2 --service-ms 50``
  -> concurrency limit (1.5-3 minutes).

``make calibrate`` runs it (about 4 minutes). On a busy machine the host's CPU may be
noted beside a verdict; the figures are the run's own.

    python -m bench.saturation_accuracy [--cases slots cpu rate generator search]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.locust_run import run_locust
from bench.machine import machine
from plugin.embedded_target import EmbeddedTarget

STEPPED = ("--config", "config/scalability.conf", "--step-s", "10")
CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "slots": (
        "concurrency limit",
        (*STEPPED, "--steps", "2,8", "--target-flags", "--slots 2 --service-ms 50"),
    ),
    "cpu": ("target CPU", (*STEPPED, "--steps", "2,8", "--target-flags", "--cpu-ms 20")),
    "rate": ("rate limiting", (*STEPPED, "--steps", "1,8", "--target-flags", "--rate-limit 50")),
    "generator": (
        "load generator",
        (
            *STEPPED,
            "--steps",
            "1,8",
            "-f",
            "bench/starved_locustfile.py",
            "--scenario-users",
            "HeavyClientUser",
        ),
    ),
    "search": (
        "concurrency limit",
        ("--config", "config/breakpoint.conf", "--target-flags", "--slots 2 --service-ms 50"),
    ),
}
TIMEOUT_S = 400
GENERATOR_CORE, TARGET_CORE = 0, 1


@contextlib.contextmanager
def pinned(core: int) -> Iterator[None]:
    """This process (and the processes it starts meanwhile) on ``core`` only."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def first_saturation(summary: dict) -> dict:
    """summary.json's verdict (``breaking_point.first_saturation``), {} without one."""
    return (summary.get("breaking_point") or {}).get("first_saturation") or {}


def run_case(name: str, workdir: Path) -> dict:
    """The case's ``first_saturation`` section (its summary.json's)."""
    _, args = CASES[name]
    if name != "generator":
        return first_saturation(run_locust(args, workdir / name, TIMEOUT_S).summary)
    with pinned(TARGET_CORE):
        target = EmbeddedTarget(db=workdir / "generator.db")
        target.start()
    try:
        with pinned(GENERATOR_CORE):
            extra = ("--host", str(target.url), "--target-metrics", f"local:{target.pid}")
            summary = run_locust((*args, *extra), workdir / name, TIMEOUT_S).summary
    finally:
        target.stop()
    return first_saturation(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if len(os.sched_getaffinity(0)) < 2 and "generator" in args.cases:
        print("generator: skipped (needs two cores: one for the target, one for locust)")
        args.cases.remove("generator")
    print(f"{'case':<10} {'truth':<18} {'verdict':<18} ok  evidence")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases:
            truth = CASES[name][0]
            found = run_case(name, Path(tmp))
            verdict = found.get("resource") or "unknown"
            ok = "yes" if verdict == truth else "NO"
            print(f"{name:<10} {truth:<18} {verdict:<18} {ok:<3} {found.get('evidence')}")


if __name__ == "__main__":
    main()
