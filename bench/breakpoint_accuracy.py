"""How close the breakpoint profile gets to the reference target's known capacity, and how fast.

For each ``--slots N --service-ms S`` (capacity exactly N*1000/S backtests/s),
runs ``locust --config config/breakpoint.conf`` with default search settings
against the embedded target and prints the capacity found, its error and the
wall time. ``make calibrate`` runs it; a full run takes about 8 minutes.

    python -m bench.breakpoint_accuracy [--settings 1x200 2x50 15x50 25x50]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import machine

REPO = Path(__file__).resolve().parent.parent
CAPACITY_RE = re.compile(r"breakpoint: capacity ([\d.]+) req/s")
DEFAULT_SETTINGS = ("1x200", "2x50", "15x50", "25x50")
TIMEOUT_S = 600


def find_capacity(slots: int, service_ms: float, workdir: Path) -> tuple[float | None, float]:
    """(capacity found or None, wall seconds) for one target setting."""
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "--config",
            "config/breakpoint.conf",
            "--target-flags",
            f"--slots {slots} --service-ms {service_ms}",
            "--run-dir",
            str(workdir / f"{slots}x{service_ms}"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    found = CAPACITY_RE.findall(done.stderr)
    return (float(found[-1]) if found else None), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--settings",
        nargs="+",
        default=list(DEFAULT_SETTINGS),
        help="slots x service-ms pairs, e.g. 2x50",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"{'truth req/s':>12} {'found req/s':>12} {'error':>8} {'wall s':>8}  setting")
    with tempfile.TemporaryDirectory() as tmp:
        for setting in args.settings:
            slots, service_ms = setting.split("x")
            truth = int(slots) * 1000 / float(service_ms)
            found, wall = find_capacity(int(slots), float(service_ms), Path(tmp))
            error = f"{(found - truth) / truth:+.1%}" if found else "n/a"
            shown = f"{found:.1f}" if found else "none"
            print(
                f"{truth:12.1f} {shown:>12} {error:>8} {wall:8.0f}  "
                f"--slots {slots} --service-ms {service_ms}",
                flush=True,
            )


if __name__ == "__main__":
    main()
