"""Code that runs inside a job worker process.

A worker talks to the API process over one duplex pipe:
parent -> worker: ``("run", job_id, kind, request)`` or ``("cancel", job_id)``;
worker -> parent: ``("progress", job_id, p)``, ``("done", job_id, result)``,
``("failed", job_id, message)``, ``("cancelled", job_id)``.
When the parent goes away the pipe closes and the worker exits, so a killed
target never leaves workers behind.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import signal
import time
from datetime import date
from multiprocessing.connection import Connection

import numpy as np

from target.engine import run_backtest
from target.market_data import MarketDataCache

MONTE_CARLO_STEPS = 10
PR_SET_PDEATHSIG = 1


class Cancelled(Exception):
    pass


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the closed pipe still ends the worker
        pass


def _request_seed(request: dict) -> int:
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:8], "little")


class _Runner:
    def __init__(self, conn: Connection, step_ms: float) -> None:
        self.conn = conn
        self.step_s = step_ms / 1000.0
        self.data = MarketDataCache(maxsize=64)
        self.job_id: str | None = None
        self._step_started = 0.0

    def _step_done(self, progress: float) -> None:
        """Fill the step to its minimum length, watching for a cancel meanwhile."""
        while True:
            remaining = self.step_s - (time.perf_counter() - self._step_started)
            if self.conn.poll(max(0.0, remaining)):
                message = self.conn.recv()
                if message[0] == "cancel" and message[1] == self.job_id:
                    raise Cancelled
                continue
            if remaining <= 0:
                break
        self.conn.send(("progress", self.job_id, progress))
        self._step_started = time.perf_counter()

    def _backtest(self, symbol: str, request: dict):
        bars = self.data.bars(
            symbol, date.fromisoformat(request["start"]), date.fromisoformat(request["end"])
        )
        return run_backtest(bars, request["strategy"], request["parameters"])

    def monte_carlo(self, request: dict) -> dict:
        base = self._backtest(request["symbol"], request)
        returns = np.asarray(base.daily_returns, dtype=float)
        runs = int(request["num_runs"])
        rng = np.random.default_rng(_request_seed(request))
        finals, drawdowns = [], []
        for step, chunk in enumerate(np.array_split(np.arange(runs), MONTE_CARLO_STEPS)):
            if len(chunk) and len(returns):
                paths = np.cumprod(
                    1.0 + rng.choice(returns, size=(len(chunk), len(returns))), axis=1
                )
                finals.append(paths[:, -1] - 1.0)
                peaks = np.maximum.accumulate(np.maximum(paths, 1.0), axis=1)
                drawdowns.append(np.max(1.0 - paths / peaks, axis=1))
            self._step_done((step + 1) / MONTE_CARLO_STEPS)
        final = np.concatenate(finals) if finals else np.zeros(1)
        dd = np.concatenate(drawdowns) if drawdowns else np.zeros(1)
        return {
            "num_runs": runs,
            "final_return": {
                "mean": float(final.mean()),
                "std": float(final.std()),
                "p5": float(np.percentile(final, 5)),
                "p50": float(np.percentile(final, 50)),
                "p95": float(np.percentile(final, 95)),
            },
            "prob_loss": float((final < 0).mean()),
            "max_drawdown": {
                "p50": float(np.percentile(dd, 50)),
                "p95": float(np.percentile(dd, 95)),
            },
            "base_metrics": base.metrics,
        }

    def batch_backtest(self, request: dict) -> dict:
        results = []
        symbols = request["symbols"]
        for i, symbol in enumerate(symbols):
            results.append({"symbol": symbol, "metrics": self._backtest(symbol, request).metrics})
            self._step_done((i + 1) / len(symbols))
        best = max(results, key=lambda r: r["metrics"]["total_return"])
        return {"results": results, "best_symbol": best["symbol"]}

    def run(self, job_id: str, kind: str, request: dict) -> None:
        self.job_id = job_id
        self._step_started = time.perf_counter()
        try:
            result = (
                self.monte_carlo(request) if kind == "monte_carlo" else self.batch_backtest(request)
            )
        except Cancelled:
            self.conn.send(("cancelled", job_id))
        except Exception as exc:  # noqa: BLE001 - a job's failure is reported, not fatal
            self.conn.send(("failed", job_id, f"{type(exc).__name__}: {exc}"))
        else:
            self.conn.send(("done", job_id, result))
        finally:
            self.job_id = None


def worker_main(conn: Connection, step_ms: float) -> None:
    """Entry point of a worker process; returns when the parent closes the pipe."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops us
    runner = _Runner(conn, step_ms)
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "run":
            _, job_id, kind, request = message
            try:
                runner.run(job_id, kind, request)
            except (EOFError, OSError, BrokenPipeError):
                return
