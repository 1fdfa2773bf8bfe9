"""What importing the suite costs every locust process at start, over importing Locust alone.

    python -m bench.import_cost [--rounds 7]

Each round starts fresh interpreters, alternating: ``import locust`` alone, then
``import locustfile`` (the suite's entry: every user class, shape and listener), each
with ``-X importtime``; the cost of a module is the cumulative microseconds Python
reports for it. The verdict is the median over the rounds of the difference, against
:data:`BUDGET_S`: a master, every worker and every ``--processes`` child pay it before
any load. Run from the repository root.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

from bench.machine import machine

REPO = Path(__file__).resolve().parent.parent
BUDGET_S = 0.5
"""The suite may add at most this much to a locust process's start."""
DEFAULT_ROUNDS = 7
IMPORTTIME = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)\s*$")


def import_seconds(module: str) -> float:
    """Cumulative import time of ``module`` in a fresh interpreter, in seconds."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in reversed(done.stderr.splitlines()):
        found = IMPORTTIME.match(line)
        if found and found.group(2) == module:
            return int(found.group(1)) / 1e6
    raise RuntimeError(f"python -X importtime printed no line for {module}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import_cost")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    locust, suite = [], []
    for _ in range(args.rounds):
        locust.append(import_seconds("locust"))
        suite.append(import_seconds("locustfile"))
    extra = statistics.median(s - b for s, b in zip(suite, locust, strict=True))
    print(f"rounds: {args.rounds}, fresh interpreters, alternating; medians")
    print(f"import locust:        {statistics.median(locust):6.3f} s")
    print(f"import locustfile:    {statistics.median(suite):6.3f} s (locust included)")
    print(f"the suite adds:       {extra:6.3f} s")
    verdict = "PASS" if extra <= BUDGET_S else "FAIL"
    print(
        f"{verdict}: the suite adds {extra:.3f} s to a locust process's start (budget {BUDGET_S} s)"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
