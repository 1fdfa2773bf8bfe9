"""The reference target's settings and its command line.

Every calibration knob is a field here so the app, the middleware and the tests
read one object; the command line is the only place that turns text into it.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_WORKERS = 2
DEFAULT_JOB_STEP_MS = 100.0
API_KEY_ENV = "QUANTLOAD_TARGET_API_KEY"


@dataclass(frozen=True)
class TargetConfig:
    """What the target is told at start; immutable for its lifetime."""

    db_path: Path
    workers: int = DEFAULT_WORKERS
    slots: int | None = None
    service_ms: float = 0.0
    latency_ms: float = 0.0
    leak_kb_per_request: float = 0.0
    error_rate: float = 0.0
    stall_at_s: float | None = None
    stall_after_requests: int | None = None
    stall_s: float = 0.0
    api_key: str | None = None
    rate_limit: float | None = None
    seed: int = 0
    job_step_ms: float = DEFAULT_JOB_STEP_MS
    corrupt_above: int | None = None
    corrupt_rate: float = 0.0
    cpu_ms: float = 0.0

    def __repr__(self) -> str:  # never print the key
        shown = {k: v for k, v in self.__dict__.items() if k != "api_key"}
        shown["api_key"] = "***" if self.api_key else None
        return f"TargetConfig({shown})"


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _non_negative(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value != value or value < 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
        return value

    parse.__name__ = f"non-negative {kind.__name__}"
    return parse


def _positive(kind: type):
    base = _non_negative(kind)

    def parse(text: str):
        value = base(text)
        if value == 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
        return value

    return parse


def _fraction(text: str) -> float:
    value = _non_negative(float)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def _port(text: str) -> int:
    value = _non_negative(int)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535)")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _OneLineParser(
        prog="python -m target",
        description="quantload's reference backtest/job API, with exact calibration knobs.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help="0 picks a free port")
    p.add_argument("--db", type=Path, help="SQLite file (default: a temporary file)")
    p.add_argument(
        "--workers",
        type=_positive(int),
        default=DEFAULT_WORKERS,
        help="job worker processes (default 2)",
    )
    p.add_argument(
        "--slots",
        type=_positive(int),
        help="concurrent backtests allowed; capacity = slots*1000/service-ms",
    )
    p.add_argument(
        "--service-ms",
        type=_non_negative(float),
        default=0.0,
        help="each backtest holds its slot for at least this long",
    )
    p.add_argument(
        "--latency-ms",
        type=_non_negative(float),
        default=0.0,
        help="added to every /v1 response, holding no slot",
    )
    p.add_argument(
        "--leak-kb-per-request",
        type=_non_negative(float),
        default=0.0,
        help="KiB retained (and touched) per /v1 request",
    )
    p.add_argument(
        "--error-rate",
        type=_fraction,
        default=0.0,
        help="fraction of /v1 requests answered 500 (seeded)",
    )
    stall_start = p.add_mutually_exclusive_group()
    stall_start.add_argument(
        "--stall-at",
        type=_non_negative(float),
        help="seconds after start when the server stops answering",
    )
    stall_start.add_argument(
        "--stall-after-requests",
        type=_positive(int),
        metavar="N",
        help="the N-th /v1 HTTP request (counted on arrival) starts the "
        "stall; it and everything after wait it out",
    )
    p.add_argument("--stall-s", type=_positive(float), help="how long the stall lasts")
    p.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV),
        help=f"require header X-API-Key on /v1 (or env {API_KEY_ENV})",
    )
    p.add_argument(
        "--rate-limit",
        type=_positive(float),
        help="requests/s allowed per key (429 + Retry-After beyond)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for injected errors")
    p.add_argument(
        "--job-step-ms",
        type=_non_negative(float),
        default=DEFAULT_JOB_STEP_MS,
        help="minimum time per job progress step (default 100)",
    )
    p.add_argument(
        "--corrupt-above",
        type=_positive(int),
        metavar="N",
        help="with --corrupt-rate: above N backtests in flight, answers may carry wrong metrics",
    )
    p.add_argument(
        "--corrupt-rate",
        type=_fraction,
        metavar="E",
        help="fraction of backtest answers given above --corrupt-above in flight that are "
        "corrupted (seeded); counted in /metrics",
    )
    p.add_argument(
        "--cpu-ms",
        type=_non_negative(float),
        default=0.0,
        help="CPU ms each backtest burns on the server's event loop (capacity ~1000/C per s)",
    )
    p.add_argument(
        "--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"]
    )
    return p


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> TargetConfig:
    stall_start = args.stall_at is not None or args.stall_after_requests is not None
    if stall_start != (args.stall_s is not None):
        parser.error("--stall-s goes with one of --stall-at or --stall-after-requests")
    if (args.corrupt_above is None) != (args.corrupt_rate is None):
        parser.error("--corrupt-above and --corrupt-rate go together")
    if args.api_key is not None and not args.api_key.strip():
        parser.error("--api-key must not be empty")
    return TargetConfig(
        db_path=args.db,
        workers=args.workers,
        slots=args.slots,
        service_ms=args.service_ms,
        latency_ms=args.latency_ms,
        leak_kb_per_request=args.leak_kb_per_request,
        error_rate=args.error_rate,
        stall_at_s=args.stall_at,
        stall_after_requests=args.stall_after_requests,
        stall_s=args.stall_s or 0.0,
        api_key=args.api_key,
        rate_limit=args.rate_limit,
        seed=args.seed,
        job_step_ms=args.job_step_ms,
        corrupt_above=args.corrupt_above,
        corrupt_rate=args.corrupt_rate or 0.0,
        cpu_ms=args.cpu_ms,
    )
